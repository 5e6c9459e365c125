"""`make dev` for real: the orchestrator starts Temporal, the mail sink, the webhook receiver and the worker, and
stops them cleanly.

Runs ``python -m devtools.dev`` as a subprocess on free ports and a temporary data folder, exactly as a
developer would (only the ports and the folder differ), and talks to what it started over the network.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import stat
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest
import temporalio.api.operatorservice.v1 as operatorservice
from standardwebhooks import Webhook
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.client import Client

import mentorship_client
from devtools.dev import WORKER_READY
from devtools.processes import ROOT, child_env, descendants, port_in_use
from infra.encryption import CONTRACT_DATA_CONVERTER
from infra.temporal import indexed_value_type
from infra.webhook_endpoints import check_secret, parse_endpoints
from tests.support.dev_stack import STOP_DEADLINE, DevStack, running_dev_stack, wait_until_up
from workflows.contract import MentorshipStatus, Stage
from workflows.search_attributes import SEARCH_ATTRIBUTE_TYPES


@pytest.fixture
async def dev_stack(tmp_path: Path) -> AsyncIterator[DevStack]:
    async with running_dev_stack(tmp_path) as stack:
        yield stack


def http_get_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        status: int = response.status
        return status


async def wait_for_files(folder: Path, pattern: str, deadline: float) -> list[Path]:
    limit = time.monotonic() + deadline
    while True:
        found = await asyncio.to_thread(lambda: sorted(folder.glob(pattern)))
        if found or time.monotonic() > limit:
            return found
        await asyncio.sleep(0.1)


def worker_environment(stack: DevStack) -> dict[str, str]:
    """The environment `make dev` gave its worker (``python .../worker.py``), read from /proc."""
    for pid in descendants(stack.process.pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if not any(arg.endswith(b"worker.py") for arg in argv):
                continue
            raw = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        return dict(entry.decode().partition("=")[::2] for entry in raw.split(b"\0") if entry)
    raise AssertionError(f"no worker.py process under `make dev` (pid {stack.process.pid})")


def signed(secret: str, event: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """A delivery of ``event`` as the worker sends it: the body and the Standard Webhooks headers."""
    body = json.dumps(event)
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": event["id"],
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(event["id"], now, body),
    }
    return body, headers


def receiver_lines(stack: DevStack) -> list[str]:
    return [line for line in stack.lines if line.startswith("[webhooks]")]


async def wait_for_line(stack: DevStack, text: str, deadline: float = 10) -> str:
    limit = time.monotonic() + deadline
    while time.monotonic() < limit:
        found = [line for line in receiver_lines(stack) if text in line]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"the receiver logged no line with {text!r}; `make dev` printed:\n{stack.output}")


# One stack for all of it (starting one takes a while): up, each part answers, the demo's events arrive, it stops.
@pytest.mark.timeout(300)
async def test_make_dev_starts_everything_and_stops_cleanly(dev_stack: DevStack) -> None:
    await wait_until_up(dev_stack)
    assert WORKER_READY in dev_stack.output, "the banner must wait for the worker to poll"

    # Temporal answers, with the project's search attributes registered at their types.
    client = await Client.connect(f"127.0.0.1:{dev_stack.temporal_port}", namespace="default")
    listed = await client.operator_service.list_search_attributes(
        operatorservice.ListSearchAttributesRequest(namespace="default")
    )
    registered = dict(listed.custom_attributes)
    for name, kind in SEARCH_ATTRIBUTE_TYPES.items():
        assert name in registered, f"search attribute {name} is not registered"
        assert registered[name] == indexed_value_type(kind), (
            f"{name} is {IndexedValueType.Name(registered[name])}, expected {kind}"
        )

    # The Web UI serves its page.
    assert await asyncio.to_thread(http_get_status, f"http://127.0.0.1:{dev_stack.ui_port}/") == 200

    # The mail sink takes a message, keeps it as a file and logs one line for it.
    message = EmailMessage()
    message["From"] = "dev-stack-test@example.org"
    message["To"] = "someone@example.org"
    message["Subject"] = "dev stack smoke test"
    message.set_content("hello")
    await aiosmtplib.send(message, hostname="127.0.0.1", port=dev_stack.mail_port, timeout=10)
    saved = await wait_for_files(dev_stack.data_dir / "mail", "*.eml", deadline=10)
    assert len(saved) == 1, f"expected one .eml in {dev_stack.data_dir / 'mail'}, found {saved}"
    assert b"dev stack smoke test" in saved[0].read_bytes()
    assert (dev_stack.data_dir / "temporal.db").exists()

    await check_the_webhook_receiver(dev_stack)
    await check_the_demo_events(dev_stack)

    # Ctrl-C: everything stops, exit code 0, every port is free again.
    dev_stack.process.send_signal(signal.SIGINT)
    try:
        code = await asyncio.wait_for(dev_stack.process.wait(), STOP_DEADLINE)
    except TimeoutError:
        pytest.fail(f"not stopped {STOP_DEADLINE:.0f}s after SIGINT; output:\n{dev_stack.output}")
    assert code == 0, dev_stack.output
    assert any(line.startswith("[mail]") and "someone@example.org" in line for line in dev_stack.lines), (
        "the sink logs a line per message"
    )
    busy = [port for port in dev_stack.ports if port_in_use(port)]
    assert not busy, f"ports still in use after stopping: {busy}\n{dev_stack.output}"


async def check_the_webhook_receiver(stack: DevStack) -> None:
    """The receiver is up with a secret made once (0600), the worker is told to deliver there with that secret,
    the banner says where to look, and a delivery is verified and logged (a forged one rejected, with the reason)."""
    secret_file = stack.data_dir / "webhook-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600, "the webhook secret must be readable by its owner only"
    secret = check_secret(secret_file.read_text().strip(), 1)
    assert secret not in stack.output, "the webhook secret must never be printed"
    assert any(stack.webhook_url in line and "Webhooks" in line for line in stack.lines), (
        f"the banner must name the receiver; output:\n{stack.output}"
    )
    await wait_for_line(stack, f"listening on {stack.webhook_url}")

    # The worker is given the receiver as its one endpoint, signing with the secret in the file.
    endpoints = parse_endpoints(worker_environment(stack).get("MENTORSHIP_WEBHOOK_ENDPOINTS"))
    assert [(endpoint.url, endpoint.secrets) for endpoint in endpoints] == [(stack.webhook_url, (secret,))]

    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(stack.webhook_url)).json() == []
        event = {
            "id": "evt_dev-stack-smoke_1",
            "type": "mentorship.invited",
            "occurred_at": datetime.now(UTC).isoformat(),
            "workflow_id": "dev-stack-smoke",
            "mentorship_key": "dev-stack-smoke",
            "sequence": 1,
            "actor": {"id": "ben", "role": "mentee"},
            "data": {},
        }
        body, headers = signed(secret, event)
        assert (await http.post(stack.webhook_url, content=body, headers=headers)).status_code == 204
        line = await wait_for_line(stack, "verified #")
        assert "#1 mentorship.invited workflow=dev-stack-smoke actor=mentee:ben id=evt_dev-stack-smoke_1" in line
        assert (await http.get(stack.webhook_url, params={"workflow_id": "dev-stack-smoke"})).json() == [event]

        forged = {**headers, "webhook-signature": "v1,AAAA"}
        answer = await http.post(stack.webhook_url, content=body, headers=forged)
        assert answer.status_code == 400
        line = await wait_for_line(stack, "rejected:")
        assert "evt_dev-stack-smoke_1" in line and "signature" in line.lower(), line
        assert len((await http.get(stack.webhook_url)).json()) == 1


async def check_the_demo_story(stack: DevStack, workflow_id: str) -> None:
    """The demo went through every stage, both gave feedback, and each email it counted is in the mail folder."""
    client = await Client.connect(
        f"127.0.0.1:{stack.temporal_port}", namespace="default", data_converter=CONTRACT_DATA_CONVERTER
    )
    final = await client.get_workflow_handle(workflow_id, result_type=MentorshipStatus).result()
    assert final.feedback_workflow_id is not None
    feedback = await mentorship_client.feedback_status(client, final.feedback_workflow_id)
    assert feedback.closed and feedback.summary_sent and len(feedback.answers) == 2
    assert final.stage is Stage.COMPLETED and final.wrap_up_sent and final.changes_agreed == 1
    events = [entry.event for entry in final.timeline]
    for expected in (
        "invited",
        "invitation reminder 1 sent",
        "accepted",
        "at risk",
        "back on track",
        "paused",
        "resumed",
        "change 1 proposed",
        "change 1 accepted",
        "completed",
    ):
        assert expected in events, expected
    assert len(final.check_ins) == 2 and final.notification_failures == []
    mailed = [
        path
        for path in (stack.data_dir / "mail").glob("*.eml")
        if BytesParser().parsebytes(path.read_bytes(), headersonly=True)["X-Mentorship-Workflow-Id"] == workflow_id
    ]
    assert final.notifications_sent == len(mailed)


async def check_the_demo_events(dev_stack: DevStack) -> None:
    """With `make dev` running, `python starter.py demo` shows its events verified and logged by the local
    receiver, each mentorship's in sequence."""
    env = child_env(
        TEMPORAL_ADDRESS=f"127.0.0.1:{dev_stack.temporal_port}",
        TEMPORAL_NAMESPACE="default",
        TEMPORAL_CONFIG_FILE="/dev/null",
        MENTORSHIP_ENCRYPTION_KEYS="",
        PYTHONUNBUFFERED="1",
    )
    demo = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "starter.py"),
        "demo",
        "--fast",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    raw, _ = await asyncio.wait_for(demo.communicate(), 180)
    printed = raw.decode()
    assert demo.returncode == 0, f"the demo failed:\n{printed}\n`make dev` printed:\n{dev_stack.output}"
    match = re.search(r"invited: (\S+)", printed)
    assert match, printed
    workflow_id = match.group(1)
    assert re.search(r"Events: \d+ emitted by the mentorship, 2 by its feedback", printed), printed
    await check_the_demo_story(dev_stack, workflow_id)

    # Delivered by the worker, verified by the receiver: listed, and logged one line each. The mentorship's events
    # are those with its mentorship_key (the Feedback workflow's continue its sequence); a redelivery (at least
    # once) counts once.
    # The demo waited for the end and the feedback: its events are due by now, bar the last few in flight.
    limit = time.monotonic() + 30
    events: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=10) as http:
        while time.monotonic() < limit:
            received = (await http.get(dev_stack.webhook_url)).json()
            keys = {e["mentorship_key"] for e in received if e["workflow_id"] == workflow_id and e["mentorship_key"]}
            events = []
            for event in received:
                if event["mentorship_key"] in keys and all(event["id"] != kept["id"] for kept in events):
                    events.append(event)
            if any(event["type"] == "mentorship.completed" for event in events):
                break
            await asyncio.sleep(0.5)
    types = [event["type"] for event in events]
    assert "mentorship.invited" in types, (
        f"the receiver verified no mentorship.invited for {workflow_id} (got {types})\n`make dev` printed:\n"
        f"{dev_stack.output}"
    )
    assert types[0] == "mentorship.invited" and "mentorship.completed" in types, types
    # The mentorship's own events arrive in order; its Feedback workflow's (which continue the sequence) may
    # overtake its last ones: the sequence numbers give the order, with no gap.
    sequences = sorted(event["sequence"] for event in events)
    assert sequences == list(range(1, len(sequences) + 1)), f"sequences must run from 1 with no gap: {sequences}"
    own = [event["sequence"] for event in events if event["type"] != "mentorship.feedback.submitted"]
    assert own == sorted(own), f"a mentorship's own events arrive in order: {own}"
    logged = [line for line in receiver_lines(dev_stack) if f"workflow={workflow_id} " in line]
    assert any("verified #1 mentorship.invited" in line for line in logged), logged
    # None rejected but the delivery the receiver's check forged on purpose.
    rejected = [line for line in receiver_lines(dev_stack) if "rejected:" in line]
    assert all("evt_dev-stack-smoke_1" in line for line in rejected), dev_stack.output
