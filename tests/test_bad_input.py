"""Bad input, each answered with a clear error, at every layer it can arrive through.

The classes of bad input (issue "Nothing lost under faults, nothing done by the wrong person"): invalid email
addresses, the same person as mentor and mentee, an unknown role, over-long fields, control characters in names
and notes (no header injection), durations out of range, and malformed JSON sent straight to Temporal by a client
that is not ours. The layers:

(a) the contract's pydantic models: the error names the field and says what is wrong with it;
(b) the starter's edge (the command line as a process, its in-process entry point, the Python API): a clear error,
    exit code 2, and no workflow started, no update or signal sent;
(c) updates on a running mentorship: refused with the reason, and the history is exactly as long as before;
(d) raw JSON through the `temporal` CLI: malformed JSON is refused by the CLI itself; a well-formed invalid start
    input fails the workflow at once with the reason (type InvalidMentorshipInput) and sends nothing; malformed
    signals are recorded in ``refused_signals`` and change nothing; invalid updates show the reason.

The tests named after a rule ("a start without input fails with the reason", "ids with a trailing line feed are
refused", ...) were written as failing tests first, for bugs this file found; each now guards its fix.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pydantic import BaseModel, ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

import starter
from activities.email import Mailer
from config import Settings
from devtools.mailsink import MailSink
from tests import reliability
from tests.conftest import make_invitation, make_notification
from tests.temporal_env import TEMPORAL_CLI, running_worker, status_of, wait_mail, wait_status
from workflows.contract import (
    INVALID_INPUT,
    TRUSTED,
    AcceptInput,
    Audience,
    CheckInInput,
    DeclineInput,
    Invitation,
    MentorshipInput,
    MentorshipStatus,
    Notice,
    PauseInput,
    Person,
    ResumeInput,
    Stage,
    WithdrawInput,
    explain,
    workflow_id_for,
)

ROOT = Path(__file__).resolve().parent.parent
# The headers every notification carries, and no other: user text never adds one.
HEADERS = {
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "X-Mentorship-Workflow-Id",
    "X-Mentorship-Step",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
}
INJECTION = "Thanks!\r\nBcc: eve@example.net\r\n\r\nX-Injected: yes\rSubject: pwned"


# --- Building inputs ---------------------------------------------------------------------------------------------


def invitation_data(tag: str) -> dict[str, Any]:
    """A valid invitation as JSON, with ids unique to ``tag``."""
    return {
        "mentor": {"id": f"ana-{tag}", "name": "Ana Ruiz", "email": f"ana-{tag}@example.com"},
        "mentee": {"id": f"ben-{tag}", "name": "Ben Ode", "email": f"ben-{tag}@example.com"},
        "coordinator": {"id": f"cora-{tag}", "name": "Cora Lind", "email": f"cora-{tag}@example.com"},
        "initiated_by": "mentee",
        "message": "I would value your guidance on leading a team.",
        "focus_areas": ["leadership"],
    }


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
    BadAction(CheckInInput, {"by": "ben", "rating": 4.5}, "rating", "got a number with a fractional part"),
    BadAction(CheckInInput, {"by": "ben", "note": "\x7f"}, "note", "found U+007F at position 0"),
    BadAction(PauseInput, {"by": "ben", "until": "2030-01-01T09:00:00"}, "until", "Input should have timezone info"),
    BadAction(PauseInput, {"by": "ben", "until": "next week"}, "until", "Input should be a valid datetime"),
    BadAction(ResumeInput, {"by": "ben", "rating": 5}, "rating", "Extra inputs are not permitted"),
]


def refusal(model: type[BaseModel], data: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return caught.value


# --- (a) The contract's models -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", BAD_INVITATIONS, ids=str)
def test_models_name_the_field_and_the_reason(case: BadInvitation) -> None:
    tag = uuid.uuid4().hex[:6]
    # The starter validates with Invitation, the workflow its input with MentorshipInput: both say the same.
    for model in (Invitation, MentorshipInput):
        err = refusal(model, case.data(tag))
        assert len(err.errors()) == 1, f"one thing is wrong, one error: {explain(err)}"
        assert case.said(explain(err), tag), explain(err)
    reliability.report("bad input: models", inputs_tried=2, inputs_refused=2)


@pytest.mark.parametrize("case", BAD_ACTIONS, ids=str)
def test_action_models_name_the_field_and_the_reason(case: BadAction) -> None:
    err = refusal(case.model, case.payload)
    assert len(err.errors()) == 1, explain(err)
    assert explain(err).startswith(f"{case.loc}: ") and case.reason in explain(err), explain(err)
    reliability.report("bad input: models", inputs_tried=1, inputs_refused=1)


def test_free_text_keeps_line_breaks_and_tabs_normalised() -> None:
    note = CheckInInput.model_validate({"by": "ben", "note": "  one\r\ntwo\rthree\n\tfour  "}).note
    assert note == "one\ntwo\nthree\n\tfour"
    message = Invitation.model_validate({**invitation_data("x"), "message": "Hi Ana,\r\n\r\nBen"}).message
    assert message == "Hi Ana,\n\nBen"
    reliability.report("bad input: models", inputs_tried=2)


def test_free_text_length_errors_speak_of_characters() -> None:
    err = refusal(AcceptInput, {"by": "ben", "note": "n" * 2001})
    assert explain(err) == "note: must be at most 2000 characters, got 2001"
    assert AcceptInput.model_validate({"by": "ben", "note": "n" * 2000 + "  "}).note == "n" * 2000


@pytest.mark.parametrize("where", ["mentor.id", "mentee.id", "coordinator.id"])
def test_ids_with_a_trailing_line_feed_are_refused(where: str) -> None:
    tag = uuid.uuid4().hex[:6]
    data = invitation_data(tag)
    person, _ = where.split(".")
    data[person]["id"] += "\n"
    err = refusal(Invitation, data)
    assert explain(err).startswith(f"{where}: "), explain(err)


def test_durations_just_past_ten_years_are_refused() -> None:
    err = refusal(Invitation, {**invitation_data("x"), "term": "P10Y40D"})
    assert "must be at most P10Y" in explain(err)


# Characters a person may type that Python's email package treats as line breaks (str.splitlines) or that are
# control characters outside the C0 range, and an address it cannot put in a To header.
UNMAILABLE = [
    pytest.param("name", "Ana\x85Bcc: eve@example.net", id="NEL (U+0085, a C1 control) in a name"),
    pytest.param("name", "Ana\u2028Ruiz", id="LINE SEPARATOR (U+2028) in a name"),
    pytest.param("name", "Ana\u2029Ruiz", id="PARAGRAPH SEPARATOR (U+2029) in a name"),
    pytest.param("email", "ánä@example.com", id="non-ASCII local part in an address"),
]


@pytest.mark.parametrize(("field", "value"), UNMAILABLE)
def test_every_person_the_contract_accepts_can_be_mailed(field: str, value: str) -> None:
    person = {"id": "ana", "name": "Ana Ruiz", "email": "ana@example.com", field: value}
    try:
        mentor = Person.model_validate(person)
    except ValidationError:
        return  # refused at the edge: fine
    invitation = make_invitation(mentor=mentor)
    mailer = Mailer(Settings(_env_file=None, mail_from="Mentorships <mentorships@example.org>"))
    for kind in (Notice.INVITATION_SENT, Notice.INVITATION, Notice.CHECK_IN_DUE):
        for to in (Audience.MENTOR, Audience.MENTEE):
            message = mailer.build_message(make_notification(kind, invitation=invitation, to=to))
            assert set(headers_of(message.as_bytes(policy=policy.SMTP))) == HEADERS


def lines(text: str) -> str:
    """A body as a person reads it: the wire's CRLF line ends as LF."""
    return text.replace("\r\n", "\n")


def headers_of(raw: bytes) -> list[str]:
    """The header names of a message as sent, in order, checking that every header line is a header or a fold."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t"):
            continue  # folded continuation of the previous header
        name, colon, _ = line.partition(":")
        assert colon and name and " " not in name, f"not a header line: {line!r}"
        names.append(name)
    return names


# --- Shared: a dev server, a worker on its own task queue, a mail sink ---------------------------------------------


@dataclass
class Live:
    client: Client
    task_queue: str
    sink: MailSink
    address: str

    async def invite(self, data: dict[str, Any]) -> WorkflowHandle[Any, Any]:
        current = await starter.invite(self.client, Invitation.model_validate(data), task_queue=self.task_queue)
        await wait_mail(self.sink, current.workflow_id, 2)  # invitation and confirmation
        handle = self.client.get_workflow_handle(current.workflow_id)
        await wait_status(handle, lambda s: s.notifications_sent == 2, "both sends recorded")
        return handle

    def mails(self, workflow_id: str) -> list[EmailMessage]:
        return [m for m in self.sink.messages if m["X-Mentorship-Workflow-Id"] == workflow_id]


@pytest_asyncio.fixture(scope="module")
async def live(dev_env: WorkflowEnvironment) -> AsyncIterator[Live]:
    async with MailSink(port=0) as sink, running_worker(dev_env.client, sink) as task_queue:
        yield Live(dev_env.client, task_queue, sink, dev_env.client.service_client.config.target_host)


async def history_length(client: Client, workflow_id: str) -> int:
    return len((await client.get_workflow_handle(workflow_id).fetch_history()).events)


async def not_started(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        return err.status == RPCStatusCode.NOT_FOUND
    return False


async def run(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def temporal(live: Live, *args: str) -> tuple[int, str, str]:
    """The `temporal` CLI against the dev server: a client that is not ours."""
    return await run([str(TEMPORAL_CLI), *args], {"TEMPORAL_ADDRESS": live.address, "TEMPORAL_NAMESPACE": "default"})


# `python starter.py` sometimes dies while the interpreter shuts down, after it has printed its answer and chosen
# its exit code: the Temporal client's threads outlive the event loop (temporalio/sdk-python#300; a bug of the
# starter, which could end with os._exit once its output is flushed). It is tolerated below, only in that shape,
# so that the rest of what a person sees is still checked, and counted in the figures.
CRASHED_AT_EXIT = {-6, -11}  # SIGABRT ("Fatal Python error: PyGILState_Release"), SIGSEGV
CRASHES: list[str] = []


def exited(code: int, err: str, expected: int) -> bool:
    if code in CRASHED_AT_EXIT:
        CRASHES.append(err)
        return True
    return code == expected


async def starter_process(live: Live, *args: str) -> tuple[int, str, str]:
    """`python starter.py ...` as a person runs it."""
    env = {
        "TEMPORAL_ADDRESS": live.address,
        "TEMPORAL_NAMESPACE": "default",
        "MENTORSHIP_TASK_QUEUE": live.task_queue,
        "PYTHONPATH": str(ROOT),
    }
    return await run([sys.executable, str(ROOT / "starter.py"), *args], env)


# --- (b) The starter's edge ---------------------------------------------------------------------------------------


async def test_the_starter_refuses_bad_invitations_and_starts_nothing(
    live: Live, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MENTORSHIP_TASK_QUEUE", live.task_queue)
    tag = uuid.uuid4().hex[:6]
    # Every case in-process (the same code path as the command, without a process each) ...
    for case in BAD_INVITATIONS:
        code = await starter.run_cli(["invite", json.dumps(case.data(tag))], client=live.client)
        out, err = capsys.readouterr()
        assert (code, out) == (2, ""), case
        assert case.said(err, tag, "error: invalid input: "), err
    assert await starter.run_cli(["invite", '{"mentor": '], client=live.client) == 2
    assert capsys.readouterr().err.startswith("error: not valid JSON: Expecting value: line 1 column 12")
    # ... and one of each class as a person runs it: a process, its exit code and its words.
    commands = [["invite", json.dumps(case.data(tag))] for case in ONE_OF_EACH] + [["invite", '{"mentor": ']]
    results = await asyncio.gather(*(starter_process(live, *command) for command in commands))
    for (code, out, err), expected in zip(results, [*ONE_OF_EACH, None], strict=True):
        assert exited(code, err, 2) and out == "", (code, err)
        if expected is None:
            assert err.startswith("error: not valid JSON: Expecting value"), err
        else:
            assert expected.said(err, tag, "error: invalid input: "), err
    # Python callers cannot even build the invitation.
    for case in ONE_OF_EACH:
        with pytest.raises(ValidationError):
            await starter.invite(live.client, Invitation.model_validate(case.data(tag)), task_queue=live.task_queue)

    # Nothing was started: not the pair's workflow, nor anything else on the worker's task queue. A valid
    # invitation sent the same way afterwards shows that the check would see one (visibility lags behind).
    assert await not_started(live.client, workflow_id_for(f"ana-{tag}", f"ben-{tag}"))
    control = invitation_data(tag)
    code, out, err = await starter_process(live, "invite", json.dumps(control))
    assert exited(code, err, 0) and ": invited" in out, (code, err)
    query = f"TaskQueue = '{live.task_queue}' AND WorkflowType = 'Mentorship' AND MentorId = 'ana-{tag}'"
    for _ in range(100):
        started = [execution.id async for execution in live.client.list_workflows(query)]
        if started:
            break
        await asyncio.sleep(0.1)
    assert started == [workflow_id_for(f"ana-{tag}", f"ben-{tag}")]
    await wait_mail(live.sink, started[0], 2)
    tried = 2 * len(BAD_INVITATIONS) + len(ONE_OF_EACH) + 3
    reliability.report(
        "bad input: starter",
        inputs_tried=tried,
        inputs_refused=tried,
        mentorships=1,
        note=f"starter.py crashed at interpreter exit (sdk-python#300) in {len(CRASHES)} run(s)",
    )
    await starter.act(live.client, started[0], "withdraw", {"by": f"ben-{tag}"})


async def test_the_starter_refuses_bad_actions_and_sends_nothing(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = uuid.uuid4().hex[:6]
    handle = await live.invite(invitation_data(tag))
    mentor, mentee = f"ana-{tag}", f"ben-{tag}"
    before = await status_of(handle)
    length = await history_length(live.client, handle.id)
    cli_cases: list[tuple[list[str], str]] = [
        (["accept", handle.id, "--by", "ana\r\nBcc: eve@example.net"], "by: 'ana\\r\\nBcc: eve@example.net' is not"),
        (["accept", handle.id, "--by", "a" * 65], "by: String should have at most 64 characters"),
        (["accept", handle.id, "--by", mentor, "--note", "n" * 2001], "note: "),
        (["decline", handle.id, "--by", mentor, "--reason", "no\x00"], "reason: must not contain control characters"),
        (["check-in", handle.id, "--by", mentee, "--rating", "9"], "rating: Input should be less than or equal to 5"),
        (["pause", handle.id, "--by", mentee, "--until", "soon"], "until: Input should be a valid datetime"),
        (["pause", handle.id, "--by", mentee, "--until", "2030-01-05T09:00:00"], "until: Input should have timezone"),
        (["withdraw", handle.id, "--by", mentee, "--reason", "\x1b[2J"], "reason: must not contain control"),
    ]
    for argv, reason in cli_cases:
        for mode in ([], ["--signal"]):
            code = await starter.run_cli([*argv, *mode], client=live.client)
            out, err = capsys.readouterr()
            assert (code, out) == (2, ""), (argv, err)
            assert err.startswith("error: invalid input: " + reason), err
    # The same as a process: exit code 2 and the reason.
    code, out, err = await starter_process(live, "accept", handle.id, "--by", "ana\nBcc: eve@example.net")
    assert exited(code, err, 2) and out == "" and err.startswith("error: invalid input: by: "), (code, err)
    # The Python API validates before sending, as an update or as a signal.
    for case in BAD_ACTIONS:
        action = {
            AcceptInput: "accept",
            DeclineInput: "decline",
            WithdrawInput: "withdraw",
            CheckInInput: "check_in",
            PauseInput: "pause",
            ResumeInput: "resume",
        }[case.model]
        with pytest.raises(ValidationError):
            await starter.act(live.client, handle.id, action, case.payload)
        with pytest.raises(ValidationError):
            await starter.send(live.client, handle.id, action, case.payload)
    # Nothing reached the workflow: not one event more, not one refused signal, no email.
    assert await history_length(live.client, handle.id) == length
    assert await status_of(handle) == before
    assert len(live.mails(handle.id)) == 2
    tried = 2 * len(cli_cases) + 1 + 2 * len(BAD_ACTIONS)
    reliability.report(
        "bad input: starter",
        inputs_tried=tried,
        inputs_refused=tried,
        mentorships=1,
        note=f"starter.py crashed at interpreter exit (sdk-python#300) in {len(CRASHES)} run(s)",
    )
    await starter.act(live.client, handle.id, "withdraw", {"by": mentee})


# --- (c) Updates on a running mentorship ----------------------------------------------------------------------------


async def refused_update(live: Live, workflow_id: str, action: str, payload: Any) -> str:
    """Send an update that must be rejected; answer the reason a person reads."""
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await live.client.get_workflow_handle(workflow_id).execute_update(action, payload)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return cause.message


async def test_bad_updates_are_refused_with_the_reason_and_leave_no_trace(live: Live) -> None:
    tag = uuid.uuid4().hex[:6]
    data = invitation_data(tag)
    handle = await live.invite(data)
    mentor, mentee = f"ana-{tag}", f"ben-{tag}"  # Ben invited: Ana is the invitee
    before = (await status_of(handle), await history_length(live.client, handle.id))

    other_pair = invitation_data(uuid.uuid4().hex[:6])
    while_invited: list[tuple[str, Any, str]] = [
        ("accept", {"by": mentor, "note": "n" * 2001}, "accept input is not valid: note: "),
        ("accept", {"by": mentor, "note": "ok\x00"}, "accept input is not valid: note: must not contain control"),
        ("accept", {"by": f"{mentor}\r\nBcc: eve@example.net"}, "accept input is not valid: by: "),
        ("accept", {"by": "a" * 65}, "accept input is not valid: by: String should have at most 64 characters"),
        ("accept", {"by": mentor, "extra": 1}, "accept input is not valid: extra: Extra inputs are not permitted"),
        ("accept", [mentor], "accept input is not valid: input: Input should be a valid dictionary"),
        ("accept", mentor, "accept input is not valid: input: Input should be a valid dictionary"),
        ("accept", None, "accept input is not valid: input: Input should be a valid dictionary"),
        ("decline", {"by": mentor, "reason": 5}, "decline input is not valid: reason: Input should be a valid string"),
        ("accept", {"by": f"cora-{tag}"}, f"'cora-{tag}' is not part of this mentorship"),
        ("accept", {"by": "mallory"}, "'mallory' is not part of this mentorship"),
        ("withdraw", {"by": mentor}, f"only the initiator, '{mentee}', can withdraw the invitation"),
    ]
    while_invited.append(("invite", {**other_pair, "initiated_by": "mentor"}, "this mentorship is between mentor"))
    for action, payload, reason in while_invited:
        assert (await refused_update(live, handle.id, action, payload)).startswith(reason), (action, payload)
    invitations = [case for case in ONE_OF_EACH if isinstance(case.data(tag), dict)]
    for case in invitations:
        said = await refused_update(live, handle.id, "invite", case.data(tag))
        assert case.said(said, tag, "invite input is not valid: "), said
    assert (await status_of(handle), await history_length(live.client, handle.id)) == before

    await starter.act(live.client, handle.id, "accept", {"by": mentor})
    await wait_mail(live.sink, handle.id, 4)
    active = (
        await wait_status(handle, lambda s: s.notifications_sent == 4, "welcomes sent"),
        await history_length(live.client, handle.id),
    )
    now = datetime.now(UTC)
    while_active: list[tuple[str, Any, str]] = [
        ("pause", {"by": mentee, "until": "2030-01-05T09:00:00"}, "pause input is not valid: until: Input should have"),
        ("pause", {"by": mentee, "until": (now - timedelta(hours=1)).isoformat()}, "until ("),
        ("pause", {"by": mentee, "until": (now + timedelta(days=3700)).isoformat()}, "until ("),
        ("check_in", {"by": mentee, "rating": 6}, "check_in input is not valid: rating: Input should be less than"),
        ("check_in", {"by": mentee, "note": "\x1b]0;title\x07"}, "check_in input is not valid: note: must not"),
        ("check_in", {"by": f"cora-{tag}"}, f"'cora-{tag}' is not part of this mentorship"),
        ("resume", {"by": mentee}, "the mentorship is not paused (it is active)"),
    ]
    for action, payload, reason in while_active:
        assert (await refused_update(live, handle.id, action, payload)).startswith(reason), (action, payload)
    assert (await status_of(handle), await history_length(live.client, handle.id)) == active
    assert len(live.mails(handle.id)) == 4
    tried = len(while_invited) + len(invitations) + len(while_active)
    reliability.report("bad input: updates", inputs_tried=tried, inputs_refused=tried, mentorships=1)
    await starter.act(live.client, handle.id, "withdraw", {"by": mentee})


# --- (d) Straight to Temporal with the `temporal` CLI -----------------------------------------------------------------


async def test_the_cli_itself_refuses_malformed_json(live: Live) -> None:
    tag = uuid.uuid4().hex[:6]
    workflow_id = workflow_id_for(f"ana-{tag}", f"ben-{tag}")
    code, _, err = await temporal(
        live,
        "workflow",
        "start",
        "--type",
        "Mentorship",
        "--task-queue",
        live.task_queue,
        "--workflow-id",
        workflow_id,
        "--input",
        '{"mentor": ',
    )
    assert code != 0 and "input #1 is not valid JSON" in err, err
    assert await not_started(live.client, workflow_id)

    handle = await live.invite(invitation_data(tag))
    length = await history_length(live.client, handle.id)
    for verb in (["signal"], ["update", "execute"]):
        code, _, err = await temporal(
            live, "workflow", *verb, "--workflow-id", handle.id, "--name", "accept", "--input", '{"by": "ana'
        )
        assert code != 0 and "input #1 is not valid JSON" in err, err
    assert await history_length(live.client, handle.id) == length
    reliability.report("bad input: temporal CLI", inputs_tried=3, inputs_refused=3, mentorships=1)
    await starter.act(live.client, handle.id, "withdraw", {"by": f"ben-{tag}"})


async def failure_of(handle: WorkflowHandle[Any, Any]) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


@pytest.mark.parametrize("case", ONE_OF_EACH, ids=str)
async def test_an_invalid_start_input_fails_at_once_with_the_reason_and_sends_nothing(
    live: Live, case: BadInvitation
) -> None:
    tag = uuid.uuid4().hex[:6]
    workflow_id = f"mentorship-cli-{tag}"
    code, _, err = await temporal(
        live,
        "workflow",
        "start",
        "--type",
        "Mentorship",
        "--task-queue",
        live.task_queue,
        "--workflow-id",
        workflow_id,
        "--input",
        json.dumps(case.data(tag)),
    )
    assert code == 0, err  # well-formed JSON: the CLI cannot know the contract
    handle = live.client.get_workflow_handle(workflow_id)
    failure = await failure_of(handle)
    assert failure.type == INVALID_INPUT and failure.non_retryable
    assert case.said(failure.message, tag, "the mentorship input is not valid: "), failure.message
    # Failed in its first workflow task: no timer, no activity, no email; the CLI shows the reason too.
    events = [event.event_type for event in (await handle.fetch_history()).events]
    assert events[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED and len(events) == 5, events
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in events
    code, out, _ = await temporal(live, "workflow", "describe", "--workflow-id", workflow_id)
    assert code == 0 and "the mentorship input is not valid" in out and "FAILED" in out.upper(), out
    assert live.mails(workflow_id) == []
    reliability.report("bad input: temporal CLI", inputs_tried=1, inputs_refused=1)


async def test_a_start_input_carrying_state_is_refused(live: Live) -> None:
    tag = uuid.uuid4().hex[:6]
    data = invitation_data(tag)
    forged = {"workflow_id": "x", "stage": "active", "invitation": data, "invited_at": "2026-01-01T00:00:00Z"}
    workflow_id = f"mentorship-carried-{tag}"
    code, _, err = await temporal(
        live,
        "workflow",
        "start",
        "--type",
        "Mentorship",
        "--task-queue",
        live.task_queue,
        "--workflow-id",
        workflow_id,
        "--input",
        json.dumps({**data, "carried": forged}),
    )
    assert code == 0, err
    handle = live.client.get_workflow_handle(workflow_id)
    try:
        async with asyncio.timeout(5):
            failure = await failure_of(handle)
        assert failure.type == INVALID_INPUT, f"failed as {failure.type}: {failure.message}"
    finally:
        await terminate_if_running(handle)


async def terminate_if_running(handle: WorkflowHandle[Any, Any]) -> None:
    try:
        await handle.terminate("test finished")
    except RPCError:
        pass  # already closed


async def test_a_start_without_input_fails_with_the_reason(live: Live) -> None:
    workflow_id = f"mentorship-noinput-{uuid.uuid4().hex[:6]}"
    code, _, err = await temporal(
        live, "workflow", "start", "--type", "Mentorship", "--task-queue", live.task_queue, "--workflow-id", workflow_id
    )
    assert code == 0, err
    handle = live.client.get_workflow_handle(workflow_id)
    try:
        async with asyncio.timeout(5):
            failure = await failure_of(handle)
        assert failure.type == INVALID_INPUT
    finally:
        await terminate_if_running(handle)


async def test_malformed_signals_are_recorded_with_the_reason_and_change_nothing(live: Live) -> None:
    tag = uuid.uuid4().hex[:6]
    data = invitation_data(tag)
    handle = await live.invite(data)
    mentor = f"ana-{tag}"  # the invitee
    before = await status_of(handle)
    bad_invite = {**data, "initiated_by": "mentor", "mentor": {**data["mentor"], "name": "Ana\r\nBcc: x@example.net"}}
    signals: list[tuple[str, str, str | None, str]] = [
        ("accept", "[1, 2]", None, "accept input is not valid: input: Input should be a valid dictionary"),
        ("accept", '"ana"', None, "accept input is not valid: input: Input should be a valid dictionary"),
        ("accept", "42", None, "accept input is not valid: input: Input should be a valid dictionary"),
        ("accept", "null", None, "accept input is not valid: input: Input should be a valid dictionary"),
        ("accept", "{}", None, "accept input is not valid: by: Field required"),
        ("accept", '{"by": 5}', None, "accept input is not valid: by: Input should be a valid string"),
        ("accept", json.dumps({"by": mentor, "note": ["a"]}), mentor, "accept input is not valid: note: Input should"),
        ("accept", json.dumps({"by": mentor, "rating": 3}), mentor, "accept input is not valid: rating: Extra inputs"),
        ("accept", json.dumps({"by": mentor + "\r\n"}), mentor + "\r\n", "accept input is not valid: by: "),
        ("decline", json.dumps({"by": mentor, "reason": "n\x00"}), mentor, "decline input is not valid: reason: must"),
        ("check_in", json.dumps({"by": mentor, "rating": "five"}), mentor, "check_in input is not valid: rating: "),
        ("pause", json.dumps({"by": mentor, "until": "2030-01-05"}), mentor, "pause input is not valid: until: "),
        ("invite", json.dumps(bad_invite), None, "invite input is not valid: mentor.name: must not contain line"),
        ("invite", '["not", "an", "invitation"]', None, "invite input is not valid: input: Input should be a valid"),
        ("accept", json.dumps({"by": "mallory"}), "mallory", "'mallory' is not part of this mentorship"),
    ]
    for name, payload, _, _ in signals:
        code, _, err = await temporal(
            live, "workflow", "signal", "--workflow-id", handle.id, "--name", name, "--input", payload
        )
        assert code == 0, err  # a signal is fire and forget: the workflow judges it
    after = await wait_status(handle, lambda s: len(s.refused_signals) == len(signals), "every refusal recorded")
    for refused, (name, payload, by, reason) in zip(after.refused_signals, signals, strict=True):
        assert (refused.signal, refused.by) == (name, by), payload
        assert refused.reason.startswith(reason), (payload, refused.reason)
    assert after.model_dump(exclude={"refused_signals"}) == before.model_dump(exclude={"refused_signals"})
    assert after.stage is Stage.INVITED and len(live.mails(handle.id)) == 2
    # Operators see the last refusal in the UI's current details.
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert "Last refused signal" in metadata.current_details
    # And the mentorship still listens: the invitee accepts.
    await temporal(
        live,
        "workflow",
        "signal",
        "--workflow-id",
        handle.id,
        "--name",
        "accept",
        "--input",
        json.dumps({"by": mentor}),
    )
    await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "acceptance after the refusals")
    reliability.report("bad input: temporal CLI", inputs_tried=len(signals), inputs_refused=len(signals), mentorships=1)
    await starter.act(live.client, handle.id, "withdraw", {"by": mentor})


async def test_invalid_updates_through_the_cli_show_the_reason(live: Live) -> None:
    tag = uuid.uuid4().hex[:6]
    handle = await live.invite(invitation_data(tag))
    mentor, mentee = f"ana-{tag}", f"ben-{tag}"
    length = await history_length(live.client, handle.id)
    updates: list[tuple[str, str, str]] = [
        ("accept", json.dumps({"by": mentee}), f"only the invitee, '{mentor}' (the mentor), can accept"),
        ("accept", "[]", "accept input is not valid: input: Input should be a valid dictionary"),
        ("accept", json.dumps({"by": mentor + "\nBcc: eve@example.net"}), "accept input is not valid: by: "),
        ("accept", json.dumps({"by": mentor, "note": "n" * 2001}), "accept input is not valid: note: "),
        ("check_in", json.dumps({"by": mentor, "rating": 9}), "check_in input is not valid: rating: Input should be"),
        ("decline", json.dumps({"by": "mallory"}), "'mallory' is not part of this mentorship"),
    ]
    for name, payload, reason in updates:
        code, out, err = await temporal(
            live, "workflow", "update", "execute", "--workflow-id", handle.id, "--name", name, "--input", payload
        )
        assert code != 0, out
        assert reason in err, err
    assert await history_length(live.client, handle.id) == length
    reliability.report("bad input: temporal CLI", inputs_tried=len(updates), inputs_refused=len(updates), mentorships=1)
    await starter.act(live.client, handle.id, "withdraw", {"by": mentee})


async def test_an_update_without_input_is_refused_with_a_readable_reason(live: Live) -> None:
    tag = uuid.uuid4().hex[:6]
    handle = await live.invite(invitation_data(tag))
    try:
        code, _, err = await temporal(
            live, "workflow", "update", "execute", "--workflow-id", handle.id, "--name", "accept"
        )
        assert code != 0
        assert "accept input is not valid" in err and "TypeError" not in err, err
    finally:
        await starter.act(live.client, handle.id, "withdraw", {"by": f"ben-{tag}"})


async def wait_status_briefly(
    handle: WorkflowHandle[Any, Any], predicate: Any, what: str, within: float = 8.0
) -> MentorshipStatus:
    """Like wait_status, but each query gives up after 2 s: a wedged workflow answers no query."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            current: MentorshipStatus = await handle.query(
                "status", result_type=MentorshipStatus, rpc_timeout=timedelta(seconds=2)
            )
        except RPCError as err:
            raise AssertionError(f"{what}: the workflow answers no query ({err})") from None
        if predicate(current):
            return current
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("inputs", [[], ["--input", "{}", "--input", "{}"]], ids=["no input", "two inputs"])
async def test_a_signal_with_the_wrong_number_of_inputs_is_refused_not_wedging(live: Live, inputs: list[str]) -> None:
    tag = uuid.uuid4().hex[:6]
    handle = await live.invite(invitation_data(tag))
    try:
        code, _, err = await temporal(
            live, "workflow", "signal", "--workflow-id", handle.id, "--name", "accept", *inputs
        )
        assert code == 0, err
        await wait_status_briefly(handle, lambda s: len(s.refused_signals) == 1, "the refusal recorded")
        await starter.send(live.client, handle.id, "accept", {"by": f"ana-{tag}"})
        await wait_status_briefly(handle, lambda s: s.stage is Stage.ACTIVE, "acceptance afterwards")
    finally:
        await terminate_if_running(handle)


async def test_a_refused_signal_costs_the_mentorship_little_state(live: Live) -> None:
    tag = uuid.uuid4().hex[:6]
    handle = await live.invite(invitation_data(tag))
    try:
        size = len((await status_of(handle)).model_dump_json())
        await handle.signal("accept", {"by": "x" * 100_000})
        current = await wait_status(handle, lambda s: len(s.refused_signals) == 1, "the refusal recorded")
        assert current.refused_signals[0].reason.startswith("accept input is not valid: by: String should have at most")
        grown = len(current.model_dump_json()) - size
        assert grown < 2_000, f"one refused signal added {grown} bytes to the state"
    finally:
        await terminate_if_running(handle)


# --- Header injection: user text only ever in bodies -------------------------------------------------------------


NOTES = [
    pytest.param(Notice.INVITATION, "message", id="invitation message"),
    pytest.param(Notice.MENTORSHIP_STARTED, "note", id="acceptance note"),
    pytest.param(Notice.INVITATION_DECLINED, "reason", id="decline reason"),
    pytest.param(Notice.PAUSED, "reason", id="pause reason"),
    pytest.param(Notice.RESUMED, "note", id="resume note"),
    pytest.param(Notice.WITHDRAWN, "reason", id="withdrawal reason"),
]


@pytest.mark.parametrize(("kind", "field"), NOTES)
async def test_a_note_with_line_breaks_goes_only_into_the_body(
    mail_sink: MailSink, mail_settings: Settings, kind: Notice, field: str
) -> None:
    note = CheckInInput(by="ben", note=INJECTION).note  # as the contract hands it on: CR and CRLF read as LF
    assert note == "Thanks!\nBcc: eve@example.net\n\nX-Injected: yes\nSubject: pwned"
    invitation = make_invitation(message=note) if field == "message" else make_invitation()
    recipient_role = invitation.invitee if kind is Notice.INVITATION else invitation.initiated_by
    notification = make_notification(
        kind, invitation=invitation, to=Audience(recipient_role.value), actor=recipient_role.other, text=note
    )
    await ActivityEnvironment().run(Mailer(mail_settings).send_notification, notification)

    [delivery] = mail_sink.deliveries
    assert delivery.rcpt_tos == [str(notification.recipient.email)]
    assert sorted(headers_of(delivery.raw)) == sorted(HEADERS)
    message = BytesParser(policy=policy.default).parsebytes(delivery.raw)
    assert [address.addr_spec for address in message["To"].addresses] == [notification.recipient.email]
    assert "pwned" not in str(message["Subject"]) and message["Bcc"] is None and message["X-Injected"] is None
    text = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert text is not None and rich is not None
    assert "> Bcc: eve@example.net\n>\n> X-Injected: yes" in lines(text.get_content())
    assert "Bcc: eve@example.net<br><br>X-Injected: yes" in rich.get_content()
    reliability.report("bad input: header injection", inputs_tried=1, emails_delivered=1)


async def test_line_breaks_in_notes_never_reach_headers_end_to_end(live: Live) -> None:
    """Through the workflow and the worker: an invitation message and a decline reason with line breaks."""
    tag = uuid.uuid4().hex[:6]
    data = {**invitation_data(tag), "message": INJECTION}
    handle = await live.invite(data)
    await starter.act(live.client, handle.id, "decline", {"by": f"ana-{tag}", "reason": INJECTION})
    await wait_mail(live.sink, handle.id, 3)
    participants = {data["mentor"]["email"], data["mentee"]["email"]}
    deliveries = [d for d in live.sink.deliveries if d.message["X-Mentorship-Workflow-Id"] == handle.id]
    assert {str(d.message["X-Mentorship-Step"]) for d in deliveries} == {"invitation", "invitation-sent", "declined"}
    for delivery in deliveries:
        assert sorted(headers_of(delivery.raw)) == sorted(HEADERS)
        assert set(delivery.rcpt_tos) <= participants and len(delivery.rcpt_tos) == 1
        to = delivery.message["To"].addresses
        assert [address.addr_spec for address in to] == delivery.rcpt_tos
    bodies = {
        str(d.message["X-Mentorship-Step"]): lines(d.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        for d in deliveries
    }
    assert "> Bcc: eve@example.net" in bodies["invitation"] and "> X-Injected: yes" in bodies["declined"]
    reliability.report("bad input: header injection", inputs_tried=2, mentorships=1, emails_delivered=3)


ENCODED_WORD_NAMES = [
    pytest.param("=?utf-8?b?QmNjOiBldmVAZXhhbXBsZS5uZXQ=?=", "eve@example.net", id="'Bcc: eve@example.net', base64"),
    pytest.param(
        "=?utf-8?q?Your_manager_=3Cboss=40example=2Ecom=3E?=", "boss@example.com", id="'<boss@example.com>', quoted"
    ),
]


@pytest.mark.parametrize(("name", "planted"), ENCODED_WORD_NAMES)
async def test_a_name_that_looks_like_an_encoded_word_never_adds_an_address(
    mail_sink: MailSink, mail_settings: Settings, name: str, planted: str
) -> None:
    try:
        mentor = Person(id="ana", name=name, email="ana@example.com")
    except ValidationError:
        return  # refused at the edge: fine
    notification = make_notification(Notice.INVITATION, invitation=make_invitation(mentor=mentor), to=Audience.MENTOR)
    await ActivityEnvironment().run(Mailer(mail_settings).send_notification, notification)
    [delivery] = mail_sink.deliveries
    assert delivery.rcpt_tos == ["ana@example.com"]
    message = BytesParser(policy=policy.default).parsebytes(delivery.raw)
    assert [address.addr_spec for address in message["To"].addresses] == ["ana@example.com"]
    assert planted.encode() not in delivery.raw.split(b"\r\n\r\n", 1)[0]


def test_state_carried_across_continue_as_new_is_not_judged_by_newer_rules() -> None:
    """A mentorship that started under older, looser rules must survive continue-as-new after a deploy: what it
    carries was checked when it came in. Only the workflow itself sets `carried` (see the test above)."""
    data = invitation_data("old")
    data["mentor"]["name"] = "Ana\x85Ruiz"  # accepted before C1 controls were refused
    data["term"] = "P10Y40D"  # accepted before durations were bounded on the calendar
    err = refusal(MentorshipInput, data)
    assert "mentor.name" in explain(err) and "term" in explain(err)
    carried = MentorshipInput.model_validate(data, context={TRUSTED: True})
    assert carried.mentor.name == "Ana\x85Ruiz" and carried.term == "P10Y40D"
