"""Dependencies of the routes: the settings, the Temporal client, the link secrets, the API-key check.

The application's state (``ApiState``) is made once by ``api.main.create_app``; routes take what they need of it
through the ``Annotated`` aliases below (``TemporalDep``, ...) rather than reaching into ``request.app.state``.
The dependencies are coroutines so that FastAPI runs them in the event loop, not in its thread pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from temporalio.client import Client, RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.errors import rpc_problem
from api.guards import MISSING_KEY, is_a_key
from infra.settings import Settings
from infra.temporal import connect

log = logging.getLogger("mentorship.api")

T = TypeVar("T")


class Temporal:
    """The Temporal client, connected on first use (the API starts, and answers 503, while Temporal is down)."""

    def __init__(self, settings: Settings, client: Client | None) -> None:
        self.settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    try:
                        async with asyncio.timeout(self.settings.mentorship_api_timeout_seconds):
                            self._client = await connect(settings=self.settings)
                    except (RuntimeError, OSError, TimeoutError) as err:
                        # The details (addresses, TLS) go to the log, not to callers.
                        log.warning("cannot connect to Temporal: %s", err)
                        raise HTTPException(
                            503, "Temporal cannot be reached; try again shortly", headers={"Retry-After": "5"}
                        ) from None
        return self._client

    async def call(self, call: Callable[[Client], Awaitable[T]], *, workflow_id: str | None = None) -> T:
        """Run ``call`` within the timeout, turning Temporal's transport errors into HTTP errors."""
        client = await self.client()
        timeout = self.settings.mentorship_api_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                return await call(client)
        except (TimeoutError, RPCTimeoutOrCancelledError):
            raise HTTPException(
                504, f"Temporal did not answer within {timeout:g}s (is a worker running?); it may still happen"
            ) from None
        except RPCError as err:
            raise rpc_problem(err, workflow_id) from None


@dataclass
class ApiState:
    settings: Settings
    temporal: Temporal
    api_keys: list[bytes]
    link_secrets: list[bytes]
    # Seals list page tokens; derived from the API keys, so every replica with the same keys agrees.
    page_key: bytes


async def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(api_state)]


async def settings(state: StateDep) -> Settings:
    return state.settings


async def temporal(state: StateDep) -> Temporal:
    """The Temporal client; it connects when a route first calls it, so a route that needs no Temporal (a link
    that is not valid, input that does not fit) answers without it."""
    return state.temporal


async def link_secrets(state: StateDep) -> list[bytes]:
    """The secrets that verify email links; none when the link pages are off."""
    return state.link_secrets


async def page_key(state: StateDep) -> bytes:
    return state.page_key


SettingsDep = Annotated[Settings, Depends(settings)]
TemporalDep = Annotated[Temporal, Depends(temporal)]
LinkSecretsDep = Annotated[list[bytes], Depends(link_secrets)]
PageKeyDep = Annotated[bytes, Depends(page_key)]


# --- Authentication -----------------------------------------------------------------------------------------

bearer = HTTPBearer(auto_error=False, description="One of the keys in MENTORSHIP_API_KEYS")


async def require_api_key(
    state: StateDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    # api.guards has checked this before the body was read; checked again here, where the schema declares it.
    given = credentials.credentials.encode("utf-8", "replace") if credentials is not None else b""
    if not is_a_key(state.api_keys, given):
        raise HTTPException(401, MISSING_KEY, headers={"WWW-Authenticate": "Bearer"})
