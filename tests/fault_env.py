"""Real processes to break: the Temporal dev server on an SQLite file and worker processes, for tests/test_faults.py.

Everything runs as a child process exactly as deployed (``temporal server start-dev``, ``python worker.py``,
configured by environment alone), in its own session, so a test can SIGKILL it, or its whole process group, at any
moment. Output goes to a log file in the test's temporary folder, quoted in failures. ``fault_stack`` starts a
server, an in-process mail sink and one worker, and kills whatever is left in its ``finally``, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from devtools.mailsink import MailSink, free_port
from temporal_client import ensure_search_attributes
from workflows.contract import MentorshipStatus
from workflows.search_attributes import SEARCH_ATTRIBUTE_TYPES

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
HOST = "127.0.0.1"
# What worker.py logs once it polls (worker.READY_MESSAGE); read from the log, as devtools/dev.py does.
WORKER_READY = "Worker polling"
SERVER_START_TIMEOUT = 60.0
WORKER_START_TIMEOUT = 60.0
MAIL_FROM = "Mentorships <mentorships@example.org>"

# (workflow id, step, recipient role): one email, as the headers and the Message-ID name it.
MailKey = tuple[str, str, str]
T = TypeVar("T")


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port(HOST)
        if port not in ports:
            ports.append(port)
    return ports


def _die_with_parent(argv: Sequence[str]) -> list[str]:
    """Prefix ``argv`` so the child gets SIGKILL if pytest itself dies (setpriv sets PR_SET_PDEATHSIG, then execs):
    no server is left behind even when the test process is killed and its ``finally`` never runs."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *argv] if setpriv else list(argv)


class ChildProcess:
    """One child in its own session (so its process group is ours to kill), output appended to ``log``."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log = log
        self.popen: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._log_offset = 0

    def start(self) -> None:
        if self.alive:
            raise RuntimeError(f"{self.name} is already running")
        self._close_log()
        self._log_file = self.log.open("ab")
        self._log_offset = self._log_file.tell()
        # Called on the event loop's thread: PR_SET_PDEATHSIG follows the thread that forked.
        self.popen = subprocess.Popen(
            _die_with_parent(self.argv),
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def output(self, *, since_start: bool = True) -> str:
        """What this child wrote (since its latest start, by default)."""
        if not self.log.exists():
            return ""
        with self.log.open("rb") as file:
            file.seek(self._log_offset if since_start else 0)
            return file.read().decode("utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole process group and reap the child; nothing of it runs afterwards."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


async def until(
    check: Callable[[], Awaitable[T | None]],
    what: str,
    within: float,
    *,
    every: float = 0.1,
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` until it answers something other than None/False; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await check()
        if result is not None and result is not False:
            return result
        if loop.time() > deadline:
            extra = f"\n{explain()}" if explain is not None else ""
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}{extra}")
        await asyncio.sleep(every)


class DevServer:
    """``temporal server start-dev`` on an SQLite file, on fixed ports, so it can be killed and restarted as is."""

    def __init__(self, folder: Path) -> None:
        self.db_file = folder / "temporal.db"
        self.port, self.http_port, self.metrics_port = distinct_free_ports(3)
        argv = [
            str(TEMPORAL_CLI),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--headless",
            "--ip",
            HOST,
            "--port",
            str(self.port),
            "--http-port",
            str(self.http_port),
            "--metrics-port",
            str(self.metrics_port),
            "--log-level",
            "warn",
        ]
        for name, kind in SEARCH_ATTRIBUTE_TYPES.items():
            argv += ["--search-attribute", f"{name}={kind}"]
        env = {key: value for key, value in os.environ.items() if not key.startswith("TEMPORAL_")}
        self.process = ChildProcess("temporal", argv, env, folder / "temporal.log")
        self.starts = 0

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    async def start(self) -> None:
        """Start (or start again, on the same file and ports) and wait until the namespace answers with the
        project's search attributes in place."""
        self.process.start()
        self.starts += 1
        client: Client | None = None

        async def ready() -> bool:
            nonlocal client
            if not self.process.alive:
                raise AssertionError(f"the dev server exited ({self.process.returncode}):\n{self.process.output()}")
            try:
                if client is None:
                    client = await Client.connect(self.address, namespace="default")
                await ensure_search_attributes(client, "default")
            except (RuntimeError, RPCError):
                return False  # not listening yet, or the namespace is not served yet
            return True

        await until(ready, "the Temporal dev server", SERVER_START_TIMEOUT, every=0.2, explain=self.process.output)

    def kill(self) -> None:
        self.process.kill()


class WorkerProcess:
    """``python worker.py``, configured by environment only, as a deployment runs it."""

    def __init__(self, name: str, env: Mapping[str, str], folder: Path) -> None:
        self.process = ChildProcess(name, [sys.executable, "worker.py"], env, folder / f"{name}.log")

    @property
    def name(self) -> str:
        return self.process.name

    async def start(self) -> None:
        self.process.start()

        async def ready() -> bool:
            if not self.process.alive:
                raise AssertionError(f"{self.name} exited ({self.process.returncode}):\n{self.process.output()}")
            return WORKER_READY in self.process.output()

        await until(ready, f"{self.name} to poll", WORKER_START_TIMEOUT, every=0.1, explain=self.process.output)

    def kill(self) -> None:
        self.process.kill()

    @property
    def alive(self) -> bool:
        return self.process.alive

    def output(self) -> str:
        return self.process.output()


def worker_env(server: DevServer, sink: MailSink, task_queue: str) -> dict[str, str]:
    """The environment a deployment would give the worker: Temporal's own variables and config.Settings'."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEMPORAL_", "SMTP_", "MAIL_", "MENTORSHIP_"))
    }
    env.update(
        TEMPORAL_ADDRESS=server.address,
        TEMPORAL_NAMESPACE="default",
        TEMPORAL_CONFIG_FILE=os.devnull,
        MENTORSHIP_TASK_QUEUE=task_queue,
        # Set (empty) so a developer's .env cannot switch encryption on for these plain-converter clients.
        MENTORSHIP_ENCRYPTION_KEYS="",
        SMTP_HOST=sink.host,
        SMTP_PORT=str(sink.port),
        SMTP_TLS="false",
        SMTP_STARTTLS="false",
        MAIL_FROM=MAIL_FROM,
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class FaultStack:
    """One test's world: a dev server, a mail sink on a fixed port, worker processes, a client."""

    folder: Path
    server: DevServer
    sink: MailSink
    client: Client
    task_queue: str
    workers: list[WorkerProcess] = field(default_factory=list)

    async def start_worker(self) -> WorkerProcess:
        worker = WorkerProcess(
            f"worker-{len(self.workers) + 1}", worker_env(self.server, self.sink, self.task_queue), self.folder
        )
        self.workers.append(worker)
        await worker.start()
        return worker

    def handle(self, workflow_id: str) -> WorkflowHandle[Any, MentorshipStatus]:
        return self.client.get_workflow_handle(workflow_id, result_type=MentorshipStatus)

    def logs(self) -> str:
        """The tail of every child's log, for a failure message."""
        parts = [f"--- {self.server.process.name} ---\n{self.server.process.output(since_start=False)[-3000:]}"]
        parts += [f"--- {w.name} ---\n{w.process.output(since_start=False)[-3000:]}" for w in self.workers]
        return "\n".join(parts)


@asynccontextmanager
async def fault_stack(folder: Path, *, worker: bool = True) -> AsyncIterator[FaultStack]:
    """Dev server (SQLite file in ``folder``), mail sink (fixed port: it can be stopped and started again on it),
    and one worker process. Every child's process group is SIGKILLed on the way out, whatever happened."""
    server = DevServer(folder)
    sink = MailSink(port=free_port(HOST), host=HOST)
    stack: FaultStack | None = None
    try:
        await server.start()
        await asyncio.to_thread(sink.start)
        client = await Client.connect(server.address, namespace="default", data_converter=pydantic_data_converter)
        stack = FaultStack(folder, server, sink, client, f"mentorship-faults-{uuid.uuid4().hex[:8]}")
        if worker:
            await stack.start_worker()
        yield stack
    finally:
        for child in stack.workers if stack is not None else []:
            child.kill()
        server.kill()
        await asyncio.to_thread(sink.stop)


# --- Counting emails -------------------------------------------------------------------------------------


def mail_key(message: Any) -> MailKey:
    """(workflow id, step, role); the role is the last part of the Message-ID's left side
    (``<{mentorship_key}.{step}.{role}@domain>``)."""
    role = str(message["Message-ID"]).strip().strip("<>").split("@")[0].rsplit(".", 1)[1]
    return (str(message["X-Mentorship-Workflow-Id"]), str(message["X-Mentorship-Step"]), role)


class MailIndex:
    """How many times each email arrived at ``sink``, indexed as it arrives (it survives stopping and starting
    the sink again), and waiting for given emails without re-reading everything for every waiter."""

    def __init__(self, sink: MailSink) -> None:
        self.sink = sink
        self._counts: Counter[MailKey] = Counter()
        self._seen = 0
        # When each email was first seen (time.monotonic()); as precise as the calls to counts(), which every
        # arrival wakes while someone waits.
        self.first_seen: dict[MailKey, float] = {}

    def counts(self) -> Counter[MailKey]:
        deliveries = self.sink.deliveries
        now = time.monotonic()
        for delivery in deliveries[self._seen :]:
            if delivery.message["X-Mentorship-Workflow-Id"]:
                key = mail_key(delivery.message)
                self._counts[key] += 1
                self.first_seen.setdefault(key, now)
        self._seen = len(deliveries)
        return Counter(self._counts)

    def has(self, keys: Iterable[MailKey]) -> bool:
        counts = self.counts()
        return all(key in counts for key in keys)

    async def wait(self, keys: Iterable[MailKey], what: str, within: float) -> None:
        """Until every one of ``keys`` has arrived at least once; fail after ``within`` seconds saying which
        have not."""
        wanted = set(keys)

        def missing() -> str:
            absent = sorted(wanted - set(self.counts()))
            return f"{len(absent)} of {len(wanted)} emails missing, e.g. {absent[:10]}"

        await self.wait_until(lambda counts: wanted <= counts.keys(), what, within, explain=missing)

    async def wait_until(
        self,
        done: Callable[[Counter[MailKey]], bool],
        what: str,
        within: float,
        *,
        explain: Callable[[], str] | None = None,
    ) -> None:
        """Until ``done(counts)``, re-checked at every arrival; fail after ``within`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not done(self.counts()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {within:.0f}s waiting for {what}" + (f": {explain()}" if explain else "")
                )
            # Woken by the next arrival (or after a second, to re-check the deadline).
            with contextlib.suppress(TimeoutError):
                await self.sink.wait_for(self._seen + 1, timeout=min(remaining, 1.0))


@dataclass(frozen=True)
class MailTally:
    expected: int
    delivered: int
    duplicated: int
    lost: int
    unexpected: list[MailKey]
    missing: list[MailKey]


def tally(expected: Counter[MailKey] | set[MailKey], got: Counter[MailKey]) -> MailTally:
    """Compare what arrived with what should have: a duplicate is a second (third...) copy of an expected
    email, lost is an expected email that never arrived, unexpected is one nobody should have got."""
    wanted = set(expected)
    duplicated = sum(count - 1 for key, count in got.items() if key in wanted and count > 1)
    missing = sorted(wanted - set(got))
    unexpected = sorted(key for key in got if key not in wanted)
    return MailTally(
        expected=len(wanted),
        delivered=sum(1 for key in wanted if key in got),
        duplicated=duplicated,
        lost=len(missing),
        unexpected=unexpected,
        missing=missing,
    )
