"""The codec server: lets the Temporal UI and CLI show encrypted payloads decoded, to the operators allowed to.

    python -m infra.codec_server [--host 127.0.0.1] [--port 8081]
    temporal server start-dev --ui-codec-endpoint http://localhost:8081
    temporal workflow show -w mentorship-ana--ben --codec-endpoint http://localhost:8081 --codec-auth "Bearer $TOKEN"

It speaks Temporal's remote-codec protocol: ``POST /decode`` and ``POST /encode`` take and answer
``{"payloads": [...]}``, each payload in protobuf JSON (metadata values and data base64). Keys come from
MENTORSHIP_ENCRYPTION_KEYS, as for the worker (see ``infra/encryption.py``).

Whoever reaches /decode reads names, addresses and notes, so: it listens on loopback by default; it answers
only requests whose Host is one of its own names (loopback, plus CODEC_SERVER_ALLOWED_HOSTS), so a DNS-rebinding
page cannot reach it; a browser request from any origin but CODEC_SERVER_CORS_ORIGINS (the UI's) is refused with
403; and with CODEC_SERVER_TOKEN set every request must carry ``Authorization: Bearer <token>`` (the CLI's
``--codec-auth``; the UI sends its user's access token when configured to, which suits a UI behind an identity
provider that issues that same token).
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial

from aiohttp import hdrs, web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from infra.encryption import EncryptionCodec, EncryptionError
from infra.settings import Settings

log = logging.getLogger("mentorship.codec_server")

# A request may carry several payloads of up to the server's default 2 MB limit each.
MAX_REQUEST_BYTES = 16 * 1024 * 1024
# What the UI and the CLI send besides the body.
ALLOWED_HEADERS = "authorization,content-type,x-namespace"
PATHS = ("/encode", "/decode")

Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# The names this machine answers to on loopback; a deployment adds its own with CODEC_SERVER_ALLOWED_HOSTS.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port (and an IPv6 address without its brackets), lowercased."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def build_app(
    codec: PayloadCodec,
    *,
    allowed_origins: Sequence[str] = ("http://localhost:8233",),
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
    token: str | None = None,
) -> web.Application:
    origins = frozenset(origin.strip().rstrip("/") for origin in allowed_origins if origin.strip())
    hosts = frozenset(host_name(host) for host in allowed_hosts if host.strip())
    expected = f"Bearer {token}".encode() if token else None

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        allowed = origin if origin in origins else None
        response: web.StreamResponse
        if host_name(request.headers.get(hdrs.HOST, "")) not in hosts:
            # DNS rebinding: a page of another site, its name now pointing here, calls with its own Host.
            log.warning("refused %s %s: Host %r is not allowed", request.method, request.path, request.host)
            return web.Response(status=403, text="this Host is not allowed (CODEC_SERVER_ALLOWED_HOSTS)")
        if origin is not None and allowed is None:
            # A browser page of any other origin is refused outright, not only denied the CORS headers: a
            # request it could still send would otherwise be decoded (and could be read after a rebinding).
            log.warning("refused %s %s: Origin %r is not allowed", request.method, request.path, origin)
            return web.Response(status=403, text="this Origin is not allowed (CODEC_SERVER_CORS_ORIGINS)")
        if request.method == hdrs.METH_OPTIONS and request.path in PATHS:
            # A preflight carries no credentials; it is answered before the token check, as browsers require.
            response = web.Response(status=204 if allowed is not None else 403)
            if allowed is not None:
                response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = "POST"
                response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = ALLOWED_HEADERS
                response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = "600"
        elif expected is not None and not hmac.compare_digest(
            request.headers.get(hdrs.AUTHORIZATION, "").encode(), expected
        ):
            log.warning("refused %s %s from %s: no or wrong bearer token", request.method, request.path, request.remote)
            response = web.Response(
                status=401, text="a bearer token is required", headers={hdrs.WWW_AUTHENTICATE: "Bearer"}
            )
        else:
            response = await handler(request)
        # Also on errors, so that the UI can show why it got no payloads.
        if allowed is not None:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = allowed
            # The UI's "include cross-origin credentials" setting needs this, or the browser drops the answer.
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
        response.headers[hdrs.VARY] = hdrs.ORIGIN
        return response

    app = web.Application(middlewares=[guard], client_max_size=MAX_REQUEST_BYTES)
    app.add_routes(
        [
            web.post("/encode", partial(_apply, codec.encode)),
            web.post("/decode", partial(_apply, codec.decode)),
        ]
    )
    return app


async def _apply(transform: Transform, request: web.Request) -> web.Response:
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return web.Response(status=413, text=f"request larger than {MAX_REQUEST_BYTES} bytes")
    try:
        payloads = json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
    except json_format.ParseError as err:
        return web.Response(status=400, text=f'expected {{"payloads": [...]}} in protobuf JSON: {err}')
    try:
        result = await transform(payloads.payloads)
    except EncryptionError as err:
        return web.Response(status=400, text=str(err))
    # Counts only: the payloads themselves are what must stay out of logs.
    log.info("%s %d payload(s) for namespace %s", request.path, len(result), request.headers.get("X-Namespace", "?"))
    return web.Response(text=json_format.MessageToJson(Payloads(payloads=result)), content_type="application/json")


def app_from_settings(settings: Settings) -> web.Application:
    keys = settings.encryption_keys
    if not keys:
        raise EncryptionError("MENTORSHIP_ENCRYPTION_KEYS is not set: there is nothing to decode")
    return build_app(
        EncryptionCodec(keys),
        allowed_origins=settings.codec_cors_origins,
        allowed_hosts=settings.codec_allowed_hosts,
        token=settings.codec_token,
    )


@asynccontextmanager
async def serving(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run ``app`` in this event loop (``port`` 0: a free one) and yield its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.codec_server", description="Decode and encode Temporal payloads for the UI and the CLI."
    )
    parser.add_argument("--host", help="default: CODEC_SERVER_HOST, else 127.0.0.1")
    parser.add_argument("--port", type=int, help="default: CODEC_SERVER_PORT, else 8081")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
        app = app_from_settings(settings)
    except EncryptionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    host = args.host or settings.codec_server_host
    port = args.port if args.port is not None else settings.codec_server_port
    keys = settings.encryption_keys
    token = settings.codec_token
    log.info(
        "codec server on http://%s:%d: encrypts with key %r, decrypts with %s; browsers allowed from %s; %s",
        host,
        port,
        keys[0].id,
        ", ".join(repr(key.id) for key in keys),
        settings.codec_server_cors_origins,
        "bearer token required" if token else "no token required (CODEC_SERVER_TOKEN unset)",
    )
    if token is None and not _is_loopback(host):
        log.warning("listening beyond loopback without CODEC_SERVER_TOKEN: anyone who reaches it can decode")
    web.run_app(app, host=host, port=port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
