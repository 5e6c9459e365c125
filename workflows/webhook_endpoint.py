"""The WebhookEndpoint workflow: one per endpoint that answered ``410 Gone``, holding whether it is disabled.

The Standard Webhooks specification reads 410 as "stop sending": the delivery activity (activities/webhooks.py)
signals ``disable`` to this endpoint's record (id ``webhook-endpoint-{hash of the url}``, started by the signal),
and skips a disabled endpoint until an operator re-enables it with the update ``enable`` (``starter.py webhooks
enable URL``). Operators find disabled endpoints in the Temporal UI with ``WebhookEndpointDisabled = true``.
It never ends; a record changes a few times in its life, so it has no need to continue as new.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    import workflows.rules as rules
    import workflows.search_attributes as sa
    from workflows.contract import INVALID_INPUT, TRUSTED, explain
    from workflows.events import (
        WEBHOOK_ENDPOINT_WORKFLOW_TYPE,
        DisableEndpointInput,
        EnableEndpointInput,
        EndpointInput,
        EndpointStatus,
        endpoint_workflow_id,
    )


@workflow.defn(name=WEBHOOK_ENDPOINT_WORKFLOW_TYPE)
class WebhookEndpointRecord:
    @workflow.init
    def __init__(self, *inputs: Any) -> None:
        self._invalid: str | None = None
        self._changes = 0
        self._changes_seen = 0
        self._published: bool | None = None
        try:
            raw = rules.single_input(inputs, "the endpoint input")
            input = EndpointInput.model_validate(raw, context={TRUSTED: True})
        except ValidationError as err:
            self._invalid = f"the endpoint input is not valid: {explain(err)}"
            return
        except rules.Refused as refused:
            self._invalid = str(refused)
            return
        if workflow.info().workflow_id != endpoint_workflow_id(input.url):
            self._invalid = f"an endpoint's record has the id {endpoint_workflow_id(input.url)}"
            return
        self.state = input.carried or EndpointStatus(url=input.url)

    @workflow.run
    async def run(self, *inputs: Any) -> None:
        if self._invalid is not None:
            raise ApplicationError(self._invalid, type=INVALID_INPUT, non_retryable=True)
        while True:
            self._publish()
            self._changes_seen = self._changes
            await workflow.wait_condition(lambda: self._changes != self._changes_seen)

    @workflow.query(name="status")
    def status(self) -> EndpointStatus:
        if self._invalid is not None:
            raise ApplicationError(self._invalid, type=INVALID_INPUT)
        return self.state

    @workflow.signal(name="disable")
    def disable(self, *inputs: Any) -> None:
        if self._invalid is not None:
            return
        try:
            given = rules.parse_input("disable", DisableEndpointInput, inputs)
        except rules.Refused as refused:
            workflow.logger.warning("Refused signal disable: %s", refused)
            return
        if self.state.disabled:
            return  # several deliveries under way may all have had the 410
        self.state.disabled = True
        self.state.disabled_at = workflow.now()
        self.state.disabled_by_event = given.event_id
        self.state.reason = given.reason
        self.state.times_disabled += 1
        self._changes += 1

    @workflow.update(name="enable")
    def enable(self, *inputs: Any) -> EndpointStatus:
        given = rules.parse_input("enable", EnableEndpointInput, inputs)
        if self.state.disabled:
            self.state.disabled = False
            self.state.enabled_at = workflow.now()
            self.state.enabled_by = given.by
            self._changes += 1
        return self.state

    @enable.validator
    def _validate_enable(self, *inputs: Any) -> None:
        if self._invalid is not None:
            raise ValueError(self._invalid)
        try:
            rules.parse_input("enable", EnableEndpointInput, inputs)
        except rules.Refused as refused:
            raise ValueError(str(refused)) from None

    def _publish(self) -> None:
        if self.state.disabled != self._published:
            workflow.upsert_search_attributes([sa.WEBHOOK_ENDPOINT_DISABLED.value_set(self.state.disabled)])
            self._published = self.state.disabled
        state = self.state
        if state.disabled:
            details = (
                f"**Disabled** since {state.disabled_at.isoformat() if state.disabled_at else '?'}: "
                f"{state.reason} (event {state.disabled_by_event}). Re-enable: `starter.py webhooks enable URL`"
            )
        else:
            details = "**Enabled**" + (f" again by {state.enabled_by}" if state.enabled_by else "")
        workflow.set_current_details(f"**Endpoint:** {state.url}\n\n{details}")
