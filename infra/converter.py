"""The payload converter of every client and worker: pydantic's, with one difference for untyped inputs.

The workflow takes its start input, signals and updates untyped (``*inputs: Any``) and judges them itself, so
that whatever a caller sends is refused with a reason a person can read, and a refused signal is recorded. Two
kinds of input never reach it through pydantic's JSON parser: JSON text that Python's own parser reads but
pydantic's refuses (a lone surrogate escape, ``"\\ud800"``), and bytes that are no JSON at all. The SDK would drop
such a signal with a line in the worker's log, and fail such an update with "Failed decoding arguments". Here an
untyped input is read by Python's parser instead (the contract then refuses the surrogate), and what no parser
reads arrives as ``UndecodableInput`` with the parser's reason, which the workflow refuses like any other input.
Typed conversions (results, the workflow's own state) are pydantic's, unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import temporalio.api.common.v1
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import CompositePayloadConverter, DefaultPayloadConverter, JSONPlainPayloadConverter

from workflows.contract import UndecodableInput


class ContractJSONPayloadConverter(PydanticJSONPlainPayloadConverter):
    def from_payload(self, payload: temporalio.api.common.v1.Payload, type_hint: type | None = None) -> Any:
        try:
            return super().from_payload(payload, type_hint)
        except ValueError as err:  # pydantic's ValidationError is a ValueError
            if type_hint not in (None, Any):
                raise
            try:
                return json.loads(payload.data)
            except ValueError:
                return UndecodableInput(reason=str(err).splitlines()[-1].strip()[:200])


class ContractPayloadConverter(CompositePayloadConverter):
    """pydantic's payload converter, its JSON converter replaced by ``ContractJSONPayloadConverter``."""

    def __init__(self) -> None:
        json_converter = ContractJSONPayloadConverter()
        super().__init__(
            *(
                json_converter if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )
