"""How a workflow's events get out to other services: one at a time, in sequence order, beside the main loop.

Shared by the Mentorship, Feedback and Person workflows and the WebhookOutbox workflow (workflows/webhook_outbox.py)
and imported into them (passed through the sandbox). The workflow hands each decided change's events to its
``EventOutbox``; the main loop calls ``dispatch`` and never awaits a delivery, so a receiver that is down holds up
neither the mentorship nor its emails.

- **In order.** One delivery at a time, so a receiver sees a workflow's events in sequence order; the next waits
  until the one before is delivered, or given up on after ``WEBHOOK_GIVE_UP_AFTER`` (three days) of retries.
- **Nobody subscribed, no delivery.** Which endpoints take which events is the worker's configuration, which a
  workflow cannot read deterministically: a local activity (``count_webhook_subscribers``) reads it for each
  event, recorded as one marker. An event no endpoint takes is done there (counted as delivered); only one that
  some endpoint takes costs a delivery activity. Behind the patch ``webhooks-only-when-subscribed``: runs that
  began before it schedule a delivery for every event, as they did.
- **Retries cost no history.** The activity ``deliver_event`` (activities/webhooks.py) is retried by the server
  with backoff and jitter; only its last attempt is recorded.
- **Given up on**: counted in ``WebhookStats.given_up`` (the status and the UI's details show it) and in the
  metric ``mentorship_webhook_events_given_up``, with the reason.
- **Handed over.** A workflow that ends while deliveries are still being retried does not wait days for them: it
  hands what is left to a WebhookOutbox workflow of its own (``hand_over``), which outlives it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

import workflows.delivery as delivery
import workflows.metrics as metrics
from workflows.contract import WebhookStats
from workflows.events import (
    COUNT_WEBHOOK_SUBSCRIBERS,
    DELIVER_EVENT,
    WEBHOOK_ATTEMPT_TIMEOUT,
    WEBHOOK_GIVE_UP_AFTER,
    WEBHOOK_HEARTBEAT_TIMEOUT,
    WEBHOOK_OUTBOX_WORKFLOW_TYPE,
    WEBHOOK_RETRY,
    WEBHOOK_SUBSCRIBERS_TIMEOUT,
    DeliveryReport,
    MentorshipEvent,
    WebhookOutboxInput,
)

# An ending workflow waits this long for the deliveries under way before it hands them over: a receiver that is up
# answers in well under a second, and a hand-over costs a workflow.
HAND_OVER_AFTER = timedelta(minutes=2)
PATCH_ONLY_WHEN_SUBSCRIBED = "webhooks-only-when-subscribed"


class EventOutbox:
    """A workflow's events not yet delivered, and the one task delivering them."""

    def __init__(self, stats: WebhookStats, *, summarize: bool = True, on_change: Callable[[], None] | None = None):
        self.stats = stats
        self.summarize = summarize
        self._on_change = on_change
        self._queue: list[MentorshipEvent] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        """Events waiting or one being delivered."""
        return bool(self._queue)

    def add(self, events: list[MentorshipEvent]) -> None:
        self._queue.extend(events)
        self.stats.pending = len(self._queue)

    def dispatch(self) -> None:
        """Start delivering, unless already under way (called by the main loop)."""
        if self._queue and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._deliver_all())

    async def _deliver_all(self) -> None:
        while self._queue:
            event = self._queue[0]
            if not await self._subscribed(event):
                self._done_with_first()
                continue
            try:
                report: DeliveryReport = await workflow.execute_activity(
                    DELIVER_EVENT,
                    event,
                    result_type=DeliveryReport,
                    start_to_close_timeout=WEBHOOK_ATTEMPT_TIMEOUT,
                    heartbeat_timeout=WEBHOOK_HEARTBEAT_TIMEOUT,
                    schedule_to_close_timeout=WEBHOOK_GIVE_UP_AFTER,
                    retry_policy=WEBHOOK_RETRY,
                    # A hand-over must not wait for an attempt under way: the receiver drops the duplicate by id.
                    cancellation_type=workflow.ActivityCancellationType.TRY_CANCEL,
                    summary=f"webhook {event.type.value} #{event.sequence}" if self.summarize else None,
                )
                self.stats.delivered += 1
                if report.disabled:
                    workflow.logger.warning(
                        "Webhook %s: endpoint(s) answered 410 Gone and are disabled: %s",
                        event.id,
                        ", ".join(item.url for item in report.disabled),
                    )
            except ActivityError as err:
                reason = delivery.failure_reason(err)
                self.stats.given_up += 1
                self.stats.last_failure = f"{event.id} ({event.type.value}): {reason}"[:500]
                metrics.WEBHOOK_EVENTS_GIVEN_UP.add(workflow.metric_meter(), {"event": event.type.value})
                workflow.logger.warning("Webhook %s given up on: %s", event.id, reason)
            self._done_with_first()

    async def _subscribed(self, event: MentorshipEvent) -> bool:
        """Whether some configured endpoint takes the event (always, on runs from before the patch)."""
        if not workflow.patched(PATCH_ONLY_WHEN_SUBSCRIBED):
            return True
        subscribers: int = await workflow.execute_local_activity(
            COUNT_WEBHOOK_SUBSCRIBERS,
            event.type.value,
            result_type=int,
            start_to_close_timeout=WEBHOOK_SUBSCRIBERS_TIMEOUT,
        )
        if subscribers == 0:
            self.stats.delivered += 1
        return subscribers > 0

    def _done_with_first(self) -> None:
        self._queue.pop(0)
        self.stats.pending = len(self._queue)
        if self._on_change is not None:
            self._on_change()

    async def finish(self, outbox_id: str) -> None:
        """Before the workflow ends: wait a little for the deliveries under way, then hand what is left to a
        WebhookOutbox workflow (``outbox_id``, e.g. ``webhooks-{mentorship key}``) that outlives this one."""
        if not self._queue:
            return
        try:
            await workflow.wait_condition(lambda: not self._queue, timeout=HAND_OVER_AFTER)
            return
        except TimeoutError:
            pass
        if self._task is not None and not self._task.done():
            self._task.cancel()
        left = list(self._queue)
        self._queue.clear()
        try:
            await self._start_outbox(outbox_id, left)
        except WorkflowAlreadyStartedError:
            # One of the same id still delivering (a mentorship of the same pair, invited within the same second):
            # this run's id tells them apart.
            outbox_id = f"{outbox_id}-{workflow.info().run_id}"
            await self._start_outbox(outbox_id, left)
        self.stats.pending = 0
        self.stats.handed_over_to = outbox_id

    async def _start_outbox(self, outbox_id: str, events: list[MentorshipEvent]) -> None:
        await workflow.start_child_workflow(
            WEBHOOK_OUTBOX_WORKFLOW_TYPE,
            WebhookOutboxInput(events=events),
            id=outbox_id,
            task_queue=workflow.info().task_queue,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=f"Webhooks still owed by {workflow.info().workflow_id}" if self.summarize else None,
        )
