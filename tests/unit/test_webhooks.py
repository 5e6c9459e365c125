"""Webhook configuration refused at start with the reason (infra/webhook_endpoints.py), and deliveries signed per the
Standard Webhooks specification (activities/webhooks.py), checked with the standardwebhooks library itself."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

import workflows.effects as effects
from activities.webhooks import WebhookSender, retry_delay
from devtools.webhook_receiver import WebhookReceiver
from infra.settings import Settings
from infra.webhook_endpoints import WebhookConfigError
from tests.support.builders import invitation, settings
from workflows.events import WEBHOOK_GIVE_UP_AFTER, EventType, MentorshipEvent


def secret(fill: int) -> str:
    return "whsec_" + base64.b64encode(bytes([fill]) * 32).decode()


OLD, NEW, OTHER = secret(1), secret(2), secret(3)


def endpoints(*items: dict[str, object]) -> str:
    return json.dumps(list(items))


def configured(*items: dict[str, object], personal: bool = False) -> Settings:
    return settings(mentorship_webhook_endpoints=endpoints(*items), mentorship_webhook_personal_data=personal)


def an_event() -> MentorshipEvent:
    return effects.new_mentorship("mentorship-ada--ben.b", invitation(), datetime.now(UTC)).events[0]


def test_good_endpoints_are_parsed_and_never_shown_with_their_secrets() -> None:
    parsed = configured(
        {"url": "https://hooks.example.com/m", "secrets": [OLD, NEW], "events": ["mentorship.change.*"]},
        {"url": "http://127.0.0.1:8089/webhooks", "secrets": [OTHER]},
        {"url": "http://localhost:8089/webhooks", "secrets": [OTHER]},
        {"url": "http://[::1]:8089/webhooks", "secrets": [OTHER]},
    )
    first, local, *_ = parsed.webhook_endpoints
    assert first.secrets == (OLD, NEW) and first.events == ("mentorship.change.*",) and local.events is None
    assert first.takes(EventType.CHANGE_LAPSED) and not first.takes(EventType.COMPLETED) and local.takes("person.*")
    assert OLD not in repr(parsed) and OLD not in repr(first)
    assert settings().webhook_endpoints == () and settings(mentorship_webhook_endpoints="").webhook_endpoints == ()
    assert settings().mentorship_webhook_personal_data is False


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("[{", "is not JSON"),
        ('"https://x"', "must be a JSON list"),
        (endpoints({"url": "http://hooks.example.com/m", "secrets": [OLD]}), "must use https"),
        (endpoints({"url": "http://10.0.0.5/m", "secrets": [OLD]}), "must use https"),
        (endpoints({"url": "ftp://hooks.example.com/m", "secrets": [OLD]}), "http\\(s\\) address"),
        (endpoints({"url": "https://user:pw@hooks.example.com/m", "secrets": [OLD]}), "user or password"),
        (endpoints({"url": "https://hooks.example.com/m", "secrets": [""]}), "secret 1 is empty"),
        (endpoints({"url": "https://hooks.example.com/m", "secrets": []}), "one or more"),
        (endpoints({"url": "https://hooks.example.com/m"}), "one or more"),
        (endpoints({"url": "https://hooks.example.com/m", "secrets": [OLD, "s3cret"]}), "secret 2 must start with"),
        (endpoints({"url": "https://hooks.example.com/m", "secrets": ["whsec_!!notbase64"]}), "not valid base64"),
        (endpoints({"url": "https://hooks.example.com/m", "secrets": ["whsec_c2hvcnQ="]}), "decodes to 5 bytes"),
        (
            endpoints({"url": "https://hooks.example.com/m", "secrets": [OLD], "events": ["mentorship.complete"]}),
            "'mentorship.complete' is not an event type; did you mean 'mentorship.completed'",
        ),
        (endpoints({"url": "https://hooks.example.com/m", "secrets": [OLD], "events": ["billing.*"]}), "no event"),
        (endpoints({"url": "https://hooks.example.com/m", "secrets": [OLD], "events": []}), "non-empty list"),
        (endpoints({"url": "https://hooks.example.com/m", "secret": [OLD]}), "unknown field"),
        (
            endpoints(
                {"url": "https://a.example/m", "secrets": [OLD]}, {"url": "https://a.example/m", "secrets": [NEW]}
            ),
            "endpoint 2 \\(https://a.example/m\\): the same url is listed twice",
        ),
    ],
)
def test_bad_endpoints_are_refused_at_start_with_the_reason(value: str, reason: str) -> None:
    with pytest.raises(WebhookConfigError, match=reason) as refused:
        settings(mentorship_webhook_endpoints=value)
    assert "MENTORSHIP_WEBHOOK_ENDPOINTS" in str(refused.value)
    for each in (OLD, NEW, OLD[6:], NEW[6:]):
        assert each not in str(refused.value), "a refusal never quotes a secret"


def test_every_signature_verifies_with_the_library_and_the_id_is_the_events() -> None:
    sender = WebhookSender(configured({"url": "https://hooks.example.com/m", "secrets": [OLD, NEW]}))
    (endpoint,) = sender.endpoints
    event = an_event()
    body = sender.body(event)
    at = datetime.now(UTC)
    headers = sender.headers(endpoint, event.id, body, at)
    assert headers["webhook-id"] == event.id == f"evt_{event.mentorship_key}_1"
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))
    assert len(headers["webhook-signature"].split(" ")) == 2, "one signature per secret"
    assert all(part.startswith("v1,") for part in headers["webhook-signature"].split(" "))
    for each in (OLD, NEW):
        assert Webhook(each).verify(body, headers) == json.loads(body)
    assert json.loads(body)["type"] == "mentorship.invited"
    # The same event signed again (a retry) keeps its id.
    assert sender.headers(endpoint, event.id, body, at + timedelta(minutes=1))["webhook-id"] == event.id


def test_a_tampered_body_or_a_foreign_secret_fails_verification() -> None:
    sender = WebhookSender(configured({"url": "https://hooks.example.com/m", "secrets": [OLD]}))
    event = an_event()
    body = sender.body(event)
    headers = sender.headers(sender.endpoints[0], event.id, body, datetime.now(UTC))
    tampered = body.replace('"mentorship.invited"', '"mentorship.completed"')
    assert tampered != body
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD).verify(tampered, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD).verify(body, {**headers, "webhook-id": "evt_other_1"})
    stale = sender.headers(sender.endpoints[0], event.id, body, datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(OLD).verify(body, stale)


def test_rotation_a_receiver_holding_only_the_new_secret_accepts() -> None:
    sender = WebhookSender(configured({"url": "https://hooks.example.com/m", "secrets": [OLD, NEW]}))
    event = an_event()
    body = sender.body(event)
    headers = sender.headers(sender.endpoints[0], event.id, body, datetime.now(UTC))
    assert WebhookReceiver(secrets=[NEW]).verify(body.encode(), headers)["id"] == event.id
    assert WebhookReceiver(secrets=[OLD]).verify(body.encode(), headers)["id"] == event.id
    with pytest.raises(WebhookVerificationError):
        WebhookReceiver(secrets=[OTHER]).verify(body.encode(), headers)


def test_personal_data_leaves_only_when_the_deployment_opts_in() -> None:
    event = an_event()
    plain = WebhookSender(configured({"url": "https://h.example/m", "secrets": [OLD]})).body(event)
    opted = WebhookSender(configured({"url": "https://h.example/m", "secrets": [OLD]}, personal=True)).body(event)
    assert "Ada Lovelace" not in plain and "ada@example.com" not in plain and '"people":null' in plain
    assert "Ada Lovelace" in opted and "ada@example.com" in opted


def test_retries_back_off_exponentially_with_jitter_for_up_to_three_days() -> None:
    first = [retry_delay(1) for _ in range(50)]
    assert all(timedelta(seconds=2.5) <= d <= timedelta(seconds=5) for d in first) and len(set(first)) > 1
    assert timedelta(seconds=40) <= retry_delay(5) <= timedelta(seconds=80)
    assert retry_delay(40) <= timedelta(hours=1)
    assert retry_delay(1, timedelta(minutes=5)) == timedelta(minutes=5)
    assert retry_delay(1, timedelta(days=1)) == timedelta(hours=1)
    assert WEBHOOK_GIVE_UP_AFTER == timedelta(days=3)
