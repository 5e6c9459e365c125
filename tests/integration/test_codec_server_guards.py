"""The codec server refuses what a hostile web page could send it: another Origin, another Host (DNS rebinding).

A real server on loopback, called over HTTP with aiohttp; no token is configured, as on a developer's machine.
"""

from __future__ import annotations

import base64
import os

import aiohttp

from infra import codec_server
from infra.encryption import EncryptionCodec, EncryptionKey
from infra.settings import Settings

UI_ORIGIN = "http://localhost:8233"
EMPTY_PAYLOADS = '{"payloads": []}'


async def decode(session: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, str]:
    async with session.post(f"{url}/decode", data=EMPTY_PAYLOADS, headers=headers) as answer:
        return answer.status, await answer.text()


async def test_other_origins_and_hosts_are_refused_before_anything_is_decoded() -> None:
    app = codec_server.build_app(
        EncryptionCodec([EncryptionKey("k1", os.urandom(32))]),
        allowed_origins=[UI_ORIGIN],
        allowed_hosts=[*codec_server.LOOPBACK_HOSTS, "codec.example.org"],
    )
    async with codec_server.serving(app) as url, aiohttp.ClientSession() as session:
        port = url.rsplit(":", 1)[1]
        # The UI, and the CLI (no Origin at all), on any of the allowed names.
        assert (await decode(session, url, Origin=UI_ORIGIN))[0] == 200
        assert (await decode(session, url))[0] == 200
        assert (await decode(session, url, Host=f"localhost:{port}"))[0] == 200
        assert (await decode(session, url, Host=f"[::1]:{port}"))[0] == 200
        assert (await decode(session, url, Host="codec.example.org"))[0] == 200
        # A page of another site, even one that sends no credentials.
        status, text = await decode(session, url, Origin="https://evil.example")
        assert status == 403 and "Origin" in text
        # A rebinding page: its own name resolves here, so the browser sends that Host (and its own Origin).
        status, text = await decode(session, url, Host=f"evil.example:{port}")
        assert status == 403 and "Host" in text
        status, _ = await decode(session, url, Host=f"evil.example:{port}", Origin=f"http://evil.example:{port}")
        assert status == 403


def test_the_allowed_hosts_come_from_the_settings() -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    settings = Settings(
        _env_file=None,
        mentorship_encryption_keys=f"k1:{key}",
        codec_server_host="0.0.0.0",
        codec_server_allowed_hosts="codec.example.org, ops.example.org",
    )
    assert settings.codec_allowed_hosts == ["localhost", "127.0.0.1", "::1", "codec.example.org", "ops.example.org"]
    assert Settings(_env_file=None, codec_server_host="10.0.0.5").codec_allowed_hosts[-1] == "10.0.0.5"
    assert codec_server.host_name("Codec.Example.org:8081") == "codec.example.org"
    assert codec_server.host_name("[::1]:8081") == "::1" and codec_server.host_name("::1") == "::1"
