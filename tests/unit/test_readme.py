"""The README has runnable examples of every action, for the `temporal` CLI and for the HTTP API (they are run as
written in tests/integration/test_readme_examples.py and tests/system/test_api_dev_stack.py); its webhook event
catalog is what the effects emit, and its receiver snippet verifies what the service signs."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import WebhookVerificationError

from activities.webhooks import WebhookSender
from devtools.dev import DEV_API_KEY
from tests.support import event_catalog, stories
from tests.support.builders import settings
from tests.support.readme import API_README, README_ADDRESS, api_examples, readme_examples
from workflows.contract import CONTRACT_VERSION, ActionAnswer, MentorshipStatus
from workflows.events import EventType


def test_the_readme_has_examples_of_every_action() -> None:
    text = " ".join(e.command for e in readme_examples())
    for name in ("accept", "check_in", "pause", "resume", "withdraw", "invite", "status"):
        assert f"--name {name}" in text or f"--update-name {name}" in text, name
    assert "workflow start --type Mentorship --task-queue mentorship" in text


def test_the_readme_walks_through_a_whole_mentorship() -> None:
    setup, blocks = api_examples()
    assert blocks, f'{API_README} has no "HTTP API" curl examples (<!-- api-example --> blocks)'
    text = " ".join(body for body, _ in blocks)
    assert README_ADDRESS in setup and DEV_API_KEY in setup
    assert '-X POST "$API/mentorships"' in text
    for action in ("accept", "check_in", "pause", "resume", "withdraw"):
        assert f'/{action}"' in text, action
    assert '"$API/mentorships/mentorship-' in text and '"$API/mentorships?' in text


ROOT = Path(__file__).resolve().parents[2]
# The packages whose every module the README's map names.
MAPPED = ("workflows", "activities", "api", "infra", "devtools")


def code_map() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("## Map of the code", 1)[1].split("```", 2)[1]


def test_the_readme_map_matches_the_tree() -> None:
    text = code_map()
    named = set(re.findall(r"[\w/]+\.py|[\w]+/", text))
    # Everything the map names exists.
    for name in named:
        assert list(ROOT.glob(f"**/{name.rstrip('/')}")), f"the README's map names {name}, which is not in the tree"
    # Every module of the mapped packages is named (by file or module name).
    for package in MAPPED:
        assert f"{package}/" in text, package
        for module in sorted((ROOT / package).rglob("*.py")):
            if module.name in ("__init__.py", "__main__.py"):
                continue
            assert module.stem in text, f"{module.relative_to(ROOT)} is missing from the README's map"


# --- Webhooks: the event catalog, made from the effects, and the receiver snippet, run as written --------------


def test_the_readme_event_catalog_is_what_the_effects_emit() -> None:
    examples = event_catalog.examples()
    shown = event_catalog.readme_examples()
    assert list(shown) == [str(kind) for kind in EventType], "one example per type, in the order of EventType"
    for kind, event in examples.items():
        assert shown[kind] == event, f"the README's {kind} example differs from what the effects emit"
        assert event["people"] is None and event["text"] is None, "the examples are delivered without personal data"
    assert event_catalog.readme_catalog() == event_catalog.render(), (
        "the README's event catalog is out of date: run `python -m tests.support.event_catalog --write`"
    )


async def test_the_readme_receiver_verifies_a_real_delivery_and_refuses_a_tampered_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, secret = ("whsec_" + base64.b64encode(bytes([fill]) * 32).decode() for fill in (1, 2))
    # The service signs with two secrets (rotating); the receiver holds the new one, from its environment.
    sender = WebhookSender(
        settings(
            mentorship_webhook_endpoints=json.dumps([{"url": "https://hooks.example.com/m", "secrets": [old, secret]}])
        )
    )
    event = stories.example_of_each_type()[EventType.CHECK_IN_RECORDED]
    body = sender.body(event)
    headers = sender.headers(sender.endpoints[0], event.id, body, datetime.now(UTC))
    tampered = body.replace('"rating":4', '"rating":5')
    assert tampered != body

    monkeypatch.setenv("WEBHOOK_SECRET", secret)
    receiver: dict[str, Any] = {"__name__": "readme_receiver"}
    exec(compile(event_catalog.verify_snippet(), "README.md (Verifying a delivery)", "exec"), receiver)

    assert receiver["verify"](body.encode(), headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        receiver["verify"](tampered.encode(), headers)
    # The same through the snippet's app, in-process (no socket).
    transport = httpx.ASGITransport(app=receiver["app"])
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        answer = await client.post("/webhooks", content=body.encode(), headers=headers)
        assert (answer.status_code, answer.json()) == (200, {"received": event.id})
        refused = await client.post("/webhooks", content=tampered.encode(), headers=headers)
        assert refused.status_code == 400

    monkeypatch.setenv("WEBHOOK_SECRET", "whsec_" + base64.b64encode(bytes([3]) * 32).decode())
    exec(compile(event_catalog.verify_snippet(), "README.md (Verifying a delivery)", "exec"), receiver)
    with pytest.raises(WebhookVerificationError):
        receiver["verify"](body.encode(), headers)


def test_the_readmes_update_answer_is_an_action_answer_and_its_status_example_a_status_shape() -> None:
    """The contract section's two JSON examples: the update's answer parses as an ActionAnswer with every field
    the model has (and no other), and the status example names fields the status has."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = [json.loads(block) for block in re.findall(r"```json\n(\{.*?\})\n```", text, flags=re.S)]
    (answer,) = [block for block in blocks if block.get("abridged") is True]
    assert set(answer) == set(ActionAnswer.model_fields)
    assert ActionAnswer.model_validate(answer).contract_version == CONTRACT_VERSION
    (status,) = [block for block in blocks if block.get("abridged") is False]
    assert set(status) <= set(MentorshipStatus.model_json_schema(mode="serialization")["properties"])
