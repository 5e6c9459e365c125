"""Determinism is a contract: every recorded history in ``tests/histories`` must replay on today's workflow code.

A running mentorship lives for months. When a worker restarts, or a workflow is evicted from its cache, the
workflow is rebuilt by replaying its history through the current code; if that code now issues its commands
(timers, activities, search-attribute upserts, continue-as-new) in another order or of another kind, the
workflow fails with a nondeterminism error. These tests replay histories recorded from real runs
(``tests/record_histories.py``: expiry, a full lifecycle with escalation and pause, a mutual invitation to a
completed term, refusals and a failed email, continue-as-new) with the worker's own sandbox and data converter.

- A change that alters which commands are issued, or their order, for histories that already exist must be
  guarded with ``workflow.patched("<change-id>")`` (old branch for old histories, new branch otherwise; later
  ``workflow.deprecate_patch`` once no run from before the change is open) and must keep these files passing.
- A deliberate incompatible change (no running workflows to protect, or they are all terminated or drained
  first) re-records the files with ``python -m tests.record_histories`` and says why in the commit message.

Never fix a failure here by re-recording alone: that hides exactly the break these tests exist to catch.
"""

from __future__ import annotations

import importlib.resources
import json
import zoneinfo
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

import infra.local_time as local_time
import workflows.plan as plan
from infra.quiet_hours import QuietHours, held_until
from tests.support import HISTORIES
from worker import WORKFLOW_RUNNER
from workflows.contract import SEND_NOTIFICATION, MentorshipStatus, Notification, SendReceipt
from workflows.feedback import Feedback
from workflows.mentorship import Mentorship
from workflows.person import PersonRecord
from workflows.webhook_endpoint import WebhookEndpointRecord
from workflows.webhook_outbox import WebhookOutbox

# One file per scenario of tests/record_histories.py; a missing one means coverage was lost.
SCENARIOS = (
    "invitation_expired",
    "accepted_at_risk_paused_withdrawn",
    "mutual_term_completed",
    "refused_signals_email_failure",
    "continued_as_new",
    "continued_as_new_next_run",
    "failed_notification_searchable",
    "invalid_start_input",
    "search_attributes_at_start",
    "accepted_after_expiry_while_down",
    # Recorded with the code before `timed-events-before-actions` (it cannot be re-recorded): the old path.
    "accepted_after_expiry_while_down_unpatched",
    # Per-person limits (`places-taken-on-acceptance`): the new path. The old one is every history above that
    # accepts (recorded before it): they activate at once and hold no places.
    "places_refused_then_accepted",
    "places_given_back_on_withdrawal",
    "person_limits_and_places",
    # Changes to the terms and feedback after the end (`feedback-after-end`): the new paths. The old one is every
    # history above that ends an active mentorship (recorded before it): they complete without a Feedback workflow.
    "changes_agreed_then_feedback",
    "feedback_both_answered",
    # Quiet hours: an email held by the activity's answer, a timer, the send. No patch: earlier histories never
    # had a held answer, so they take the same path as before.
    "quiet_hours_held",
    # Webhooks (`webhooks`, in the Mentorship, Feedback and Person workflows): the new path, every event delivered
    # by an activity. The old one is every history above (recorded before it): they deliver nothing.
    "webhooks_delivered",
    "feedback_webhooks_delivered",
    "person_webhooks_delivered",
    # Webhooks only where some endpoint takes the event (`webhooks-only-when-subscribed`): the new path, a local
    # activity's marker for each event and a delivery for the check-in alone. The old one: the three above.
    "webhooks_only_when_subscribed",
)

HISTORY_FILES = sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    """A recorded history; the file carries the workflow id next to the events (``from_json`` ignores it)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return WorkflowHistory.from_json(data["workflowId"], data)


def replayer() -> Replayer:
    """Configured as the worker is (worker.build_worker): same workflow, sandbox and data converter."""
    return Replayer(
        workflows=[Mentorship, PersonRecord, Feedback, WebhookOutbox, WebhookEndpointRecord],
        data_converter=pydantic_data_converter,
        workflow_runner=WORKFLOW_RUNNER,
    )


def test_every_scenario_has_a_history() -> None:
    present = {path.stem for path in HISTORY_FILES}
    missing = [name for name in SCENARIOS if name not in present]
    assert not missing, f"no recorded history for {missing}; run `python -m tests.record_histories`"


@pytest.mark.parametrize("path", HISTORY_FILES, ids=[path.stem for path in HISTORY_FILES])
async def test_history_replays_deterministically(path: Path) -> None:
    history = load(path)
    assert history.events, f"{path.name} has no events"
    # Raises the nondeterminism (or any other workflow task) error if the code no longer fits the history.
    result = await replayer().replay_workflow(history)
    assert result.replay_failure is None


async def test_all_histories_replay_in_one_worker() -> None:
    """All at once through one replayer, as a worker's cache would hold them side by side."""

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for path in HISTORY_FILES:
            yield load(path)

    results = await replayer().replay_workflows(histories(), raise_on_replay_failure=True)
    assert dict(results.replay_failures) == {}


def test_continue_as_new_history_ends_in_continued_as_new() -> None:
    """The first run of the continue-as-new scenario is kept as it ended: the carried state is what replays."""
    last = load(HISTORIES / "continued_as_new.json").events[-1]
    assert last.HasField("workflow_execution_continued_as_new_event_attributes")


@workflow.defn(name="Mentorship")
class _SleepsFirst(Mentorship):
    """The workflow with one unpatched change: a timer before anything else."""

    @workflow.init
    def __init__(self, input: Any) -> None:
        super().__init__(input)

    @workflow.run
    async def run(self, input: Any) -> MentorshipStatus:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(input)


async def test_an_unpatched_change_is_caught() -> None:
    """The check has teeth: a workflow that issues one extra command fails to replay the recorded histories."""
    changed = Replayer(
        workflows=[_SleepsFirst],
        data_converter=pydantic_data_converter,
        # Unsandboxed only because this test module (pytest and all) is no workflow module to re-import.
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    with pytest.raises(NondeterminismError):
        await changed.replay_workflow(load(HISTORIES / "invitation_expired.json"))


@workflow.defn(name="Mentorship")
class _TimerFirst(Mentorship):
    """The same commands in another order: the timer for the next due moment started before the queued emails
    are scheduled (the workflow starts its email activities first)."""

    @workflow.init
    def __init__(self, input: Any) -> None:
        super().__init__(input)

    @workflow.run
    async def run(self, input: Any) -> MentorshipStatus:
        return await super().run(input)

    def _dispatch(self) -> None:
        if self._reorder() and self.state.stage.is_open:
            self._keep_timer(plan.next_due(self.state))
        super()._dispatch()

    def _reorder(self) -> bool:
        return True


@workflow.defn(name="Mentorship")
class _TimerFirstPatched(_TimerFirst):
    """The same reordering, guarded as the README asks: old histories keep the old order."""

    @workflow.init
    def __init__(self, input: Any) -> None:
        super().__init__(input)

    @workflow.run
    async def run(self, input: Any) -> MentorshipStatus:
        return await super().run(input)

    def _reorder(self) -> bool:
        return workflow.patched("timer-before-emails")


def _replayer_of(cls: type) -> Replayer:
    # Unsandboxed only because this test module (pytest and all) is no workflow module to re-import.
    return Replayer(
        workflows=[cls], data_converter=pydantic_data_converter, workflow_runner=UnsandboxedWorkflowRunner()
    )


# Histories where the reordering shows: a timer and emails in one workflow task. Not in the invalid start (it
# sends nothing) nor in the run after a continue-as-new (its email-less first task only starts a timer).
# (And not a Person's history: the reordering is the Mentorship's.)
MENTORSHIP_HISTORY_FILES = [path for path in HISTORY_FILES if not path.stem.startswith(("person_", "feedback_"))]
REORDERED = [
    path for path in MENTORSHIP_HISTORY_FILES if path.stem not in ("invalid_start_input", "continued_as_new_next_run")
]


@pytest.mark.parametrize("path", REORDERED, ids=[path.stem for path in REORDERED])
async def test_a_change_of_command_order_is_caught(path: Path) -> None:
    """Same commands, other order, no patch: replaying a recorded history fails with a nondeterminism error."""
    with pytest.raises(NondeterminismError):
        await _replayer_of(_TimerFirst).replay_workflow(load(path))


@pytest.mark.parametrize("path", MENTORSHIP_HISTORY_FILES, ids=[path.stem for path in MENTORSHIP_HISTORY_FILES])
async def test_the_same_change_behind_workflow_patched_replays(path: Path) -> None:
    result = await _replayer_of(_TimerFirstPatched).replay_workflow(load(path))
    assert result.replay_failure is None


async def test_a_held_email_replays_the_same_under_another_zone_database(tmp_path: Path) -> None:
    """The quiet-hours decision was made from the recording worker's zone database and is in the history (the email
    activity's answer). A worker whose database says Kolkata is at UTC+05:45 (Kathmandu's rules, here) would now
    decide another time; replaying the history must not care."""
    history = load(HISTORIES / "quiet_hours_held.json")
    recorded = await held_answers(history)
    assert recorded, "the history holds no held email"
    quiet = QuietHours.parse("21:00-08:00")
    # Today's database agrees with the recording (Ana's reminder and nudge, both held to her 08:00).
    assert [held_until(issued_at, "Asia/Kolkata", quiet) for issued_at, _ in recorded] == [u for _, u in recorded]
    issued_at, until = recorded[0]

    other = tmp_path / "zoneinfo"
    (other / "Asia").mkdir(parents=True)
    kathmandu = importlib.resources.files("tzdata.zoneinfo") / "Asia" / "Kathmandu"
    (other / "Asia" / "Kolkata").write_bytes(kathmandu.read_bytes())
    zoneinfo.reset_tzpath(to=[str(other)])
    zoneinfo.ZoneInfo.clear_cache()
    local_time.zone.cache_clear()
    try:
        differs = held_until(issued_at, "Asia/Kolkata", quiet)
        assert differs is not None and differs != until, "the other database should change the decision"
        result = await replayer().replay_workflow(history)
        assert result.replay_failure is None
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()
        local_time.zone.cache_clear()
    assert held_until(issued_at, "Asia/Kolkata", quiet) == until


async def held_answers(history: WorkflowHistory) -> list[tuple[datetime, datetime]]:
    """(issued_at, held_until) of every email the activity held, from the history."""
    scheduled: dict[int, Notification] = {}
    found = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            if attributes.activity_type.name == SEND_NOTIFICATION:
                [scheduled[event.event_id]] = pydantic_data_converter.payload_converter.from_payloads(
                    attributes.input.payloads, [Notification]
                )
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            completed = event.activity_task_completed_event_attributes
            notification = scheduled.get(completed.scheduled_event_id)
            if notification is not None:
                [receipt] = pydantic_data_converter.payload_converter.from_payloads(
                    completed.result.payloads, [SendReceipt]
                )
                if receipt.held_until is not None:
                    assert notification.issued_at is not None
                    found.append((notification.issued_at, receipt.held_until))
    return found
