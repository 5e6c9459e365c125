"""Deliver one event to every endpoint that wants it, per the Standard Webhooks specification (issue 17).

``WebhookSender(settings).deliver_event`` POSTs the event's JSON (``workflows/events.py``; names, addresses and
free text only when MENTORSHIP_WEBHOOK_PERSONAL_DATA opts in) to each endpoint of MENTORSHIP_WEBHOOK_ENDPOINTS whose
filter takes its type, signed with the ``standardwebhooks`` library:

- ``webhook-id``: the event's id, the same in every attempt (receivers drop duplicates by it);
- ``webhook-timestamp``: this attempt's time, in seconds (receivers refuse one more than 5 minutes off);
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` once per configured secret, space-separated (rotation).

Each POST has a timeout (MENTORSHIP_WEBHOOK_TIMEOUT_SECONDS), follows no redirect, and reads at most 4 KiB of the
answer. 2xx: delivered. 410 Gone: the receiver asks to be left alone; reported as disabled, never retried. Anything
else (another status, a redirect, a timeout, a refused connection): the attempt fails with a retryable
``WebhookDeliveryFailed``, with a jittered exponential delay (``next_retry_delay``; a receiver's Retry-After is
honoured up to an hour). Endpoints that answered 2xx or 410 are kept in the heartbeat details, so the retry
posts only to the ones still owed: a receiver that answered 2xx never gets the event again from this activity
(it may still, rarely, from a worker that died between its answer and the heartbeat: at least once, same id).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from standardwebhooks import Webhook
from temporalio import activity
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.service import RPCError, RPCStatusCode

from infra.settings import Settings
from infra.webhook_endpoints import WebhookEndpoint
from workflows import metrics
from workflows.events import (
    COUNT_WEBHOOK_SUBSCRIBERS,
    DELIVER_EVENT,
    WEBHOOK_DELIVERY_FAILED,
    WEBHOOK_ENDPOINT_WORKFLOW_TYPE,
    WEBHOOK_RETRY,
    DeliveryReport,
    DisableEndpointInput,
    EndpointInput,
    EndpointOutcome,
    EndpointStatus,
    MentorshipEvent,
    endpoint_workflow_id,
)

# How much of a receiver's answer is read (for the log and the failure's details): never a whole body.
MAX_RESPONSE_BYTES = 4096
USER_AGENT = "mentorship-webhooks/1"
# The longest a receiver's Retry-After is honoured.
MAX_RETRY_AFTER = timedelta(hours=1)


@dataclass
class _Outcome:
    endpoint: WebhookEndpoint
    status: int | None
    error: str | None
    retry_after: timedelta | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        return self.status == 410


def retry_delay(attempt: int, retry_after: timedelta | None = None) -> timedelta:
    """Exponential backoff with 'equal jitter': half the step fixed, half random, so that receivers coming back
    are not hit by every worker at once; at least what the receiver asked for (bounded)."""
    initial = WEBHOOK_RETRY.initial_interval.total_seconds()
    ceiling = (WEBHOOK_RETRY.maximum_interval or MAX_RETRY_AFTER).total_seconds()
    step = min(ceiling, initial * WEBHOOK_RETRY.backoff_coefficient ** max(0, attempt - 1))
    delay = timedelta(seconds=step / 2 + random.uniform(0, step / 2))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def _retry_after(value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        seconds = int(value.strip())
    except ValueError:
        return None  # an HTTP date: the jittered backoff will do
    return timedelta(seconds=seconds) if seconds >= 0 else None


class EndpointRecords:
    """Which endpoints are disabled: each endpoint that answered 410 Gone has a record, the WebhookEndpoint
    workflow (workflows/webhook_endpoint.py), which an operator re-enables. Read through the worker's client and
    kept for a few seconds, so a delivery costs a query per endpoint at most that often."""

    KEEP_FOR_SECONDS = 5.0

    def __init__(self) -> None:
        self._known: dict[str, tuple[bool, float]] = {}

    @staticmethod
    def _client() -> Client | None:
        try:
            return activity.client()
        except RuntimeError:
            return None  # an activity run without a worker (a unit test's ActivityEnvironment): no records

    async def is_disabled(self, url: str) -> bool:
        known = self._known.get(url)
        if known is not None and time.monotonic() - known[1] < self.KEEP_FOR_SECONDS:
            return bool(known[0])
        client = self._client()
        if client is None:
            return False
        try:
            status = await client.get_workflow_handle(endpoint_workflow_id(url)).query(
                "status", result_type=EndpointStatus, rpc_timeout=timedelta(seconds=5)
            )
            disabled = bool(status.disabled)
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                # Better a delivery to an endpoint that asked to be left alone than an event lost: post.
                activity.logger.warning("could not read the record of %s: %s", url, err)
            disabled = False
        except WorkflowQueryFailedError as err:
            activity.logger.warning("could not read the record of %s: %s", url, err)
            disabled = False
        self._known[url] = (disabled, time.monotonic())
        return disabled

    async def disable(self, url: str, event_id: str) -> None:
        """Record the 410 (signal-with-start of the endpoint's record)."""
        self._known[url] = (True, time.monotonic())
        client = self._client()
        if client is None:
            return
        await client.start_workflow(
            WEBHOOK_ENDPOINT_WORKFLOW_TYPE,
            EndpointInput(url=url),
            id=endpoint_workflow_id(url),
            task_queue=activity.info().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal="disable",
            start_signal_args=[DisableEndpointInput(event_id=event_id, reason="410 Gone")],
            static_summary=f"Webhook endpoint {url[:200]}",
        )


class WebhookSender:
    """Holds the endpoints and their signers; register ``WebhookSender(settings).deliver_event`` with the worker."""

    def __init__(self, settings: Settings) -> None:
        self.endpoints = settings.webhook_endpoints
        self.personal_data = settings.mentorship_webhook_personal_data
        self.timeout = aiohttp.ClientTimeout(total=settings.mentorship_webhook_timeout_seconds)
        self._signers = {endpoint.url: [Webhook(secret) for secret in endpoint.secrets] for endpoint in self.endpoints}
        self._session: aiohttp.ClientSession | None = None
        self.records = EndpointRecords()

    def body(self, event: MentorshipEvent) -> str:
        """The JSON posted: the event as it may leave the service (workflows/events.py, ``for_delivery``)."""
        return event.for_delivery(self.personal_data).model_dump_json()

    def headers(self, endpoint: WebhookEndpoint, event_id: str, body: str, at: datetime) -> dict[str, str]:
        """The Standard Webhooks headers: one signature per secret of the endpoint."""
        signatures = " ".join(signer.sign(event_id, at, body) for signer in self._signers[endpoint.url])
        return {
            "webhook-id": event_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signatures,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        """Close the connections (the worker calls this once it has stopped)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, endpoint: WebhookEndpoint, event: MentorshipEvent, body: str) -> _Outcome:
        """One POST to one endpoint; never raises (the outcome says what happened)."""
        headers = self.headers(endpoint, event.id, body, datetime.now(UTC))
        try:
            async with self._client().post(
                endpoint.url, data=body.encode(), headers=headers, allow_redirects=False, timeout=self.timeout
            ) as response:
                answer = await response.content.read(MAX_RESPONSE_BYTES)
                status = response.status
                if 200 <= status < 300 or status == 410:
                    return _Outcome(endpoint, status, None)
                text = answer.decode("utf-8", "replace").strip()
                if 300 <= status < 400:
                    where = response.headers.get("location", "?")
                    error = f"answered {status} (a redirect to {where[:200]}, not followed)"
                else:
                    error = f"answered {status}" + (f": {text[:300]}" if text else "")
                return _Outcome(endpoint, status, error, _retry_after(response.headers.get("retry-after")))
        except TimeoutError:
            return _Outcome(endpoint, None, f"no answer within {self.timeout.total} s")
        except aiohttp.ClientError as exc:
            return _Outcome(endpoint, None, f"could not post: {type(exc).__name__}: {exc}")

    @activity.defn(name=COUNT_WEBHOOK_SUBSCRIBERS)
    async def count_subscribers(self, event_type: str) -> int:
        """How many configured endpoints take events of this type (a local activity: reads configuration only).
        Disabled endpoints count: whether one is disabled is decided when delivering."""
        return sum(1 for endpoint in self.endpoints if endpoint.takes(event_type))

    @activity.defn(name=DELIVER_EVENT)
    async def deliver_event(self, event: MentorshipEvent) -> DeliveryReport:
        info = activity.info()
        progress = _progress(info.heartbeat_details)
        delivered: list[str] = progress["delivered"]
        disabled = [EndpointOutcome.model_validate(item) for item in progress["disabled"]]
        done = set(delivered) | {item.url for item in disabled}
        wanted = [endpoint for endpoint in self.endpoints if endpoint.takes(event.type)]
        owed = [endpoint for endpoint in wanted if endpoint.url not in done]
        # A disabled endpoint (it answered 410 Gone) gets nothing until an operator re-enables it.
        skipped = [endpoint.url for endpoint in owed if await self.records.is_disabled(endpoint.url)]
        owed = [endpoint for endpoint in owed if endpoint.url not in skipped]
        body = self.body(event)

        def beat() -> None:
            activity.heartbeat(
                {"delivered": sorted(delivered), "disabled": [item.model_dump(mode="json") for item in disabled]}
            )

        async def one(endpoint: WebhookEndpoint) -> _Outcome:
            outcome = await self.post(endpoint, event, body)
            if outcome.delivered:
                delivered.append(endpoint.url)
                beat()  # at once: a retry must not post to it again
            elif outcome.gone:
                disabled.append(EndpointOutcome(url=endpoint.url, status=410, error="410 Gone: endpoint disabled"))
                beat()
                await self.records.disable(endpoint.url, event.id)
            return outcome

        outcomes = await asyncio.gather(*(one(endpoint) for endpoint in owed))
        meter = activity.metric_meter()
        for url in skipped:
            metrics.WEBHOOK_ATTEMPTS.add(meter, {"event": event.type.value, "result": "skipped"})
            activity.logger.info("webhook %s %s to %s: skipped, the endpoint is disabled", event.type, event.id, url)
        for outcome in outcomes:
            result = "delivered" if outcome.delivered else "gone" if outcome.gone else "failed"
            metrics.WEBHOOK_ATTEMPTS.add(meter, {"event": event.type.value, "result": result})
            if outcome.error is not None:
                activity.logger.warning(
                    "webhook %s %s to %s %s", event.type, event.id, outcome.endpoint.url, outcome.error
                )
            else:
                activity.logger.info(
                    "webhook %s %s to %s: %s", event.type, event.id, outcome.endpoint.url, outcome.status
                )
        failed = [outcome for outcome in outcomes if not outcome.delivered and not outcome.gone]
        if failed:
            retry_after = max((o.retry_after for o in failed if o.retry_after is not None), default=None)
            summary = "; ".join(f"{o.endpoint.url} {o.error}" for o in failed)
            raise ApplicationError(
                f"event {event.id} not delivered to {len(failed)} of {len(wanted)} endpoint(s): {summary}",
                {
                    "failed": [
                        EndpointOutcome(url=o.endpoint.url, status=o.status, error=o.error).model_dump(mode="json")
                        for o in failed
                    ],
                    "delivered": sorted(delivered),
                },
                type=WEBHOOK_DELIVERY_FAILED,
                non_retryable=False,
                # Expected while a receiver is down: logged above once per endpoint (warning), not again with a
                # traceback per attempt by the SDK; counted in mentorship_webhook_attempts.
                category=ApplicationErrorCategory.BENIGN,
                next_retry_delay=retry_delay(info.attempt, retry_after),
            )
        return DeliveryReport(
            event_id=event.id,
            delivered=sorted(delivered),
            disabled=disabled,
            skipped=skipped,
            not_subscribed=len(self.endpoints) - len(wanted),
            attempts=info.attempt,
        )


def _progress(details: Sequence[Any]) -> dict[str, Any]:
    """The latest heartbeat's details: endpoints done in earlier attempts. A real worker hands them over as
    payloads; the test environment as the values heartbeated."""
    empty: dict[str, Any] = {"delivered": [], "disabled": []}
    if not details:
        return empty
    last = details[-1]
    if isinstance(last, Payload):
        last = activity.payload_converter().from_payload(last, dict)
    if not isinstance(last, dict):
        return empty
    return {"delivered": list(last.get("delivered", [])), "disabled": list(last.get("disabled", []))}
