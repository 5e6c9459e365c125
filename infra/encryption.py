"""Optional payload encryption: AES-256-GCM over every payload Temporal stores, keyed from the environment.

    MENTORSHIP_ENCRYPTION_KEYS="k2:<base64 of 32 bytes>,k1:<base64 of 32 bytes>"

The first key encrypts; every listed key decrypts, so a key is rotated by putting a new one first and dropping
the old one only once no history that the workers or the codec server still read was written with it. Without
keys the data converter is ``CONTRACT_DATA_CONVERTER`` (pydantic's, see ``infra/converter.py``), and payloads
that were never encrypted are read as they are, so turning encryption on does not strand older histories.

The format is that of Temporal's encryption sample (samples-python), so other tools built on it can read it:
metadata ``encoding`` is ``binary/encrypted`` and ``encryption-key-id`` names the key; the data is a 12-byte
nonce followed by the AES-GCM ciphertext and tag of the serialized original payload.

    python -m infra.encryption new-key [--id ID]    # prints a fresh key entry for MENTORSHIP_ENCRYPTION_KEYS
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from infra.converter import ContractPayloadConverter

ENV_VAR = "MENTORSHIP_ENCRYPTION_KEYS"
ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_BYTES = 32
NONCE_BYTES = 12

# Key ids travel in clear in every payload's metadata and in logs: short, printable, no separators of the list.
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
KEY_ID_RULE = "key ids are 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"


class EncryptionError(Exception):
    """A payload that cannot be decrypted with the configured keys, or a key list that cannot be used.

    Deliberately not a ValueError: pydantic would turn one raised while validating settings into a
    ValidationError that quotes the input, which here is the keys themselves.
    """


@dataclass(frozen=True)
class EncryptionKey:
    id: str
    # Out of repr so that settings, tracebacks and logs never print key material.
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _KEY_ID.match(self.id):
            # Not quoted: a key pasted in the id's place would land in a log.
            raise EncryptionError(f"a key id is not valid: {KEY_ID_RULE}")
        if len(self.secret) != KEY_BYTES:
            raise EncryptionError(f"key {self.id!r} is {len(self.secret)} bytes; AES-256 needs exactly {KEY_BYTES}")


def parse_keys(text: str) -> tuple[EncryptionKey, ...]:
    """Parse ``id:base64key,id:base64key``; blank means no encryption. Errors never quote key material."""
    keys: list[EncryptionKey] = []
    for number, entry in enumerate((entry.strip() for entry in text.split(",")), start=1):
        if not entry:  # a blank value, or a stray comma
            continue
        key_id, colon, encoded = entry.partition(":")
        key_id, encoded = key_id.strip(), encoded.strip()
        if not colon or not key_id or not encoded:
            raise EncryptionError(
                f"{ENV_VAR} entry {number} is not 'id:base64key' "
                f"(entries are separated by commas; `python -m infra.encryption new-key` prints one)"
            )
        if not _KEY_ID.match(key_id):
            raise EncryptionError(f"{ENV_VAR} entry {number}: {KEY_ID_RULE}")
        try:
            secret = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise EncryptionError(f"{ENV_VAR}: key {key_id!r} is not valid base64") from None
        if any(key.id == key_id for key in keys):
            raise EncryptionError(f"{ENV_VAR}: key id {key_id!r} appears twice")
        if len(secret) != KEY_BYTES:
            raise EncryptionError(f"{ENV_VAR}: key {key_id!r} is {len(secret)} bytes; AES-256 needs {KEY_BYTES}")
        keys.append(EncryptionKey(key_id, secret))
    return tuple(keys)


def new_key_entry(key_id: str | None = None) -> str:
    """A fresh ``id:base64key`` entry; the default id is today's date, which sorts and tells the key's age."""
    key = EncryptionKey(key_id or datetime.now(UTC).strftime("%Y-%m-%d"), AESGCM.generate_key(bit_length=256))
    return f"{key.id}:{base64.b64encode(key.secret).decode('ascii')}"


class EncryptionCodec(PayloadCodec):
    """Encrypts with the first key; decrypts with whichever key a payload names; passes unencrypted ones through."""

    def __init__(self, keys: Sequence[EncryptionKey]) -> None:
        if not keys:
            raise EncryptionError("an encryption codec needs at least one key")
        self.encrypting_key_id = keys[0].id
        self._encryptor = AESGCM(keys[0].secret)
        self._decryptors = {key.id: AESGCM(key.secret) for key in keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: self.encrypting_key_id.encode()},
            data=nonce + self._encryptor.encrypt(nonce, payload.SerializeToString(), None),
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", errors="replace")
        decryptor = self._decryptors.get(key_id)
        if decryptor is None:
            raise EncryptionError(
                f"payload was encrypted with key {key_id!r}, which is not in {ENV_VAR} "
                f"(configured: {', '.join(repr(known) for known in self._decryptors)}); "
                f"add that key back (after the current one) to read it"
            )
        try:
            plain = decryptor.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None)
        except InvalidTag:
            raise EncryptionError(
                f"payload encrypted with key {key_id!r} does not authenticate: "
                f"the key under that id is not the one it was written with, or the payload was altered"
            ) from None
        return Payload.FromString(plain)


# pydantic's converter, reading untyped inputs the workflow judges itself more leniently (infra/converter.py).
CONTRACT_DATA_CONVERTER = DataConverter(payload_converter_class=ContractPayloadConverter)


def data_converter(keys: Sequence[EncryptionKey] = ()) -> DataConverter:
    """The converter of every client: the pydantic one, plus encryption of payloads and failures with keys."""
    if not keys:
        return CONTRACT_DATA_CONVERTER
    return dataclasses.replace(
        CONTRACT_DATA_CONVERTER,
        payload_codec=EncryptionCodec(keys),
        # A failure's message and stack trace are plain fields of the failure, outside any payload: this moves
        # them into an (encrypted) payload. Names and addresses do end up there, e.g. "refused ben@example.com".
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.encryption", description="Payload encryption keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    new_key = commands.add_parser("new-key", help=f"print a fresh key entry for {ENV_VAR}")
    new_key.add_argument("--id", help="key id (default: today's date, e.g. 2026-01-31)")
    args = parser.parse_args(argv)
    try:
        print(new_key_entry(args.id))
    except EncryptionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
