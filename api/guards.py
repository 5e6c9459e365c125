"""What is checked before a request's body is read: the API key, and the body's size.

FastAPI reads and parses a JSON body before it runs a route's dependencies, so a key checked there comes after
the work a caller without a key should never cause (a 100 MB body parsed for nothing). This ASGI middleware runs
first: a request to a key-protected path without a valid key gets its 401 at once, and a body larger than any
valid input gets a 413 without being kept in memory beyond the limit.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The largest valid input is an invitation with every text field at its limit: about 8 KiB of JSON, or 48 KiB
# with every character escaped as \uXXXX. Anything beyond this is no input of the contract.
MAX_BODY_BYTES = 64 * 1024
# The paths that need an API key, with everything under them (the link pages carry their own credential, health
# checks none).
PROTECTED_PREFIXES = ("/mentorships", "/people")
MISSING_KEY = "a valid API key is required: 'Authorization: Bearer <key>'"


def is_a_key(api_keys: Sequence[bytes], given: bytes) -> bool:
    """Whether ``given`` is one of the keys: every key compared (no early exit), each in constant time."""
    matched = False
    for key in api_keys:
        matched |= hmac.compare_digest(key, given)
    return matched and bool(given)


def key_is_valid(api_keys: Sequence[bytes], authorization: bytes) -> bool:
    """Whether an Authorization header carries one of the keys as a bearer token."""
    scheme, _, given = authorization.partition(b" ")
    return scheme.lower() == b"bearer" and is_a_key(api_keys, given.strip())


class RequestGuard:
    def __init__(self, app: ASGIApp, *, api_keys: Sequence[bytes], max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.api_keys = list(api_keys)
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        path: str = scope["path"]
        if _protected(path) and not key_is_valid(self.api_keys, headers.get(b"authorization", b"")):
            await _problem(send, 401, MISSING_KEY, [(b"www-authenticate", b"Bearer")])
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _problem(send, 413, f"the body is larger than {self.max_body} bytes; no valid input is")
            return
        # A body without a length (chunked) is read here up to the limit, then handed on.
        if length is None and scope["method"] in ("POST", "PUT", "PATCH"):
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    await self.app(scope, _replay([], message), send)
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    await _problem(send, 413, f"the body is larger than {self.max_body} bytes; no valid input is")
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            receive = _replay(chunks, None)
        await self.app(scope, receive, send)


def _protected(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PROTECTED_PREFIXES)


def _replay(chunks: list[bytes], then: Message | None) -> Receive:
    body = b"".join(chunks)
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return then if then is not None else {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _problem(send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    # The API's one error shape (api.errors.Problem), written here because no route runs.
    body = json.dumps({"detail": detail, "errors": []}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
