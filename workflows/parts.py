"""The stateless parts of the Mentorship workflow: the timed events it waits for, a refusal, the signal and update
handler definitions, and small helpers.

Why a module of their own: the sandbox executes ``workflows/mentorship.py`` afresh for every mentorship a worker
starts or replays, and everything defined there is built again each time. This module is imported passed
through the sandbox, once per worker: building an enum, a dataclass and fourteen handler definitions (whose
decorators inspect signatures) cost about 4 ms of worker CPU per mentorship (``bench/replay_cost.py``). Nothing
here holds state or reads the clock, so sharing it between workflows is safe.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from temporalio import workflow

from workflows.contract import MentorshipStatus


class Due(StrEnum):
    """The timed events the workflow waits for."""

    INVITATION_REMINDER = "invitation_reminder"
    INVITATION_EXPIRY = "invitation_expiry"
    CHECK_IN_DUE = "check_in_due"
    CHECK_IN_NUDGE = "check_in_nudge"
    CHECK_IN_MISSED = "check_in_missed"
    PAUSE_ENDS = "pause_ends"
    TERM_ENDS = "term_ends"


@dataclass(frozen=True)
class NextDue:
    event: Due
    at: datetime
    summary: str


class Refused(Exception):
    """An action that does not fit the actor or the stage; the message says why, for a person."""


# Cached: the handler functions (and the definitions the SDK attaches to them) are built once per worker and
# shared by every Mentorship class the sandbox builds. They only delegate to the instance.
@functools.cache
def signal(action: str) -> Any:
    """The signal `action`: a refusal changes nothing and is recorded in the status."""

    # `self: Any`: the SDK resolves these hints while the class body is still being built.
    # `*inputs: Any`: JSON of any shape, and any number of inputs (none, two), reaches the handler and is judged
    # there. A typed parameter would make the SDK drop a malformed signal with only a worker log line, and a
    # missing input would raise TypeError in the handler: a workflow task failing forever.
    def handler(self: Any, *inputs: Any) -> None:
        self._as_signal(action, inputs)

    handler.__name__ = f"{action}_signal"
    return workflow.signal(name=action)(handler)


@functools.cache
def update(action: str) -> Any:
    """The update `action`: the validator refuses (leaving no trace in history) what does not fit."""

    def handler(self: Any, *inputs: Any) -> MentorshipStatus:
        status: MentorshipStatus = self._as_update(action, inputs)
        return status

    def validator(self: Any, *inputs: Any) -> None:
        self._validate(action, inputs)

    handler.__name__ = action
    definition = workflow.update(name=action)(handler)
    definition.validator(validator)
    return definition


def when(moment: datetime | None, *, seconds: bool = False) -> str:
    if moment is None:
        return "—"
    return moment.strftime("%a %d %b %Y %H:%M:%S UTC" if seconds else "%a %d %b %Y %H:%M UTC")


def one(inputs: tuple[Any, ...], what: str) -> Any:
    """The single JSON input every workflow start, signal and update takes."""
    if len(inputs) != 1:
        raise Refused(f"{what} is not valid: expected exactly one JSON object, got {len(inputs) or 'none'}")
    return inputs[0]


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
