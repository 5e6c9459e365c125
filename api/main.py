"""The HTTP API's application: mentorships over JSON for services without a Temporal SDK, and the pages behind
email links.

Every body is a model of the contract (workflows/contract.py), so the OpenAPI schema at /openapi.json is the
contract. ``create_app`` builds the application: the routers of ``api.routes`` (mentorships, people, the email
link pages, health), the exception handlers of ``api.errors`` (every error is a JSON ``Problem``), and the
middleware that logs each request (a link's token redacted) and forbids caching.

    POST /mentorships, GET /mentorships[/{workflow_id}], POST /mentorships/{workflow_id}/{action}
    POST, GET /mentorships/{workflow_id}/feedback   feedback once an active mentorship ended
    PUT  /people/{person_id}/limits, GET /people/{person_id}   a person's limits and the places they hold
    GET  /links/{token}, POST /links/{token}   the email link pages (HTML; the token is the credential)
    GET  /livez, /readyz                       liveness; readiness (Temporal answers)
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.middleware.base import RequestResponseEndpoint
from temporalio.client import Client

from api import errors, page_tokens
from api.deps import ApiState, Temporal
from api.guards import RequestGuard
from api.routes import health, links, mentorships, people
from infra.settings import Settings

log = logging.getLogger("mentorship.api")

API_VERSION = "1.0.0"


class ApiConfigError(Exception):
    """The API cannot start with these settings; the message says what to set."""


async def _access_log(request: Request, call_next: RequestResponseEndpoint) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Health checks come every few seconds; they are logged only at DEBUG.
    level = logging.DEBUG if request.url.path in ("/livez", "/readyz") else logging.INFO
    log.log(
        level,
        "%s %s %d %.0fms",
        request.method,
        errors.redacted(request.url.path),
        response.status_code,
        (time.perf_counter() - started) * 1000,
    )
    return response


def create_app(settings: Settings | None = None, *, client: Client | None = None) -> FastAPI:
    """The application. ``client``: a connected Temporal client (tests); by default one is connected on first use
    from Temporal's environment configuration (infra.temporal.connect)."""
    settings = settings if settings is not None else Settings()
    keys = settings.api_keys
    if not keys:
        raise ApiConfigError(
            "MENTORSHIP_API_KEYS is not set: the API refuses to start without at least one key "
            "(comma-separated, at least 16 characters each)"
        )
    app = FastAPI(
        title="Mentorships",
        version=API_VERSION,
        summary="Mentorships carried from invitation to months of check-ins by durable Temporal workflows.",
        description=(
            'Bodies are the contract of README "The contract". Authenticate with `Authorization: Bearer <key>` '
            "(a key of MENTORSHIP_API_KEYS). Actions are updates: the answer is the new status, or a 4xx with the "
            "mentorship's reason."
        ),
    )
    app.state.api = ApiState(
        settings, Temporal(settings, client), keys, settings.link_secrets, page_tokens.page_key_for(keys)
    )
    app.include_router(mentorships.router)
    app.include_router(people.router)
    app.include_router(links.router)
    app.include_router(health.router)
    app.add_exception_handler(RequestValidationError, errors.on_validation_error)
    app.add_exception_handler(HTTPException, errors.on_http_error)
    app.add_exception_handler(Exception, errors.on_unexpected)
    app.middleware("http")(_access_log)
    # Outermost: the key and the body's size are checked before anything reads the body.
    app.add_middleware(RequestGuard, api_keys=keys)
    return app
