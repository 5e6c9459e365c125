"""The mentorship endpoints, behind the API key: create (the invitation), read, list, and the actions.

    POST /mentorships                          an Invitation            -> MentorshipStatus
    GET  /mentorships/{workflow_id}                                     -> MentorshipStatus
    GET  /mentorships?stage=&person=&...                                -> a page of summaries
    POST /mentorships/{workflow_id}/{action}   the action's input       -> MentorshipStatus
         action: accept, decline, withdraw, check_in, pause, resume
    POST /mentorships/{workflow_id}/feedback   a FeedbackInput          -> FeedbackStatus
    GET  /mentorships/{workflow_id}/feedback                            -> FeedbackStatus

Creating is the ``invite`` update-with-start (a repeat returns the same mentorship), each action an update (the
caller gets the new status, or a 4xx with the workflow's reason), reading the ``status`` query, and listing a
visibility query over the search attributes (ids, stages, dates; never names or addresses). Each action has a
route of its own, named after it, with its input model of the action table (``workflows/actions.py``). Feedback,
asked of both once an active mentorship ended, goes to the Feedback workflow the mentorship started (its
``feedback`` update and ``status`` query), found through the mentorship's status.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel
from starlette.exceptions import HTTPException
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)

import mentorship_client
from api import page_tokens
from api.deps import PageKeyDep, SettingsDep, Temporal, TemporalDep, require_api_key
from api.errors import Problem, refusal_reason, unprocessable
from api.models import MentorshipList, MentorshipSummary
from infra.local_time import moment_for
from workflows import search_attributes as sa
from workflows import wording
from workflows.actions import PARTICIPANT_ACTIONS, Action
from workflows.contract import (
    ID_PATTERN,
    FeedbackInput,
    FeedbackStatus,
    Invitation,
    MentorshipStatus,
    Role,
    Stage,
    workflow_id_for,
)

# A mentorship's workflow id: `mentorship-{mentor id}--{mentee id}`; ids never contain "--".
WORKFLOW_ID_PATTERN = f"^mentorship-{ID_PATTERN.pattern}--{ID_PATTERN.pattern}$"
PERSON_PATTERN = f"^{ID_PATTERN.pattern}$"
MAX_ID_LENGTH = 64

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
    409: {
        "model": Problem,
        "description": "Refused by the mentorship (the reason says why, e.g. no free place for an acceptance); "
        "nothing changed",
    },
}
_ACTION: dict[int | str, dict[str, Any]] = {**_STATUS, **_ACTION_ERRORS}

router = APIRouter(prefix="/mentorships", tags=["mentorships"], dependencies=[Depends(require_api_key)])


def _status_response(status: MentorshipStatus | FeedbackStatus) -> Response:
    # Serialized as is (not re-validated on the way out: state carried from older versions may not pass rules
    # added since, see workflows/contract.py TRUSTED).
    return Response(status.model_dump_json(), media_type="application/json")


def _participants(workflow_id: str) -> tuple[str, str]:
    mentor, _, mentee = workflow_id.removeprefix("mentorship-").partition("--")
    if len(mentor) > MAX_ID_LENGTH or len(mentee) > MAX_ID_LENGTH:
        raise unprocessable("workflow_id", f"ids are at most {MAX_ID_LENGTH} characters")
    return mentor, mentee


@router.post(
    "",
    summary="Invite (create a mentorship)",
    response_model=None,
    responses={
        **_STATUS,
        **_ERRORS,
        409: {
            "model": Problem,
            "description": "Refused (the reason says why): the mentor or the mentee has no free place, so nothing "
            "started; or refused by the mentorship",
        },
    },
)
async def create_mentorship(invitation: Invitation, temporal: TemporalDep, settings: SettingsDep) -> Response:
    """Invite, from either side: the mentorship starts if the pair has none open. Atomic and idempotent: a
    repeat from the same side returns the same mentorship and sends nothing; an invitation from the other side
    of an open one makes it active (both have agreed). Refused with 409, before anything starts, when the mentor
    or the mentee has no free place (at their limit: `PUT /people/{person_id}/limits`)."""
    workflow_id = workflow_id_for(invitation.mentor.id, invitation.mentee.id)
    try:
        status = await temporal.call(
            lambda client: mentorship_client.invite(client, invitation, task_queue=settings.mentorship_task_queue),
            workflow_id=workflow_id,
        )
    except mentorship_client.NoFreePlace as err:
        raise HTTPException(409, str(err)) from None
    except WorkflowUpdateFailedError as err:
        raise HTTPException(409, refusal_reason(err)) from None
    return _status_response(status)


@router.get(
    "/{workflow_id}",
    summary="Read a mentorship",
    response_model=None,
    responses={**_STATUS, **_ERRORS, 404: {"model": Problem, "description": "No such mentorship"}},
)
async def read_mentorship(
    workflow_id: WorkflowId,
    temporal: TemporalDep,
    reader: Annotated[
        str | None,
        Query(
            pattern=PERSON_PATTERN,
            max_length=MAX_ID_LENGTH,
            description="A participant's id: `waiting_for` then says its moments in their time zone and locale",
        ),
    ] = None,
) -> Response:
    """The whole status of one mentorship (the workflow's `status` query), open or ended."""
    _participants(workflow_id)
    try:
        status = await temporal.call(
            lambda client: mentorship_client.status(client, workflow_id), workflow_id=workflow_id
        )
    except WorkflowQueryFailedError as err:
        raise HTTPException(409, f"the mentorship cannot be read: {refusal_reason(err)}") from None
    if reader is not None:
        status = _as_read_by(status, reader)
    return _status_response(status)


def _as_read_by(status: MentorshipStatus, reader: str) -> MentorshipStatus:
    """The status with ``waiting_for`` in ``reader``'s time zone and locale (infra/local_time.py)."""
    role = status.invitation.role_of(reader)
    if role is None:
        raise HTTPException(400, f"reader: {reader!r} is not the mentor or the mentee of {status.workflow_id}")
    person = status.invitation.person(role)
    seconds = wording.shows_seconds(status)
    text = wording.waiting_for(status, lambda value: moment_for(person, value, seconds=seconds))
    return status.model_copy(update={"waiting_for": text})


@router.get(
    "", summary="List mentorships", response_model=MentorshipList, responses={**_ERRORS, 400: {"model": Problem}}
)
async def list_mentorships(
    temporal: TemporalDep,
    page_key: PageKeyDep,
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
        query = mentorship_client.list_query(
            stage=stage,
            at_risk=at_risk,
            person=person,
            due_before=due_before,
            open_only=open_only,
            failed_notifications=failed_notifications,
        )
    except (ValueError, OverflowError) as err:
        raise unprocessable("due_before" if due_before is not None else "person", str(err)) from None
    token = page_tokens.unseal(page_key, query, page_token) if page_token else None

    async def fetch(client: Client) -> tuple[list[WorkflowExecution], bytes | None]:
        iterator = client.list_workflows(query, page_size=page_size, next_page_token=token)
        await iterator.fetch_next_page()
        return list(iterator.current_page or []), iterator.next_page_token

    executions, next_token = await temporal.call(fetch)
    return MentorshipList(
        mentorships=[_summary(execution) for execution in executions],
        next_page_token=page_tokens.seal(page_key, query, next_token) if next_token else None,
    )


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


# --- The actions --------------------------------------------------------------------------------------------


async def _act(temporal: Temporal, workflow_id: str, action: str, body: BaseModel) -> Response:
    """An action as an update: the new status, or the workflow's reason for refusing it."""
    mentor, mentee = _participants(workflow_id)
    try:
        status = await temporal.call(
            lambda client: mentorship_client.act(client, workflow_id, action, body), workflow_id=workflow_id
        )
    except WorkflowUpdateFailedError as err:
        by = getattr(body, "by", None)
        raise HTTPException(403 if by not in (mentor, mentee) else 409, refusal_reason(err)) from None
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


def _action_route(action: Action[Any]) -> None:
    """``POST /mentorships/{workflow_id}/{action}``, from the action's row of the table (workflows/actions.py):
    its input model is the body, its summary and description the operation's."""

    async def route(workflow_id: WorkflowId, body: BaseModel, temporal: TemporalDep) -> Response:
        return await _act(temporal, workflow_id, action.name, body)

    # The body's model is the action's: FastAPI reads it from the signature (and names the operation after it).
    route.__signature__ = inspect.signature(route).replace(  # type: ignore[attr-defined]
        parameters=[
            inspect.Parameter("workflow_id", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=WorkflowId),
            inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=action.input),
            inspect.Parameter("temporal", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=TemporalDep),
        ]
    )
    route.__name__ = route.__qualname__ = action.name
    route.__doc__ = action.description
    router.post(f"/{{workflow_id}}/{action.name}", summary=action.summary, response_model=None, responses=_ACTION)(
        route
    )


# Every participant's action, in the table's order: adding an action to the table adds its route.
for _action in PARTICIPANT_ACTIONS.values():
    _action_route(_action)


# --- Feedback ------------------------------------------------------------------------------------------------

FEEDBACK = "feedback"
# The feedback routes share the action routes' shape; an action of that name would take the same path.
if FEEDBACK in PARTICIPANT_ACTIONS:
    raise RuntimeError(f"an action named {FEEDBACK!r} would clash with POST /mentorships/{{workflow_id}}/{FEEDBACK}")

_FEEDBACK: dict[int | str, dict[str, Any]] = {200: {"model": FeedbackStatus, "description": "The feedback given"}}
_NO_FEEDBACK = "the mentorship asked for none: it never became active, or it has not ended yet"
_FEEDBACK_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    404: {"model": Problem, "description": "No such mentorship"},
    409: {"model": Problem, "description": f"No feedback to read: {_NO_FEEDBACK}"},
}
_FEEDBACK_ERRORS: dict[int | str, dict[str, Any]] = {
    **_FEEDBACK_READ_ERRORS,
    403: {"model": Problem, "description": "`by` is not a participant of this mentorship"},
    409: {
        "model": Problem,
        "description": "Refused (the reason says why): this participant already gave feedback, feedback on this "
        f"mentorship is closed, or {_NO_FEEDBACK}; nothing changed",
    },
}


async def _feedback_workflow(temporal: Temporal, workflow_id: str) -> str:
    """The id of the Feedback workflow of the mentorship's latest run; 409 when it asked for none."""
    try:
        return await temporal.call(
            lambda client: mentorship_client.feedback_workflow_of(client, workflow_id), workflow_id=workflow_id
        )
    except mentorship_client.NoFeedbackAsked as err:
        raise HTTPException(409, str(err)) from None
    except WorkflowQueryFailedError as err:
        raise HTTPException(409, f"the mentorship cannot be read: {refusal_reason(err)}") from None


@router.post(
    "/{workflow_id}/feedback",
    summary="Give feedback on a mentorship that ended",
    response_model=None,
    responses={**_FEEDBACK, **_FEEDBACK_ERRORS},
)
async def give_feedback(workflow_id: WorkflowId, body: FeedbackInput, temporal: TemporalDep) -> Response:
    """Once an active mentorship ended (its term completed, or a participant withdrew), each participant gives
    feedback once, while the window is open (the invitation's `feedback_within`, 14 days by default): `rating` 1 to
    5, `would_continue` (true/false) and a `note`, both optional. Answers the feedback given so far; the second
    answer closes it. Feedback goes to the latest mentorship of the pair (the Feedback workflow its status names in
    `feedback_workflow_id`). Refused with 409 and the reason when this participant already gave theirs, when
    feedback is closed, or when the mentorship asked for none (it never became active, or it is still open)."""
    mentor, mentee = _participants(workflow_id)
    feedback_id = await _feedback_workflow(temporal, workflow_id)
    try:
        status = await temporal.call(
            lambda client: mentorship_client.give_feedback(client, feedback_id, body), workflow_id=workflow_id
        )
    except WorkflowUpdateFailedError as err:
        raise HTTPException(403 if body.by not in (mentor, mentee) else 409, refusal_reason(err)) from None
    except mentorship_client.FeedbackRefused as err:
        # The Feedback workflow has completed (both answered, or the window closed): the reason it would give.
        raise HTTPException(403 if body.by not in (mentor, mentee) else 409, str(err)) from None
    assert status is not None  # an update answers the status
    return _status_response(status)


@router.get(
    "/{workflow_id}/feedback",
    summary="Read the feedback on a mentorship that ended",
    response_model=None,
    responses={**_FEEDBACK, **_FEEDBACK_READ_ERRORS},
)
async def read_feedback(workflow_id: WorkflowId, temporal: TemporalDep) -> Response:
    """The feedback on the pair's latest mentorship, once it ended after being active (the Feedback workflow's
    `status` query): each participant's answer, when the window closes (`closes_at`), whether it is `closed`.
    409 when the mentorship asked for none (it never became active, or it is still open)."""
    _participants(workflow_id)
    feedback_id = await _feedback_workflow(temporal, workflow_id)
    try:
        status = await temporal.call(lambda client: mentorship_client.feedback_status(client, feedback_id))
    except WorkflowQueryFailedError as err:
        raise HTTPException(409, f"the feedback cannot be read: {refusal_reason(err)}") from None
    except HTTPException as err:
        if err.status_code != 404:
            raise
        raise HTTPException(404, f"the feedback on {workflow_id} is no longer kept ({feedback_id})") from None
    return _status_response(status)
