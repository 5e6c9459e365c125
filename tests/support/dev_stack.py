"""``make dev`` (``python -m devtools.dev``) as a process of the test, on free ports and a temporary data folder:
its output collected line by line, and when its banner says everything is up."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devtools.dev import READY_BANNER
from devtools.processes import ChildProcess, child_env, distinct_free_ports

START_DEADLINE = 120.0
STOP_DEADLINE = 60.0


@dataclass
class DevStack:
    process: ChildProcess
    data_dir: Path
    temporal_port: int
    ui_port: int
    mail_port: int
    api_port: int
    webhook_port: int
    lines: list[str] = field(default_factory=list)
    banner: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def ports(self) -> tuple[int, int, int, int]:
        return (self.temporal_port, self.ui_port, self.mail_port, self.webhook_port)

    @property
    def webhook_url(self) -> str:
        """The local receiver's address: POST a delivery, GET the events received."""
        return f"http://127.0.0.1:{self.webhook_port}/webhooks"

    def collect(self, line: str) -> None:
        # Read all along (a full pipe would block the supervisor's prints and so the supervisor), kept whole.
        self.lines.append(line)
        if READY_BANNER in line:
            self.banner.set()


@asynccontextmanager
async def running_dev_stack(tmp_path: Path) -> AsyncIterator[DevStack]:
    """``python -m devtools.dev`` with its ports and data folder given by environment, the shell's Temporal, mail
    and project settings (webhook endpoints included) and its WEBHOOK_RECEIVER_* left out; stopped (SIGTERM,
    SIGKILL after a minute) if still running at the end. Its children get SIGTERM from the kernel if it dies
    (PR_SET_PDEATHSIG)."""
    temporal_port, ui_port, mail_port, api_port, webhook_port = distinct_free_ports(5)
    env = child_env(
        drop=("SMTP_", "TEMPORAL_", "MENTORSHIP_", "WEBHOOK_RECEIVER_"),
        MENTORSHIP_DATA_DIR=str(tmp_path / "data"),
        # Set (empty) so a developer's .env cannot switch encryption on for the test's plain client.
        MENTORSHIP_ENCRYPTION_KEYS="",
        # Set (empty) so a developer's .env cannot send the events elsewhere than to make dev's own receiver.
        MENTORSHIP_WEBHOOK_ENDPOINTS="",
        TEMPORAL_DEV_PORT=str(temporal_port),
        TEMPORAL_UI_PORT=str(ui_port),
        MAIL_SINK_PORT=str(mail_port),
        MENTORSHIP_API_PORT=str(api_port),
        WEBHOOK_RECEIVER_PORT=str(webhook_port),
        PYTHONUNBUFFERED="1",
    )
    process = ChildProcess("make dev", [sys.executable, "-m", "devtools.dev"], env=env, stop_timeout=STOP_DEADLINE)
    stack = DevStack(process, tmp_path / "data", temporal_port, ui_port, mail_port, api_port, webhook_port)
    process.on_line = stack.collect
    await process.start()
    try:
        yield stack
    finally:
        await process.stop()


async def wait_until_up(stack: DevStack) -> None:
    exited = asyncio.create_task(stack.process.wait())
    banner = asyncio.create_task(stack.banner.wait())
    done, _ = await asyncio.wait({exited, banner}, timeout=START_DEADLINE, return_when=asyncio.FIRST_COMPLETED)
    exited.cancel()
    banner.cancel()
    if banner not in done:
        why = "exited" if exited in done else f"was not up within {START_DEADLINE:.0f}s"
        pytest.fail(f"`python -m devtools.dev` {why}; its output:\n{stack.output}")
