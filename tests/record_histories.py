"""Record the workflow histories that ``tests/workflow/test_replay.py`` replays.

    .venv/bin/python -m tests.record_histories            # all scenarios
    .venv/bin/python -m tests.record_histories expired    # only those whose name contains "expired"

Each scenario drives one mentorship on the time-skipping test server, with the project's own worker
(``worker.build_worker``) mailing an in-process ``MailSink``, and writes the finished workflow's full history to
``tests/histories/<scenario>.json``. Re-record only for a deliberate, incompatible workflow change (and say why
in the commit): a compatible change must keep replaying the files recorded before it.

The files are what ``WorkflowHistory.to_json_dict()`` gives, one event per line (small, diffable), plus the
workflow id (``workflowId``, ignored by ``WorkflowHistory.from_json``) and the scenario name. The only edit is
that every ``identity`` (``pid@hostname`` of the worker or client that acted) becomes ``recorder``: replay
never reads it, and the files should not carry the name of the machine that recorded them. Person ids are
fixed, so a re-recording changes timestamps, run ids and base64 payloads, not the shape.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

import mentorship_client
import workflows.search_attributes as sa
from devtools.mailsink import MailSink, free_port
from devtools.webhook_receiver import WebhookReceiver
from infra.encryption import CONTRACT_DATA_CONVERTER
from infra.temporal import ensure_search_attributes
from tests.support import builders
from tests.support.temporal import TEMPORAL_CLI, TEST_SERVER, running_worker
from tests.support.waiting import status_of, wait_mail, wait_status
from workflows.contract import WORKFLOW_TYPE, Invitation, MentorshipStatus, Role, Stage

HISTORIES = Path(__file__).parent / "histories"
DAY = timedelta(days=1)
# Low enough that a few months of check-ins continue as new (the workflow's minimum is 50).
CONTINUE_AS_NEW_LIMIT = 60

_PENDING = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}
_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


# Ana mentors Ben, Cora coordinates; ids carry the scenario's tag (``ana.{tag}``), so every scenario has its own
# workflow: invitation(tag, initiated_by, **overrides).
invitation = functools.partial(
    builders.invitation, cast=builders.ANA_AND_BEN, separator=".", message="Guidance on leading a team?"
)


@dataclass
class Recorder:
    env: WorkflowEnvironment
    sink: MailSink
    task_queue: str
    out: Path

    @property
    def client(self) -> Client:
        return self.env.client

    async def invite(self, inv: Invitation, **kwargs: Any) -> WorkflowHandle[Any, Any]:
        kwargs.setdefault("task_queue", self.task_queue)
        current = await mentorship_client.invite(self.client, inv, **kwargs)
        return self.client.get_workflow_handle(current.workflow_id)

    async def signal(self, handle: WorkflowHandle[Any, Any], action: str, **payload: Any) -> None:
        await mentorship_client.send(self.client, handle.id, action, payload)

    async def update(self, handle: WorkflowHandle[Any, Any], action: str, **payload: Any) -> MentorshipStatus:
        return await mentorship_client.act(self.client, handle.id, action, payload)

    async def sleep(self, duration: timedelta) -> None:
        await self.env.sleep(duration)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def sent(self, handle: WorkflowHandle[Any, Any], count: int, failed: int = 0) -> MentorshipStatus:
        """Wait until ``count`` emails arrived and the workflow has recorded every outcome (sent or failed)."""
        await wait_mail(self.sink, handle.id, count)
        return await wait_status(
            handle,
            lambda s: s.notifications_sent == count and len(s.notification_failures) == failed,
            f"{count} email(s) recorded as sent, {failed} failed",
        )

    async def settled(self, handle: WorkflowHandle[Any, Any]) -> None:
        """Until the latest run has nothing in flight (no workflow task, no activity, not just continued)."""
        for _ in range(400):
            history = await self.client.get_workflow_handle(handle.id).fetch_history()
            if history.events[-1].event_type not in _PENDING:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{handle.id} never settled")

    async def first_run(self, handle: WorkflowHandle[Any, Any]) -> tuple[str, bool]:
        """(first run id of the latest run's chain, whether the latest run continued an earlier one)."""
        history = await self.client.get_workflow_handle(handle.id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        return started.first_execution_run_id, bool(started.continued_execution_run_id)

    async def save(self, scenario: str, workflow_id: str, run_id: str | None = None) -> Path:
        """Write the (closed) run's history; by default the latest run of ``workflow_id``."""
        handle = self.client.get_workflow_handle(workflow_id, run_id=run_id)
        for _ in range(400):
            history = await handle.fetch_history()
            if history.events[-1].event_type in _CLOSED:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"{workflow_id} ({run_id or 'latest run'}) did not close")
        path = self.out / f"{scenario}.json"
        path.write_text(dump(scenario, history), encoding="utf-8")
        print(
            f"  {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}: "
            f"{len(history.events)} events, {path.stat().st_size} bytes"
        )
        return path


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: "recorder" if key == "identity" else _scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def dump(scenario: str, history: WorkflowHistory) -> str:
    """The history as JSON, one event per line; ``WorkflowHistory.from_json`` reads it back."""
    events = _scrub(history.to_json_dict()["events"])
    lines = [json.dumps(event, separators=(",", ":"), sort_keys=True) for event in events]
    head = json.dumps({"scenario": scenario, "workflowId": history.workflow_id})[:-1]
    return head + ', "events": [\n' + ",\n".join(lines) + "\n]}\n"


# --- The scenarios ------------------------------------------------------------------------------------------


async def invitation_expired(r: Recorder) -> None:
    """(a) Invited by the mentee; nobody answers: two reminders, then the invitation expires."""
    inv = invitation("expired", "mentee")
    handle = await r.invite(inv)
    await r.sent(handle, 2)
    for n in (1, 2):
        await r.sleep(3 * DAY)
        await wait_status(handle, lambda s, n=n: s.invitation_reminders_sent == n, f"reminder {n}")  # type: ignore[misc]
        await r.sent(handle, 2 + n)
    await r.sleep(9 * DAY)
    await wait_status(handle, lambda s: s.stage is Stage.EXPIRED, "expiry")
    await r.save("invitation_expired", handle.id)


async def accepted_at_risk_paused_withdrawn(r: Recorder) -> None:
    """(b) Invited by the mentor, accepted; check-ins, two missed with nudges, at risk (coordinator told), back on
    track, paused with an end date, resumed by itself, withdrawn. Actions arrive as updates and as signals."""
    inv = invitation("lifecycle", "mentor", escalate_after_missed=2)
    mentor, mentee = inv.mentor.id, inv.mentee.id
    handle = await r.invite(inv)
    await r.sent(handle, 2)
    await r.update(handle, "accept", by=mentee, note="Glad to")
    await r.sent(handle, 4)

    await r.sleep(14 * DAY)  # check-in 1 due: both reminded
    await wait_status(handle, lambda s: s.cycle == 1 and s.cycle_reminded, "check-in 1 due")
    await r.sent(handle, 6)
    await r.signal(handle, "check_in", by=mentee, note="Kick-off", rating=5)
    await wait_status(handle, lambda s: len(s.check_ins) == 1, "check-in 1 recorded")

    await r.sleep(14 * DAY)  # check-in 2 due: both reminded
    await wait_status(handle, lambda s: s.cycle == 2 and s.cycle_reminded, "check-in 2 due")
    sent = 8
    await r.sent(handle, sent)
    for cycle in (2, 3):
        await r.sleep(3 * DAY)  # grace over: both nudged
        await wait_status(handle, lambda s, c=cycle: s.cycle == c and s.cycle_nudged, f"check-in {cycle} nudge")  # type: ignore[misc]
        sent += 2
        await r.sent(handle, sent)
        # The next one falls due: this one counts as missed, and both are reminded of the next.
        await r.sleep(11 * DAY)
        await wait_status(handle, lambda s, c=cycle: s.cycle == c + 1 and s.cycle_reminded, f"check-in {cycle} missed")  # type: ignore[misc]
        sent += 2
        if cycle == 3:  # the second miss in a row: at risk, the coordinator told
            sent += 1
        await r.sent(handle, sent)
    at_risk = await status_of(handle)
    assert at_risk.at_risk and at_risk.missed_in_a_row == 2, at_risk

    back = await r.update(handle, "check_in", by=mentor, note="Back at it", rating=4)
    assert not back.at_risk
    sent += 1
    await r.sent(handle, sent)

    until = await r.now() + 21 * DAY
    await r.signal(handle, "pause", by=mentee, reason="Holidays", until=until.isoformat())
    await wait_status(handle, lambda s: s.stage is Stage.PAUSED, "pause")
    sent += 1
    await r.sent(handle, sent)
    await r.sleep(22 * DAY)
    await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "automatic resume")
    sent += 2
    await r.sent(handle, sent)

    await r.signal(handle, "withdraw", by=mentor, reason="Changing roles")
    await wait_status(handle, lambda s: s.stage is Stage.WITHDRAWN, "withdrawal")
    await r.save("accepted_at_risk_paused_withdrawn", handle.id)


async def mutual_term_completed(r: Recorder) -> None:
    """(c) The mentee invites, then the mentor invites too: active at once; a 30-day term ends with a wrap-up."""
    from_mentee = invitation("mutual", "mentee", term="P30D")
    handle = await r.invite(from_mentee)
    await r.sent(handle, 2)
    from_mentor = from_mentee.model_copy(update={"initiated_by": Role.MENTOR, "message": "Let's do it"})
    active = await mentorship_client.invite(r.client, from_mentor, task_queue=r.task_queue)
    assert active.stage is Stage.ACTIVE
    await r.sent(handle, 4)

    await r.sleep(14 * DAY)
    await wait_status(handle, lambda s: s.cycle == 1 and s.cycle_reminded, "check-in 1 due")
    await r.sent(handle, 6)
    await r.signal(handle, "check_in", by=from_mentee.mentor.id, note="Good start", rating=4)
    await wait_status(handle, lambda s: len(s.check_ins) == 1, "check-in 1 recorded")
    await r.sleep(14 * DAY)
    await wait_status(handle, lambda s: s.cycle == 2 and s.cycle_reminded, "check-in 2 due")
    await r.sent(handle, 8)
    await r.sleep(4 * DAY)  # past the end of the term
    final = await wait_status(handle, lambda s: s.stage is Stage.COMPLETED, "completion")
    assert final.wrap_up_sent
    await r.save("mutual_term_completed", handle.id)


async def refused_signals_email_failure(r: Recorder) -> None:
    """(d) The first email is refused for good (550), refused signals from the wrong people (and an update
    rejected by its validator, which leaves no trace), then the invitee declines."""
    r.sink.fail_next(1, "550 5.1.1 no such user")
    inv = invitation("refused", "mentee")
    mentor, mentee = inv.mentor.id, inv.mentee.id
    handle = await r.invite(inv)
    await r.sent(handle, 1, failed=1)

    await r.signal(handle, "accept", by=mentee)  # the initiator cannot accept
    await r.signal(handle, "withdraw", by=mentor)  # the invitee cannot withdraw
    await r.signal(handle, "check_in", by="mallory")  # not part of it
    await wait_status(handle, lambda s: len(s.refused_signals) == 3, "refusals recorded")
    try:
        await r.update(handle, "decline", by=mentee)
    except WorkflowUpdateFailedError:
        pass
    else:
        raise AssertionError("the initiator's decline should have been rejected")

    await r.signal(handle, "decline", by=mentor, reason="No time this quarter")
    await wait_status(handle, lambda s: s.stage is Stage.DECLINED, "decline")
    await r.sent(handle, 2, failed=1)
    await r.save("refused_signals_email_failure", handle.id)


async def continued_as_new(r: Recorder) -> None:
    """(e) A low history limit: after some check-ins the run continues as new, carrying its state. Both the
    first run (ends in ContinuedAsNew) and the run that starts from the carried state (withdrawn) are kept."""
    inv = invitation("long", "mentor")
    handle = await r.invite(inv, history_event_limit=CONTINUE_AS_NEW_LIMIT)
    first, _ = await r.first_run(handle)
    await r.signal(handle, "accept", by=inv.mentee.id)
    await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "acceptance")
    await r.sent(handle, 4)
    sent = 4
    for n in range(1, 21):
        await r.sleep(14 * DAY)
        await r.settled(handle)
        await wait_status(handle, lambda s, n=n: s.cycle == n and s.cycle_reminded, f"check-in {n} due")  # type: ignore[misc]
        sent += 2
        await r.sent(handle, sent)
        await r.signal(handle, "check_in", by=inv.mentee.id, note=f"n{n}", rating=4)
        await r.settled(handle)
        await wait_status(handle, lambda s, n=n: len(s.check_ins) == n, f"check-in {n} recorded")  # type: ignore[misc]
        if (await r.first_run(handle))[1]:
            break
    else:
        raise AssertionError("the workflow never continued as new")
    await r.save("continued_as_new", handle.id, run_id=first)

    latest = r.client.get_workflow_handle(handle.id)
    await r.settled(latest)
    await r.signal(latest, "withdraw", by=inv.mentor.id)
    await wait_status(latest, lambda s: s.stage is Stage.WITHDRAWN, "withdrawal")
    final = await status_of(latest)
    assert final.timeline[0].event == "invited"
    await r.save("continued_as_new_next_run", handle.id)


async def failed_notification_searchable(r: Recorder) -> None:
    """(f) Recorded after the FailedNotifications search attribute was added behind its patch: the first email
    is refused for good, so the history carries the patch marker and the upsert; then acceptance and withdrawal."""
    r.sink.fail_next(1, "550 5.1.1 no such user")
    inv = invitation("failed", "mentor")
    handle = await r.invite(inv)
    await r.sent(handle, 1, failed=1)
    await r.signal(handle, "accept", by=inv.mentee.id)
    await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "acceptance")
    await r.sent(handle, 3, failed=1)
    await r.signal(handle, "withdraw", by=inv.mentee.id, reason="Changed teams")
    await wait_status(handle, lambda s: s.stage is Stage.WITHDRAWN, "withdrawal")
    await r.sent(handle, 4, failed=1)
    await r.save("failed_notification_searchable", handle.id)


async def invalid_start_input(r: Recorder) -> None:
    """(g) A client that is not ours starts the workflow with an invalid input: it fails at once, sends nothing."""
    bad = invitation("invalid", "mentor").model_dump(mode="json")
    bad["mentee"]["email"] = "not-an-address"
    bad["initiated_by"] = "sponsor"
    handle = await r.client.start_workflow(
        WORKFLOW_TYPE, bad, id="mentorship-ana.invalid--ben.invalid", task_queue=r.task_queue
    )
    await r.save("invalid_start_input", handle.id)
    assert not r.sink.messages, "an invalid start must send nothing"


async def search_attributes_at_start(r: Recorder) -> None:
    """(h) Recorded after the client's invite (now mentorship_client.invite) began giving the search attributes in
    the start request: the workflow upserts only what changes (acceptance, the check-in, the withdrawal), nothing at
    the start."""
    inv = invitation("attributes", "mentee")
    handle = await r.invite(inv)
    await r.sent(handle, 2)
    await r.signal(handle, "accept", by=inv.mentor.id)
    await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "acceptance")
    await r.sent(handle, 4)
    await r.signal(handle, "check_in", by=inv.mentee.id, rating=4)
    await wait_status(handle, lambda s: len(s.check_ins) == 1, "check-in")
    await r.signal(handle, "withdraw", by=inv.mentor.id, reason="Done for now")
    await wait_status(handle, lambda s: s.stage is Stage.WITHDRAWN, "withdrawal")
    await r.sent(handle, 5)
    await r.save("search_attributes_at_start", handle.id)


async def accepted_after_expiry_while_down(r: Recorder) -> None:
    """(i) The worker is down while the invitation expires; the accept sent meanwhile reaches the workflow in the
    same task as the expiry timer. Since ``timed-events-before-actions`` the expiry happens first and the accept is
    refused; before it (``accepted_after_expiry_while_down_unpatched.json``, recorded with the code of that time)
    the accept won and the mentee withdrew to end it.

    On the dev server, in seconds: the time-skipping server stops its clock at a timer no worker handles."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        data_converter=CONTRACT_DATA_CONVERTER,
        search_attributes=sa.REGISTERED_KEYS,
    )
    try:
        r = Recorder(env, r.sink, r.task_queue, r.out)
        inv = invitation("late", "mentee", invitation_reminders=0, respond_within="PT4S")
        async with running_worker(r.client, r.sink, r.task_queue):
            handle = await r.invite(inv)
            current = await r.sent(handle, 2)
        assert current.expires_at is not None
        # No worker: the expiry timer fires and its workflow task waits for one.
        await asyncio.sleep((current.expires_at - datetime.now(UTC)).total_seconds() + 1.0)
        await r.signal(handle, "accept", by=inv.mentor.id)
        async with running_worker(r.client, r.sink, r.task_queue):
            current = await wait_status(
                handle, lambda s: s.stage is not Stage.INVITED, "the expiry or the accept", within=60.0
            )
            if current.stage.is_open:
                await r.signal(handle, "withdraw", by=inv.mentee.id)
            await r.save("accepted_after_expiry_while_down", handle.id)
    finally:
        await env.shutdown()


async def places_refused_then_accepted(r: Recorder) -> None:
    """Per-person limits (``places-taken-on-acceptance``): Ana mentors one at most. Ben's mentorship holds her
    place; Cem's acceptance is refused by signal and by update, then succeeds once Ben's mentorship ended and gave
    its place back; Cem withdraws. Also writes Ana's record (``person_limits_and_places.json``, still running)."""
    ben = invitation("places", "mentee")
    cem = invitation("places", "mentor", mentee={"id": "cem.places", "name": "Cem Aydin", "email": "cem@example.com"})
    ana = ben.mentor.id
    await mentorship_client.set_limits(r.client, ana, {"max_mentees": 1}, task_queue=r.task_queue)
    first = await r.invite(ben)
    second = await r.invite(cem)
    await r.update(first, "accept", by=ana)
    await r.signal(second, "accept", by=cem.mentee.id)
    await wait_status(second, lambda s: bool(s.refused_signals), "the signal refused for want of a place")
    try:
        await r.update(second, "accept", by=cem.mentee.id)
        raise AssertionError("the acceptance should have been refused")
    except WorkflowUpdateFailedError:
        pass
    await r.update(first, "withdraw", by=ben.mentee.id, reason="moving on")
    await r.save("places_given_back_on_withdrawal", first.id)
    await r.update(second, "accept", by=cem.mentee.id)
    await r.update(second, "withdraw", by=cem.mentee.id)
    await r.save("places_refused_then_accepted", second.id)
    person = r.client.get_workflow_handle(f"person-{ana}")
    await r.settled(person)
    path = r.out / "person_limits_and_places.json"
    path.write_text(dump("person_limits_and_places", await person.fetch_history()), encoding="utf-8")


async def changes_agreed_then_feedback(r: Recorder) -> None:
    """Changes to the terms (a cadence agreed, a longer term lapsed) and feedback after the end
    (``feedback-after-end``): the mentee withdraws, the mentorship starts its Feedback workflow and completes;
    both give feedback. Also writes the Feedback workflow's history (``feedback_both_answered.json``)."""
    inv = invitation("changes", "mentee", check_in_every="P14D")
    handle = await r.invite(inv)
    await r.update(handle, "accept", by=inv.mentor.id)
    await r.signal(handle, "propose_change", by=inv.mentor.id, check_in_every="P7D", note="Weekly?")
    await wait_status(handle, lambda s: s.proposal is not None, "proposal 1 open")
    await r.signal(handle, "accept_change", by=inv.mentee.id, number=1)
    await wait_status(handle, lambda s: s.changes_agreed == 1, "change 1 agreed")
    await r.update(handle, "propose_change", by=inv.mentee.id, extend_term_by="P1M", respond_within="P2D")
    await r.sleep(3 * DAY)
    await wait_status(handle, lambda s: s.proposal is None and s.proposals == 2, "change 2 lapsed")
    await r.update(handle, "withdraw", by=inv.mentee.id, reason="moving on")
    final = await wait_status(handle, lambda s: s.feedback_workflow_id is not None, "feedback asked")
    await r.save("changes_agreed_then_feedback", handle.id)
    assert final.feedback_workflow_id is not None
    await mentorship_client.give_feedback(r.client, final.feedback_workflow_id, {"by": inv.mentor.id, "rating": 5})
    await mentorship_client.give_feedback(
        r.client, final.feedback_workflow_id, {"by": inv.mentee.id, "rating": 4, "would_continue": True}
    )
    await r.save("feedback_both_answered", final.feedback_workflow_id)


async def quiet_hours_held(r: Recorder) -> None:
    """Quiet hours (MENTORSHIP_QUIET_HOURS=21:00-08:00, see SETTINGS): Ana in Kolkata, Ben in Los Angeles. Check-in
    1 falls due at 20:30 UTC, 02:00 for Ana: the email activity answers "held until 02:30 UTC" (her 08:00), the
    workflow waits on a timer and sends it then; Ben's goes at once. Then Ben withdraws."""
    inv = invitation("quiet", "mentee", check_in_every="PT17H30M", check_in_grace="PT1H")
    inv = inv.model_copy(
        update={
            "mentor": inv.mentor.model_copy(update={"time_zone": "Asia/Kolkata"}),
            "mentee": inv.mentee.model_copy(update={"time_zone": "America/Los_Angeles", "locale": "en-US"}),
        }
    )
    now = await r.now()
    start = now.replace(hour=3, minute=0, second=0, microsecond=0)  # 08:30 in Kolkata, 19:00 in Los Angeles
    while start < now + timedelta(minutes=1):
        start += DAY
    await r.sleep(start - now)
    handle = await r.invite(inv)
    await r.update(handle, "accept", by=inv.mentor.id)
    await r.sleep(timedelta(hours=17, minutes=45))
    await wait_status(handle, lambda s: bool(s.held_emails), "Ana's reminder held")
    await r.sleep(timedelta(hours=6, minutes=30))
    await wait_status(handle, lambda s: not s.held_emails, "Ana's reminder sent in her morning")
    await r.update(handle, "withdraw", by=inv.mentee.id, reason="moving on")
    await r.save("quiet_hours_held", handle.id)


async def webhooks_delivered(r: Recorder) -> None:
    """Webhooks (``webhooks``): every event delivered to a real receiver (see RECEIVER), one activity each, in
    sequence order. Ben invites, Ana accepts, a check-in, Ben withdraws; both give feedback; Ana's limits change.
    Also writes the Feedback workflow's history (``feedback_webhooks_delivered.json``) and Ana's record
    (``person_webhooks_delivered.json``, still running)."""
    inv = invitation("hooks", "mentee")
    await mentorship_client.set_limits(r.client, inv.mentor.id, {"max_mentees": 3}, task_queue=r.task_queue)
    handle = await r.invite(inv)
    await r.update(handle, "accept", by=inv.mentor.id)
    await r.update(handle, "check_in", by=inv.mentee.id, rating=5)
    await r.update(handle, "withdraw", by=inv.mentee.id, reason="moving on")
    final = await wait_status(handle, lambda s: s.feedback_workflow_id is not None, "feedback asked")
    await r.save("webhooks_delivered", handle.id)
    assert final.feedback_workflow_id is not None
    await mentorship_client.give_feedback(r.client, final.feedback_workflow_id, {"by": inv.mentor.id, "rating": 5})
    await mentorship_client.give_feedback(r.client, final.feedback_workflow_id, {"by": inv.mentee.id, "rating": 4})
    await r.save("feedback_webhooks_delivered", final.feedback_workflow_id)
    person = r.client.get_workflow_handle(f"person-{inv.mentor.id}")
    await r.settled(person)
    path = r.out / "person_webhooks_delivered.json"
    path.write_text(dump("person_webhooks_delivered", await person.fetch_history()), encoding="utf-8")
    kinds = [event["type"] for event in RECEIVER.events]
    assert kinds.count("mentorship.feedback.submitted") == 2 and "person.limits_changed" in kinds, kinds


async def webhooks_only_when_subscribed(r: Recorder) -> None:
    """Webhooks once ``webhooks-only-when-subscribed`` shipped: the endpoint takes only check-ins recorded, so
    every event is first counted by the local activity (a marker each) and only the check-in is delivered. Ben
    invites, Ana accepts, a check-in, Ben withdraws."""
    inv = invitation("subscribed", "mentee")
    before = len(RECEIVER.events)
    handle = await r.invite(inv)
    await r.update(handle, "accept", by=inv.mentor.id)
    await r.update(handle, "check_in", by=inv.mentee.id, rating=5)
    await r.update(handle, "withdraw", by=inv.mentee.id, reason="moving on")
    await wait_status(handle, lambda s: s.feedback_workflow_id is not None and not s.webhooks.pending, "all out")
    await r.save("webhooks_only_when_subscribed", handle.id)
    kinds = [event["type"] for event in RECEIVER.events[before:]]
    assert kinds == ["mentorship.check_in.recorded"], kinds


# The receiver the webhook scenario's worker delivers to (started around that scenario only).
RECEIVER = WebhookReceiver(secrets=["whsec_" + base64.b64encode(b"record-histories-webhook-secret!").decode()])
RECEIVER.port = free_port("127.0.0.1")

# Worker settings a scenario needs beyond the tests' defaults.
SETTINGS: dict[str, dict[str, Any]] = {
    "quiet_hours_held": {"mentorship_quiet_hours": "21:00-08:00"},
    "webhooks_delivered": {
        "mentorship_webhook_endpoints": json.dumps([{"url": RECEIVER.url, "secrets": RECEIVER.secrets}])
    },
    "webhooks_only_when_subscribed": {
        "mentorship_webhook_endpoints": json.dumps(
            [{"url": RECEIVER.url, "secrets": RECEIVER.secrets, "events": ["mentorship.check_in.recorded"]}]
        )
    },
}

SCENARIOS: dict[str, Callable[[Recorder], Awaitable[None]]] = {
    "invitation_expired": invitation_expired,
    "accepted_at_risk_paused_withdrawn": accepted_at_risk_paused_withdrawn,
    "mutual_term_completed": mutual_term_completed,
    "refused_signals_email_failure": refused_signals_email_failure,
    "continued_as_new": continued_as_new,  # also writes continued_as_new_next_run.json
    "failed_notification_searchable": failed_notification_searchable,
    "invalid_start_input": invalid_start_input,
    "search_attributes_at_start": search_attributes_at_start,
    "accepted_after_expiry_while_down": accepted_after_expiry_while_down,
    # also writes places_given_back_on_withdrawal.json and person_limits_and_places.json
    "places_refused_then_accepted": places_refused_then_accepted,
    # also writes feedback_both_answered.json
    "changes_agreed_then_feedback": changes_agreed_then_feedback,
    "quiet_hours_held": quiet_hours_held,
    # also writes feedback_webhooks_delivered.json and person_webhooks_delivered.json
    "webhooks_delivered": webhooks_delivered,
    "webhooks_only_when_subscribed": webhooks_only_when_subscribed,
}


async def record(selected: list[str], out: Path) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=CONTRACT_DATA_CONVERTER
    )
    try:
        await ensure_search_attributes(env.client, "default")
        for name in selected:
            print(f"{name}:")
            # A sink and a worker per scenario: injected faults and mail counts never leak between them.
            if name.startswith("webhooks_"):
                await RECEIVER.start()
            try:
                async with (
                    MailSink(port=0) as sink,
                    running_worker(env.client, sink, **SETTINGS.get(name, {})) as task_queue,
                ):
                    await SCENARIOS[name](Recorder(env, sink, task_queue, out))
            finally:
                await RECEIVER.stop()
    finally:
        await env.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.record_histories",
        description="Record the histories that tests/workflow/test_replay.py replays.",
    )
    parser.add_argument("only", nargs="*", help="record only scenarios whose name contains one of these")
    parser.add_argument("--out", type=Path, default=HISTORIES, help="directory (default: tests/histories)")
    args = parser.parse_args(argv)
    selected = [name for name in SCENARIOS if not args.only or any(part in name for part in args.only)]
    if not selected:
        parser.error(f"no scenario matches {args.only}; scenarios: {', '.join(SCENARIOS)}")
    # The worker logs every refused signal and failed email (with its traceback): expected here, not news.
    logging.basicConfig(level=logging.ERROR)
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(record(selected, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
