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
from typing import Any

import pytest
import pytest_asyncio
from pydantic import ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

import mentorship_client
import starter
from activities.mailer import Mailer
from devtools.mailsink import MailSink
from infra.settings import Settings
from tests.support import ROOT, builders, reliability
from tests.support.bad_input import BAD_ACTIONS, BAD_INVITATIONS, ONE_OF_EACH, BadInvitation, invitation_data
from tests.support.builders import make_notification
from tests.support.mail import HEADERS, headers_of
from tests.support.temporal import TEMPORAL_CLI, running_worker
from tests.support.waiting import status_of, wait_mail, wait_status
from workflows.contract import (
    INVALID_INPUT,
    AcceptInput,
    Audience,
    CheckInInput,
    DeclineInput,
    Invitation,
    MentorshipStatus,
    Notice,
    PauseInput,
    Person,
    ResumeInput,
    Stage,
    WithdrawInput,
    workflow_id_for,
)

INJECTION = "Thanks!\r\nBcc: eve@example.net\r\n\r\nX-Injected: yes\rSubject: pwned"


def lines(text: str) -> str:
    """A body as a person reads it: the wire's CRLF line ends as LF."""
    return text.replace("\r\n", "\n")


# --- Shared: a dev server, a worker on its own task queue, a mail sink ---------------------------------------------


@dataclass
class Live:
    client: Client
    task_queue: str
    sink: MailSink
    address: str

    async def invite(self, data: dict[str, Any]) -> WorkflowHandle[Any, Any]:
        current = await mentorship_client.invite(
            self.client, Invitation.model_validate(data), task_queue=self.task_queue
        )
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
            await mentorship_client.invite(
                live.client, Invitation.model_validate(case.data(tag)), task_queue=live.task_queue
            )

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
    await mentorship_client.act(live.client, started[0], "withdraw", {"by": f"ben-{tag}"})


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
            await mentorship_client.act(live.client, handle.id, action, case.payload)
        with pytest.raises(ValidationError):
            await mentorship_client.send(live.client, handle.id, action, case.payload)
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
    await mentorship_client.act(live.client, handle.id, "withdraw", {"by": mentee})


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

    await mentorship_client.act(live.client, handle.id, "accept", {"by": mentor})
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
    await mentorship_client.act(live.client, handle.id, "withdraw", {"by": mentee})


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
    await mentorship_client.act(live.client, handle.id, "withdraw", {"by": f"ben-{tag}"})


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
    await mentorship_client.act(live.client, handle.id, "withdraw", {"by": mentor})


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
    await mentorship_client.act(live.client, handle.id, "withdraw", {"by": mentee})


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
        await mentorship_client.act(live.client, handle.id, "withdraw", {"by": f"ben-{tag}"})


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
        await mentorship_client.send(live.client, handle.id, "accept", {"by": f"ana-{tag}"})
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
    invitation = builders.invitation(message=note) if field == "message" else builders.invitation()
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
    await mentorship_client.act(live.client, handle.id, "decline", {"by": f"ana-{tag}", "reason": INJECTION})
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
    notification = make_notification(
        Notice.INVITATION, invitation=builders.invitation(mentor=mentor), to=Audience.MENTOR
    )
    await ActivityEnvironment().run(Mailer(mail_settings).send_notification, notification)
    [delivery] = mail_sink.deliveries
    assert delivery.rcpt_tos == ["ana@example.com"]
    message = BytesParser(policy=policy.default).parsebytes(delivery.raw)
    assert [address.addr_spec for address in message["To"].addresses] == ["ana@example.com"]
    assert planted.encode() not in delivery.raw.split(b"\r\n\r\n", 1)[0]
