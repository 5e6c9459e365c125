"""The pages behind the action links in emails: GET /links/{token} shows, POST /links/{token} acts.

The token is the credential (signed by the worker, verified here with ``infra.links``; no API key). Opening a
link changes nothing: mail scanners and link previews fetch every GET. Only the page's button (the POST) acts,
as the link's recipient. Every answer is a small HTML page (``api.pages``), never JSON.

A feedback link names the mentorship's Feedback workflow, not the mentorship: its page reads that workflow's status
(``mentorship_client.feedback_status``) and its POST gives the feedback (``mentorship_client.give_feedback``).
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
from workflows.contract import NO_FREE_PLACE, FeedbackInput, FeedbackStatus, MentorshipStatus, explain

log = logging.getLogger("mentorship.api")

# A link page's form: a note or a reason of at most 2000 characters, percent-encoded, a rating, would continue.
MAX_FORM_BYTES = 32_000
_FORM_FIELDS = ("note", "reason", "rating", "would_continue")

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
                        "would_continue": {"type": "string", "enum": ["", "yes", "no"]},
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
) -> tuple[links.LinkClaims, MentorshipStatus | FeedbackStatus] | pages.Page:
    """The link's claims and the status of its workflow (the mentorship's; a feedback link's Feedback workflow's),
    or the page that says why the link cannot act."""
    if not secrets:
        return pages.links_disabled()
    try:
        claims = links.verify(token, secrets)
    except links.BadLink:
        return pages.bad_link()
    if claims.a in links.NUMBERED_ACTIONS and claims.n is None:
        return pages.bad_link()  # a check-in link, or a change link, is bound to its number
    if claims.a == links.FEEDBACK_ACTION:
        return await _open_feedback_link(temporal, claims)
    try:
        status = await temporal.call(lambda client: mentorship_client.status(client, claims.w), workflow_id=claims.w)
    except WorkflowQueryFailedError:
        return pages.not_found()
    except HTTPException as err:
        return pages.not_found() if err.status_code == 404 else pages.unavailable(err.status_code)
    refusal = pages.refusal_for(claims, status, datetime.now(UTC))
    return refusal if refusal is not None else (claims, status)


async def _open_feedback_link(
    temporal: Temporal, claims: links.LinkClaims
) -> tuple[links.LinkClaims, FeedbackStatus] | pages.Page:
    """A feedback link's claims and its Feedback workflow's status (read after it completed too), or why not."""
    try:
        status = await temporal.call(
            lambda client: mentorship_client.feedback_status(client, claims.w), workflow_id=claims.w
        )
    except (WorkflowQueryFailedError, mentorship_client.NoFeedbackAsked):
        return pages.not_found()
    except HTTPException as err:
        return pages.not_found() if err.status_code == 404 else pages.unavailable(err.status_code)
    refusal = pages.feedback_refusal_for(claims, status, datetime.now(UTC))
    return refusal if refusal is not None else (claims, status)


@router.get("/{token}", summary="The page an email link opens", response_class=HTMLResponse, responses=_HTML_RESPONSES)
async def link_page(token: str, secrets: LinkSecretsDep, temporal: TemporalDep) -> HTMLResponse:
    """Shows what the link will do, with a button; changes nothing (mail scanners fetch links)."""
    opened = await _open_link(secrets, temporal, token)
    if isinstance(opened, pages.Page):
        return _page(opened)
    claims, status = opened
    if isinstance(status, FeedbackStatus):
        return _page(pages.feedback_form(claims, status, values={}, error=None))
    return _page(pages.confirmation(claims, status, values={}, error=None))


@router.post(
    "/{token}",
    summary="Do what the link says (the page's button)",
    response_class=HTMLResponse,
    responses=_HTML_RESPONSES,
    openapi_extra=_FORM_BODY,
)
async def link_action(request: Request, token: str, secrets: LinkSecretsDep, temporal: TemporalDep) -> HTMLResponse:
    """Acts as the link's recipient: accept, decline or record the check-in, accept or decline a proposed change,
    with the form's note or reason; or give feedback on a mentorship that ended."""
    body = await _read_form(request)
    if isinstance(body, pages.Page):
        return _page(body)
    opened = await _open_link(secrets, temporal, token)
    if isinstance(opened, pages.Page):
        return _page(opened)
    claims, status = opened
    values: dict[str, str] = {name: body[name] for name in _FORM_FIELDS if name in body}
    if isinstance(status, FeedbackStatus):
        return await _give_feedback(secrets, temporal, token, claims, status, values)
    payload: dict[str, Any] = {"by": claims.p}
    if claims.a in ("accept", "accept_change") and values.get("note", "").strip():
        payload["note"] = values["note"]
    elif claims.a in ("decline", "decline_change") and values.get("reason", "").strip():
        payload["reason"] = values["reason"]
    elif claims.a == "check_in":
        if values.get("note", "").strip():
            payload["note"] = values["note"]
        rating = values.get("rating", "").strip()
        if rating:
            # A form sends text; the contract takes a number (strictly: "2" in JSON is refused).
            payload["rating"] = int(rating) if rating.isdecimal() and len(rating) < 4 else rating
    if claims.a in ("accept_change", "decline_change") and claims.n is not None:
        # Bound to the proposal the email was about: the workflow refuses it if another one is open by now.
        payload["number"] = claims.n
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
        current = opened[1]
        no_place = isinstance(err.cause, ApplicationError) and err.cause.type == NO_FREE_PLACE
        if no_place and isinstance(current, MentorshipStatus):
            # The invitation stays open: it can be accepted once a place is free.
            return _page(pages.no_free_place(refusal_reason(err), claims, current))
        return _page(pages.refused(refusal_reason(err)))
    except HTTPException as err:
        return await _failed(err, secrets, temporal, token)
    log.info("link used: %s on %s by %s", claims.a, claims.w, claims.p)
    return _page(pages.done(claims, after, proposal=status.proposal))


async def _give_feedback(
    secrets: list[bytes],
    temporal: Temporal,
    token: str,
    claims: links.LinkClaims,
    status: FeedbackStatus,
    values: dict[str, str],
) -> HTMLResponse:
    """The feedback form posted: given as the link's recipient, or the form again with what is missing."""
    given = feedback_input(claims, values)
    if isinstance(given, str):
        return _page(pages.feedback_form(claims, status, values=values, error=given))
    try:
        after = await temporal.call(
            lambda client: mentorship_client.give_feedback(client, claims.w, given), workflow_id=claims.w
        )
    except WorkflowUpdateFailedError as err:
        # A second click that lost the race, or the window closed meanwhile: the state then says which.
        opened = await _open_link(secrets, temporal, token)
        return _page(opened if isinstance(opened, pages.Page) else pages.refused(refusal_reason(err)))
    except HTTPException as err:
        # 404 too once the Feedback workflow completed (both answered, or closed) since the page was read.
        return await _failed(err, secrets, temporal, token)
    log.info("link used: %s on %s by %s", claims.a, claims.w, claims.p)
    return _page(pages.feedback_given(claims, after if after is not None else status, given))


def feedback_input(claims: links.LinkClaims, values: dict[str, str]) -> FeedbackInput | str:
    """The feedback the form gives, or why it cannot be given (to show with the form again)."""
    payload: dict[str, Any] = {"by": claims.p}
    rating = values.get("rating", "").strip()
    if not rating:
        return "rating: choose how it went, from 1 to 5"
    # A form sends text; the contract takes a number (strictly: "2" in JSON is refused).
    payload["rating"] = int(rating) if rating.isdecimal() and len(rating) < 4 else rating
    answer = values.get("would_continue", "").strip().lower()
    if answer not in pages.WOULD_CONTINUE:
        return "would_continue: choose yes, no or not sure"
    if pages.WOULD_CONTINUE[answer] is not None:
        payload["would_continue"] = pages.WOULD_CONTINUE[answer]
    if values.get("note", "").strip():
        payload["note"] = values["note"]
    try:
        return FeedbackInput.model_validate(payload)
    except ValidationError as err:
        return explain(err)


async def _failed(err: HTTPException, secrets: list[bytes], temporal: Temporal, token: str) -> HTMLResponse:
    """An action that failed on the way (not refused): 404 says what the state says now; otherwise unavailable."""
    if err.status_code == 404:
        opened = await _open_link(secrets, temporal, token)
        return _page(opened if isinstance(opened, pages.Page) else pages.not_found())
    return _page(pages.unavailable(err.status_code))


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
