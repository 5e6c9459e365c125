"""Bad input, class by class, for every layer it can arrive through (tests/unit/test_contract.py for the models,
tests/integration/test_bad_input.py for the starter, updates, signals and the `temporal` CLI).

``BAD_INVITATIONS``: every class of bad input the contract refuses in an invitation (invalid addresses, the same
person twice, an unknown role, over-long fields, control characters, durations out of range, typos and shapes),
each with the field and the reason the error must name; ``ONE_OF_EACH`` for the slower layers. ``BAD_ACTIONS``:
the same for the actions' inputs.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from tests.support import builders
from workflows.contract import AcceptInput, CheckInInput, DeclineInput, PauseInput, ResumeInput, WithdrawInput

# A valid invitation as JSON, with ids and addresses unique to ``tag``: Ana mentors Ben, Cora coordinates, Ben asked.
invitation_data = functools.partial(builders.invitation_data, cast=builders.ANA_AND_BEN, tag_emails=True)


@dataclass(frozen=True)
class Ref:
    """A value taken from the valid invitation itself (e.g. the mentor's id, to make the mentee the same person)."""

    path: str


@dataclass(frozen=True)
class BadInvitation:
    kind: str  # the class of bad input, as the issue names it
    path: str  # where the bad value goes, dotted ("" replaces the whole input)
    value: Any
    loc: str  # the field the error names ("input": the invitation as a whole)
    reason: str  # what the error says ({mentor}, {mentee} stand for the ids)
    each: bool = False  # one of each class, for the slower layers (a process or a workflow per case)

    def data(self, tag: str) -> Any:
        data = invitation_data(tag)
        value = _get(data, self.value.path) if isinstance(self.value, Ref) else copy.deepcopy(self.value)
        if not self.path:
            return value
        *parents, last = self.path.split(".")
        target = data
        for part in parents:
            target = target[part]
        target[last] = value
        return data

    def said(self, text: str, tag: str, prefix: str = "") -> bool:
        """Whether ``text`` is ``prefix`` then "<field>: ..." saying the reason, as a person reads it."""
        reason = self.reason.format(mentor=f"ana-{tag}", mentee=f"ben-{tag}")
        return text.startswith(f"{prefix}{self.loc}: ") and reason in text.splitlines()[0]

    def __str__(self) -> str:
        return f"{self.kind}: {self.path or 'input'}={self.value!r}"[:90]


def _get(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        value = value[part]
    return value


DURATION_SYNTAX = "is not an ISO 8601 duration; write it like 'P14D' (14 days)"
# Every class of bad input the contract refuses, in an invitation.
BAD_INVITATIONS = [
    # Invalid email addresses.
    BadInvitation(
        "email", "mentor.email", "ana.example.com", "mentor.email", "value is not a valid email address: An", each=True
    ),
    BadInvitation("email", "mentee.email", "ben@@example.com", "mentee.email", "contains invalid characters: '@'"),
    BadInvitation("email", "mentee.email", "ben@localhost", "mentee.email", "It should have a period"),
    BadInvitation("email", "mentor.email", "ana ruiz@example.com", "mentor.email", "invalid characters before the @"),
    BadInvitation("email", "coordinator.email", "", "coordinator.email", "An email address must have an @-sign"),
    BadInvitation("email", "mentor.email", 42, "mentor.email", "Input should be a valid string"),
    BadInvitation(
        "email (header injection)",
        "mentor.email",
        "ana@example.com\r\nBcc: eve@example.net",
        "mentor.email",
        "Carriage return and line feed characters are not allowed",
        each=True,
    ),
    # The same person twice.
    BadInvitation(
        "same person",
        "mentee.id",
        Ref("mentor.id"),
        "input",
        "mentor and mentee must be two people, both are '{mentor}'",
        each=True,
    ),
    BadInvitation(
        "same person",
        "coordinator.id",
        Ref("mentee.id"),
        "input",
        "the coordinator must be someone other than the mentor and the mentee",
    ),
    # Unknown role.
    BadInvitation(
        "role", "initiated_by", "coordinator", "initiated_by", "Input should be 'mentor' or 'mentee'", each=True
    ),
    BadInvitation("role", "initiated_by", "Mentor", "initiated_by", "Input should be 'mentor' or 'mentee'"),
    BadInvitation("role", "initiated_by", None, "initiated_by", "Input should be 'mentor' or 'mentee'"),
    # Over-long fields, too many of something.
    BadInvitation("too long", "mentor.id", "a" * 65, "mentor.id", "String should have at most 64 characters"),
    BadInvitation(
        "too long", "mentee.name", "B" * 121, "mentee.name", "must be at most 120 characters, got 121", each=True
    ),
    BadInvitation("too long", "message", "m" * 2001, "message", "at most 2000"),
    BadInvitation("too long", "focus_areas", ["f" * 81], "focus_areas.0", "must be at most 80 characters, got 81"),
    BadInvitation("too many", "focus_areas", ["f"] * 11, "focus_areas", "List should have at most 10 items"),
    BadInvitation("too many", "invitation_reminders", 11, "invitation_reminders", "less than or equal to 10"),
    BadInvitation("too few", "escalate_after_missed", 0, "escalate_after_missed", "greater than or equal to 1"),
    # Control characters: none in names and ids (they go into headers), none but LF and TAB in free text.
    BadInvitation(
        "control (header injection)",
        "mentor.name",
        "Ana\r\nBcc: eve@example.net",
        "mentor.name",
        "must not contain line breaks or other control characters; found U+000D at position 3",
        each=True,
    ),
    BadInvitation("control", "mentee.name", "Ben\nOde", "mentee.name", "line breaks or other control characters"),
    BadInvitation("control", "coordinator.name", "Cora\x00", "coordinator.name", "found U+0000 at position 4"),
    BadInvitation("control", "mentor.name", "Ana\x1b[2J", "mentor.name", "found U+001B at position 3"),
    BadInvitation("control", "focus_areas", ["lead\tership"], "focus_areas.0", "found U+0009 at position 4"),
    BadInvitation(
        "control",
        "message",
        "hello\x00world",
        "message",
        "must not contain control characters; found U+0000",
        each=True,
    ),
    BadInvitation("control", "message", "ring\x07", "message", "found U+0007 at position 4"),
    BadInvitation("control", "mentor.id", "ana\rben", "mentor.id", "is not a valid id: use letters and digits"),
    BadInvitation("id", "mentee.id", "ben--x", "mentee.id", "is not a valid id"),
    BadInvitation("id", "mentee.id", "ben@example.com", "mentee.id", "is not a valid id"),
    # Durations out of range, or not durations.
    BadInvitation(
        "duration", "check_in_every", "PT0S", "check_in_every", "'PT0S' is shorter than one second; a duration here"
    ),
    BadInvitation("duration", "remind_after", "PT0.5S", "remind_after", "must be at least PT1S"),
    BadInvitation(
        "duration", "respond_within", "P11Y", "respond_within", "longer than ten years; a duration here", each=True
    ),
    BadInvitation("duration", "term", "P522W", "term", "must be at most P10Y"),
    BadInvitation("duration", "term", "P99999999999D", "term", "longer than ten years"),
    BadInvitation("duration", "check_in_grace", "3 days", "check_in_grace", DURATION_SYNTAX),
    BadInvitation("duration", "check_in_every", "-P1D", "check_in_every", DURATION_SYNTAX),
    BadInvitation("duration", "check_in_every", 14, "check_in_every", "Input should be a valid string"),
    BadInvitation(
        "duration",
        "check_in_grace",
        "P14D",
        "input",
        "check_in_grace (P14D) must be shorter than check_in_every (P14D)",
    ),
    # Typos and shapes.
    BadInvitation(
        "unknown field", "check_in_evry", "P7D", "check_in_evry", "Extra inputs are not permitted", each=True
    ),
    BadInvitation("unknown field", "mentor.phone", "555", "mentor.phone", "Extra inputs are not permitted"),
    BadInvitation("missing field", "mentor", {"id": "x", "email": "x@example.com"}, "mentor.name", "Field required"),
    BadInvitation("shape", "", ["ana", "ben"], "input", "Input should be a valid dictionary", each=True),
    BadInvitation("shape", "", "ana invites ben", "input", "Input should be a valid dictionary"),
]
ONE_OF_EACH = [case for case in BAD_INVITATIONS if case.each]


@dataclass(frozen=True)
class BadAction:
    model: type[BaseModel]
    payload: Any
    loc: str
    reason: str

    def __str__(self) -> str:
        return f"{self.model.__name__}={self.payload!r}"[:90]


BAD_ACTIONS = [
    BadAction(AcceptInput, {}, "by", "Field required"),
    BadAction(AcceptInput, {"by": 7}, "by", "Input should be a valid string"),
    BadAction(AcceptInput, {"by": "ben\r\nBcc: eve@example.net"}, "by", "is not a valid id"),
    BadAction(AcceptInput, {"by": "x" * 65}, "by", "String should have at most 64 characters"),
    BadAction(AcceptInput, {"by": "ben", "note": "n" * 2001}, "note", "at most 2000"),
    BadAction(
        AcceptInput, {"by": "ben", "note": "fine\x00"}, "note", "must not contain control characters; found U+0000"
    ),
    BadAction(AcceptInput, ["ben"], "input", "Input should be a valid dictionary or instance of AcceptInput"),
    BadAction(AcceptInput, "ben", "input", "Input should be a valid dictionary or instance of AcceptInput"),
    BadAction(AcceptInput, None, "input", "Input should be a valid dictionary or instance of AcceptInput"),
    BadAction(DeclineInput, {"by": "ben", "reason": 5}, "reason", "Input should be a valid string"),
    BadAction(DeclineInput, {"by": "ben", "reason": "\x1b[31mno"}, "reason", "found U+001B at position 0"),
    BadAction(WithdrawInput, {"by": "ben", "reason": "r" * 2001}, "reason", "at most 2000"),
    BadAction(CheckInInput, {"by": "ben", "rating": 6}, "rating", "Input should be less than or equal to 5"),
    BadAction(CheckInInput, {"by": "ben", "rating": 0}, "rating", "Input should be greater than or equal to 1"),
    # Strict at the edge: 4.5, "4" and true are all refused as not an integer.
    BadAction(CheckInInput, {"by": "ben", "rating": 4.5}, "rating", "Input should be a valid integer"),
    BadAction(CheckInInput, {"by": "ben", "note": "\x7f"}, "note", "found U+007F at position 0"),
    BadAction(PauseInput, {"by": "ben", "until": "2030-01-01T09:00:00"}, "until", "Input should have timezone info"),
    BadAction(PauseInput, {"by": "ben", "until": "next week"}, "until", "Input should be a valid datetime"),
    BadAction(ResumeInput, {"by": "ben", "rating": 5}, "rating", "Extra inputs are not permitted"),
]


def refusal(model: type[BaseModel], data: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return caught.value
