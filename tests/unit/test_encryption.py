"""Payload encryption without a server: the codec, key rotation, the converter, parsing the keys, and the codec
server's refusal to start without keys (the histories of a real server and the codec server over HTTP are in
tests/integration/test_encryption.py)."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ApplicationError

from infra import codec_server
from infra.encryption import (
    CONTRACT_DATA_CONVERTER,
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    EncryptionError,
    EncryptionKey,
    data_converter,
    parse_keys,
)
from infra.settings import Settings
from tests.support.builders import people
from tests.support.encryption import NEW, OLD, entry, plain
from workflows.contract import Invitation

# --- The codec --------------------------------------------------------------------------------------------


async def test_round_trip_hides_the_data_and_restores_it_exactly() -> None:
    codec = EncryptionCodec([NEW, OLD])
    originals = [plain("Ana Ruiz <ana@example.com>"), Payload(metadata={"encoding": b"binary/null"})]
    encoded = await codec.encode(originals)
    for payload in encoded:
        assert payload.metadata["encoding"] == ENCODING
        assert payload.metadata[KEY_ID_METADATA] == NEW.id.encode()
        assert b"Ana" not in payload.SerializeToString()
    assert await codec.decode(encoded) == originals
    # A fresh nonce each time: equal inputs do not give equal ciphertexts.
    assert (await codec.encode(originals[:1]))[0].data != encoded[0].data


async def test_the_converter_round_trips_contract_models() -> None:
    converter = data_converter([NEW])
    invitation = people()
    [payload] = await converter.encode([invitation])
    assert payload.metadata["encoding"] == ENCODING and b"Ana Ruiz" not in payload.data
    assert await converter.decode([payload], [Invitation]) == [invitation]


async def test_rotation_new_key_first_old_data_still_reads() -> None:
    before = EncryptionCodec([OLD])
    written_before = await before.encode([plain("a note from January")])

    after = EncryptionCodec([NEW, OLD])
    assert await after.decode(written_before) == [plain("a note from January")]
    written_after = await after.encode([plain("a note from July")])
    assert written_after[0].metadata[KEY_ID_METADATA] == NEW.id.encode()

    # Once the old key is dropped, what it wrote is unreadable, and the error says which key is missing.
    retired = EncryptionCodec([NEW])
    assert await retired.decode(written_after) == [plain("a note from July")]
    with pytest.raises(EncryptionError, match=r"encrypted with key '2026-01', which is not in"):
        await retired.decode(written_before)


async def test_unknown_key_id_is_named() -> None:
    foreign = await EncryptionCodec([EncryptionKey("elsewhere-1", os.urandom(32))]).encode([plain("x")])
    with pytest.raises(EncryptionError) as caught:
        await EncryptionCodec([NEW, OLD]).decode(foreign)
    message = str(caught.value)
    assert "'elsewhere-1'" in message and "'2026-07'" in message and "'2026-01'" in message


async def test_same_id_other_key_or_altered_payload_fails_authentication() -> None:
    [payload] = await EncryptionCodec([NEW]).encode([plain("x")])
    impostor = EncryptionCodec([EncryptionKey(NEW.id, os.urandom(32))])
    with pytest.raises(EncryptionError, match="does not authenticate"):
        await impostor.decode([payload])
    altered = Payload()
    altered.CopyFrom(payload)
    altered.data = payload.data[:-1] + bytes([payload.data[-1] ^ 1])
    with pytest.raises(EncryptionError, match="does not authenticate"):
        await EncryptionCodec([NEW]).decode([altered])


async def test_unencrypted_payloads_pass_through_decode() -> None:
    # Histories written before encryption was turned on stay readable.
    older = [plain("written in clear"), Payload(metadata={"encoding": b"json/protobuf"}, data=b"{}")]
    assert await EncryptionCodec([NEW]).decode(older) == older


async def test_failure_messages_are_encrypted_too() -> None:
    converter = data_converter([NEW])
    failure = Failure()
    await converter.encode_failure(ApplicationError("mail server refused ben@example.com", type="Permanent"), failure)
    assert failure.message == "Encoded failure" and failure.stack_trace == ""
    assert b"ben@example.com" not in failure.SerializeToString()
    error = await converter.decode_failure(failure)
    assert isinstance(error, ApplicationError) and error.message == "mail server refused ben@example.com"


def test_without_keys_the_converter_is_exactly_the_pydantic_one() -> None:
    assert data_converter() is CONTRACT_DATA_CONVERTER
    unset = Settings(_env_file=None, mentorship_encryption_keys=None)
    assert unset.encryption_keys == () and data_converter(unset.encryption_keys) is CONTRACT_DATA_CONVERTER
    blank = Settings(_env_file=None, mentorship_encryption_keys=SecretStr(" "))
    assert data_converter(blank.encryption_keys) is CONTRACT_DATA_CONVERTER
    keyed = data_converter(Settings(_env_file=None, mentorship_encryption_keys=SecretStr(entry(NEW))).encryption_keys)
    assert isinstance(keyed.payload_codec, EncryptionCodec) and keyed.payload_codec.encrypting_key_id == NEW.id
    assert keyed.failure_converter_class is DefaultFailureConverterWithEncodedAttributes
    assert keyed.payload_converter_class is CONTRACT_DATA_CONVERTER.payload_converter_class


def test_keys_parse_first_encrypts_all_decrypt() -> None:
    keys = parse_keys(f" {entry(NEW)} , {entry(OLD)},")
    assert keys == (NEW, OLD)
    assert NEW.secret.hex() not in repr(keys) and "secret" not in repr(keys)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("just-an-id", "entry 1 is not 'id:base64key'"),
        (f"{entry(NEW)},:{entry(OLD).split(':')[1]}", "entry 2 is not 'id:base64key'"),
        ("k1:not base64!", "key 'k1' is not valid base64"),
        (f"k1:{base64.b64encode(os.urandom(16)).decode()}", "key 'k1' is 16 bytes; AES-256 needs 32"),
        (f"{entry(NEW)},{entry(NEW)}", "key id '2026-07' appears twice"),
        (f"{base64.b64encode(NEW.secret).decode()}:k1", "entry 1: key ids are 1 to 64 letters"),
    ],
)
def test_malformed_keys_are_refused_at_start_without_quoting_them(value: str, reason: str) -> None:
    with pytest.raises(EncryptionError) as caught:
        Settings(_env_file=None, mentorship_encryption_keys=SecretStr(value))
    assert reason in str(caught.value) and "MENTORSHIP_ENCRYPTION_KEYS" in str(caught.value)
    assert base64.b64encode(NEW.secret).decode() not in str(caught.value)


def test_codec_server_needs_keys() -> None:
    with pytest.raises(EncryptionError, match="nothing to decode"):
        codec_server.app_from_settings(Settings(_env_file=None, mentorship_encryption_keys=None))
