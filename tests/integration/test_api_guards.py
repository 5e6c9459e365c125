"""What the API checks before it reads a body: the key first, then the size (real HTTP, uvicorn on loopback).

No Temporal is needed: a request refused here never reaches a route.
"""

from __future__ import annotations

import asyncio

import httpx

from api.guards import MAX_BODY_BYTES
from api.main import create_app
from tests.support.api import API_KEY, bound_socket, serving
from tests.support.builders import settings
from workflows.actions import PARTICIPANT_ACTIONS

BIG = 100 * 1024 * 1024


async def answer_before_the_body(base_url: str, *, key: str | None, chunked: bool, sent: int) -> int:
    """Announce a 100 MB body, send only ``sent`` bytes of it, and read the status the server answers: an answer
    that comes before the body is proof the body was not read."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        head = [
            "POST /mentorships HTTP/1.1",
            f"Host: {host}:{port}",
            "Content-Type: application/json",
            "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BIG}",
        ]
        if key is not None:
            head.append(f"Authorization: Bearer {key}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        part = b"x" * sent
        writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n" if chunked else part)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
        return int(status_line.split()[1])
    finally:
        writer.close()


async def test_the_key_is_checked_and_the_size_capped_before_the_body_is_read() -> None:
    sock = bound_socket()
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings(mentorship_api_keys=API_KEY))
    try:
        async with serving(app, sock), httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            # Without a key: 401 at once, with a 100 MB body announced and barely begun.
            for chunked in (False, True):
                assert await answer_before_the_body(base_url, key=None, chunked=chunked, sent=1024) == 401
            answer = await http.post(
                "/mentorships", content=b"{}", headers={"Authorization": "Bearer wrong-key-000000"}
            )
            assert answer.status_code == 401 and answer.json()["detail"].startswith("a valid API key is required")
            assert answer.headers["WWW-Authenticate"] == "Bearer"
            # With a key: a body larger than any valid input is 413, declared or found out while reading it (the
            # server reads no more than the limit).
            assert await answer_before_the_body(base_url, key=API_KEY, chunked=False, sent=1024) == 413
            assert await answer_before_the_body(base_url, key=API_KEY, chunked=True, sent=MAX_BODY_BYTES + 1) == 413
            answer = await http.post(
                "/mentorships",
                content=b" " * (MAX_BODY_BYTES + 1),
                headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
            )
            assert answer.status_code == 413 and "larger than" in answer.json()["detail"]
            # A body within the limit reaches validation as before.
            answer = await http.post("/mentorships", json={"mentor": 1}, headers={"Authorization": f"Bearer {API_KEY}"})
            assert answer.status_code == 422
            # Health needs no key.
            assert (await http.get("/livez")).status_code == 200
    finally:
        sock.close()


async def test_a_lone_surrogate_is_refused_with_a_clear_error() -> None:
    sock = bound_socket()
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings(mentorship_api_keys=API_KEY))
    body = (
        '{"mentor": {"id": "ana", "name": "Ana \\ud800", "email": "ana@example.com"}, '
        '"mentee": {"id": "ben", "name": "Ben", "email": "ben@example.com"}, "initiated_by": "mentee"}'
    )
    try:
        async with serving(app, sock), httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            answer = await http.post(
                "/mentorships",
                content=body.encode(),
                headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
            )
            assert answer.status_code == 422, answer.text
            assert answer.json()["errors"] == [
                {"field": "mentor.name", "reason": "must not contain unpaired surrogates; found U+D800 at position 4"}
            ]
    finally:
        sock.close()


HOSTILE_BODIES = {
    "oversized": b'{"note": "' + b"x" * (2 * MAX_BODY_BYTES) + b'"}',
    "deeply nested lists": b"[" * 20000 + b"]" * 20000,
    "deeply nested objects": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "not UTF-8": b'\xff\xfe{"by": "ana"}',
    "an encoded lone surrogate": b'{"by": "\xed\xa0\x80"}',
    "an escaped lone surrogate": b'{"by": "ana", "note": "\\ud800"}',
    "NUL bytes": b"\x00" * 100,
}


async def test_hostile_bodies_get_a_4xx_problem_never_a_5xx() -> None:
    """What schemathesis does not generate: oversized, deeply nested and unencodable bodies, on every route that
    takes one (real HTTP; no Temporal is reached, every one is refused before)."""
    sock = bound_socket()
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings(mentorship_api_keys=API_KEY))
    paths = ["/mentorships"] + [f"/mentorships/mentorship-ana--ben/{name}" for name in PARTICIPANT_ACTIONS]
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    try:
        async with serving(app, sock), httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            for path in paths:
                for what, body in HOSTILE_BODIES.items():
                    answer = await http.post(path, content=body, headers=headers)
                    assert 400 <= answer.status_code < 500, (path, what, answer.status_code, answer.text[:200])
                    assert isinstance(answer.json()["detail"], str), (path, what)
    finally:
        sock.close()
