"""The Feedback workflow: collects both participants' feedback once an active mentorship ended.

Why a workflow of its own (id ``feedback-{mentorship key}``, started by the mentorship as it ends, and left
running when it completes): the mentorship's workflow id is the pair's, so while it stayed open to collect
feedback the same two people could not start a new mentorship. Here the pair may start again at once, and the
two never mix: each mentorship has its own key, so its own Feedback workflow, emails and Message-IDs.

The decisions (``workflows/feedback_rules.py``) are pure; handlers only decide, the main loop sends the emails
and keeps one timer (the reminder, then the close). The result is the whole ``FeedbackStatus``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    import workflows.delivery as delivery
    import workflows.effects as effects
    import workflows.feedback_rules as feedback_rules
    import workflows.outbox as outbox
    import workflows.rules as rules
    from workflows.contract import (
        FEEDBACK_WORKFLOW_TYPE,
        INVALID_INPUT,
        TRUSTED,
        FeedbackInput,
        FeedbackStart,
        FeedbackStatus,
        Notification,
        explain,
    )


# Added after release: histories recorded before it delivered no events.
PATCH_WEBHOOKS = "webhooks"


@workflow.defn(name=FEEDBACK_WORKFLOW_TYPE)
class Feedback:
    @workflow.init
    def __init__(self, *inputs: Any) -> None:
        self._invalid: str | None = None
        self._outbox: list[Notification] = []
        self._sending = 0
        self._sends: set[asyncio.Task[None]] = set()
        self._changes = 0
        self._changes_seen = 0
        try:
            raw = rules.single_input(inputs, "the feedback input")
            start = FeedbackStart.model_validate(raw, context={TRUSTED: True})
        except ValidationError as err:
            self._invalid = f"the feedback input is not valid: {explain(err)}"
            return
        except rules.Refused as refused:
            self._invalid = str(refused)
            return
        self.state, asks = feedback_rules.started(workflow.info().workflow_id, start, workflow.now())
        self._outbox.extend(asks)
        self._webhooks = outbox.EventOutbox(self.state.webhooks, on_change=self._changed)

    @workflow.run
    async def run(self, *inputs: Any) -> FeedbackStatus:
        if self._invalid is not None:
            raise ApplicationError(self._invalid, type=INVALID_INPUT, non_retryable=True)
        while True:
            self._dispatch()
            workflow.set_current_details(self._details())
            due = feedback_rules.next_due(self.state)
            if due is None:
                break
            if due.at <= workflow.now():
                self._outbox.extend(feedback_rules.fell_due(self.state, due))
                continue
            self._changes_seen = self._changes
            try:
                await workflow.wait_condition(
                    lambda: self._changes != self._changes_seen or bool(self._outbox),
                    timeout=due.at - workflow.now(),
                    timeout_summary=due.summary,
                )
            except TimeoutError:
                pass
        await workflow.wait_condition(lambda: self._sending == 0 and workflow.all_handlers_finished())
        self._dispatch()
        await workflow.wait_condition(lambda: self._sending == 0)
        await self._webhooks.finish(f"webhooks-{workflow.info().workflow_id}")
        return self.state

    @workflow.query(name="status")
    def status(self) -> FeedbackStatus:
        if self._invalid is not None:
            raise ApplicationError(self._invalid, type=INVALID_INPUT)
        return self.state

    # One action, as a signal (a refusal is recorded) and as an update (a refusal leaves no trace).

    @workflow.signal(name="feedback")
    def feedback_signal(self, *inputs: Any) -> None:
        if self._invalid is not None:
            return
        try:
            self._give(inputs)
        except rules.Refused as refused:
            raw = inputs[0] if len(inputs) == 1 else None
            effects.signal_refused(self.state, "feedback", raw, str(refused), workflow.now())
            self._changes += 1

    @workflow.update(name="feedback")
    def feedback(self, *inputs: Any) -> FeedbackStatus:
        self._give(inputs)
        return self.state

    @feedback.validator
    def _validate_feedback(self, *inputs: Any) -> None:
        try:
            if self._invalid is not None:
                raise rules.Refused(self._invalid)
            given = rules.parse_input("feedback", FeedbackInput, inputs)
            feedback_rules.may_give(self.state, given, workflow.now())
        except rules.Refused as refused:
            raise ValueError(str(refused)) from None

    def _give(self, inputs: tuple[Any, ...]) -> None:
        given = rules.parse_input("feedback", FeedbackInput, inputs)
        self._outbox.extend(feedback_rules.given(self.state, given, workflow.now()))
        if workflow.patched(PATCH_WEBHOOKS):
            self._webhooks.add([feedback_rules.submitted_event(self.state, self.state.answers[-1])])
        self._changes += 1

    # --- The main loop's I/O --------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        self._webhooks.dispatch()
        while self._outbox:
            notification = self._outbox.pop(0)
            self._sending += 1
            task = asyncio.create_task(self._deliver(notification))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def _deliver(self, notification: Notification) -> None:
        try:
            await delivery.send(notification, held_emails=self.state.held_emails, on_hold=self._changed)
            self.state.notifications_sent += 1
        except ActivityError as err:
            error = delivery.failure_reason(err)
            feedback_rules.notification_failed(self.state, notification, error, workflow.now())
            workflow.logger.warning("Feedback email %s to %s failed: %s", notification.step, notification.to, error)
        finally:
            self._sending -= 1
            self._changes += 1

    def _changed(self) -> None:
        self._changes += 1

    def _details(self) -> str:
        state = self.state
        answered = ", ".join(f"{a.role.value} ({a.rating}/5)" for a in state.answers) or "nobody yet"
        status = "closed" if state.closed else f"open until {state.closes_at.isoformat()}"
        lines = [
            f"**Feedback on:** {state.mentorship_workflow_id}",
            f"**Answered:** {answered}",
            f"**Window:** {status}",
        ]
        if state.held_emails:
            held = "; ".join(f"{e.step} to the {e.to.value} until {e.until.isoformat()}" for e in state.held_emails)
            lines.append(f"**Held for quiet hours:** {held}")
        return "\n\n".join(lines)
