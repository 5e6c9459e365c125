"""Actions are judged after the timed events already due (issue: "promises kept at the edges", item 1).

The SDK hands a workflow its signals and updates before the timers that fired in the same activation. Here the
worker is stopped, each timed event falls due while nobody handles it, an action is sent, and the worker starts
again: timer and action then reach the workflow in one task, and the action must find the mentorship as it is
after the event (the invitation expired, the term ended, the pause over, the reminder sent).

On the dev server with its wall clock: the time-skipping server stops its clock at a timer no worker handles.
All scenarios share one outage, so the file costs one stop and one start of the worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

import mentorship_client
from devtools.mailsink import MailSink
from tests.support.builders import people
from tests.support.temporal import running_worker
from tests.support.waiting import wait_status
from workflows.contract import Invitation, MentorshipStatus, Stage

# Run while the worker is up; answers the moment the timed event falls due.
Setup = Callable[[Client, str, Invitation], Awaitable[datetime]]


@dataclass
class Scenario:
    name: str
    invitation: Invitation
    # Run while the worker is up; answers the moment the timed event falls due.
    setup: Setup
    # The action sent while the worker is down: (action, by-role) and whether as an update.
    action: str
    by: str
    as_update: bool = False
    check: Callable[[MentorshipStatus], None] = lambda status: None
    update_error: str | None = None
    handle: WorkflowHandle[Any, Any] | None = None
    due: datetime | None = None
    update: asyncio.Task[MentorshipStatus] | None = field(default=None, repr=False)


def events(status: MentorshipStatus) -> list[str]:
    return [entry.event for entry in status.timeline]


def before(status: MentorshipStatus, first: str, then: str) -> None:
    names = events(status)
    assert first in names and then in names, names
    assert names.index(first) < names.index(then), names


async def expiry_of(client: Client, workflow_id: str, inv: Invitation) -> datetime:
    current = await mentorship_client.status(client, workflow_id)
    assert current.expires_at is not None
    return current.expires_at


async def first_reminder(client: Client, workflow_id: str, inv: Invitation) -> datetime:
    current = await mentorship_client.status(client, workflow_id)
    return current.invited_at + timedelta(seconds=12)


def accepted_then(
    after: Callable[[MentorshipStatus], datetime],
) -> Callable[[Client, str, Invitation], Awaitable[datetime]]:
    async def setup(client: Client, workflow_id: str, inv: Invitation) -> datetime:
        current = await mentorship_client.act(client, workflow_id, "accept", {"by": inv.person(inv.invitee).id})
        return after(current)

    return setup


async def paused_briefly(client: Client, workflow_id: str, inv: Invitation) -> datetime:
    await mentorship_client.act(client, workflow_id, "accept", {"by": inv.person(inv.invitee).id})
    until = datetime.now(UTC) + timedelta(seconds=12)
    current = await mentorship_client.act(client, workflow_id, "pause", {"by": inv.mentor.id, "until": until})
    assert current.paused_until is not None
    return current.paused_until


def refused(action: str, reason: str) -> Callable[[MentorshipStatus], None]:
    def check(status: MentorshipStatus) -> None:
        assert [(r.signal, reason in r.reason) for r in status.refused_signals] == [(action, True)], (
            status.refused_signals
        )

    return check


def expired_and_refused(status: MentorshipStatus) -> None:
    assert status.stage is Stage.EXPIRED
    refused("accept", "already ended (expired)")(status)


def expired(status: MentorshipStatus) -> None:
    assert status.stage is Stage.EXPIRED and not status.refused_signals


def missed_then_next_recorded(status: MentorshipStatus) -> None:
    # The missed one stays missed; the check-in counts for the next one.
    before(status, "check-in 1 missed", "check-in 2 recorded")
    assert [c.number for c in status.check_ins] == [2]


def resumed_then_recorded(status: MentorshipStatus) -> None:
    before(status, "resumed", "check-in 1 recorded")
    assert not status.refused_signals


def completed_and_refused(status: MentorshipStatus) -> None:
    assert status.stage is Stage.COMPLETED and not status.check_ins
    refused("check_in", "already ended (completed)")(status)


def completed(status: MentorshipStatus) -> None:
    assert status.stage is Stage.COMPLETED and not status.check_ins and not status.refused_signals


def scenarios() -> list[Scenario]:
    return [
        Scenario(
            "expiry",
            people(invitation_reminders=0, respond_within="PT15S"),
            expiry_of,
            "accept",
            "mentor",
            check=expired_and_refused,
        ),
        Scenario(
            "expiry, as an update",
            people(invitation_reminders=0, respond_within="PT15S"),
            expiry_of,
            "accept",
            "mentor",
            as_update=True,
            update_error="the mentorship has already ended (expired)",
            check=expired,
        ),
        Scenario(
            "invitation reminder",
            people(invitation_reminders=1, remind_after="PT12S", respond_within="PT2M"),
            first_reminder,
            "accept",
            "mentor",
            check=lambda s: before(s, "invitation reminder 1 sent", "accepted"),
        ),
        Scenario(
            "check-in due",
            people(check_in_every="PT12S", check_in_grace="PT6S"),
            accepted_then(lambda s: s.next_check_in_due or datetime.max),
            "check_in",
            "mentee",
            check=lambda s: before(s, "check-in 1 due", "check-in 1 recorded"),
        ),
        Scenario(
            "nudge",
            people(check_in_every="PT12S", check_in_grace="PT3S"),
            accepted_then(lambda s: (s.next_check_in_due or datetime.max) + timedelta(seconds=3)),
            "check_in",
            "mentee",
            check=lambda s: before(s, "check-in 1 follow-up", "check-in 1 recorded"),
        ),
        Scenario(
            "missed",
            people(check_in_every="PT6S", check_in_grace="PT2S"),
            accepted_then(lambda s: (s.next_check_in_due or datetime.max) + timedelta(seconds=6)),
            "check_in",
            "mentee",
            check=missed_then_next_recorded,
        ),
        Scenario("pause end", people(), paused_briefly, "check_in", "mentee", check=resumed_then_recorded),
        Scenario(
            "term end",
            people(term="PT12S"),
            accepted_then(lambda s: s.term_ends_at or datetime.max),
            "check_in",
            "mentee",
            check=completed_and_refused,
        ),
        Scenario(
            "term end, as an update",
            people(term="PT12S"),
            accepted_then(lambda s: s.term_ends_at or datetime.max),
            "check_in",
            "mentee",
            as_update=True,
            update_error="the mentorship has already ended (completed)",
            check=completed,
        ),
    ]


def handled(case: Scenario) -> Callable[[MentorshipStatus], bool]:
    """The action (or its refusal) is in the status; an update's outcome the caller already read."""

    def check(status: MentorshipStatus) -> bool:
        names = events(status)
        return (
            case.as_update
            or bool(status.refused_signals)
            or "accepted" in names
            or any(name.endswith(" recorded") for name in names)
        )

    return check


async def test_every_timed_event_due_during_an_outage_happens_before_the_action(
    dev_env: WorkflowEnvironment, mail_sink: MailSink
) -> None:
    client = dev_env.client
    cases = scenarios()

    async def prepare(case: Scenario, task_queue: str) -> None:
        started = await mentorship_client.invite(client, case.invitation, task_queue=task_queue)
        case.handle = client.get_workflow_handle(started.workflow_id)
        case.due = await case.setup(client, case.handle.id, case.invitation)

    async with running_worker(client, mail_sink) as task_queue:
        await asyncio.gather(*(prepare(case, task_queue) for case in cases))
    # The worker is down. Each event falls due with nobody to handle it; then its action is sent.
    stopped = datetime.now(UTC)
    for case in sorted(cases, key=lambda c: c.due or datetime.max):
        assert case.due is not None and case.handle is not None
        assert case.due > stopped, f"{case.name}: due before the worker stopped; lengthen its timings"
        await asyncio.sleep(max(0.0, (case.due - datetime.now(UTC)).total_seconds() + 0.5))
        by = case.invitation.mentor if case.by == "mentor" else case.invitation.mentee
        if case.as_update:
            case.update = asyncio.create_task(mentorship_client.act(client, case.handle.id, case.action, {"by": by.id}))
        else:
            await mentorship_client.send(client, case.handle.id, case.action, {"by": by.id})
    async with running_worker(client, mail_sink, task_queue):
        for case in cases:
            assert case.handle is not None
            if case.update is not None:
                with pytest.raises(WorkflowUpdateFailedError) as refused_update:
                    await asyncio.wait_for(case.update, timeout=60)
                assert case.update_error is not None
                assert case.update_error in str(refused_update.value.cause), case.name
            current = await wait_status(case.handle, handled(case), f"{case.name}: the action was handled", within=60)
            try:
                case.check(current)
            except AssertionError as err:
                raise AssertionError(f"{case.name}: {err}") from err
