"""A bad MENTORSHIP_WEBHOOK_ENDPOINTS stops the worker at start, with the endpoint and the reason, and never shows
a secret: ``python worker.py`` run as a deployment runs it (configured by environment alone)."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from devtools.processes import worker_env

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = "whsec_" + base64.b64encode(b"a-secret-that-must-never-print!!").decode()


@pytest.mark.parametrize(
    ("endpoints", "reason"),
    [
        (
            [{"url": "http://hooks.example.com/m", "secrets": [SECRET]}],
            "endpoint 1 (http://hooks.example.com/m): url must use https (plain http is allowed only for localhost",
        ),
        (
            [{"url": "https://hooks.example.com/m", "secrets": [""]}],
            "endpoint 1 (https://hooks.example.com/m): secret 1 is empty",
        ),
        (
            [
                {"url": "https://a.example.com/m", "secrets": [SECRET]},
                {"url": "https://b.example.com/m", "secrets": [SECRET], "events": ["mentorship.checked_in"]},
            ],
            "endpoint 2 (https://b.example.com/m): 'mentorship.checked_in' is not an event type; did you mean",
        ),
    ],
    ids=["http-outside-loopback", "empty-secret", "unknown-event-type"],
)
async def test_bad_endpoints_stop_the_worker_at_start_with_the_reason(
    tmp_path: Path, endpoints: list[dict[str, Any]], reason: str
) -> None:
    env = worker_env(
        "127.0.0.1:9",  # never reached: the settings are refused before any connection
        MENTORSHIP_WEBHOOK_ENDPOINTS=json.dumps(endpoints),
        MENTORSHIP_ENCRYPTION_KEYS="",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "worker.py"),
        cwd=tmp_path,  # no .env
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    printed = output.decode()
    assert process.returncode == 2, printed
    assert "Worker not started: MENTORSHIP_WEBHOOK_ENDPOINTS: " + reason in printed, printed
    assert "Traceback" not in printed, printed
    assert SECRET not in printed and SECRET.removeprefix("whsec_") not in printed
