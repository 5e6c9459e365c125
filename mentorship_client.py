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

One client for every Python caller: the command line and the demo (``starter.py``), the HTTP API (``api/``) and
the benchmarks. The workflow is started by its type name (``WORKFLOW_TYPE``), so nothing here imports the
workflow class; the actions and their input models come from the action table (``workflows/actions.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowExecution
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from infra.settings import get_settings
from workflows import search_attributes as sa
from workflows.actions import PARTICIPANT_ACTIONS
from workflows.contract import (
    ID_PATTERN,
    WORKFLOW_TYPE,
    Invitation,
    MentorshipInput,
    MentorshipStatus,
    Stage,
    workflow_id_for,
)
from workflows.durations import humanize_duration, humanize_every


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
    current: MentorshipStatus = await client.execute_update_with_start_workflow(
        "invite", invitation, start_workflow_operation=operation, result_type=MentorshipStatus
    )
    return current


def _validated(action: str, payload: BaseModel | dict[str, Any]) -> BaseModel:
    """The action's input as its model of the action table (a KeyError for an unknown action)."""
    model: type[BaseModel] = PARTICIPANT_ACTIONS[action].input
    return payload if isinstance(payload, model) else model.model_validate(payload)


async def act(client: Client, workflow_id: str, action: str, payload: BaseModel | dict[str, Any]) -> MentorshipStatus:
    """Run an action as an update: validated by the workflow, answers the new status or raises with the reason."""
    validated = _validated(action, payload)
    handle = client.get_workflow_handle(workflow_id)
    current: MentorshipStatus = await handle.execute_update(action, validated, result_type=MentorshipStatus)
    return current


async def send(client: Client, workflow_id: str, action: str, payload: BaseModel | dict[str, Any]) -> None:
    """Fire-and-forget: the same action as a signal. A refused signal is recorded in the status."""
    validated = _validated(action, payload)
    await client.get_workflow_handle(workflow_id).signal(action, validated)


async def status(client: Client, workflow_id: str) -> MentorshipStatus:
    current: MentorshipStatus = await client.get_workflow_handle(workflow_id).query(
        "status", result_type=MentorshipStatus
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


__all__ = ["act", "details_for", "invite", "list_mentorships", "list_query", "send", "status", "summary_for"]
