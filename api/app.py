"""The HTTP API: mentorships over JSON for services without a Temporal SDK, and the pages behind email links.

Every body is a model of the contract (workflows/contract.py), so the OpenAPI schema at /openapi.json is the
contract: an invitation creates (update-with-start, so a repeat returns the same mentorship), each action is an
update (so the caller gets the new status, or a 4xx with the workflow's reason), reads are the ``status`` query,
and lists are visibility queries over the search attributes (ids, stages, dates; never names or addresses).

    POST /mentorships                          an Invitation            -> MentorshipStatus
    GET  /mentorships/{workflow_id}                                     -> MentorshipStatus
    GET  /mentorships?stage=&person=&...                                -> a page of summaries
    POST /mentorships/{workflow_id}/{action}   the action's input       -> MentorshipStatus
         action: accept, decline, withdraw, check_in, pause, resume
    GET  /links/{token}, POST /links/{token}   the email link pages (HTML; the token is the credential)
    GET  /livez, /readyz                       liveness; readiness (Temporal answers)

Errors are JSON ``{"detail": "...", "errors": [{"field", "reason"}]}``: 401 without a valid key, 422 for input
that does not fit the contract (each field with its reason), 403 when ``by`` is not a participant, 409 when the
workflow refuses (its reason), 404 for an unknown mentorship, 503 when Temporal cannot be reached, 504 when it
(or a worker) does not answer in time.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.base import RequestResponseEndpoint
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

import starter
from api import links, pages
from config import Settings
from temporal_client import connect
from workflows import search_attributes as sa
from workflows.contract import (
    ACTION_INPUTS,
    ID_PATTERN,
    AcceptInput,
    CheckInInput,
    DeclineInput,
    Invitation,
    MentorshipStatus,
    PauseInput,
    ResumeInput,
    Role,
    Stage,
    WithdrawInput,
    explain,
    workflow_id_for,
)

log = logging.getLogger("mentorship.api")

T = TypeVar("T")

API_VERSION = "1.0.0"
# A mentorship's workflow id: `mentorship-{mentor id}--{mentee id}`; ids never contain "--".
WORKFLOW_ID_PATTERN = f"^mentorship-{ID_PATTERN.pattern}--{ID_PATTERN.pattern}$"
PERSON_PATTERN = f"^{ID_PATTERN.pattern}$"
MAX_ID_LENGTH = 64
# A link page's form: a note or a reason of at most 2000 characters, percent-encoded, and a rating.
MAX_FORM_BYTES = 32_000
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class ApiConfigError(Exception):
    """The API cannot start with these settings; the message says what to set."""


class ApiError(HTTPException):
    """An HTTP error with the fields it is about (422)."""

    def __init__(self, status_code: int, detail: str, errors: list[FieldError]) -> None:
        super().__init__(status_code, detail)
        self.errors = errors


# --- Models of the API's own (the bodies are the contract's) ----------------------------------------------


class FieldError(BaseModel):
    field: str = Field(description="Where, e.g. 'mentee.name', 'rating', 'workflow_id'; 'input' for the whole body")
    reason: str


class Problem(BaseModel):
    """Every error: one line for a person, and for 422 each field with its reason."""

    detail: str
    errors: list[FieldError] = Field(default_factory=list)


class MentorshipSummary(BaseModel):
    """One mentorship as the list finds it: the search attributes (ids, stage, dates, counts; no names)."""

    workflow_id: str
    run_id: str
    stage: Stage | None = Field(description="None for a workflow that failed at once on an invalid start input")
    mentor_id: str | None
    mentee_id: str | None
    initiated_by: Role | None
    at_risk: bool
    missed_check_ins: int = Field(description="Missed in a row")
    failed_notifications: int
    next_check_in_at: datetime | None
    started_at: datetime | None
    closed_at: datetime | None


class MentorshipList(BaseModel):
    mentorships: list[MentorshipSummary]
    next_page_token: str | None = Field(description="Pass as page_token for the next page; null on the last one")


class Health(BaseModel):
    status: str


# --- State and Temporal -------------------------------------------------------------------------------------


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
            raise _rpc_problem(err, workflow_id) from None


def _rpc_problem(err: RPCError, workflow_id: str | None) -> HTTPException:
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


@dataclass
class ApiState:
    settings: Settings
    temporal: Temporal
    api_keys: list[bytes]
    link_secrets: list[bytes]
    # Seals list page tokens; derived from the API keys, so every replica with the same keys agrees.
    page_key: bytes


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


def _reason(err: WorkflowUpdateFailedError | WorkflowQueryFailedError) -> str:
    cause = err.cause if isinstance(err, WorkflowUpdateFailedError) else None
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or err)


# --- Authentication -----------------------------------------------------------------------------------------

bearer = HTTPBearer(auto_error=False, description="One of the keys in MENTORSHIP_API_KEYS")


async def require_api_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    given = credentials.credentials.encode("utf-8", "replace") if credentials is not None else b""
    matched = False
    # Every key is compared (no early exit), each in constant time.
    for key in _state(request).api_keys:
        matched |= hmac.compare_digest(key, given)
    if not matched:
        raise HTTPException(
            401, "a valid API key is required: 'Authorization: Bearer <key>'", headers={"WWW-Authenticate": "Bearer"}
        )


# --- The mentorship endpoints -------------------------------------------------------------------------------

WorkflowId = Annotated[
    str,
    Path(
        pattern=WORKFLOW_ID_PATTERN,
        max_length=11 + 2 * MAX_ID_LENGTH + 2,
        description="mentorship-{mentor id}--{mentee id}, e.g. mentorship-ana--ben",
        examples=["mentorship-ana--ben"],
    ),
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid API key"},
    422: {"model": Problem, "description": "The input does not fit the contract: each field with its reason"},
    503: {"model": Problem, "description": "Temporal cannot be reached"},
    504: {"model": Problem, "description": "Temporal (or a worker) did not answer in time"},
}
_STATUS: dict[int | str, dict[str, Any]] = {200: {"model": MentorshipStatus, "description": "The mentorship's status"}}
_ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    403: {"model": Problem, "description": "`by` is not a participant of this mentorship"},
    404: {"model": Problem, "description": "No such mentorship"},
    409: {"model": Problem, "description": "Refused by the mentorship (the reason says why); nothing changed"},
}

router = APIRouter(prefix="/mentorships", tags=["mentorships"], dependencies=[Depends(require_api_key)])


def _status_response(status: MentorshipStatus) -> Response:
    # Serialized as is (not re-validated on the way out: state carried from older versions may not pass rules
    # added since, see workflows/contract.py TRUSTED).
    return Response(status.model_dump_json(), media_type="application/json")


def _participants(workflow_id: str) -> tuple[str, str]:
    mentor, _, mentee = workflow_id.removeprefix("mentorship-").partition("--")
    if len(mentor) > MAX_ID_LENGTH or len(mentee) > MAX_ID_LENGTH:
        raise _unprocessable("workflow_id", f"ids are at most {MAX_ID_LENGTH} characters")
    return mentor, mentee


def _unprocessable(field: str, reason: str) -> ApiError:
    return ApiError(422, f"{field}: {reason}", [FieldError(field=field, reason=reason)])


@router.post(
    "",
    summary="Invite (create a mentorship)",
    response_model=None,
    responses={**_STATUS, **_ERRORS, 409: {"model": Problem, "description": "Refused by the mentorship"}},
)
async def create_mentorship(request: Request, invitation: Invitation) -> Response:
    """Invite, from either side: the mentorship starts if the pair has none open. Atomic and idempotent: a
    repeat from the same side returns the same mentorship and sends nothing; an invitation from the other side
    of an open one makes it active (both have agreed)."""
    state = _state(request)
    workflow_id = workflow_id_for(invitation.mentor.id, invitation.mentee.id)
    try:
        status = await state.temporal.call(
            lambda client: starter.invite(client, invitation, task_queue=state.settings.mentorship_task_queue),
            workflow_id=workflow_id,
        )
    except WorkflowUpdateFailedError as err:
        raise HTTPException(409, _reason(err)) from None
    return _status_response(status)


@router.get(
    "/{workflow_id}",
    summary="Read a mentorship",
    response_model=None,
    responses={**_STATUS, **_ERRORS, 404: {"model": Problem, "description": "No such mentorship"}},
)
async def read_mentorship(request: Request, workflow_id: WorkflowId) -> Response:
    """The whole status of one mentorship (the workflow's `status` query), open or ended."""
    _participants(workflow_id)
    try:
        status = await _state(request).temporal.call(
            lambda client: starter.status(client, workflow_id), workflow_id=workflow_id
        )
    except WorkflowQueryFailedError as err:
        raise HTTPException(409, f"the mentorship cannot be read: {_reason(err)}") from None
    return _status_response(status)


@router.get(
    "", summary="List mentorships", response_model=MentorshipList, responses={**_ERRORS, 400: {"model": Problem}}
)
async def list_mentorships(
    request: Request,
    stage: Annotated[Stage | None, Query(description="Only mentorships at this stage")] = None,
    person: Annotated[
        str | None,
        Query(pattern=PERSON_PATTERN, max_length=MAX_ID_LENGTH, description="A participant id, as mentor or mentee"),
    ] = None,
    at_risk: Annotated[bool | None, Query(description="Only those at risk (true) or not (false)")] = None,
    open_only: Annotated[bool, Query(alias="open", description="Only invited, active or paused ones")] = False,
    failed_notifications: Annotated[bool, Query(description="Only those with an undeliverable email")] = False,
    due_before: Annotated[AwareDatetime | None, Query(description="Next check-in due before this time")] = None,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
    page_token: Annotated[str | None, Query(max_length=4096, description="next_page_token of the last page")] = None,
) -> MentorshipList:
    """Mentorships found by their search attributes, newest first, a page at a time."""
    try:
        query = starter.list_query(
            stage=stage,
            at_risk=at_risk,
            person=person,
            due_before=due_before,
            open_only=open_only,
            failed_notifications=failed_notifications,
        )
    except (ValueError, OverflowError) as err:
        raise _unprocessable("due_before" if due_before is not None else "person", str(err)) from None
    state = _state(request)
    token = _open_page_token(state, query, page_token) if page_token else None

    async def fetch(client: Client) -> tuple[list[WorkflowExecution], bytes | None]:
        iterator = client.list_workflows(query, page_size=page_size, next_page_token=token)
        await iterator.fetch_next_page()
        return list(iterator.current_page or []), iterator.next_page_token

    executions, next_token = await state.temporal.call(fetch)
    return MentorshipList(
        mentorships=[_summary(execution) for execution in executions],
        next_page_token=_seal_page_token(state, query, next_token) if next_token else None,
    )


# Temporal's page tokens are opaque to us, and the server may fail on one that is not its own (the dev server
# answers UNKNOWN). So the API hands out each one sealed with a MAC over the query it belongs to, and takes back
# only those: anything else is a 422, and a token of one query cannot be replayed with another.
_PAGE_MAC_BYTES = 16


def _page_mac(state: ApiState, query: str, raw: bytes) -> bytes:
    message = query.encode("utf-8") + b"\n" + raw
    return hmac.new(state.page_key, message, hashlib.sha256).digest()[:_PAGE_MAC_BYTES]


def _seal_page_token(state: ApiState, query: str, raw: bytes) -> str:
    return base64.urlsafe_b64encode(_page_mac(state, query, raw) + raw).decode("ascii").rstrip("=")


def _open_page_token(state: ApiState, query: str, token: str) -> bytes:
    try:
        if not _BASE64URL.fullmatch(token):
            raise ValueError(token)
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        sealed = b""
    mac, raw = sealed[:_PAGE_MAC_BYTES], sealed[_PAGE_MAC_BYTES:]
    if not raw or not hmac.compare_digest(mac, _page_mac(state, query, raw)):
        raise _unprocessable("page_token", "not a next_page_token this API gave out for these filters")
    return raw


def _summary(execution: WorkflowExecution) -> MentorshipSummary:
    attributes = execution.typed_search_attributes
    stage = attributes.get(sa.STAGE) or ""
    initiated_by = attributes.get(sa.INITIATED_BY) or ""
    return MentorshipSummary(
        workflow_id=execution.id,
        run_id=execution.run_id,
        stage=Stage(stage) if stage in Stage.__members__.values() else None,
        mentor_id=attributes.get(sa.MENTOR_ID),
        mentee_id=attributes.get(sa.MENTEE_ID),
        initiated_by=Role(initiated_by) if initiated_by in Role.__members__.values() else None,
        at_risk=bool(attributes.get(sa.AT_RISK)),
        missed_check_ins=attributes.get(sa.MISSED_CHECK_INS) or 0,
        failed_notifications=attributes.get(sa.FAILED_NOTIFICATIONS) or 0,
        next_check_in_at=attributes.get(sa.NEXT_CHECK_IN_AT),
        started_at=execution.start_time,
        closed_at=execution.close_time,
    )


async def _act(request: Request, workflow_id: str, action: str, body: BaseModel) -> Response:
    """An action as an update: the new status, or the workflow's reason for refusing it."""
    mentor, mentee = _participants(workflow_id)
    temporal = _state(request).temporal
    try:
        status = await temporal.call(
            lambda client: starter.act(client, workflow_id, action, body), workflow_id=workflow_id
        )
    except WorkflowUpdateFailedError as err:
        by = getattr(body, "by", None)
        raise HTTPException(403 if by not in (mentor, mentee) else 409, _reason(err)) from None
    except HTTPException as err:
        if err.status_code == 404:
            # An update to a mentorship that has ended is "not found" to Temporal; say what happened instead.
            ended = await _ended_stage(temporal, workflow_id)
            if ended is not None:
                raise HTTPException(409, f"the mentorship has already ended ({ended})") from None
        raise
    return _status_response(status)


async def _ended_stage(temporal: Temporal, workflow_id: str) -> str | None:
    try:
        described = await temporal.call(lambda client: client.get_workflow_handle(workflow_id).describe())
    except HTTPException:
        return None
    if described.status == WorkflowExecutionStatus.RUNNING:
        return None
    return described.typed_search_attributes.get(sa.STAGE) or "closed"


_ACTION: dict[int | str, dict[str, Any]] = {**_STATUS, **_ACTION_ERRORS}


@router.post("/{workflow_id}/accept", summary="Accept (the invitee)", response_model=None, responses=_ACTION)
async def accept(request: Request, workflow_id: WorkflowId, body: AcceptInput) -> Response:
    """The invitee accepts the invitation: the mentorship becomes active and both are told."""
    return await _act(request, workflow_id, "accept", body)


@router.post("/{workflow_id}/decline", summary="Decline (the invitee)", response_model=None, responses=_ACTION)
async def decline(request: Request, workflow_id: WorkflowId, body: DeclineInput) -> Response:
    """The invitee declines the invitation; the initiator is told."""
    return await _act(request, workflow_id, "decline", body)


@router.post("/{workflow_id}/withdraw", summary="Withdraw", response_model=None, responses=_ACTION)
async def withdraw(request: Request, workflow_id: WorkflowId, body: WithdrawInput) -> Response:
    """The initiator withdraws the invitation, or either participant ends an active or paused mentorship."""
    return await _act(request, workflow_id, "withdraw", body)


@router.post("/{workflow_id}/check_in", summary="Record a check-in", response_model=None, responses=_ACTION)
async def check_in(request: Request, workflow_id: WorkflowId, body: CheckInInput) -> Response:
    """Either participant records the check-in that is due (an early one counts for the current cycle)."""
    return await _act(request, workflow_id, "check_in", body)


@router.post("/{workflow_id}/pause", summary="Pause", response_model=None, responses=_ACTION)
async def pause(request: Request, workflow_id: WorkflowId, body: PauseInput) -> Response:
    """Either participant pauses an active mentorship, until resumed or until `until`."""
    return await _act(request, workflow_id, "pause", body)


@router.post("/{workflow_id}/resume", summary="Resume", response_model=None, responses=_ACTION)
async def resume(request: Request, workflow_id: WorkflowId, body: ResumeInput) -> Response:
    """Either participant resumes a paused mentorship; a fresh check-in cycle starts."""
    return await _act(request, workflow_id, "resume", body)


# --- Health -----------------------------------------------------------------------------------------------

health = APIRouter(tags=["health"])


@health.get("/livez", summary="The process answers")
async def livez() -> Health:
    return Health(status="ok")


@health.get("/readyz", summary="Temporal answers", responses={503: {"model": Problem}})
async def readyz(request: Request) -> Health:
    if not await _state(request).temporal.call(lambda client: client.service_client.check_health()):
        raise HTTPException(503, "Temporal says it is not serving")
    return Health(status="ok")


# --- Email link pages ---------------------------------------------------------------------------------------

link_pages = APIRouter(prefix=links.LINK_PATH, tags=["email links"])

_HTML_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": description, "content": {"text/html": {}}}
    for code, description in (
        (200, "The page"),
        (400, "Not a valid link (tampered with, or cut short)"),
        (404, "Links are off, or the mentorship is gone"),
        (409, "The link was used, or no longer applies"),
        (410, "The link has expired"),
        (413, "Too much text"),
        (422, "The form's input is not valid (the form again, with the reason)"),
        (503, "Temporal cannot be reached"),
    )
}
_FORM_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "note": {"type": "string", "maxLength": 2000},
                        "reason": {"type": "string", "maxLength": 2000},
                        "rating": {"type": "string", "enum": ["", "1", "2", "3", "4", "5"]},
                    },
                }
            }
        },
    }
}


def _page(page: pages.Page) -> HTMLResponse:
    return HTMLResponse(pages.render(page), status_code=page.status_code, headers=pages.HEADERS)


async def _open_link(request: Request, token: str) -> tuple[links.LinkClaims, MentorshipStatus] | pages.Page:
    """The link's claims and the mentorship's status, or the page that says why the link cannot act."""
    state = _state(request)
    if not state.link_secrets:
        return pages.links_disabled()
    try:
        claims = links.verify(token, state.link_secrets)
    except links.BadLink:
        return pages.bad_link()
    if claims.a == "check_in" and claims.n is None:
        return pages.bad_link()
    try:
        status = await state.temporal.call(lambda client: starter.status(client, claims.w), workflow_id=claims.w)
    except WorkflowQueryFailedError:
        return pages.not_found()
    except HTTPException as err:
        return pages.not_found() if err.status_code == 404 else pages.unavailable(err.status_code)
    refusal = pages.refusal_for(claims, status, datetime.now(UTC))
    return refusal if refusal is not None else (claims, status)


@link_pages.get(
    "/{token}", summary="The page an email link opens", response_class=HTMLResponse, responses=_HTML_RESPONSES
)
async def link_page(request: Request, token: str) -> HTMLResponse:
    """Shows what the link will do, with a button; changes nothing (mail scanners fetch links)."""
    opened = await _open_link(request, token)
    if isinstance(opened, pages.Page):
        return _page(opened)
    claims, status = opened
    return _page(pages.confirmation(claims, status, values={}, error=None))


@link_pages.post(
    "/{token}",
    summary="Do what the link says (the page's button)",
    response_class=HTMLResponse,
    responses=_HTML_RESPONSES,
    openapi_extra=_FORM_BODY,
)
async def link_action(request: Request, token: str) -> HTMLResponse:
    """Acts as the link's recipient: accept, decline or record the check-in, with the form's note or reason."""
    body = await _read_form(request)
    if isinstance(body, pages.Page):
        return _page(body)
    opened = await _open_link(request, token)
    if isinstance(opened, pages.Page):
        return _page(opened)
    claims, status = opened
    values: dict[str, str] = {name: body[name] for name in ("note", "reason", "rating") if name in body}
    payload: dict[str, Any] = {"by": claims.p}
    if claims.a == "accept" and values.get("note", "").strip():
        payload["note"] = values["note"]
    elif claims.a == "decline" and values.get("reason", "").strip():
        payload["reason"] = values["reason"]
    elif claims.a == "check_in":
        if values.get("note", "").strip():
            payload["note"] = values["note"]
        if values.get("rating", "").strip():
            payload["rating"] = values["rating"].strip()
    try:
        action_input = ACTION_INPUTS[claims.a].model_validate(payload)
    except ValidationError as err:
        return _page(pages.confirmation(claims, status, values=values, error=explain(err)))
    temporal = _state(request).temporal
    try:
        after = await temporal.call(
            lambda client: starter.act(client, claims.w, claims.a, action_input), workflow_id=claims.w
        )
    except WorkflowUpdateFailedError as err:
        # Most often a second click that lost the race: the state then says what happened.
        opened = await _open_link(request, token)
        return _page(opened if isinstance(opened, pages.Page) else pages.refused(_reason(err)))
    except HTTPException as err:
        if err.status_code == 404:
            opened = await _open_link(request, token)
            return _page(opened if isinstance(opened, pages.Page) else pages.not_found())
        return _page(pages.unavailable(err.status_code))
    log.info("link used: %s on %s by %s", claims.a, claims.w, claims.p)
    return _page(pages.done(claims, after))


async def _read_form(request: Request) -> dict[str, str] | pages.Page:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return pages.too_large()
        chunks.append(chunk)
    text = b"".join(chunks).decode("utf-8", errors="replace")
    try:
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=20)
    except ValueError:
        return pages.too_large()
    return {name: values[0] for name, values in parsed.items()}


# --- The application ----------------------------------------------------------------------------------------


def _field(loc: tuple[int | str, ...] | list[int | str]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "input"


def _problem(status_code: int, detail: str, errors: list[FieldError], headers: dict[str, str] | None) -> JSONResponse:
    return JSONResponse(
        Problem(detail=detail, errors=errors).model_dump(mode="json"), status_code=status_code, headers=headers
    )


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(field=_field(error.get("loc", ())), reason=str(error.get("msg", "")).removeprefix("Value error, "))
        for error in exc.errors()
    ]
    return _problem(422, "; ".join(f"{e.field}: {e.reason}" for e in errors) or "invalid input", errors, None)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    errors = exc.errors if isinstance(exc, ApiError) else []
    return _problem(exc.status_code, str(exc.detail), errors, dict(exc.headers or {}) or None)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, _redacted(request.url.path))
    return _problem(500, "internal error; the service log has the details", [], None)


def _redacted(path: str) -> str:
    """Paths as logged: a link's token is a credential and stays out of the logs."""
    prefix = f"{links.LINK_PATH}/"
    return f"{prefix}…" if path.startswith(prefix) else path


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
        _redacted(request.url.path),
        response.status_code,
        (time.perf_counter() - started) * 1000,
    )
    return response


def _secret_list(value: str) -> list[bytes]:
    return [item.strip().encode() for item in value.split(",") if item.strip()]


def create_app(settings: Settings | None = None, *, client: Client | None = None) -> FastAPI:
    """The application. ``client``: a connected Temporal client (tests); by default one is connected on first use
    from Temporal's environment configuration (temporal_client.connect)."""
    settings = settings if settings is not None else Settings()
    keys = _secret_list(settings.mentorship_api_keys.get_secret_value()) if settings.mentorship_api_keys else []
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
    page_key = hashlib.sha256(b"mentorship-api-page-token\n" + b"\n".join(sorted(keys))).digest()
    app.state.api = ApiState(settings, Temporal(settings, client), keys, links.secrets_of(settings), page_key)
    app.include_router(router)
    app.include_router(link_pages)
    app.include_router(health)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
    app.middleware("http")(_access_log)
    return app
