"""The payload converter reads untyped inputs leniently so that the workflow can refuse them itself."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.api.common.v1 import Payload

import workflows.rules as rules
from infra.converter import ContractJSONPayloadConverter
from workflows.actions import ACTIONS
from workflows.contract import CheckInInput, UndecodableInput


def json_payload(data: bytes) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def test_a_lone_surrogate_is_read_and_then_refused_by_the_contract() -> None:
    converter = ContractJSONPayloadConverter()
    decoded = converter.from_payload(json_payload(b'{"by": "ana", "note": "\\ud800"}'))
    assert decoded == {"by": "ana", "note": "\ud800"}
    with pytest.raises(rules.Refused, match="check_in input is not valid: note: must not contain unpaired surrogates"):
        ACTIONS["check_in"].parse((decoded,))


def test_bytes_that_are_no_json_arrive_as_undecodable_and_are_refused() -> None:
    decoded = ContractJSONPayloadConverter().from_payload(json_payload(b'{"by": "ana",'))
    assert isinstance(decoded, UndecodableInput) and decoded.reason
    with pytest.raises(rules.Refused, match="accept input is not valid: it is not JSON text"):
        ACTIONS["accept"].parse((decoded,))


@pytest.mark.parametrize("hint", [CheckInInput, dict[str, Any]])
def test_typed_conversions_stay_strict(hint: type) -> None:
    with pytest.raises(ValueError):
        ContractJSONPayloadConverter().from_payload(json_payload(b'{"by": "\\ud800"}'), hint)


def test_valid_json_is_read_as_before() -> None:
    converter = ContractJSONPayloadConverter()
    assert converter.from_payload(json_payload(b'{"by": "ana", "rating": 4}'), CheckInInput) == CheckInInput(
        by="ana", rating=4
    )
    assert converter.from_payload(json_payload(b"[1, 2]")) == [1, 2]
