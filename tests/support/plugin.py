"""The tests' pytest plugin, registered by tests/conftest.py.

- Layers: each test lives in a folder of tests/ that names its layer, and gets that layer's marker by folder
  (``unit``, ``workflow``, ``integration``, ``system``): ``pytest -m unit``, or ``make test-unit``. A test outside
  those folders is a collection error. A unit test may not open a network connection, listen on a port or start
  a process: each of those fails it, saying where it belongs.
- Settings: no ``Settings`` built by the tests reads a ``.env`` (pydantic-settings' ``env_file`` is off for the
  whole test process), and payload encryption is off for the suite's plain clients.
- Fixtures: ``mail_sink`` and ``mail_settings``; the session's servers ``time_env`` and ``dev_env``; ``browser``.
- The reliability figures, printed at the end of the run and written to .data/reliability.json.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from devtools.mailsink import MailSink
from infra.settings import Settings
from tests.support import TESTS, reliability
from tests.support.builders import MAIL_FROM, settings
from tests.support.temporal import dev_server, time_skipping_server

if TYPE_CHECKING:
    from playwright.async_api import Browser

# The suite's clients use the plain pydantic converter: a developer's shell or .env must not switch encryption on
# for the workers the tests build (the encryption tests build their encrypting ones explicitly).
os.environ["MENTORSHIP_ENCRYPTION_KEYS"] = ""
# And no Settings() of the test process reads a .env, whoever builds it (a test, or the code under test).
Settings.model_config["env_file"] = None

# The layers, each a folder of tests/ and a marker of the same name (registered in pyproject.toml).
LAYERS = ("unit", "workflow", "integration", "system")


# --- Layers --------------------------------------------------------------------------------------------------


def layer_of(path: Path) -> str | None:
    """The layer of a test file: the folder of tests/ it lives in."""
    try:
        folder = path.resolve().relative_to(TESTS).parts[0]
    except (ValueError, IndexError):
        return None
    return folder if folder in LAYERS else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    homeless = set()
    for item in items:
        layer = layer_of(item.path)
        if layer is None:
            homeless.add(str(item.path))
        else:
            item.add_marker(layer)
    if homeless:
        raise pytest.UsageError(
            f"tests outside a layer folder ({', '.join(f'tests/{layer}/' for layer in LAYERS)}): {sorted(homeless)}"
        )


@pytest.fixture(autouse=True)
def _unit_tests_stay_in_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit test that connects, listens or starts a process fails, saying so: it belongs to another layer."""
    if request.node.get_closest_marker("unit") is None:
        return

    def refuse(what: str) -> None:
        raise AssertionError(f"a unit test may not {what}: move it to tests/integration/ or tests/system/")

    real_connect, real_connect_ex, real_bind = socket.socket.connect, socket.socket.connect_ex, socket.socket.bind

    def network(address: Any) -> bool:
        return isinstance(address, tuple)  # AF_INET and AF_INET6 addresses; AF_UNIX ones are paths

    def connect(sock: socket.socket, address: Any) -> None:
        if network(address):
            refuse(f"connect to {address}")
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        if network(address):
            refuse(f"connect to {address}")
        return real_connect_ex(sock, address)

    def bind(sock: socket.socket, address: Any) -> None:
        if network(address):
            refuse(f"listen on {address}")
        real_bind(sock, address)

    def popen(*args: Any, **kwargs: Any) -> None:
        refuse(f"start a process ({args[1] if len(args) > 1 else kwargs.get('args')})")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "bind", bind)
    monkeypatch.setattr(subprocess.Popen, "__init__", popen)


# --- Fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture
async def mail_sink() -> AsyncIterator[MailSink]:
    """A real SMTP server on a free loopback port, fresh for each test."""
    async with MailSink(port=0) as sink:
        yield sink


@pytest.fixture
def mail_settings(mail_sink: MailSink) -> Settings:
    """Settings that send to ``mail_sink``, ignoring any .env or SMTP_* in the environment."""
    return settings(
        smtp_host=mail_sink.host,
        smtp_port=mail_sink.port,
        smtp_username=None,
        smtp_password=None,
        smtp_tls=False,
        smtp_starttls=False,
        smtp_timeout_seconds=5.0,
        mail_from=MAIL_FROM,
        mail_message_id_domain=None,
        mentorship_link_template=None,
    )


@pytest_asyncio.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, shared by the session."""
    async with time_skipping_server() as env:
        yield env


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The dev server with its Web UI, shared by the session."""
    async with dev_server() as env:
        yield env


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium; the test is skipped (only) when that browser is missing or cannot start."""
    from tests.support.browser import chromium  # Playwright is imported only by the tests that use it

    async with chromium() as launched:
        yield launched


# --- Reliability figures -------------------------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the reliability figures (README, "Reliability") and keep them in .data/reliability.json."""
    lines = reliability.table()
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)
        reliability.write()
        terminalreporter.write_line(f"(also written to {reliability.REPORT_FILE.relative_to(reliability.ROOT)})")
