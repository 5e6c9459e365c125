"""The local webhook receiver (devtools/webhook_receiver.py) over HTTP on loopback, as `make dev` runs it: a
verified delivery is answered 204, logged on one line and listed by ``GET /webhooks``; a redelivery is logged as a
duplicate; a forged one is answered 400 and logged with the reason; the list is served to loopback names only."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from devtools.webhook_receiver import WebhookReceiver

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    started = WebhookReceiver(secrets=[SECRET])
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


def event(workflow_id: str, sequence: int, kind: str = "mentorship.invited") -> dict[str, Any]:
    return {
        "id": f"evt_{workflow_id}_{sequence}",
        "type": kind,
        "occurred_at": datetime.now(UTC).isoformat(),
        "workflow_id": workflow_id,
        "mentorship_key": workflow_id,
        "sequence": sequence,
        "actor": {"id": "ben", "role": "mentee"},
        "data": {},
    }


def delivery(item: dict[str, Any], secret: str = SECRET) -> tuple[str, dict[str, str]]:
    body = json.dumps(item)
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(item["id"], now, body)
    return body, {
        "webhook-id": item["id"],
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


async def test_verified_events_are_logged_one_line_each_and_listed(
    receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="webhook_receiver")
    first, second, other = event("m-a", 1), event("m-a", 2, "mentorship.accepted"), event("m-b", 1)
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(receiver.url)).json() == []
        for item in (first, second, other, first):
            body, headers = delivery(item)
            assert (await http.post(receiver.url, content=body, headers=headers)).status_code == 204
        assert (await http.get(receiver.url)).json() == [first, second, other, first]
        assert (await http.get(receiver.url, params={"workflow_id": "m-a"})).json() == [first, second, first]
        assert (await http.get(receiver.url, params={"type": "mentorship.accepted"})).json() == [second]
        listed = await http.get(receiver.url.replace("127.0.0.1", "localhost"))
        assert listed.status_code == 200 and listed.headers["content-type"].startswith("application/json")
    assert [record.getMessage() for record in caplog.records] == [
        "verified #1 mentorship.invited workflow=m-a actor=mentee:ben id=evt_m-a_1",
        "verified #2 mentorship.accepted workflow=m-a actor=mentee:ben id=evt_m-a_2",
        "verified #1 mentorship.invited workflow=m-b actor=mentee:ben id=evt_m-b_1",
        "duplicate #1 mentorship.invited workflow=m-a actor=mentee:ben id=evt_m-a_1",
    ]
    assert receiver.duplicates == 1


async def test_a_forged_delivery_is_refused_and_logged_with_the_reason(
    receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    foreign = "whsec_" + base64.b64encode(bytes(32)).decode()
    body, headers = delivery(event("m-a", 1), secret=foreign)
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(receiver.url, content=body, headers=headers)
        assert answer.status_code == 400
        unsigned = await http.post(receiver.url, content=body)
        assert unsigned.status_code == 400
        assert (await http.get(receiver.url)).json() == []
    refused = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(refused) == 2 and all(line.startswith("rejected: ") for line in refused), refused
    assert "No matching signature found (webhook-id evt_m-a_1, from 127.0.0.1)" in refused[0]
    assert "webhook-id missing" in refused[1]
    assert SECRET not in caplog.text and foreign not in caplog.text


async def test_the_list_is_served_to_loopback_host_names_only(receiver: WebhookReceiver) -> None:
    """A page on another site that rebinds its name to 127.0.0.1 sends its own name as Host: refused."""
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(receiver.url, headers={"Host": "attacker.example"})
    assert answer.status_code == 403
