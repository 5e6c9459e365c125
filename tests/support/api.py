"""The HTTP API for the tests: the real app served by uvicorn on a free loopback port, beside the project's worker.

``running_api`` starts both on the session's dev server: the worker writes signed links to this very server
into its emails (MENTORSHIP_API_PUBLIC_URL), so a test can follow a link from the mail sink to the page.
"""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
import uvicorn
from temporalio.client import Client

from api.main import create_app
from devtools.mailsink import MailSink
from infra.settings import Settings
from tests.support.builders import MAIL_FROM, settings
from tests.support.links import LINK_SECRET
from worker import build_worker

API_KEY = "test-api-key-0123456789"
OTHER_API_KEY = "second-service-key-abcdef"
HOST = "127.0.0.1"
LINK = re.compile(r"https?://[^\s\"'<>]+/links/[A-Za-z0-9_.-]+")


@dataclass
class RunningApi:
    base_url: str
    settings: Settings
    task_queue: str
    sink: MailSink
    http: httpx.AsyncClient  # sends API_KEY

    def auth(self, key: str = API_KEY) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def api_settings(sink: MailSink, task_queue: str, base_url: str, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "mentorship_task_queue": task_queue,
        "smtp_host": sink.host,
        "smtp_port": sink.port,
        "mail_from": MAIL_FROM,
        "mentorship_link_template": None,
        "mentorship_api_keys": f"{API_KEY},{OTHER_API_KEY}",
        "mentorship_api_public_url": base_url,
        "mentorship_link_secret": LINK_SECRET,
        "mentorship_api_timeout_seconds": 20.0,
    }
    fields.update(overrides)
    return settings(**fields)


@asynccontextmanager
async def serving(app: Any, sock: socket.socket) -> AsyncIterator[None]:
    """uvicorn on an already bound socket, in this event loop (so the app shares the test's Temporal client)."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise AssertionError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock


@asynccontextmanager
async def running_api(client: Client, sink: MailSink, **overrides: Any) -> AsyncIterator[RunningApi]:
    sock = bound_socket()
    base_url = f"http://{HOST}:{sock.getsockname()[1]}"
    task_queue = f"mentorship-api-{uuid.uuid4().hex[:8]}"
    settings = api_settings(sink, task_queue, base_url, **overrides)
    try:
        async with (
            build_worker(client, settings),
            serving(create_app(settings, client=client), sock),
            httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as http,
        ):
            yield RunningApi(base_url, settings, task_queue, sink, http)
    finally:
        sock.close()


def text_part(message: EmailMessage) -> str:
    plain = message.get_body(preferencelist=("plain",))
    assert isinstance(plain, EmailMessage)
    return str(plain.get_content())


def links_in(message: EmailMessage) -> dict[str, str]:
    """The action links of an email's text part, by label: {"Accept": url, "Decline": url, ...}."""
    found: dict[str, str] = {}
    for line in text_part(message).splitlines():
        label, _, rest = line.partition(": ")
        match = LINK.fullmatch(rest.strip())
        if match:
            found[label.strip()] = match.group(0)
    return found
