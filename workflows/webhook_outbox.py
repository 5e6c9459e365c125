"""The WebhookOutbox workflow: delivers the events a workflow ended without delivering (workflows/outbox.py).

A mentorship that ends while its last events are still being retried (a receiver down) must not hold its workflow
id for days: the pair may start again at once. It hands them to this workflow (id ``webhooks-{mentorship key}``,
a child it abandons), which delivers them in order with the same activity and retries, then completes. Its result
is what happened to them.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    import workflows.outbox as outbox
    import workflows.rules as rules
    from workflows.contract import INVALID_INPUT, TRUSTED, WebhookStats, explain
    from workflows.events import WEBHOOK_OUTBOX_WORKFLOW_TYPE, WebhookOutboxInput


@workflow.defn(name=WEBHOOK_OUTBOX_WORKFLOW_TYPE)
class WebhookOutbox:
    @workflow.init
    def __init__(self, *inputs: Any) -> None:
        self._invalid: str | None = None
        self.stats = WebhookStats()
        self._outbox = outbox.EventOutbox(self.stats)
        try:
            raw = rules.single_input(inputs, "the webhook outbox input")
            self._outbox.add(WebhookOutboxInput.model_validate(raw, context={TRUSTED: True}).events)
        except ValidationError as err:
            self._invalid = f"the webhook outbox input is not valid: {explain(err)}"
        except rules.Refused as refused:
            self._invalid = str(refused)

    @workflow.run
    async def run(self, *inputs: Any) -> WebhookStats:
        if self._invalid is not None:
            raise ApplicationError(self._invalid, type=INVALID_INPUT, non_retryable=True)
        self._outbox.dispatch()
        workflow.set_current_details(f"**Delivering:** {self.stats.pending} event(s)")
        await workflow.wait_condition(lambda: not self._outbox.busy)
        return self.stats

    @workflow.query(name="status")
    def status(self) -> WebhookStats:
        return self.stats
