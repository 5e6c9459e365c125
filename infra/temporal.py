"""One way to reach Temporal, shared by the worker, the starter, the dev stack and the tests.

Connection settings follow Temporal's own environment configuration, the same the ``temporal`` CLI reads:
TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE and a config.toml
(TEMPORAL_CONFIG_FILE). So a deployment moves from the local dev server to a cluster or Temporal Cloud by
environment alone, without settings of our own that could disagree with the CLI's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import temporalio.api.operatorservice.v1 as operatorservice
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.client import Client
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from infra.encryption import data_converter
from infra.settings import Settings
from workflows.search_attributes import SEARCH_ATTRIBUTE_TYPES

DEFAULT_ADDRESS = "localhost:7233"

# The largest payload the server accepts (a start, signal or update input, an activity's input or result, an
# update's answer, the state carried across continue-as-new): what the contract allows with room to spare. The
# largest is the state at its bounds (workflows/effects.py KEEP_*), about 1.4 MiB written entirely in four-byte
# characters, tested against this in tests/unit/test_payload_limits.py; every input a caller sends is far
# smaller. Anything larger is refused by the server before it reaches a history (Temporal's default: 2 MiB).
PAYLOAD_LIMIT_BYTES = 3 * 1024 * 1024 // 2
PAYLOAD_WARN_BYTES = 512 * 1024
# Set on every server the project starts (make dev, the tests, the benchmarks) and in docker-compose.yml.
SERVER_DYNAMIC_CONFIG: dict[str, str] = {
    "limit.blobSize.error": str(PAYLOAD_LIMIT_BYTES),
    "limit.blobSize.warn": str(PAYLOAD_WARN_BYTES),
}


def dynamic_config_args(config: Mapping[str, str] = SERVER_DYNAMIC_CONFIG) -> list[str]:
    """``temporal server start-dev`` arguments that set ``config``."""
    return [arg for key, value in config.items() for arg in ("--dynamic-config-value", f"{key}={value}")]


async def connect(
    *, profile: str | None = None, settings: Settings | None = None, runtime: Runtime | None = None
) -> Client:
    """Connect with the standard environment configuration, falling back to the local dev server.

    ``profile`` picks a profile of the config file; by default TEMPORAL_PROFILE, else "default".
    ``settings`` (default: from the environment) say whether payloads are encrypted (MENTORSHIP_ENCRYPTION_KEYS).
    ``runtime`` is the SDK runtime (the worker's carries its metrics exporter); by default the SDK's own.
    """
    config = ClientConfig.load_client_connect_config(profile=profile)
    if not config.get("target_host"):
        config["target_host"] = DEFAULT_ADDRESS
    # Every payload of the contract is a pydantic model: the default converter would not round-trip them. With
    # keys, the same converter also encrypts payloads and failure messages; search attributes stay plaintext.
    converter = data_converter((settings if settings is not None else Settings()).encryption_keys)
    return await Client.connect(**config, data_converter=converter, runtime=runtime)


def indexed_value_type(cli_type: str) -> IndexedValueType.ValueType:
    """The protobuf enum for a type as the CLI spells it ("Keyword", "Datetime", "KeywordList", ...)."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", cli_type).upper()
    try:
        return IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{snake}")
    except ValueError:
        raise ValueError(f"unknown search attribute type {cli_type!r}") from None


async def ensure_search_attributes(
    client: Client,
    namespace: str | None = None,
    attributes: Mapping[str, str] | None = None,
) -> list[str]:
    """Register the project's custom search attributes that ``namespace`` lacks; return the names added.

    Idempotent, and safe to call from several processes at once. An attribute that exists with another
    type is an error: leaving it would make every upsert of it fail at run time.
    """
    namespace = namespace or client.namespace
    wanted = {
        name: indexed_value_type(kind)
        for name, kind in (SEARCH_ATTRIBUTE_TYPES if attributes is None else attributes).items()
    }
    try:
        present = await _list_custom(client, namespace)
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        # The time-skipping test server adds search attributes but cannot list them.
        return [name for name, kind in wanted.items() if await _add(client, namespace, {name: kind})]

    missing = {name: kind for name, kind in wanted.items() if name not in present}
    if missing and not await _add(client, namespace, missing):
        # Someone else added (some of) them between our list and our add: add the rest one by one.
        for name, kind in missing.items():
            await _add(client, namespace, {name: kind})
    if missing:
        present = await _list_custom(client, namespace)

    wrong = {
        name: IndexedValueType.Name(present[name]) for name in wanted if present.get(name, wanted[name]) != wanted[name]
    }
    if wrong:
        raise RuntimeError(
            f"search attributes registered with another type in namespace {namespace!r}: {wrong}; "
            f"expected { ({name: IndexedValueType.Name(wanted[name]) for name in wrong}) }"
        )
    absent = sorted(set(wanted) - set(present))
    if absent:
        raise RuntimeError(f"search attributes still missing in namespace {namespace!r} after adding: {absent}")
    return sorted(missing)


async def _list_custom(client: Client, namespace: str) -> dict[str, IndexedValueType.ValueType]:
    listed = await client.operator_service.list_search_attributes(
        operatorservice.ListSearchAttributesRequest(namespace=namespace)
    )
    return dict(listed.custom_attributes)


async def _add(client: Client, namespace: str, attributes: Mapping[str, IndexedValueType.ValueType]) -> bool:
    """Add ``attributes``; False if the server says one of them exists already (then none is added)."""
    try:
        await client.operator_service.add_search_attributes(
            operatorservice.AddSearchAttributesRequest(namespace=namespace, search_attributes=attributes)
        )
    except RPCError as err:
        if err.status == RPCStatusCode.ALREADY_EXISTS:
            return False
        raise
    return True
