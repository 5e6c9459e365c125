"""A local webhook receiver: verifies each delivery with the ``standardwebhooks`` library, logs it and keeps it.

For the tests (started in-process on a loopback port; told to answer 5xx or 410, to redirect, or to be down) and,
later, for ``make dev`` (issue 17)::

    python -m devtools.webhook_receiver --port 8089 --secret whsec_...   # several --secret: any one verifies

A delivery that does not verify is answered 400 and kept in ``rejected`` with the library's reason, never in
``received``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

log = logging.getLogger("webhook_receiver")
PATH = "/webhooks"
MAX_BODY = 1024 * 1024


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
    received: list[Delivery] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    # Every request that reached it, verified or not, whatever it answered.
    requests: int = 0
    _runner: web.AppRunner | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{PATH}"

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

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        body = await request.content.read(MAX_BODY)
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            event = self.verify(body, headers)
        except (WebhookVerificationError, ValueError) as err:
            self.rejected.append(str(err))
            log.warning("webhook refused: %s", err)
            return web.Response(status=400, text=f"not verified: {err}")
        if self.redirect_to is not None:
            return web.Response(status=307, headers={"Location": self.redirect_to})
        if not 200 <= self.status < 300:
            log.info("webhook %s %s verified, answered %s as told", event.get("type"), event.get("id"), self.status)
            return web.Response(status=self.status, text="told to fail")
        self.received.append(
            Delivery(event, headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"])
        )
        log.info(
            "webhook %s #%s %s verified (%s)",
            event.get("type"),
            event.get("sequence"),
            event.get("workflow_id"),
            event.get("id"),
        )
        return web.Response(status=self.status)

    async def start(self) -> str:
        """Listen (on the same port as before after a ``stop``); returns the URL to configure."""
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(PATH, self._handle)
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


async def _serve(receiver: WebhookReceiver) -> None:
    url = await receiver.start()
    log.info("webhook receiver at %s", url)
    try:
        await asyncio.Event().wait()
    finally:
        await receiver.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--secret", action="append", required=True, help="whsec_... (repeat for several)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    receiver = WebhookReceiver(secrets=args.secret, host=args.host, port=args.port)
    try:
        asyncio.run(_serve(receiver))
    except KeyboardInterrupt:
        pass
    print(json.dumps({"received": len(receiver.received), "rejected": len(receiver.rejected)}))


if __name__ == "__main__":
    main()
