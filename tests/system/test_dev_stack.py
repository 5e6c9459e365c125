"""`make dev` for real: the orchestrator starts Temporal, the mail sink and the worker, and stops them cleanly.

Runs ``python -m devtools.dev`` as a subprocess on free ports and a temporary data folder, exactly as a
developer would (only the ports and the folder differ), and talks to what it started over the network.
"""

from __future__ import annotations

import asyncio
import signal
import time
import urllib.request
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
import temporalio.api.operatorservice.v1 as operatorservice
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.client import Client

from devtools.dev import WORKER_READY
from devtools.processes import port_in_use
from infra.temporal import indexed_value_type
from tests.support.dev_stack import STOP_DEADLINE, DevStack, running_dev_stack, wait_until_up
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
