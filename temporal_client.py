"""One way to reach Temporal, shared by the worker, the starter, the dev stack and the tests.

Connection settings follow Temporal's own environment configuration, the same the ``temporal`` CLI reads:
TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE and a config.toml
(TEMPORAL_CONFIG_FILE). So a deployment moves from the local dev server to a cluster or Temporal Cloud by
environment alone, without settings of our own that could disagree with the CLI's.
"""

from __future__ import annotations

import re

import temporalio.api.enums.v1
import temporalio.api.operatorservice.v1
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig
from temporalio.service import RPCError, RPCStatusCode

from workflows.search_attributes import SEARCH_ATTRIBUTE_TYPES

DEFAULT_ADDRESS = "localhost:7233"


async def connect(*, profile: str | None = None) -> Client:
    """Connect with the standard environment configuration, falling back to the local dev server.

    ``profile`` picks a profile of the config file; by default TEMPORAL_PROFILE, else "default".
    """
    config = ClientConfig.load_client_connect_config(profile=profile)
    target_host = config.pop("target_host", None) or DEFAULT_ADDRESS
    # Every payload of the contract is a pydantic model: the default converter would not round-trip them.
    return await Client.connect(target_host, **config, data_converter=pydantic_data_converter)


def indexed_value_type(cli_type: str) -> temporalio.api.enums.v1.IndexedValueType.ValueType:
    """The protobuf enum for a type as the CLI spells it ("Keyword", "Datetime", "KeywordList", ...)."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", cli_type).upper()
    try:
        return temporalio.api.enums.v1.IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{snake}")
    except ValueError:
        raise ValueError(f"unknown search attribute type {cli_type!r}") from None


async def ensure_search_attributes(
    client: Client,
    namespace: str | None = None,
    attributes: dict[str, str] | None = None,
) -> list[str]:
    """Register the project's custom search attributes that ``namespace`` lacks; return the names added.

    Idempotent, and safe to call from several processes at once. An attribute that exists with another
    type is an error: silently leaving it would make every upsert of it fail at run time.
    """
    namespace = namespace or client.namespace
    wanted = SEARCH_ATTRIBUTE_TYPES if attributes is None else attributes
    operator = client.operator_service

    async def existing() -> dict[str, temporalio.api.enums.v1.IndexedValueType.ValueType]:
        listed = await operator.list_search_attributes(
            temporalio.api.operatorservice.v1.ListSearchAttributesRequest(namespace=namespace)
        )
        return dict(listed.custom_attributes)

    present = await existing()
    missing = {name: indexed_value_type(kind) for name, kind in wanted.items() if name not in present}
    if missing:
        try:
            await operator.add_search_attributes(
                temporalio.api.operatorservice.v1.AddSearchAttributesRequest(
                    namespace=namespace, search_attributes=missing
                )
            )
        except RPCError as err:
            # Another process registered them between our list and our add.
            if err.status != RPCStatusCode.ALREADY_EXISTS:
                raise
        present = await existing()

    wrong = {
        name: temporalio.api.enums.v1.IndexedValueType.Name(present[name])
        for name, kind in wanted.items()
        if name in present and present[name] != indexed_value_type(kind)
    }
    if wrong:
        raise RuntimeError(
            f"search attributes registered with another type in namespace {namespace!r}: {wrong} "
            f"(expected {({name: wanted[name] for name in wrong})})"
        )
    absent = sorted(set(wanted) - set(present))
    if absent:
        raise RuntimeError(f"search attributes still missing in namespace {namespace!r} after adding: {absent}")
    return sorted(missing)
