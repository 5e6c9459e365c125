"""Two encryption keys (an old one and the one that encrypts now), a key as MENTORSHIP_ENCRYPTION_KEYS writes it,
and a plain JSON payload."""

from __future__ import annotations

import base64
import json
import os

from temporalio.api.common.v1 import Payload

from infra.encryption import EncryptionKey

OLD = EncryptionKey("2026-01", os.urandom(32))
NEW = EncryptionKey("2026-07", os.urandom(32))


def entry(key: EncryptionKey) -> str:
    return f"{key.id}:{base64.b64encode(key.secret).decode()}"


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())
