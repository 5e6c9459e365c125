"""The webhook activity (activities/webhooks.py) against real receivers (devtools/webhook_receiver.py) on loopback
ports, each delivery verified with the standardwebhooks library; the activity runs in Temporal's ActivityEnvironment,
and a retry is the same environment with the attempt number and the last heartbeat's details."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

import workflows.effects as effects
from activities.webhooks import WebhookSender
from devtools.webhook_receiver import WebhookReceiver
from tests.support.builders import invitation, settings
from workflows.contract import AcceptInput, CheckInInput
from workflows.events import WEBHOOK_DELIVERY_FAILED, DeliveryReport, MentorshipEvent

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"o" * 32).decode()


@pytest.fixture
async def receivers() -> AsyncIterator[list[WebhookReceiver]]:
    started = [WebhookReceiver(secrets=[SECRET]), WebhookReceiver(secrets=[OTHER])]
    for receiver in started:
        await receiver.start()
    yield started
    for receiver in started:
        await receiver.stop()


def sender_for(*endpoints: dict[str, Any]) -> WebhookSender:
    return WebhookSender(
        settings(mentorship_webhook_endpoints=json.dumps(list(endpoints)), mentorship_webhook_timeout_seconds=5)
    )


def events() -> list[MentorshipEvent]:
    start = effects.new_mentorship("mentorship-ada--ben.b", invitation(), datetime.now(UTC))
    accept = effects.Change(start.state, datetime.now(UTC))
    effects.accepted(accept, AcceptInput(by="ada"))
    check_in = effects.Change(start.state, datetime.now(UTC))
    effects.checked_in(check_in, CheckInInput(by="ben.b", rating=5))
    return start.events + accept.events + check_in.events


class Attempts:
    """The activity's attempts at one event, carrying the heartbeat details from one to the next as the server does."""

    def __init__(self) -> None:
        self.env = ActivityEnvironment()
        self.heartbeats: list[Any] = []
        self.env.on_heartbeat = lambda *details: self.heartbeats.append(details)

    async def run(self, sender: WebhookSender, event: MentorshipEvent) -> DeliveryReport:
        attempt = self.env.info.attempt
        last = list(self.heartbeats[-1]) if self.heartbeats else []
        self.env.info = dataclasses.replace(self.env.info, heartbeat_details=last)
        try:
            report: DeliveryReport = await self.env.run(sender.deliver_event, event)
            return report
        finally:
            self.env.info = dataclasses.replace(self.env.info, attempt=attempt + 1)


async def test_every_event_arrives_verified_in_sequence_and_filters_are_respected(
    receivers: list[WebhookReceiver],
) -> None:
    everything, checks_only = receivers
    sender = sender_for(
        {"url": everything.url, "secrets": [SECRET]},
        {"url": checks_only.url, "secrets": [OTHER], "events": ["mentorship.check_in.*"]},
    )
    try:
        for event in events():
            report = await Attempts().run(sender, event)
            assert report.event_id == event.id and not report.disabled
    finally:
        await sender.close()
    assert [e["type"] for e in everything.events] == [
        "mentorship.invited",
        "mentorship.accepted",
        "mentorship.check_in.recorded",
    ]
    assert [e["sequence"] for e in everything.events] == [1, 2, 3]
    assert [d.webhook_id for d in everything.received] == [e["id"] for e in everything.events]
    assert [e["type"] for e in checks_only.events] == ["mentorship.check_in.recorded"]
    assert everything.rejected == [] == checks_only.rejected and everything.duplicates == 0
    assert everything.events[0]["people"] is None, "no names or addresses unless opted in"


async def test_410_gone_is_reported_as_disabled_and_not_retried(receivers: list[WebhookReceiver]) -> None:
    gone, fine = receivers
    gone.status = 410
    sender = sender_for({"url": gone.url, "secrets": [SECRET]}, {"url": fine.url, "secrets": [OTHER]})
    try:
        report = await Attempts().run(sender, events()[0])
    finally:
        await sender.close()
    assert [(d.url, d.status) for d in report.disabled] == [(gone.url, 410)]
    assert report.delivered == [fine.url] and gone.requests == 1 and len(fine.received) == 1


async def test_a_500_is_retried_and_the_retry_delivers_once_to_each(receivers: list[WebhookReceiver]) -> None:
    flaky, fine = receivers
    flaky.status = 500
    sender = sender_for({"url": flaky.url, "secrets": [SECRET]}, {"url": fine.url, "secrets": [OTHER]})
    event = events()[0]
    attempts = Attempts()
    try:
        with pytest.raises(ApplicationError) as failed:
            await attempts.run(sender, event)
        assert failed.value.type == WEBHOOK_DELIVERY_FAILED and not failed.value.non_retryable
        assert failed.value.next_retry_delay is not None and "answered 500" in str(failed.value)
        assert len(fine.received) == 1 and flaky.received == []
        flaky.status = 204
        report = await attempts.run(sender, event)
    finally:
        await sender.close()
    assert sorted(report.delivered) == sorted([flaky.url, fine.url]) and report.attempts == 2
    assert fine.requests == 1, "a receiver that answered 2xx is never posted to again"
    assert [d.webhook_id for d in flaky.received] == [event.id] == [d.webhook_id for d in fine.received]


async def test_a_receiver_down_gets_the_event_when_it_is_back(receivers: list[WebhookReceiver]) -> None:
    down, _ = receivers
    sender = sender_for({"url": down.url, "secrets": [SECRET]})
    await down.stop()
    attempts = Attempts()
    event = events()[0]
    try:
        with pytest.raises(ApplicationError, match="could not post"):
            await attempts.run(sender, event)
        await down.start()
        report = await attempts.run(sender, event)
    finally:
        await sender.close()
    assert report.delivered == [down.url] and [e["id"] for e in down.events] == [event.id]


async def test_a_redirect_is_not_followed(receivers: list[WebhookReceiver]) -> None:
    redirecting, target = receivers
    redirecting.redirect_to = target.url
    sender = sender_for({"url": redirecting.url, "secrets": [SECRET]})
    try:
        with pytest.raises(ApplicationError, match=r"redirect .* not followed"):
            await Attempts().run(sender, events()[0])
    finally:
        await sender.close()
    assert redirecting.requests == 1 and target.requests == 0
