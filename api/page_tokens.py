"""The list's page tokens, sealed.

Temporal's page tokens are opaque to us, and the server may fail on one that is not its own (the dev server
answers UNKNOWN). So the API hands out each one sealed with a MAC over the query it belongs to, and takes back
only those: anything else is a 422, and a token of one query cannot be replayed with another. The MAC key is
derived from the API keys, so every replica with the same keys agrees.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable

from api.errors import unprocessable

_PAGE_MAC_BYTES = 16
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def page_key_for(api_keys: Iterable[bytes]) -> bytes:
    """The key that seals page tokens, derived from the API keys."""
    return hashlib.sha256(b"mentorship-api-page-token\n" + b"\n".join(sorted(api_keys))).digest()


def _page_mac(key: bytes, query: str, raw: bytes) -> bytes:
    message = query.encode("utf-8") + b"\n" + raw
    return hmac.new(key, message, hashlib.sha256).digest()[:_PAGE_MAC_BYTES]


def seal(key: bytes, query: str, raw: bytes) -> str:
    """Temporal's next-page token for ``query``, as the API hands it out."""
    return base64.urlsafe_b64encode(_page_mac(key, query, raw) + raw).decode("ascii").rstrip("=")


def unseal(key: bytes, query: str, token: str) -> bytes:
    """Temporal's token back from one ``seal`` gave out for the same query; else a 422 about ``page_token``."""
    try:
        if not _BASE64URL.fullmatch(token):
            raise ValueError(token)
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        sealed = b""
    mac, raw = sealed[:_PAGE_MAC_BYTES], sealed[_PAGE_MAC_BYTES:]
    if not raw or not hmac.compare_digest(mac, _page_mac(key, query, raw)):
        raise unprocessable("page_token", "not a next_page_token this API gave out for these filters")
    return raw
