"""The pages behind the action links in emails: GET /links/{token} shows, POST /links/{token} acts.

The token is the credential (signed by the worker, verified here with ``infra.links``; no API key). Opening a
link changes nothing: mail scanners and link previews fetch every GET. Only the page's button (the POST) acts,
as the link's recipient. Every answer is a small HTML page (``api.pages``), never JSON.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

import mentorship_client
from api import pages
from api.deps import LinkSecretsDep, Temporal, TemporalDep
from api.errors import refusal_reason
from infra import links
from workflows.actions import PARTICIPANT_ACTIONS
from workflows.contract import NO_FREE_PLACE, MentorshipStatus, explain

log = logging.getLogger("mentorship.api")

# A link page's form: a note or a reason of at most 2000 characters, percent-encoded, and a rating.
MAX_FORM_BYTES = 32_000

router = APIRouter(prefix=links.LINK_PATH, tags=["email links"])

_HTML_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": description, "content": {"text/html": {}}}
    for code, description in (
        (200, "The page"),
        (400, "Not a valid link (tampered with, or cut short)"),
        (404, "Links are off, or the mentorship is gone"),
        (409, "The link was used or no longer applies, or there is no free place to accept it now"),
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


async def _open_link(
    secrets: list[bytes], temporal: Temporal, token: str
) -> tuple[links.LinkClaims, MentorshipStatus] | pages.Page:
    """The link's claims and the mentorship's status, or the page that says why the link cannot act."""
    if not secrets:
        return pages.links_disabled()
    try:
        claims = links.verify(token, secrets)
    except links.BadLink:
        return pages.bad_link()
    if claims.a == "check_in" and claims.n is None:
        return pages.bad_link()
    try:
        status = await temporal.call(lambda client: mentorship_client.status(client, claims.w), workflow_id=claims.w)
    except WorkflowQueryFailedError:
        return pages.not_found()
    except HTTPException as err:
        return pages.not_found() if err.status_code == 404 else pages.unavailable(err.status_code)
    refusal = pages.refusal_for(claims, status, datetime.now(UTC))
    return refusal if refusal is not None else (claims, status)


@router.get("/{token}", summary="The page an email link opens", response_class=HTMLResponse, responses=_HTML_RESPONSES)
async def link_page(token: str, secrets: LinkSecretsDep, temporal: TemporalDep) -> HTMLResponse:
    """Shows what the link will do, with a button; changes nothing (mail scanners fetch links)."""
    opened = await _open_link(secrets, temporal, token)
    if isinstance(opened, pages.Page):
        return _page(opened)
    claims, status = opened
    return _page(pages.confirmation(claims, status, values={}, error=None))


@router.post(
    "/{token}",
    summary="Do what the link says (the page's button)",
    response_class=HTMLResponse,
    responses=_HTML_RESPONSES,
    openapi_extra=_FORM_BODY,
)
async def link_action(request: Request, token: str, secrets: LinkSecretsDep, temporal: TemporalDep) -> HTMLResponse:
    """Acts as the link's recipient: accept, decline or record the check-in, with the form's note or reason."""
    body = await _read_form(request)
    if isinstance(body, pages.Page):
        return _page(body)
    opened = await _open_link(secrets, temporal, token)
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
        rating = values.get("rating", "").strip()
        if rating:
            # A form sends text; the contract takes a number (strictly: "2" in JSON is refused).
            payload["rating"] = int(rating) if rating.isdecimal() and len(rating) < 4 else rating
    try:
        action_input = PARTICIPANT_ACTIONS[claims.a].input.model_validate(payload)
    except ValidationError as err:
        return _page(pages.confirmation(claims, status, values=values, error=explain(err)))
    try:
        after = await temporal.call(
            lambda client: mentorship_client.act(client, claims.w, claims.a, action_input), workflow_id=claims.w
        )
    except WorkflowUpdateFailedError as err:
        # Most often a second click that lost the race: the state then says what happened.
        opened = await _open_link(secrets, temporal, token)
        if isinstance(opened, pages.Page):
            return _page(opened)
        if isinstance(err.cause, ApplicationError) and err.cause.type == NO_FREE_PLACE:
            # The invitation stays open: it can be accepted once a place is free.
            return _page(pages.no_free_place(refusal_reason(err), opened[1]))
        return _page(pages.refused(refusal_reason(err)))
    except HTTPException as err:
        if err.status_code == 404:
            opened = await _open_link(secrets, temporal, token)
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
