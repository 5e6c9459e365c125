"""The Python client of mentorships: invite, act, send, status, list. Every input is validated here, before it
leaves the process; the workflow validates again.

    from infra.temporal import connect
    import mentorship_client

    client = await connect()
    status = await mentorship_client.invite(client, invitation)                       # update-with-start
    status = await mentorship_client.act(client, status.workflow_id, "accept", {"by": "ana"})   # an update
    await mentorship_client.send(client, status.workflow_id, "check_in", {"by": "ben"})         # a signal
    status = await mentorship_client.status(client, status.workflow_id)                 # the `status` query
    async for execution in mentorship_client.list_mentorships(client, mentorship_client.list_query(at_risk=True)):
        ...
    person = await mentorship_client.set_limits(client, "ana", {"max_mentees": 2})   # a person's limits
    person = await mentorship_client.person_status(client, "ana")                    # None: no record yet
    feedback = await mentorship_client.give_feedback(client, status.workflow_id, {"by": "ana", "rating": 5})

One client for every Python caller: the command line and the demo (``starter.py``), the HTTP API (``api/``) and
the benchmarks. The workflow is started by its type name (``WORKFLOW_TYPE``), so nothing here imports the
workflow class; the actions and their input models come from the action table (``workflows/actions.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowExecution, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

import workflows.feedback_rules as feedback_rules
import workflows.places as places
from activities.places import has_ended, person_record
from infra.settings import get_settings
from workflows import search_attributes as sa
from workflows.actions import PARTICIPANT_ACTIONS
from workflows.contract import (
    ID_PATTERN,
    WORKFLOW_TYPE,
    ActionAnswer,
    FeedbackInput,
    FeedbackStatus,
    Invitation,
    MentorshipInput,
    MentorshipStatus,
    PersonInput,
    PersonStatus,
    Role,
    SetLimitsInput,
    Stage,
    person_workflow_id,
    workflow_id_for,
)
from workflows.durations import humanize_duration, humanize_every
from workflows.events import (
    WEBHOOK_ENDPOINT_WORKFLOW_TYPE,
    EnableEndpointInput,
    EndpointStatus,
    endpoint_workflow_id,
)
from workflows.rules import Refused

logger = logging.getLogger(__name__)


def summary_for(invitation: Invitation) -> str:
    """The one-line static summary operators see in the Temporal UI."""
    return (
        f"{invitation.mentor.name} (mentor) and {invitation.mentee.name} (mentee), "
        f"invited by the {invitation.initiated_by}"
    )


def details_for(invitation: Invitation) -> str:
    lines = [
        f"**Mentor:** {invitation.mentor.name} (`{invitation.mentor.id}`)",
        f"**Mentee:** {invitation.mentee.name} (`{invitation.mentee.id}`)",
        f"**Invited by:** the {invitation.initiated_by}",
        f"**Check-ins:** {humanize_every(invitation.check_in_every)}, "
        f"follow-up after {humanize_duration(invitation.check_in_grace)}",
        f"**Term:** {humanize_duration(invitation.term) if invitation.term else 'open-ended'}",
    ]
    if invitation.focus_areas:
        lines.append("**Focus areas:** " + ", ".join(invitation.focus_areas))
    if invitation.coordinator:
        lines.append(f"**Coordinator:** {invitation.coordinator.name} (`{invitation.coordinator.id}`)")
    return "\n\n".join(lines)


async def invite(
    client: Client,
    invitation: Invitation,
    *,
    task_queue: str | None = None,
    history_event_limit: int | None = None,
) -> MentorshipStatus:
    """Invite, from either side. Atomic (update-with-start on the pair's workflow id):

    - no open mentorship for the pair: one starts, the invitee and the initiator are emailed;
    - an open invitation from the other side: both have agreed, the mentorship becomes active;
    - an open invitation from the same side, or an active mentorship: nothing new, nothing sent.
    """
    workflow_input = MentorshipInput.model_validate(
        {**invitation.model_dump(), "history_event_limit": history_event_limit}
    )
    operation: WithStartWorkflowOperation[Any, MentorshipStatus] = WithStartWorkflowOperation(
        WORKFLOW_TYPE,
        workflow_input,
        id=workflow_id_for(invitation.mentor.id, invitation.mentee.id),
        task_queue=task_queue or get_settings().mentorship_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A pair may start again once its previous mentorship has closed.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        result_type=MentorshipStatus,
        static_summary=summary_for(invitation),
        static_details=details_for(invitation),
        search_attributes=sa.at_invitation(invitation),
    )
    await refuse_without_free_places(client, invitation)
    answer: ActionAnswer = await client.execute_update_with_start_workflow(
        "invite", invitation, start_workflow_operation=operation, result_type=ActionAnswer
    )
    # The update answers an ActionAnswer (contract 2); callers get the whole status from a query (no history
    # written).
    return await status(client, answer.workflow_id)


# A record too busy to answer a query now (its workflow's query buffer is full under load) or a server that did not
# answer in time: the early check is skipped for that person, and their acceptance still checks, atomically.
_EARLY_CHECK_SKIPPED_ON = (
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
)


async def _record_if_answered(client: Client, person_id: str) -> PersonStatus | None:
    """A person's record for the early check; None when they have none, or when it could not answer now."""
    try:
        return await person_status(client, person_id)
    except RPCError as err:
        if err.status not in _EARLY_CHECK_SKIPPED_ON:
            raise
        logger.warning("No early check of %s's free places: their record did not answer (%s)", person_id, err)
        return None


class NoFreePlace(ValueError):
    """An invitation refused before anything starts: the inviter or the invitee has no free place now."""


async def refuse_without_free_places(client: Client, invitation: Invitation) -> None:
    """Raise ``NoFreePlace`` with the reason when the mentor or the mentee has no free place right now (the places
    of this pair's own open mentorship do not count: inviting it again changes nothing). Accepting checks again,
    atomically, in the people's records; this only spares people an invitation nobody could accept."""
    workflow_id = workflow_id_for(invitation.mentor.id, invitation.mentee.id)
    reasons: list[str] = []
    roles = (Role.MENTOR, Role.MENTEE)
    # Both records at once: each query is a worker task.
    records = await asyncio.gather(*(_record_if_answered(client, invitation.person(role).id) for role in roles))
    for role, record in zip(roles, records, strict=True):
        person = invitation.person(role)
        if record is None:
            continue
        others = record.model_copy(update={"places": [p for p in record.places if p.workflow_id != workflow_id]})
        free = others.free_as(role)
        if free is not None and free <= 0:
            # A place held by a mentorship that ended without giving it back (terminated) is free in truth: the
            # acceptance will take it back, so the invitation may go.
            in_role = [p for p in others.places if p.role is role]
            if not any([await has_ended(client, p.workflow_id, p.key) for p in in_role]):
                reasons.append(places.no_free_place(others, role, person.name))
    if reasons:
        raise NoFreePlace("; ".join(reasons))


def _validated(action: str, payload: BaseModel | dict[str, Any]) -> BaseModel:
    """The action's input as its model of the action table (a KeyError for an unknown action)."""
    model: type[BaseModel] = PARTICIPANT_ACTIONS[action].input
    return payload if isinstance(payload, model) else model.model_validate(payload)


async def act(client: Client, workflow_id: str, action: str, payload: BaseModel | dict[str, Any]) -> MentorshipStatus:
    """Run an action as an update: validated by the workflow, answers the new status or raises with the reason."""
    validated = _validated(action, payload)
    handle = client.get_workflow_handle(workflow_id)
    await handle.execute_update(action, validated, result_type=ActionAnswer)
    # The update answers an ActionAnswer (contract 2); callers get the whole status from a query (no history
    # written).
    return await status(client, workflow_id)


async def send(client: Client, workflow_id: str, action: str, payload: BaseModel | dict[str, Any]) -> None:
    """Fire-and-forget: the same action as a signal. A refused signal is recorded in the status."""
    validated = _validated(action, payload)
    await client.get_workflow_handle(workflow_id).signal(action, validated)


async def status(client: Client, workflow_id: str) -> MentorshipStatus:
    current: MentorshipStatus = await client.get_workflow_handle(workflow_id).query(
        "status", result_type=MentorshipStatus
    )
    return current


class NoFeedbackAsked(LookupError):
    """The mentorship asked for no feedback (it never became active, or it is still open)."""


# The mentorship starts its Feedback workflow as it ends: the update that ended it answers a moment before the
# status names that workflow. A caller asking at once waits this long for it, not longer.
FEEDBACK_START_WAIT_SECONDS = 5.0


async def feedback_workflow_of(client: Client, workflow_id: str) -> str:
    """The Feedback workflow of the latest mentorship with ``workflow_id`` (or ``workflow_id`` itself when it is a
    Feedback workflow's id); NoFeedbackAsked when there is none."""
    if workflow_id.startswith("feedback-"):
        return workflow_id
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FEEDBACK_START_WAIT_SECONDS
    while True:
        current = await status(client, workflow_id)
        if current.feedback_workflow_id is not None:
            return current.feedback_workflow_id
        if not await _feedback_starting(client, current) or loop.time() >= deadline:
            raise NoFeedbackAsked(
                f"{workflow_id} asks for no feedback: feedback is asked once an active mentorship ends "
                f"(it is {current.stage})"
            )
        await asyncio.sleep(0.1)


async def _feedback_starting(client: Client, current: MentorshipStatus) -> bool:
    """Whether the mentorship ended after it was active and is about to name its Feedback workflow."""
    if current.accepted_at is None or current.stage not in (Stage.WITHDRAWN, Stage.COMPLETED):
        return False
    described = await client.get_workflow_handle(current.workflow_id).describe()
    return described.status == WorkflowExecutionStatus.RUNNING


async def feedback_status(client: Client, workflow_id: str) -> FeedbackStatus:
    """The feedback given on a mentorship that ended (by its workflow id, or its Feedback workflow's id)."""
    handle = client.get_workflow_handle(await feedback_workflow_of(client, workflow_id))
    current: FeedbackStatus = await handle.query("status", result_type=FeedbackStatus)
    return current


async def give_feedback(
    client: Client, workflow_id: str, payload: FeedbackInput | dict[str, Any], *, as_signal: bool = False
) -> FeedbackStatus | None:
    """A participant's feedback (``by``, ``rating`` 1-5, ``would_continue``?, ``note``?), once each, while the window
    is open: as an update (answers the feedback status, or raises with the reason) or as a signal."""
    validated = payload if isinstance(payload, FeedbackInput) else FeedbackInput.model_validate(payload)
    feedback_id = await feedback_workflow_of(client, workflow_id)
    handle = client.get_workflow_handle(feedback_id)
    try:
        if as_signal:
            await handle.signal("feedback", validated)
            return None
        current: FeedbackStatus = await handle.execute_update("feedback", validated, result_type=FeedbackStatus)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        # An update or a signal to a Feedback workflow that has completed (both answered, or the window closed) is
        # "not found" to Temporal: say why, in the workflow's own words.
        try:
            closed = await feedback_status(client, feedback_id)
        except RPCError:
            raise err from None  # no such Feedback workflow at all
        try:
            feedback_rules.may_give(closed, validated, closed.closes_at)
        except Refused as refused:
            raise FeedbackRefused(str(refused)) from None
        raise FeedbackRefused("feedback on this mentorship is closed") from None
    return current


class FeedbackRefused(ValueError):
    """Feedback refused by a Feedback workflow that has completed (both answered, or the window closed)."""


def _person_id(person_id: str) -> str:
    return PersonInput(person_id=person_id).person_id


async def person_status(client: Client, person_id: str) -> PersonStatus | None:
    """A person's record (their limits and the places their mentorships hold); None when they have none yet (no
    limits set, no mentorship ever accepted)."""
    handle = client.get_workflow_handle(person_workflow_id(_person_id(person_id)))
    try:
        current: PersonStatus = await handle.query("status", result_type=PersonStatus)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return current


async def set_limits(
    client: Client, person_id: str, limits: SetLimitsInput | dict[str, Any], *, task_queue: str | None = None
) -> PersonStatus:
    """Set a person's limits (a field left out keeps its value, null removes it); answers their record. Their
    record starts if they have none (update-with-start)."""
    validated = limits if isinstance(limits, SetLimitsInput) else SetLimitsInput.model_validate(limits)
    current: PersonStatus = await client.execute_update_with_start_workflow(
        "set_limits",
        validated,
        start_workflow_operation=person_record(
            _person_id(person_id), task_queue or get_settings().mentorship_task_queue
        ),
        result_type=PersonStatus,
    )
    return current


def list_query(
    *,
    stage: Stage | None = None,
    at_risk: bool | None = None,
    person: str | None = None,
    due_before: datetime | None = None,
    open_only: bool = False,
    failed_notifications: bool = False,
) -> str:
    """A visibility query over mentorships; the same text works in the Temporal UI's filter box."""
    parts = [f"WorkflowType = '{WORKFLOW_TYPE}'"]
    if stage is not None:
        parts.append(f"{sa.STAGE.name} = '{stage.value}'")
    elif open_only:
        parts.append(f"{sa.STAGE.name} IN ('invited', 'active', 'paused')")
    if at_risk is not None:
        parts.append(f"{sa.AT_RISK.name} = {'true' if at_risk else 'false'}")
    if failed_notifications:
        parts.append(f"{sa.FAILED_NOTIFICATIONS.name} > 0")
    if person is not None:
        if not ID_PATTERN.fullmatch(person):
            raise ValueError(f"{person!r} is not a participant id")
        parts.append(f"({sa.MENTOR_ID.name} = '{person}' OR {sa.MENTEE_ID.name} = '{person}')")
    if due_before is not None:
        if due_before.tzinfo is None:
            raise ValueError("due_before needs a time zone, e.g. 2026-12-01T00:00:00Z")
        # isoformat pads the year to four digits (strftime gives "999-01-01" for the year 999, which Temporal refuses).
        stamp = due_before.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"
        parts.append(f"{sa.NEXT_CHECK_IN_AT.name} < '{stamp}'")
    return " AND ".join(parts)


async def list_mentorships(client: Client, query: str) -> AsyncIterator[WorkflowExecution]:
    """The mentorships a visibility query finds (``list_query``)."""
    async for execution in client.list_workflows(query):
        yield execution


async def webhook_endpoints(client: Client, urls: list[str] | None = None) -> list[EndpointStatus]:
    """The endpoints that ever answered 410 Gone (their records, disabled or re-enabled), and any of ``urls``
    (e.g. the configured ones) as they stand: an endpoint without a record is enabled."""
    found: dict[str, EndpointStatus] = {}
    async for execution in client.list_workflows(f"WorkflowType = '{WEBHOOK_ENDPOINT_WORKFLOW_TYPE}'"):
        if execution.status != WorkflowExecutionStatus.RUNNING:
            continue
        record = await client.get_workflow_handle(execution.id).query("status", result_type=EndpointStatus)
        found[record.url] = record
    for url in urls or []:
        found.setdefault(url, EndpointStatus(url=url))
    return sorted(found.values(), key=lambda record: record.url)


async def enable_webhook_endpoint(client: Client, url: str, by: str) -> EndpointStatus:
    """Take back an endpoint that answered 410 Gone: it gets the events that come next (not those skipped while
    it was disabled). An endpoint without a record was never disabled: answered as it stands."""
    given = EnableEndpointInput(by=by)
    handle = client.get_workflow_handle(endpoint_workflow_id(url))
    try:
        record: EndpointStatus = await handle.execute_update("enable", given, result_type=EndpointStatus)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return EndpointStatus(url=url)
    return record


__all__ = [
    "FeedbackRefused",
    "NoFeedbackAsked",
    "NoFreePlace",
    "act",
    "details_for",
    "enable_webhook_endpoint",
    "feedback_status",
    "feedback_workflow_of",
    "give_feedback",
    "invite",
    "list_mentorships",
    "list_query",
    "person_status",
    "refuse_without_free_places",
    "send",
    "set_limits",
    "status",
    "summary_for",
    "webhook_endpoints",
]
