"""Errors: the one JSON shape every error has, the exception handlers that write it, and Temporal's errors as HTTP.

Every error is ``{"detail": "...", "errors": [{"field", "reason"}]}`` (``Problem``): 401 without a valid key, 422
for input that does not fit the contract (each field with its reason), 403 when ``by`` is not a participant, 409
when the workflow refuses (its reason), 404 for an unknown mentorship, 503 when Temporal cannot be reached, 504
when it (or a worker) does not answer in time. Routes raise ``HTTPException`` (or ``ApiError`` with the fields);
the handlers registered by ``api.main`` turn them, and request validation errors, into a ``Problem``.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from infra import links
from workflows.contract import MAX_ERRORS_NAMED

log = logging.getLogger("mentorship.api")

# A 422 names at most this many fields (the contract's own limit), each name cut to this length.
MAX_FIELD_CHARACTERS = 200


class FieldError(BaseModel):
    field: str = Field(description="Where, e.g. 'mentee.name', 'rating', 'workflow_id'; 'input' for the whole body")
    reason: str


class Problem(BaseModel):
    """Every error: one line for a person, and for 422 each field with its reason."""

    detail: str
    errors: list[FieldError] = Field(default_factory=list)


class ApiError(HTTPException):
    """An HTTP error with the fields it is about (422)."""

    def __init__(self, status_code: int, detail: str, errors: list[FieldError]) -> None:
        super().__init__(status_code, detail)
        self.errors = errors


def unprocessable(field: str, reason: str) -> ApiError:
    """A 422 about one field."""
    return ApiError(422, f"{field}: {reason}", [FieldError(field=field, reason=reason)])


def rpc_problem(err: RPCError, workflow_id: str | None) -> HTTPException:
    """What a Temporal RPC error means to a caller of the API."""
    if err.status == RPCStatusCode.NOT_FOUND:
        return HTTPException(404, f"no mentorship {workflow_id!r}" if workflow_id else f"not found: {err.message}")
    if err.status == RPCStatusCode.INVALID_ARGUMENT:
        return HTTPException(400, f"Temporal refused the request: {err.message}")
    if err.status == RPCStatusCode.DEADLINE_EXCEEDED:
        return HTTPException(504, f"Temporal did not answer in time: {err.message}")
    if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.RESOURCE_EXHAUSTED):
        return HTTPException(503, f"Temporal is not available: {err.message}", headers={"Retry-After": "5"})
    log.warning("Temporal answered %s: %s", err.status.name, err.message)
    return HTTPException(502, f"Temporal answered {err.status.name}: {err.message}")


def refusal_reason(err: WorkflowUpdateFailedError | WorkflowQueryFailedError) -> str:
    """The workflow's reason for refusing an update (or failing a query), as a person reads it."""
    cause = err.cause if isinstance(err, WorkflowUpdateFailedError) else None
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or err)


def redacted(path: str) -> str:
    """Paths as logged: a link's token is a credential and stays out of the logs."""
    prefix = f"{links.LINK_PATH}/"
    return f"{prefix}…" if path.startswith(prefix) else path


# --- The exception handlers (registered by api.main.create_app) ------------------------------------------------


def _field(loc: tuple[int | str, ...] | list[int | str]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "input"


def _problem(status_code: int, detail: str, errors: list[FieldError], headers: dict[str, str] | None) -> JSONResponse:
    return JSONResponse(
        Problem(detail=detail, errors=errors).model_dump(mode="json"), status_code=status_code, headers=headers
    )


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    found = exc.errors()
    errors = [
        FieldError(
            field=_field(error.get("loc", ()))[:MAX_FIELD_CHARACTERS],
            reason=str(error.get("msg", "")).removeprefix("Value error, "),
        )
        for error in found[:MAX_ERRORS_NAMED]
    ]
    detail = "; ".join(f"{e.field}: {e.reason}" for e in errors) or "invalid input"
    if len(found) > MAX_ERRORS_NAMED:
        # A body of 200,000 unknown keys gets a short answer, not 200,000 errors.
        more = len(found) - MAX_ERRORS_NAMED
        detail += f"; and {more} more error{'s' if more > 1 else ''}"
    return _problem(422, detail, errors, None)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    errors = exc.errors if isinstance(exc, ApiError) else []
    return _problem(exc.status_code, str(exc.detail), errors, dict(exc.headers or {}) or None)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, redacted(request.url.path))
    return _problem(500, "internal error; the service log has the details", [], None)
