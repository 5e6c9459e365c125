"""A local webhook receiver: verifies each delivery with the ``standardwebhooks`` library, logs it and keeps it.

For the tests (started in-process on a loopback port; told to answer 5xx or 410, to redirect, or to be down) and
for ``make dev``, which runs it on 127.0.0.1:8089 with the secret it keeps in ``.data/webhook-secret``::

    python -m devtools.webhook_receiver --port 8089 --secret-file .data/webhook-secret
    WEBHOOK_RECEIVER_SECRET=whsec_... python -m devtools.webhook_receiver --port 8089
    python -m devtools.webhook_receiver --port 8089 --secret whsec_...   # visible in `ps`: for a quick try only

Secrets come from every ``--secret-file`` (one or more a file, one a line), ``WEBHOOK_RECEIVER_SECRET`` (comma- or
space-separated) and every ``--secret``; any one of them verifies a delivery (rotation). Each is checked at start
(``whsec_`` + base64 of 24 to 64 bytes) and never printed.

``POST /webhooks`` takes a delivery. Verified: answered 204, kept, and logged on one line::

    verified #3 mentorship.accepted workflow=mentorship-ben-1a2b-ana-1a2b actor=mentor:ana-1a2b id=evt_..._3

(``duplicate`` instead of ``verified`` for a ``webhook-id`` already received: delivery is at least once; ``actor=-``
for timed events). A delivery that does not verify is answered 400, kept in ``rejected`` and logged as
``rejected: <the library's reason> (webhook-id ..., from ...)``, never in ``received``.

``GET /webhooks`` answers the events received so far (since the receiver started), oldest first, as a JSON list of
the events as delivered; ``?workflow_id=...`` and ``?type=...`` narrow it. Only to loopback host names (a web page
elsewhere cannot read it through DNS rebinding).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from infra.webhook_endpoints import check_secret, is_loopback

log = logging.getLogger("webhook_receiver")
PATH = "/webhooks"
MAX_BODY = 1024 * 1024
DEFAULT_PORT = 8089
# Where the command line also looks for secrets, so that none need be in its arguments (and so in `ps`).
SECRET_ENV = "WEBHOOK_RECEIVER_SECRET"


class SecretError(Exception):
    """No secret, or one that is not a Standard Webhooks secret; the message says where from, never the secret."""


def load_secrets(
    given: Sequence[str] = (), files: Sequence[Path] = (), env: Mapping[str, str] | None = None
) -> list[str]:
    """The secrets to verify with: from each file (whitespace-separated, so one a line), from ``SECRET_ENV`` in
    ``env`` (comma- or space-separated), then ``given``; each checked, duplicates dropped, order kept."""
    sources: list[tuple[str, list[str]]] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise SecretError(f"cannot read the secret file {path}: {err.strerror or err}") from None
        sources.append((f"the secret file {path}", text.split()))
    raw = (os.environ if env is None else env).get(SECRET_ENV, "")
    if raw.strip():
        sources.append((SECRET_ENV, re.split(r"[\s,]+", raw.strip())))
    if given:
        sources.append(("--secret", list(given)))
    found: list[str] = []
    for where, values in sources:
        values = [value for value in values if value]
        if not values:
            raise SecretError(f"{where} holds no secret")
        for number, value in enumerate(values, 1):
            try:
                secret = check_secret(value, number)
            except ValueError as err:
                raise SecretError(f"{where}: {err}") from None
            if secret not in found:
                found.append(secret)
    if not found:
        raise SecretError(f"no secret: give --secret-file PATH, set {SECRET_ENV}, or give --secret whsec_...")
    return found


def describe(event: Mapping[str, Any]) -> str:
    """One verified event on one line: its sequence, type, workflow, actor (role:id, ``-`` for a timed event) and
    id."""
    actor = event.get("actor")
    who = f"{actor.get('role')}:{actor.get('id')}" if isinstance(actor, Mapping) else "-"
    return (
        f"#{event.get('sequence')} {event.get('type')} workflow={event.get('workflow_id')} actor={who} "
        f"id={event.get('id')}"
    )


@dataclass
class Delivery:
    """One verified delivery: the event as received and the Standard Webhooks headers."""

    event: dict[str, Any]
    webhook_id: str
    timestamp: str
    signature: str


@dataclass
class WebhookReceiver:
    secrets: list[str]
    host: str = "127.0.0.1"
    port: int = 0
    # What to answer a verified delivery with: 204 (taken), or e.g. 500, 503, 410.
    status: int = 204
    # Answer 307 to this address instead (a sender must not follow it).
    redirect_to: str | None = None
    # Answer 503 to this many verified deliveries first (then as ``status`` says): a receiver that hiccups.
    fail_next: int = 0
    received: list[Delivery] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    # Every request that reached it, verified or not, whatever it answered.
    requests: int = 0
    _runner: web.AppRunner | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{PATH}"

    @property
    def events(self) -> list[dict[str, Any]]:
        return [delivery.event for delivery in self.received]

    @property
    def duplicates(self) -> int:
        """Deliveries of an id already received (at-least-once delivery makes a few)."""
        return len(self.received) - len({delivery.webhook_id for delivery in self.received})

    def verify(self, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        """The event, if any secret verifies it; WebhookVerificationError otherwise."""
        reason = "no secret"
        for secret in self.secrets:
            try:
                event: dict[str, Any] = Webhook(secret).verify(body, headers)
                return event
            except WebhookVerificationError as err:
                reason = str(err)
        raise WebhookVerificationError(reason)

    def listing(self, workflow_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """The events received, oldest first; only those of ``workflow_id`` and of type ``kind`` when given."""
        return [
            event
            for event in self.events
            if (workflow_id is None or event.get("workflow_id") == workflow_id)
            and (kind is None or event.get("type") == kind)
        ]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        body = await request.content.read(MAX_BODY)
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            event = self.verify(body, headers)
        except (WebhookVerificationError, ValueError) as err:
            self.rejected.append(str(err))
            log.warning(
                "rejected: %s (webhook-id %s, from %s)", err, headers.get("webhook-id", "missing"), request.remote
            )
            return web.Response(status=400, text=f"not verified: {err}")
        if self.redirect_to is not None:
            return web.Response(status=307, headers={"Location": self.redirect_to})
        if self.fail_next > 0:
            self.fail_next -= 1
            log.info("webhook %s %s verified, answered 503 as told (once)", event.get("type"), event.get("id"))
            return web.Response(status=503, text="told to fail once")
        if not 200 <= self.status < 300:
            log.info("webhook %s %s verified, answered %s as told", event.get("type"), event.get("id"), self.status)
            return web.Response(status=self.status, text="told to fail")
        webhook_id = headers["webhook-id"]
        seen = any(delivery.webhook_id == webhook_id for delivery in self.received)
        self.received.append(Delivery(event, webhook_id, headers["webhook-timestamp"], headers["webhook-signature"]))
        log.info("%s %s", "duplicate" if seen else "verified", describe(event))
        return web.Response(status=self.status)

    async def _list(self, request: web.Request) -> web.StreamResponse:
        if not is_loopback(request.url.host or ""):
            return web.Response(status=403, text="the list of events is served to loopback host names only")
        query = request.rel_url.query
        events = self.listing(query.get("workflow_id"), query.get("type"))
        return web.Response(text=json.dumps(events, indent=2) + "\n", content_type="application/json")

    async def start(self) -> str:
        """Listen (on the same port as before after a ``stop``); returns the URL to configure."""
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(PATH, self._handle)
        app.router.add_get(PATH, self._list)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self.url

    async def stop(self) -> None:
        """Be down: connections are refused until ``start`` again."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


# --- Command line ---------------------------------------------------------------------------------------


def _warn_if_readable_by_others(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is readable by other users (mode %o): chmod 600 %s", path, stat.S_IMODE(mode), path)


async def _serve(receiver: WebhookReceiver) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    url = await receiver.start()
    secrets = f"{len(receiver.secrets)} secret{'s' if len(receiver.secrets) != 1 else ''}"
    log.info(
        "webhook receiver listening on %s (POST: signed deliveries, checked against %s; GET: the events received, "
        "as JSON); Ctrl-C to stop",
        url,
        secrets,
    )
    try:
        await stop.wait()
    finally:
        await receiver.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.webhook_receiver",
        description="A local receiver that verifies Standard Webhooks deliveries and logs each event.",
        epilog=f"Secrets: from --secret-file, {SECRET_ENV} and --secret, any one verifies (at least one needed).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port, 0 for any free one (default: %(default)s)"
    )
    parser.add_argument(
        "--secret-file",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="a file holding the secret(s), one a line (repeat for several files)",
    )
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="WHSEC",
        help=f"whsec_... (repeat for several); shows in `ps`: prefer --secret-file or {SECRET_ENV}",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        secrets = load_secrets(args.secret, args.secret_file)
    except SecretError as err:
        parser.error(str(err))
    for path in args.secret_file:
        _warn_if_readable_by_others(path)
    receiver = WebhookReceiver(secrets=secrets, host=args.host, port=args.port)
    try:
        asyncio.run(_serve(receiver))
    except KeyboardInterrupt:
        pass
    except OSError as err:
        print(f"webhook receiver: cannot listen on {args.host}:{args.port}: {err.strerror or err}", file=sys.stderr)
        sys.exit(1)
    log.info(
        "webhook receiver stopped: %d received (%d duplicates), %d rejected",
        len(receiver.received),
        receiver.duplicates,
        len(receiver.rejected),
    )


if __name__ == "__main__":
    main()
