"""Every path of the state machine on the time-skipping test server, with real SMTP to an in-process sink."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import mentorship_client
from devtools.mailsink import MailSink
from tests.support.builders import people
from tests.support.temporal import running_worker
from tests.support.waiting import status_of, steps, terminate_when_idle, wait_mail, wait_status
from workflows.contract import Invitation, MentorshipStatus, Role, Stage
from workflows.durations import parse_duration

DAY = timedelta(days=1)
BOTH_SIDES = pytest.mark.parametrize("initiator", ["mentor", "mentee"])


@pytest_asyncio.fixture
async def world(time_env: WorkflowEnvironment, mail_sink: MailSink) -> AsyncIterator[World]:
    async with running_worker(time_env.client, mail_sink) as task_queue:
        world = World(time_env, mail_sink, task_queue)
        yield world
        await world.close()


async def terminate_quietly(client: Client, workflow_id: str) -> None:
    try:
        await client.get_workflow_handle(workflow_id).terminate("test finished")
    except RPCError:
        pass  # already closed


class World:
    """One test's view: the server, the mail sink, the worker's task queue."""

    def __init__(self, env: WorkflowEnvironment, sink: MailSink, task_queue: str) -> None:
        self.env = env
        self.sink = sink
        self.task_queue = task_queue
        self.started: list[str] = []

    async def close(self) -> None:
        """Terminate what the test left open: on the shared test server, time cannot skip past a workflow
        whose worker has gone."""
        for workflow_id in self.started:
            handle = self.client.get_workflow_handle(workflow_id)
            try:
                # An activity cut off by termination never releases the test server's time lock.
                final = await wait_status(
                    handle, lambda s: s.notifications_pending == 0 and s.webhooks.pending == 0, "sends to finish"
                )
                if final.feedback_workflow_id is not None:
                    # It outlives the mentorship, with timers days ahead that no worker would serve.
                    await terminate_when_idle(self.client, final.feedback_workflow_id)
                await terminate_when_idle(self.client, workflow_id)
            except RPCError:
                pass  # already closed

    @property
    def client(self) -> Client:
        return self.env.client

    async def invite(self, invitation: Invitation, **kwargs: Any) -> WorkflowHandle[Any, Any]:
        current = await mentorship_client.invite(self.client, invitation, task_queue=self.task_queue, **kwargs)
        self.started.append(current.workflow_id)
        return self.client.get_workflow_handle(current.workflow_id)

    async def signal(self, handle: WorkflowHandle[Any, Any], action: str, **payload: Any) -> None:
        await mentorship_client.send(self.client, handle.id, action, payload)

    async def result(self, handle: WorkflowHandle[Any, Any]) -> MentorshipStatus:
        # Only handles from start_workflow skip time while awaiting a result, so tests move time with env.sleep
        # first. With a run id the SDK re-polls when the test server's long poll ends empty.
        history = await self.client.get_workflow_handle(handle.id).fetch_history()
        run_id = history.events[0].workflow_execution_started_event_attributes.original_execution_run_id
        final: MentorshipStatus = await self.client.get_workflow_handle(
            handle.id, run_id=run_id, result_type=MentorshipStatus
        ).result()
        return final

    async def settled(self, handle: WorkflowHandle[Any, Any]) -> None:
        """Wait until the latest run has finished its workflow task (the test server holds queries sent to a
        run that has just continued as new until their deadline)."""
        pending = {
            EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
            EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
        }
        for _ in range(200):
            history = await self.client.get_workflow_handle(handle.id).fetch_history()
            if history.events[-1].event_type not in pending:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the workflow never settled")

    async def chain(self, handle: WorkflowHandle[Any, Any]) -> tuple[str, bool]:
        """(first run id of the latest run's chain, whether the latest run continued an earlier one)."""
        history = await self.client.get_workflow_handle(handle.id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        return started.first_execution_run_id, bool(started.continued_execution_run_id)


def check_in_due(n: int) -> Callable[[MentorshipStatus], bool]:
    return lambda s: s.cycle == n and s.cycle_reminded


def check_ins_recorded(n: int) -> Callable[[MentorshipStatus], bool]:
    return lambda s: len(s.check_ins) == n


def ids(invitation: Invitation) -> tuple[str, str]:
    """(initiator id, invitee id)"""
    return invitation.person(invitation.initiated_by).id, invitation.person(invitation.invitee).id


async def accepted(world: World, invitation: Invitation) -> WorkflowHandle[Any, Any]:
    handle = await world.invite(invitation)
    await world.signal(handle, "accept", by=ids(invitation)[1], note="Glad to")
    await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "acceptance")
    await wait_mail(world.sink, handle.id, 4)
    return handle


# --- Invitation paths, started once by each side -------------------------------------------------------------


@BOTH_SIDES
async def test_invitation_accepted(world: World, initiator: str) -> None:
    invitation = people(initiator)
    initiator_id, invitee_id = ids(invitation)
    invitee_role = Role(initiator).other.value

    handle = await world.invite(invitation)
    invited = await status_of(handle)
    assert invited.stage is Stage.INVITED
    assert invited.initiated_by is Role(initiator)
    assert invited.expires_at == invited.invited_at + 14 * DAY
    assert sorted(await wait_mail(world.sink, handle.id, 2)) == sorted(
        [("invitation", invitee_role), ("invitation-sent", initiator)]
    )
    invitation_mail = next(m for m in world.sink.messages if m["X-Mentorship-Step"] == "invitation")
    assert invitation_mail["To"].addresses[0].addr_spec == invitation.person(Role(invitee_role)).email

    await world.signal(handle, "accept", by=invitee_id, note="Glad to")
    active = await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "acceptance")
    assert active.accepted_at is not None
    assert active.next_check_in_due == active.accepted_at + 14 * DAY
    assert [(e.event, e.by) for e in active.timeline] == [("invited", initiator_id), ("accepted", invitee_id)]
    started = await wait_mail(world.sink, handle.id, 4)
    assert sorted(started[2:]) == [("started", "mentee"), ("started", "mentor")]
    assert active.refused_signals == []


@BOTH_SIDES
async def test_invitation_declined(world: World, initiator: str) -> None:
    invitation = people(initiator)
    handle = await world.invite(invitation)
    await world.signal(handle, "decline", by=ids(invitation)[1], reason="No time this quarter")
    final = await world.result(handle)
    assert final.stage is Stage.DECLINED
    assert final.timeline[-1].detail == "No time this quarter"
    mails = await wait_mail(world.sink, handle.id, 3)
    assert ("declined", initiator) in mails  # sends run side by side: any order
    declined_mail = next(m for m in world.sink.messages if m["X-Mentorship-Step"] == "declined")
    assert "No time this quarter" in declined_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


@BOTH_SIDES
async def test_invitation_withdrawn_by_initiator(world: World, initiator: str) -> None:
    invitation = people(initiator)
    handle = await world.invite(invitation)
    await world.signal(handle, "withdraw", by=ids(invitation)[0], reason="Found someone in my team")
    final = await world.result(handle)
    assert final.stage is Stage.WITHDRAWN
    assert ("withdrawn", Role(initiator).other.value) in await wait_mail(world.sink, handle.id, 3)


@BOTH_SIDES
async def test_invitation_reminders_then_expiry(world: World, initiator: str) -> None:
    invitation = people(initiator)
    handle = await world.invite(invitation)
    await world.env.sleep(15 * DAY)  # no one answers
    final = await world.result(handle)
    assert final.stage is Stage.EXPIRED
    assert final.invitation_reminders_sent == 2
    assert final.ended_at == final.invited_at + 14 * DAY
    invitee = Role(initiator).other.value
    mails = await wait_mail(world.sink, handle.id, 5)
    assert set(mails[:2]) == {("invitation", invitee), ("invitation-sent", initiator)}
    assert mails[2:] == [("invitation-reminder-1", invitee), ("invitation-reminder-2", invitee), ("expired", initiator)]
    reminders = [e.at - final.invited_at for e in final.timeline if e.event.startswith("invitation reminder")]
    assert reminders == [3 * DAY, 6 * DAY]


@BOTH_SIDES
@pytest.mark.parametrize("withdrawer", ["mentor", "mentee"])
async def test_active_mentorship_withdrawn_by_either_party(world: World, initiator: str, withdrawer: str) -> None:
    invitation = people(initiator)
    handle = await accepted(world, invitation)
    await world.signal(handle, "withdraw", by=invitation.person(Role(withdrawer)).id, reason="Changing roles")
    final = await world.result(handle)
    assert final.stage is Stage.WITHDRAWN
    assert final.timeline[-1].by == invitation.person(Role(withdrawer)).id
    assert (await wait_mail(world.sink, handle.id, 5))[-1] == ("withdrawn", Role(withdrawer).other.value)


# --- Both sides agree: mutual and repeated invitations ----------------------------------------------------


async def test_mutual_invitation_counts_as_acceptance_by_both(world: World) -> None:
    from_mentee = people("mentee")
    handle = await world.invite(from_mentee)
    first_run, _ = await world.chain(handle)
    from_mentor = from_mentee.model_copy(update={"initiated_by": Role.MENTOR, "message": "Let's do it"})
    current = await mentorship_client.invite(world.client, from_mentor, task_queue=world.task_queue)
    assert current.stage is Stage.ACTIVE
    assert current.workflow_id == handle.id
    assert [e.event for e in current.timeline] == ["invited", "invited back", "active"]
    mails = await wait_mail(world.sink, handle.id, 4)
    assert sorted(mails[2:]) == [("started", "mentee"), ("started", "mentor")]
    started = [m for m in world.sink.messages if m["X-Mentorship-Step"] == "started"]
    assert all("invited each other" in m.get_body(("plain",)).get_content() for m in started)  # type: ignore[union-attr]
    # The first run is the only run: nothing new was started.
    assert await world.chain(handle) == (first_run, False)


async def test_invite_signal_from_the_other_side_activates(world: World) -> None:
    from_mentor = people("mentor")
    handle = await world.invite(from_mentor)
    from_mentee = from_mentor.model_copy(update={"initiated_by": Role.MENTEE})
    await world.client.get_workflow_handle(handle.id).signal("invite", from_mentee.model_dump(mode="json"))
    current = await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "mutual agreement")
    assert current.initiated_by is Role.MENTOR
    stranger = people("mentee")  # a different pair: refused, recorded
    await world.client.get_workflow_handle(handle.id).signal("invite", stranger.model_dump(mode="json"))
    refused = await wait_status(handle, lambda s: len(s.refused_signals) == 1, "refusal")
    assert "this mentorship is between mentor" in refused.refused_signals[0].reason


async def test_repeated_invitation_from_the_same_side_creates_and_sends_nothing(world: World) -> None:
    invitation = people("mentor")
    handle = await world.invite(invitation)
    await wait_mail(world.sink, handle.id, 2)
    before = await status_of(handle)
    first_run, _ = await world.chain(handle)
    again = await mentorship_client.invite(world.client, invitation, task_queue=world.task_queue)
    assert again.stage is Stage.INVITED
    assert again.timeline == before.timeline
    assert await world.chain(handle) == (first_run, False)
    # Once active, an invitation from either side changes nothing either.
    await world.signal(handle, "accept", by=invitation.mentee.id)
    await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "acceptance")
    await wait_mail(world.sink, handle.id, 4)
    for side in (Role.MENTOR, Role.MENTEE):
        current = await mentorship_client.invite(
            world.client, invitation.model_copy(update={"initiated_by": side}), task_queue=world.task_queue
        )
        assert current.stage is Stage.ACTIVE
    assert len(steps(world.sink, handle.id)) == 4


# --- Refusals: wrong actor, wrong stage, bad input; nothing changes -----------------------------------------


async def test_refused_signals_change_nothing_and_are_recorded(world: World) -> None:
    invitation = people("mentee")
    mentor, mentee = invitation.mentor.id, invitation.mentee.id
    handle = await world.invite(invitation)
    await wait_mail(world.sink, handle.id, 2)
    before = await status_of(handle)

    wrong_while_invited: list[tuple[str, dict[str, Any], str]] = [
        ("accept", {"by": mentee}, "only the invitee"),
        ("decline", {"by": mentee}, "only the invitee"),
        ("accept", {"by": "mallory"}, "not part of this mentorship"),
        ("withdraw", {"by": mentor}, "only the initiator"),
        ("check_in", {"by": mentor}, "check-ins start once the invitation is accepted"),
        ("pause", {"by": mentor}, "only an active mentorship can be paused"),
        ("resume", {"by": mentee}, "not paused"),
        ("check_in", {"by": mentor, "rating": 9}, "rating: Input should be less than or equal to 5"),
        ("accept", {"by": mentor, "rating": 3}, "rating: Extra inputs are not permitted"),
        ("accept", {}, "by: Field required"),
    ]
    for action, payload, _ in wrong_while_invited:
        await world.client.get_workflow_handle(handle.id).signal(action, payload)
    after = await wait_status(handle, lambda s: len(s.refused_signals) == len(wrong_while_invited), "refusals recorded")
    for refusal, (action, payload, reason) in zip(after.refused_signals, wrong_while_invited, strict=True):
        assert refusal.signal == action
        assert refusal.by == payload.get("by")
        assert reason in refusal.reason, refusal.reason
    assert after.model_dump(exclude={"refused_signals"}) == before.model_dump(exclude={"refused_signals"})

    await world.signal(handle, "accept", by=mentor)
    await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "acceptance")
    await world.signal(handle, "pause", by=mentor)
    # invitation, confirmation, two welcomes, the pause notice: all delivered before comparing.
    paused = await wait_status(handle, lambda s: s.stage is Stage.PAUSED and s.notifications_sent == 5, "pause")
    wrong_later: list[tuple[str, dict[str, Any], str]] = [
        ("accept", {"by": mentor}, "already accepted"),
        ("decline", {"by": mentor}, "already accepted"),
        ("pause", {"by": mentee}, "already paused"),
        ("check_in", {"by": mentee}, "paused; resume it"),
    ]
    for action, payload, _ in wrong_later:
        await world.client.get_workflow_handle(handle.id).signal(action, payload)
    total = len(wrong_while_invited) + len(wrong_later)
    later = await wait_status(handle, lambda s: len(s.refused_signals) == total, "later refusals")
    for refusal, (_, _, reason) in zip(later.refused_signals[-len(wrong_later) :], wrong_later, strict=True):
        assert reason in refusal.reason, refusal.reason
    assert later.model_dump(exclude={"refused_signals"}) == paused.model_dump(exclude={"refused_signals"})


# --- Check-ins over months ---------------------------------------------------------------------------------


async def test_a_year_of_biweekly_check_ins(world: World) -> None:
    invitation = people("mentee")
    handle = await accepted(world, invitation)
    sent = 4
    for n in range(1, 27):
        await world.env.sleep(14 * DAY)
        await wait_status(handle, check_in_due(n), f"check-in {n} due")
        sent += 2
        await wait_mail(world.sink, handle.id, sent)
        by = invitation.mentor.id if n % 2 else invitation.mentee.id
        await world.signal(handle, "check_in", by=by, note=f"session {n}", rating=1 + n % 5)
        await wait_status(handle, check_ins_recorded(n), f"check-in {n} recorded")
    final = await status_of(handle)
    assert [c.number for c in final.check_ins] == list(range(1, 27))
    assert final.missed_total == 0
    assert final.check_ins[-1].at - final.accepted_at >= 364 * DAY  # type: ignore[operator]
    mails = steps(world.sink, handle.id)
    assert len(mails) == 4 + 26 * 2
    assert Counter(step for step, _ in mails if step.endswith("-due")) == {f"check-in-{n}-due": 2 for n in range(1, 27)}
    assert final.notifications_sent == len(mails)


@BOTH_SIDES
async def test_missed_check_ins_follow_up_and_escalation(world: World, initiator: str) -> None:
    invitation = people(initiator, escalate_after_missed=2)
    handle = await accepted(world, invitation)

    await world.env.sleep(14 * DAY)  # check-in 1 due: both reminded
    await wait_mail(world.sink, handle.id, 6)
    await world.env.sleep(3 * DAY)  # grace over: both nudged
    nudges = (await wait_mail(world.sink, handle.id, 8))[-2:]
    assert sorted(nudges) == [("check-in-1-nudge", "mentee"), ("check-in-1-nudge", "mentor")]
    await world.env.sleep(11 * DAY)  # check-in 2 falls due: check-in 1 counts as missed
    first_miss = await wait_status(handle, lambda s: s.missed_in_a_row == 1 and s.cycle_reminded, "first miss")
    assert not first_miss.at_risk
    await wait_mail(world.sink, handle.id, 10)
    await world.env.sleep(14 * DAY)  # second miss in a row: at risk, coordinator told
    at_risk = await wait_status(handle, lambda s: s.at_risk and s.cycle_reminded, "at risk")
    assert (at_risk.missed_in_a_row, at_risk.missed_total, at_risk.cycle) == (2, 2, 3)
    mails = await wait_mail(world.sink, handle.id, 15)
    assert ("check-in-2-at-risk", "coordinator") in mails
    assert [e.event for e in at_risk.timeline][-3:] == ["check-in 2 missed", "at risk", "check-in 3 due"]

    await world.signal(handle, "check_in", by=invitation.mentee.id, note="Sorry, busy month")
    back = await wait_status(handle, lambda s: not s.at_risk, "back on track")
    assert (back.missed_in_a_row, back.check_ins[0].number) == (0, 3)
    assert (await wait_mail(world.sink, handle.id, 16))[-1] == ("check-in-3-back-on-track", "coordinator")


async def test_escalation_without_a_coordinator_flags_at_risk_only(world: World) -> None:
    invitation = people("mentee", coordinator=None, escalate_after_missed=1)
    handle = await accepted(world, invitation)
    await world.env.sleep(28 * DAY)
    current = await wait_status(handle, lambda s: s.at_risk and s.cycle_reminded, "at risk")
    assert "no coordinator named" in [e.detail for e in current.timeline]
    assert all(role != "coordinator" for _, role in await wait_mail(world.sink, handle.id, 10))


@BOTH_SIDES
async def test_early_check_in_satisfies_the_current_cycle(world: World, initiator: str) -> None:
    invitation = people(initiator)
    handle = await accepted(world, invitation)
    await world.env.sleep(5 * DAY)
    await world.signal(handle, "check_in", by=invitation.mentor.id)
    current = await wait_status(handle, lambda s: len(s.check_ins) == 1, "early check-in")
    assert current.next_check_in_due == current.check_ins[0].at + 14 * DAY
    assert current.cycle == 2
    await world.env.sleep(10 * DAY)  # past the original due date: no reminder for a satisfied cycle
    assert len(steps(world.sink, handle.id)) == 4


# --- Pause, resume, term ----------------------------------------------------------------------------------


@BOTH_SIDES
async def test_pause_until_a_date_resumes_by_itself(world: World, initiator: str) -> None:
    invitation = people(initiator)
    handle = await accepted(world, invitation)
    now = (await status_of(handle)).accepted_at
    assert now is not None
    until = now + 30 * DAY
    await world.signal(handle, "pause", by=invitation.mentee.id, reason="Parental leave", until=until.isoformat())
    # invitation, confirmation, two welcomes, the pause notice: all delivered before comparing.
    paused = await wait_status(handle, lambda s: s.stage is Stage.PAUSED and s.notifications_sent == 5, "pause")
    assert paused.paused_until == until and paused.next_check_in_due is None
    assert (await wait_mail(world.sink, handle.id, 5))[-1] == ("pause-1", "mentor")
    await world.env.sleep(29 * DAY)  # no reminders while paused
    assert len(steps(world.sink, handle.id)) == 5
    await world.env.sleep(2 * DAY)
    resumed = await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "automatic resume")
    assert resumed.next_check_in_due == until + 14 * DAY
    assert sorted((await wait_mail(world.sink, handle.id, 7))[-2:]) == [("resume-1", "mentee"), ("resume-1", "mentor")]


@BOTH_SIDES
async def test_pause_and_resume_by_the_participants(world: World, initiator: str) -> None:
    invitation = people(initiator)
    handle = await accepted(world, invitation)
    await world.signal(handle, "pause", by=invitation.mentor.id)
    await wait_status(handle, lambda s: s.stage is Stage.PAUSED, "pause")
    await world.env.sleep(60 * DAY)
    await world.signal(handle, "resume", by=invitation.mentee.id, note="Back from travels")
    resumed = await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "resume")
    assert resumed.missed_total == 0
    assert [e.event for e in resumed.timeline][-2:] == ["paused", "resumed"]
    assert (await wait_mail(world.sink, handle.id, 6))[-2:] == [("pause-1", "mentee"), ("resume-1", "mentor")]


@BOTH_SIDES
async def test_term_ends_with_wrap_up_then_completion(world: World, initiator: str) -> None:
    invitation = people(initiator, term="P1M", check_in_every="P14D")
    handle = await world.invite(invitation)
    await world.signal(handle, "accept", by=ids(invitation)[1])
    await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "acceptance")
    await world.env.sleep(32 * DAY)
    final = await world.result(handle)
    assert final.stage is Stage.COMPLETED and final.wrap_up_sent
    assert final.accepted_at is not None and final.ended_at == final.term_ends_at
    assert final.term_ends_at == parse_duration("P1M").after(final.accepted_at)
    assert final.term_ends_at.month != final.accepted_at.month
    mails = steps(world.sink, handle.id)
    assert sorted(mails[-2:]) == [("wrap-up", "mentee"), ("wrap-up", "mentor")]
    wrap = next(m for m in world.sink.messages if m["X-Mentorship-Step"] == "wrap-up")
    assert "feedback" in wrap.get_body(("plain",)).get_content().lower()  # type: ignore[union-attr]


# --- Long life ----------------------------------------------------------------------------------------------


async def test_continue_as_new_keeps_the_state(world: World) -> None:
    invitation = people("mentor")
    handle = await world.invite(invitation, history_event_limit=60)
    first_run, _ = await world.chain(handle)
    await world.signal(handle, "accept", by=invitation.mentee.id)
    await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "acceptance")
    for n in range(1, 9):
        await world.env.sleep(14 * DAY)
        await world.settled(handle)
        await wait_status(handle, check_in_due(n), f"check-in {n} due")
        await world.signal(handle, "check_in", by=invitation.mentee.id, note=f"n{n}", rating=4)
        await world.settled(handle)
        await wait_status(handle, check_ins_recorded(n), f"check-in {n}")
    latest = world.client.get_workflow_handle(handle.id)
    await world.settled(latest)
    assert await world.chain(handle) == (first_run, True), "the workflow continued as new"
    final = await status_of(latest)
    assert [(c.number, c.note) for c in final.check_ins] == [(n, f"n{n}") for n in range(1, 9)]
    assert [e.event for e in final.timeline][:2] == ["invited", "accepted"]
    assert final.notifications_sent == 4 + 8 * 2 == len(steps(world.sink, handle.id))
    await world.signal(latest, "withdraw", by=invitation.mentor.id)
    assert (await world.result(latest)).stage is Stage.WITHDRAWN


# --- Email failures seen through the workflow -----------------------------------------------------------------


async def test_permanent_email_failure_is_recorded_and_the_mentorship_goes_on(world: World) -> None:
    world.sink.fail_next(1, "550 5.1.1 no such user")
    invitation = people("mentee")
    handle = await world.invite(invitation)
    current = await wait_status(handle, lambda s: len(s.notification_failures) == 1, "failure recorded")
    failure = current.notification_failures[0]
    assert "550" in failure.error
    assert current.notifications_sent == 1
    await world.signal(handle, "accept", by=invitation.mentor.id)
    await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "acceptance despite the failure")


async def test_transient_email_failure_is_retried_until_delivered(world: World) -> None:
    world.sink.fail_next(1, "451 4.3.0 try again later")
    invitation = people("mentor")
    handle = await world.invite(invitation)
    current = await wait_status(handle, lambda s: s.notifications_sent == 2, "both delivered")
    assert current.notification_failures == []
    assert world.sink.attempts == 3
    assert len(await wait_mail(world.sink, handle.id, 2)) == 2


async def test_a_short_cadence_alone_runs_and_reminds_both(world: World) -> None:
    """Only "check_in_every": "PT4S" given, as a raw start (the `temporal` CLI's way): the derived follow-up fits,
    so the mentorship runs, reminds both and nudges both."""
    data = people("mentee").model_dump(mode="json", exclude={"check_in_grace", "remind_after"})
    data["check_in_every"] = "PT4S"
    handle = await world.client.start_workflow(
        "Mentorship", data, id=f"mentorship-{data['mentor']['id']}--{data['mentee']['id']}", task_queue=world.task_queue
    )
    world.started.append(handle.id)
    started = await status_of(handle)
    assert (started.invitation.check_in_every, started.invitation.check_in_grace) == ("PT4S", "PT1S")
    await world.signal(handle, "accept", by=data["mentor"]["id"])
    await world.env.sleep(timedelta(seconds=6))
    await wait_status(handle, lambda s: s.cycle_nudged, "check-in 1 reminded and nudged")
    mails = await wait_mail(world.sink, handle.id, 8)
    assert {step for step, _ in mails} >= {"check-in-1-due", "check-in-1-nudge"}
    assert sorted(to for step, to in mails if step == "check-in-1-nudge") == ["mentee", "mentor"]
