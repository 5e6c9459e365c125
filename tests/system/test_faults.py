"""Fault injection against the real thing: the Temporal dev server on an SQLite file, worker processes started as
a deployment starts them (``python worker.py``, configured by environment), and a real SMTP server.

1. A worker is SIGKILLed in the middle of a batch of 60 mentorships and a new worker process takes over.
2. The dev server is SIGKILLed and restarted on the same SQLite file and ports, under a running worker.
3. The mail server is down for a few seconds, then back on the same port.
4. The mail server refuses one recipient for good (550) and rejects one message (554).

Every mentorship follows a scripted scenario whose emails are known in advance: an email is identified by
(workflow id, ``X-Mentorship-Step``, recipient role from the ``Message-ID``). "Lost" counts expected emails that
never arrived (must be 0), "duplicated" counts extra copies of an email (allowed: delivery is at least once), and
any email outside the script fails the test. The timings are seconds, chosen so the scenario's emails do not
depend on how late a worker gets to a timer: every timed event is computed from the moment it was due, so a
worker that catches up after a fault sends the same emails. Tests wait on conditions (the mail that arrived,
status queries, pending activities), each with a deadline; the only fixed pause is the length of the server
outage in test 2, which is the fault itself. Figures go to ``tests.support.reliability``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.sdk.v1 import WorkflowMetadata

import mentorship_client
from tests.support.faults import FaultStack, MailIndex, MailKey, fault_stack, mentorship_of, tally
from tests.support.reliability import report
from tests.support.waiting import until
from workflows import search_attributes as sa
from workflows.contract import (
    SEND_NOTIFICATION,
    TRANSIENT_EMAIL_FAILURE,
    FeedbackStatus,
    Invitation,
    MentorshipStatus,
    Notification,
    Role,
    Stage,
    mentorship_key,
    workflow_id_for,
)
from workflows.durations import parse_duration

pytestmark = pytest.mark.faults


class Kind(StrEnum):
    """The scripted scenarios."""

    EXPIRE = "expire"  # nobody answers: two reminders, then the invitation expires
    DECLINE = "decline"  # the invitee declines once the first reminder arrived
    RETRACT = "retract"  # the initiator withdraws the invitation once the first reminder arrived
    TERM = "term"  # accepted; check-ins fall due, are nudged, one is missed (at risk); the term ends: wrap-up
    MUTUAL = "mutual"  # both sides invite (the second invitation is the acceptance); then as TERM
    WITHDRAW = "withdraw"  # accepted, a check-in recorded, paused, withdrawn by the mentee
    DECIDE_LATER = "decide-later"  # no timers due soon; the invitee declines when the test says so


@dataclass(frozen=True)
class Timings:
    """Invitation settings per scenario. The TERM script holds while 2*every + grace < term < 3*every."""

    remind_after: str = "PT2S"
    respond_within: str = "PT7S"
    check_in_every: str = "PT3S"
    check_in_grace: str = "PT1S"
    term: str = "PT8S"

    def check(self) -> None:
        every = parse_duration(self.check_in_every).approximate()
        grace = parse_duration(self.check_in_grace).approximate()
        term = parse_duration(self.term).approximate()
        remind = parse_duration(self.remind_after).approximate()
        assert 2 * every + grace < term < 3 * every, "the TERM script needs 2*every + grace < term < 3*every"
        assert 2 * remind < parse_duration(self.respond_within).approximate(), "EXPIRE needs two reminders first"


FAST = Timings()
# Both participants of a mentorship that was active are asked for feedback once it ends (workflows/feedback.py).
FEEDBACK_REQUEST = "feedback-request"


@dataclass(frozen=True)
class Plan:
    kind: Kind
    invitation: Invitation

    @property
    def workflow_id(self) -> str:
        return workflow_id_for(self.invitation.mentor.id, self.invitation.mentee.id)

    @property
    def initiator(self) -> str:
        return self.invitation.initiated_by.value

    @property
    def invitee(self) -> str:
        return self.invitation.invitee.value

    @property
    def final_stage(self) -> Stage:
        return {
            Kind.EXPIRE: Stage.EXPIRED,
            Kind.DECLINE: Stage.DECLINED,
            Kind.RETRACT: Stage.WITHDRAWN,
            Kind.TERM: Stage.COMPLETED,
            Kind.MUTUAL: Stage.COMPLETED,
            Kind.WITHDRAW: Stage.WITHDRAWN,
            Kind.DECIDE_LATER: Stage.DECLINED,
        }[self.kind]

    def key(self, step: str, role: str) -> MailKey:
        return (self.workflow_id, step, role)

    @property
    def emails(self) -> set[MailKey]:
        """Exactly the emails this scenario sends, as (workflow id, step, recipient role)."""
        steps: list[tuple[str, str]] = [("invitation", self.invitee), ("invitation-sent", self.initiator)]
        both = ("mentor", "mentee")
        if self.kind is Kind.EXPIRE:
            steps += [("invitation-reminder-1", self.invitee), ("invitation-reminder-2", self.invitee)]
            steps += [("expired", self.initiator)]
        elif self.kind is Kind.DECLINE:
            steps += [("invitation-reminder-1", self.invitee), ("declined", self.initiator)]
        elif self.kind is Kind.RETRACT:
            steps += [("invitation-reminder-1", self.invitee), ("withdrawn", self.invitee)]
        elif self.kind in (Kind.TERM, Kind.MUTUAL):
            # Check-in 1 due (both), nudged (both), missed: at risk (the coordinator), check-in 2 due at once
            # (both), nudged (both), then the term ends before check-in 2 counts as missed: wrap-up (both).
            for step in ("started", "check-in-1-due", "check-in-1-nudge", "check-in-2-due", "check-in-2-nudge"):
                steps += [(step, role) for role in both]
            steps += [("check-in-1-at-risk", "coordinator")] + [("wrap-up", role) for role in both]
            steps += [(FEEDBACK_REQUEST, role) for role in both]
        elif self.kind is Kind.WITHDRAW:
            steps += [("started", role) for role in both] + [("pause-1", "mentee"), ("withdrawn", "mentor")]
            steps += [(FEEDBACK_REQUEST, role) for role in both]
        elif self.kind is Kind.DECIDE_LATER:
            steps += [("declined", self.initiator)]
        return {self.key(step, role) for step, role in steps}

    @property
    def mentorship_emails(self) -> set[MailKey]:
        """The emails the mentorship's own workflow sends (the feedback requests come from its Feedback
        workflow, started once an active mentorship ended)."""
        return {key for key in self.emails if key[1] != FEEDBACK_REQUEST}

    @property
    def timed_emails(self) -> set[MailKey]:
        """The emails sent when a timer fires (not right after someone acted)."""
        timed: tuple[str, ...] = ("reminder", "expired", "-due", "-nudge", "at-risk", "wrap-up")
        if self.kind in (Kind.TERM, Kind.MUTUAL):
            timed += (FEEDBACK_REQUEST,)  # asked once the term's timer ended the mentorship
        return {key for key in self.emails if any(part in key[1] for part in timed)}


def make_plan(kind: Kind, number: int, initiated_by: Role, timings: Timings, tag: str, **overrides: Any) -> Plan:
    def person(letter: str, name: str) -> dict[str, str]:
        pid = f"{letter}{number}-{tag}"
        return {"id": pid, "name": f"{name} {number}", "email": f"{pid}@example.org"}

    fields: dict[str, Any] = {
        "mentor": person("m", "Mentor"),
        "mentee": person("e", "Mentee"),
        "coordinator": person("c", "Coordinator"),
        "initiated_by": initiated_by,
        "message": f"Scenario {kind.value}, number {number}",
        "escalate_after_missed": 1,
    }
    if kind is Kind.EXPIRE:
        fields.update(remind_after=timings.remind_after, invitation_reminders=2, respond_within=timings.respond_within)
    elif kind in (Kind.DECLINE, Kind.RETRACT):
        # One reminder; the answer comes after it, long before the expiry (even after a 1-minute activity timeout).
        fields.update(remind_after=timings.remind_after, invitation_reminders=1, respond_within="PT10M")
    else:
        fields.update(remind_after="PT1H", respond_within="PT2H")
    if kind in (Kind.TERM, Kind.MUTUAL):
        fields.update(check_in_every=timings.check_in_every, check_in_grace=timings.check_in_grace, term=timings.term)
    elif kind is Kind.WITHDRAW:
        # Paused right after the acceptance; no check-in falls due meanwhile.
        fields.update(check_in_every="PT2M", check_in_grace="PT1M")
    fields.update(overrides)
    return Plan(kind, Invitation.model_validate(fields))


def make_plans(kinds: Iterable[Kind], count: int, timings: Timings = FAST) -> list[Plan]:
    """``count`` plans cycling through ``kinds``; each kind is initiated by the mentor and by the mentee in turn."""
    timings.check()
    kinds = list(kinds)
    tag = uuid.uuid4().hex[:6]
    plans = []
    for number in range(count):
        initiated_by = Role.MENTOR if (number // len(kinds)) % 2 == 0 else Role.MENTEE
        plans.append(make_plan(kinds[number % len(kinds)], number, initiated_by, timings, tag))
    return plans


# --- Driving the scenarios -----------------------------------------------------------------------------------


async def invite_all(stack: FaultStack, plans: list[Plan], concurrency: int = 12) -> None:
    """The invitations, through the project's API (update-with-start); for MUTUAL the other side invites too."""
    gate = asyncio.Semaphore(concurrency)

    async def invite(plan: Plan) -> None:
        async with gate:
            status = await mentorship_client.invite(stack.client, plan.invitation, task_queue=stack.task_queue)
            assert status.stage is Stage.INVITED, status
            if plan.kind is Kind.MUTUAL:
                back = plan.invitation.model_copy(update={"initiated_by": plan.invitation.invitee})
                status = await mentorship_client.invite(stack.client, back, task_queue=stack.task_queue)
                assert status.stage is Stage.ACTIVE, status

    await asyncio.gather(*(invite(plan) for plan in plans))


async def drive(stack: FaultStack, mail: MailIndex, plan: Plan, within: float) -> None:
    """What the people do, as signals (they reach the server whether or not a worker is up): each step waits for
    the email it answers."""
    inv = plan.invitation
    wid = plan.workflow_id
    invitee_id = inv.person(inv.invitee).id
    initiator_id = inv.person(inv.initiated_by).id
    if plan.kind in (Kind.DECLINE, Kind.RETRACT):
        await mail.wait([plan.key("invitation-reminder-1", plan.invitee)], f"{wid}: first reminder", within)
        if plan.kind is Kind.DECLINE:
            await mentorship_client.send(
                stack.client, wid, "decline", {"by": invitee_id, "reason": "no time this term"}
            )
        else:
            await mentorship_client.send(stack.client, wid, "withdraw", {"by": initiator_id, "reason": "found someone"})
    elif plan.kind is Kind.TERM:
        await mentorship_client.send(stack.client, wid, "accept", {"by": invitee_id, "note": "gladly"})
    elif plan.kind is Kind.WITHDRAW:
        await mentorship_client.send(stack.client, wid, "accept", {"by": invitee_id})
        await mentorship_client.send(
            stack.client, wid, "check_in", {"by": inv.mentee.id, "rating": 4, "note": "kick-off"}
        )
        await mentorship_client.send(stack.client, wid, "pause", {"by": inv.mentor.id, "reason": "conference season"})
        await mail.wait([plan.key("pause-1", "mentee")], f"{wid}: the pause notice", within)
        await mentorship_client.send(stack.client, wid, "withdraw", {"by": inv.mentee.id, "reason": "changing teams"})


async def final_statuses(stack: FaultStack, plans: list[Plan], within: float) -> dict[str, MentorshipStatus]:
    """Each workflow's result: the final status, once it has closed (after its last send)."""

    async def result(plan: Plan) -> tuple[str, MentorshipStatus]:
        return plan.workflow_id, await asyncio.wait_for(stack.handle(plan.workflow_id).result(), within)

    return dict(await asyncio.gather(*(result(plan) for plan in plans)))


def check_final(plans: list[Plan], finals: dict[str, MentorshipStatus]) -> None:
    """Every mentorship at its scripted stage, every email recorded as sent once, no failure."""
    wrong = [
        f"{plan.workflow_id} ({plan.kind}): {finals[plan.workflow_id].stage}, expected {plan.final_stage}"
        for plan in plans
        if finals[plan.workflow_id].stage is not plan.final_stage
    ]
    assert not wrong, wrong
    for plan in plans:
        final = finals[plan.workflow_id]
        assert final.notification_failures == [], (plan.kind, final.notification_failures)
        assert final.notifications_sent == len(plan.mentorship_emails), (
            plan.kind,
            final.notifications_sent,
            final.timeline,
        )
        assert final.notifications_pending == 0
        if plan.kind in (Kind.TERM, Kind.MUTUAL):
            assert final.wrap_up_sent and final.missed_total == 1 and final.at_risk, final
        if plan.kind is Kind.WITHDRAW:
            assert [(c.number, c.rating) for c in final.check_ins] == [(1, 4)], final.check_ins


def expected_of(plans: Iterable[Plan]) -> set[MailKey]:
    return set().union(*(plan.emails for plan in plans))


async def cancel(tasks: Iterable[asyncio.Task[None]]) -> None:
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)


async def listed(stack: FaultStack) -> set[str]:
    query = f"{mentorship_client.list_query()} AND TaskQueue = '{stack.task_queue}'"
    return {execution.id async for execution in mentorship_client.list_mentorships(stack.client, query)}


# --- 1. A worker SIGKILLed mid-batch -------------------------------------------------------------------------

BATCH_KINDS = (Kind.EXPIRE, Kind.DECLINE, Kind.RETRACT, Kind.TERM, Kind.MUTUAL, Kind.WITHDRAW)
BATCH = 60
# Kill once this share of the batch's emails arrived: invitations and welcomes are out, timers are running.
KILL_AT = 0.4
# A send cut off by the kill is retried only when its start-to-close timeout (1 minute) runs out.
RECOVERY_DEADLINE = 150.0


async def test_worker_sigkilled_mid_batch_loses_no_mentorship_and_no_email(tmp_path: Path) -> None:
    plans = make_plans(BATCH_KINDS, BATCH)
    expected = expected_of(plans)
    async with fault_stack(tmp_path) as stack:
        mail = MailIndex(stack.sink)
        first = stack.workers[0]
        started = time.monotonic()
        await invite_all(stack, plans)
        drivers = [asyncio.create_task(drive(stack, mail, plan, RECOVERY_DEADLINE)) for plan in plans]
        try:
            await mail.wait_until(
                lambda counts: len(counts.keys() & expected) >= KILL_AT * len(expected),
                f"{KILL_AT:.0%} of the emails",
                60,
                explain=stack.logs,
            )
            await first.kill()
            killed_at = time.monotonic()
            at_kill = set(mail.counts())
            pending_at_kill = expected - at_kill
            timed_pending = pending_at_kill & expected_of_timed(plans)
            assert pending_at_kill and timed_pending, "the kill came too late: nothing was left to do"
            # What the dead worker held: sends started on it (their results never reach the server).
            cut_off = await started_sends(stack, plans)

            second = await stack.start_worker()
            polling_after = time.monotonic() - killed_at
            await mail.wait(expected, "every email of the batch after the kill", RECOVERY_DEADLINE)
            await asyncio.wait_for(asyncio.gather(*drivers), 30)
        finally:
            await cancel(drivers)
        finals = await final_statuses(stack, plans, 60)
        figures = tally(expected, mail.counts())
        # Sends that took a second attempt: those the dead worker had started (re-sent once their heartbeat
        # timeout ran out). Only they can be duplicated: the dead worker may have sent them before it died.
        resent = await resent_sends(stack, plans, finals)
        others = max(mail.first_seen[key] for key in expected - resent) - killed_at
        last = max(mail.first_seen[key] for key in expected) - killed_at
        # The sends the dead worker had started: retried once their heartbeat timeout (10 s) ran out, no longer
        # after the whole one-minute attempt timeout.
        cut_off_done = max((mail.first_seen[key] for key in resent), default=killed_at) - killed_at
        report(
            "faults: worker SIGKILL mid-batch",
            mentorships=len(plans),
            faults_injected=1,
            emails_expected=figures.expected,
            emails_delivered=figures.delivered,
            emails_duplicated=figures.duplicated,
            emails_lost=figures.lost,
            note=f"killed after {len(at_kill & expected)}/{len(expected)} emails, {len(timed_pending)} timer emails "
            f"and {cut_off} started sends pending; new worker polling {polling_after:.1f}s after the kill; "
            f"{len(expected - resent)} emails done {others:.0f}s after the kill, the {len(resent)} sends the dead "
            f"worker held re-sent after their 10 s heartbeat timeout, done at {cut_off_done:.0f}s; all done at "
            f"{last:.0f}s "
            f"(test {time.monotonic() - started:.0f}s)",
        )
        assert figures.lost == 0, figures.missing
        assert cut_off_done < 45, f"the cut-off sends took {cut_off_done:.0f}s after the kill"
        assert figures.unexpected == [], figures.unexpected
        check_final(plans, finals)
        assert resent <= expected
        duplicated = {key for key, count in mail.counts().items() if count > 1}
        assert duplicated <= resent, f"duplicates not explained by a re-sent send: {duplicated - resent}"
        await check_webhooks(stack, "faults: worker SIGKILL mid-batch", finals)
        assert second.alive and not first.alive


async def check_webhooks(stack: FaultStack, test: str, finals: dict[str, MentorshipStatus]) -> None:
    """Every event of every mentorship reached the stack's receiver (verified there), at least once and with a
    stable id: a copy delivered twice carries the same webhook-id and the same event."""
    expected = {
        (mentorship_key(final.workflow_id, final.invited_at), number)
        for final in finals.values()
        for number in range(1, final.events_emitted + 1)
    }
    receiver = stack.receiver

    def delivered() -> set[tuple[str, int]]:
        return {(event["mentorship_key"], event["sequence"]) for event in receiver.events}

    async def all_in() -> bool | None:
        return True if expected <= delivered() else None

    await until(all_in, "every event at the receiver", 60, explain=lambda: str(sorted(expected - delivered())[:10]))
    by_id: dict[str, list[dict[str, Any]]] = {}
    for delivery in receiver.received:
        by_id.setdefault(delivery.webhook_id, []).append(delivery.event)
    assert all(len({json.dumps(copy, sort_keys=True) for copy in copies}) == 1 for copies in by_id.values())
    assert all(event["id"] == webhook_id for webhook_id, copies in by_id.items() for event in copies)
    assert receiver.rejected == []
    lost = expected - delivered()
    report(
        test,
        events_expected=len(expected),
        events_delivered=len(expected & delivered()),
        events_duplicated=receiver.duplicates,
        events_lost=len(lost),
    )
    assert not lost


async def resent_sends(stack: FaultStack, plans: list[Plan], finals: dict[str, MentorshipStatus]) -> set[MailKey]:
    """The emails whose send activity needed more than one attempt, from the histories of the mentorships and
    of their Feedback workflows."""
    converter = stack.client.data_converter
    senders = [plan.workflow_id for plan in plans]
    senders += [f.feedback_workflow_id for f in finals.values() if f.feedback_workflow_id is not None]

    async def of(workflow_id: str) -> set[MailKey]:
        scheduled: dict[int, Notification] = {}
        found: set[MailKey] = set()
        async for event in stack.handle(workflow_id).fetch_history_events():
            if (
                event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                and event.activity_task_scheduled_event_attributes.activity_type.name == SEND_NOTIFICATION
            ):
                payloads = event.activity_task_scheduled_event_attributes.input.payloads
                [notification] = await converter.decode(payloads, [Notification])
                scheduled[event.event_id] = notification
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                started = event.activity_task_started_event_attributes
                if started.attempt > 1 and started.scheduled_event_id in scheduled:
                    sent = scheduled[started.scheduled_event_id]
                    found.add((mentorship_of(sent.workflow_id), sent.step, sent.to.value))
        return found

    return set().union(*await asyncio.gather(*(of(workflow_id) for workflow_id in senders)))


def expected_of_timed(plans: Iterable[Plan]) -> set[MailKey]:
    return set().union(*(plan.timed_emails for plan in plans))


async def started_sends(stack: FaultStack, plans: list[Plan]) -> int:
    """Email activities recorded as started (on the worker that was just killed) across ``plans``."""

    async def count(plan: Plan) -> int:
        described = await stack.handle(plan.workflow_id).describe()
        return sum(
            1
            for pending in described.raw_description.pending_activities
            if pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        )

    return sum(await asyncio.gather(*(count(plan) for plan in plans)))


# --- 2. The dev server SIGKILLed and restarted ---------------------------------------------------------------

# Slower timers: the kill comes before the first timer fires, and the first ones fall due while the server is down.
SLOW = Timings(remind_after="PT4S", respond_within="PT10S", check_in_every="PT4S", check_in_grace="PT2S", term="PT11S")
SERVER_DOWN_FOR = 5.0


async def test_server_sigkilled_and_restarted_keeps_timers_and_mentorships(tmp_path: Path) -> None:
    plans = make_plans((Kind.EXPIRE, Kind.TERM, Kind.DECIDE_LATER), 9, SLOW)
    expected = expected_of(plans)
    immediate = expected - expected_of_timed(plans) - {p.key("declined", p.initiator) for p in plans}
    async with fault_stack(tmp_path) as stack:
        mail = MailIndex(stack.sink)
        worker = stack.workers[0]
        pid = worker.pid
        await invite_all(stack, plans)
        for plan in plans:
            await drive(stack, mail, plan, 30)  # TERM: accepted; the others wait
        await mail.wait(immediate, "invitations and welcomes", 30)
        # Killed between sends: every send so far is recorded, only timers are pending. (A send whose result
        # cannot be reported is retried only after its 1-minute start-to-close timeout: test 1 covers that.)
        for plan in plans:
            await _wait_status(stack, plan.workflow_id, lambda s: s.notifications_pending == 0, "sends recorded")
        ids = {plan.workflow_id for plan in plans}
        await until(lambda: _listed_all(stack, ids), "every mentorship listed", 30)

        await stack.server.kill()
        killed = set(mail.counts())
        timed_after_kill = expected_of_timed(plans) - killed
        assert timed_after_kill, "the timers fired before the kill; nothing to prove"
        # The fault: the server stays down while timers fall due (the first at 4 s after the invitations).
        await asyncio.sleep(SERVER_DOWN_FOR)
        assert worker.alive, f"the worker died while the server was down:\n{worker.output()[-3000:]}"
        await stack.server.start()
        restarted = time.monotonic()

        # The worker was not restarted: it reconnects by itself, and the timers set before the kill fire.
        await mail.wait(expected_of_timed(plans), "timer emails after the restart", 90)
        reconnected_in = time.monotonic() - restarted
        assert worker.alive and worker.pid == pid and len(stack.workers) == 1
        # Still listed and queryable, updates answered.
        await until(lambda: _listed_all(stack, ids), "every mentorship listed after the restart", 30)
        for plan in plans:
            status = await mentorship_client.status(stack.client, plan.workflow_id)
            assert status.workflow_id == plan.workflow_id
            if plan.kind is Kind.DECIDE_LATER:
                assert status.stage is Stage.INVITED, status
                inv = plan.invitation
                status = await mentorship_client.act(
                    stack.client, plan.workflow_id, "decline", {"by": inv.person(inv.invitee).id}
                )
                assert status.stage is Stage.DECLINED
        await mail.wait(expected, "every email", 30)
        finals = await final_statuses(stack, plans, 60)
        figures = tally(expected, mail.counts())
        report(
            "faults: dev server SIGKILL + restart",
            mentorships=len(plans),
            faults_injected=1,
            emails_expected=figures.expected,
            emails_delivered=figures.delivered,
            emails_duplicated=figures.duplicated,
            emails_lost=figures.lost,
            note=f"server down {SERVER_DOWN_FOR:.0f}s with {len(timed_after_kill)} timer emails pending; the same "
            f"worker process reconnected by itself, timer emails done {reconnected_in:.0f}s after the restart",
        )
        assert figures.lost == 0, figures.missing
        assert figures.unexpected == [], figures.unexpected
        check_final(plans, finals)


async def _listed_all(stack: FaultStack, ids: set[str]) -> bool:
    return ids <= await listed(stack)


# --- 3. The mail server down for a while -------------------------------------------------------------------


async def test_mail_server_outage_delays_emails_but_loses_none(tmp_path: Path) -> None:
    plans = make_plans((Kind.TERM, Kind.DECLINE), 4)
    expected = expected_of(plans)
    async with fault_stack(tmp_path) as stack:
        mail = MailIndex(stack.sink)
        await invite_all(stack, plans)
        terms = [plan for plan in plans if plan.kind is Kind.TERM]
        for plan in terms:
            await drive(stack, mail, plan, 30)
        await mail.wait({p.key("started", "mentee") for p in terms}, "the welcomes", 30)
        await asyncio.to_thread(stack.sink.stop)
        down_at = time.monotonic()

        # While it is down: sends fail with "connection refused" and are retried; the timers go on regardless.
        async def retried_and_timers_on() -> bool:
            retried = 0
            for plan in plans:
                described = await stack.handle(plan.workflow_id).describe()
                retried += sum(
                    1
                    for pending in described.raw_description.pending_activities
                    if pending.attempt >= 3
                    and pending.last_failure.application_failure_info.type == TRANSIENT_EMAIL_FAILURE
                )
            statuses = [await mentorship_client.status(stack.client, plan.workflow_id) for plan in terms]
            timers_on = all(s.cycle_nudged and s.notifications_pending > 0 for s in statuses)
            return retried > 0 and timers_on

        await until(retried_and_timers_on, "sends failing twice and check-ins nudged meanwhile", 30)
        await asyncio.to_thread(stack.sink.start)
        outage = time.monotonic() - down_at

        decliners = [asyncio.create_task(drive(stack, mail, plan, 60)) for plan in plans if plan.kind is Kind.DECLINE]
        try:
            await mail.wait(expected, "every email after the mail server returned", 60)
            back_in = time.monotonic() - down_at - outage
            await asyncio.gather(*decliners)
        finally:
            await cancel(decliners)
        finals = await final_statuses(stack, plans, 30)
        figures = tally(expected, mail.counts())
        report(
            "faults: SMTP server down, back on the same port",
            mentorships=len(plans),
            faults_injected=1,
            emails_expected=figures.expected,
            emails_delivered=figures.delivered,
            emails_duplicated=figures.duplicated,
            emails_lost=figures.lost,
            note=f"mail server down {outage:.1f}s; all delivered {back_in:.1f}s after it returned",
        )
        assert figures.lost == 0, figures.missing
        assert figures.unexpected == [], figures.unexpected
        check_final(plans, finals)


# --- 4. A refused recipient and a rejected message -----------------------------------------------------------

REFUSED = "550 5.1.1 no such user here"
REJECTED = "554 5.7.1 message rejected as spam"


async def current_details(stack: FaultStack, workflow_id: str) -> str:
    """What the Temporal UI shows as the workflow's current details (User Metadata)."""
    metadata: WorkflowMetadata = await stack.handle(workflow_id).query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    return str(metadata.current_details)


async def test_permanent_refusals_are_recorded_and_the_mentorship_goes_on(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    # Two scripts written out below (the plans only name the people and set the timings).
    # A: the mentor invites; the mentee's address does not exist: 550 at RCPT, every time.
    a = make_plan(Kind.DECIDE_LATER, 1, Role.MENTOR, FAST, tag, check_in_every="PT4S", check_in_grace="PT3S")
    # B: the mentee invites; the first message to the mentor (the invitation) is rejected at DATA: 554, once.
    b = make_plan(
        Kind.DECIDE_LATER, 2, Role.MENTEE, FAST, tag, remind_after="PT2S", invitation_reminders=1, respond_within="PT1M"
    )
    a_mentee, b_mentor = a.invitation.mentee, b.invitation.mentor
    async with fault_stack(tmp_path) as stack:
        mail = MailIndex(stack.sink)
        client = stack.client
        stack.sink.fail_for(str(a_mentee.email), REFUSED)
        stack.sink.fail_for(str(b_mentor.email), REJECTED, at="data", count=1)
        await mentorship_client.invite(client, a.invitation, task_queue=stack.task_queue)
        await mentorship_client.invite(client, b.invitation, task_queue=stack.task_queue)
        a_handle, b_handle = stack.handle(a.workflow_id), stack.handle(b.workflow_id)

        # A: the invitation is refused and recorded; the mentorship waits for an answer as usual.
        await mail.wait([a.key("invitation-sent", "mentor")], "A's confirmation", 20)
        status = await _wait_status(stack, a.workflow_id, lambda s: len(s.notification_failures) == 1, "A: refused")
        [failure] = status.notification_failures
        assert (failure.step, failure.to.value) == ("invitation", "mentee"), failure
        assert "550" in failure.error and str(a_mentee.email) in failure.error, failure
        assert status.stage is Stage.INVITED and status.notifications_sent == 1
        # The mentee accepts in the app all the same: the mentor's emails go out, the mentee's are refused.
        status = await mentorship_client.act(client, a.workflow_id, "accept", {"by": a_mentee.id})
        assert status.stage is Stage.ACTIVE
        await mail.wait([a.key("started", "mentor"), a.key("check-in-1-due", "mentor")], "A's later emails", 20)
        status = await _wait_status(stack, a.workflow_id, lambda s: len(s.notification_failures) == 3, "A: 3 refused")
        assert [(f.step, f.to.value) for f in status.notification_failures] == [
            ("invitation", "mentee"),
            ("started", "mentee"),
            ("check-in-1-due", "mentee"),
        ], status.notification_failures
        assert status.stage is Stage.ACTIVE and status.notifications_failed == 3 and status.notifications_sent == 3
        # Operators see it: current details (the UI's User Metadata), the search attribute, the list query.
        details = await current_details(stack, a.workflow_id)
        assert "Last failed notification" in details and "check-in-1-due" in details and "550" in details, details
        await until(lambda: _failed_attribute(stack, a.workflow_id, 3), "FailedNotifications = 3 on A", 20)
        await until(lambda: _listed_failed(stack, a.workflow_id), "A listed with failed notifications", 30)
        status = await mentorship_client.act(client, a.workflow_id, "withdraw", {"by": a.invitation.mentor.id})
        assert status.stage is Stage.WITHDRAWN

        # B: the rejected invitation is recorded; the reminder to the same address goes out, and B goes on.
        status = await _wait_status(stack, b.workflow_id, lambda s: len(s.notification_failures) == 1, "B: rejected")
        [failure] = status.notification_failures
        assert (failure.step, failure.to.value) == ("invitation", "mentor") and "554" in failure.error, failure
        assert status.stage is Stage.INVITED
        details = await current_details(stack, b.workflow_id)
        assert "Last failed notification" in details and "554" in details, details
        await until(lambda: _failed_attribute(stack, b.workflow_id, 1), "FailedNotifications = 1 on B", 20)
        await mail.wait([b.key("invitation-reminder-1", "mentor")], "B's reminder", 20)
        status = await mentorship_client.act(client, b.workflow_id, "accept", {"by": b_mentor.id})
        assert status.stage is Stage.ACTIVE
        await mentorship_client.act(client, b.workflow_id, "withdraw", {"by": b.invitation.mentee.id})

        a_final, b_final = await a_handle.result(), await b_handle.result()
        # A's withdrawal notice goes to the mentee: refused too.
        assert [(f.step, f.to.value) for f in a_final.notification_failures][-1] == ("withdrawn", "mentee")
        assert a_final.notifications_failed == 4 and b_final.notifications_failed == 1
        a_expected = {a.key(step, "mentor") for step in ("invitation-sent", "started", "check-in-1-due")}
        b_expected = {b.key("invitation-sent", "mentee"), b.key("started", "mentee")}
        b_expected |= {b.key(step, "mentor") for step in ("invitation-reminder-1", "started", "withdrawn")}
        # Both were active, so their Feedback workflows ask both participants (A's mentee: refused again).
        feedback_expected = {a.key(FEEDBACK_REQUEST, "mentor")} | {
            b.key(FEEDBACK_REQUEST, r) for r in ("mentor", "mentee")
        }
        expected = a_expected | b_expected | feedback_expected
        await mail.wait(expected, "every email that was not refused", 20)
        assert a_final.notifications_sent == len(a_expected) and b_final.notifications_sent == len(b_expected)
        assert a_final.feedback_workflow_id is not None and b_final.feedback_workflow_id is not None
        a_feedback = await _feedback_settled(stack, a_final.feedback_workflow_id)
        assert [(f.step, f.to.value) for f in a_feedback.notification_failures] == [(FEEDBACK_REQUEST, "mentee")]
        # Not retried: one SMTP transaction per refusal, and no send activity took a second attempt.
        refusals = stack.sink.attempts - len(stack.sink.deliveries)
        assert refusals == 6, f"expected 6 refused transactions (no retries), the sink saw {refusals}"
        feedback_handles = [stack.handle(f.feedback_workflow_id or "") for f in (a_final, b_final)]
        for handle in (a_handle, b_handle, *feedback_handles):
            attempts = [
                event.activity_task_started_event_attributes.attempt
                async for event in handle.fetch_history_events()
                if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            ]
            assert attempts and max(attempts) == 1, f"a permanent failure must not be retried: {attempts}"
        figures = tally(expected, mail.counts())
        report(
            "faults: permanent SMTP refusals (550 recipient, 554 message)",
            mentorships=2,
            faults_injected=refusals,
            emails_expected=figures.expected,
            emails_delivered=figures.delivered,
            emails_duplicated=figures.duplicated,
            emails_lost=figures.lost,
            note=f"{refusals} sends refused for good (5 to an unknown mentee, 1 message rejected), each tried once and "
            "recorded in notification_failures, the current details and FailedNotifications; both mentorships went on",
        )
        assert figures.lost == 0, figures.missing
        assert figures.unexpected == [], figures.unexpected


async def _failed_attribute(stack: FaultStack, workflow_id: str, count: int) -> bool:
    described = await stack.handle(workflow_id).describe()
    return described.typed_search_attributes.get(sa.FAILED_NOTIFICATIONS) == count


async def _listed_failed(stack: FaultStack, workflow_id: str) -> bool:
    query = mentorship_client.list_query(failed_notifications=True)
    return workflow_id in {execution.id async for execution in mentorship_client.list_mentorships(stack.client, query)}


async def _wait_status(stack: FaultStack, workflow_id: str, predicate: Any, what: str) -> MentorshipStatus:
    async def check() -> MentorshipStatus | None:
        status = await mentorship_client.status(stack.client, workflow_id)
        return status if predicate(status) else None

    return await until(check, what, 20, explain=stack.logs)


async def _feedback_settled(stack: FaultStack, feedback_id: str) -> FeedbackStatus:
    """The Feedback workflow's status once both feedback requests were sent or given up on."""

    async def check() -> FeedbackStatus | None:
        status = await mentorship_client.feedback_status(stack.client, feedback_id)
        return status if status.notifications_sent + len(status.notification_failures) == 2 else None

    return await until(check, f"{feedback_id}: both feedback requests settled", 20, explain=stack.logs)
