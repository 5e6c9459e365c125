"""The activities between mentorships and people's records (the Person workflows, ``workflows/person.py``).

- ``take_places``: a mentorship being accepted takes a place with its mentor (as mentor) and with its mentee (as
  mentee), both or neither. Both are asked at once (update-with-start: a person's record starts on first need);
  when one refuses, the place the other granted is given back before the answer. Every step is idempotent per
  mentorship key, so a retried attempt (a worker killed in the middle) grants nothing twice and a refusal always
  ends with neither place held.
- ``release_places``: a mentorship that ended gives both places back (idempotent; a person without a record
  holds nothing).
- ``find_ended_places``: a person's record asks which of its places belong to mentorships that have ended
  without giving them back (terminated, failed, or a later mentorship of the same pair), so they are taken back
  rather than leaked.
"""

from __future__ import annotations

import asyncio
import logging

from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from workflows.contract import (
    FIND_ENDED_PLACES,
    PERSON_WORKFLOW_TYPE,
    RELEASE_PLACES,
    TAKE_PLACES,
    FindEndedPlacesInput,
    MentorshipStatus,
    Person,
    PersonInput,
    PlaceAnswer,
    PlaceRelease,
    PlaceRequest,
    ReleasePlacesInput,
    Role,
    TakePlacesInput,
    mentorship_key,
    person_workflow_id,
)


def person_record(person_id: str, task_queue: str) -> WithStartWorkflowOperation[PersonInput, None]:
    """The start of a person's record, for update-with-start: used if none runs yet."""
    return WithStartWorkflowOperation(
        PERSON_WORKFLOW_TYPE,
        PersonInput(person_id=person_id),
        id=person_workflow_id(person_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"Limits and places of {person_id}",
    )


class PlaceKeeper:
    """The place activities, with the client they reach the records through. Person records run on the task
    queue of the worker that runs these activities (the mentorships' own)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def _take(self, request: TakePlacesInput, person: Person, role: Role, partner: Person) -> PlaceAnswer:
        answer: PlaceAnswer = await self._client.execute_update_with_start_workflow(
            "take_place",
            PlaceRequest(
                key=request.key, workflow_id=request.workflow_id, role=role, name=person.name, partner_id=partner.id
            ),
            start_workflow_operation=person_record(person.id, activity.info().task_queue),
            result_type=PlaceAnswer,
        )
        return answer

    async def _release(self, key: str, person_id: str) -> None:
        handle = self._client.get_workflow_handle(person_workflow_id(person_id))
        try:
            await handle.execute_update("release_place", PlaceRelease(key=key), result_type=bool)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            # No record: this person holds no place.

    @activity.defn(name=TAKE_PLACES)
    async def take_places(self, request: TakePlacesInput) -> PlaceAnswer:
        as_mentor, as_mentee = await asyncio.gather(
            self._take(request, request.mentor, Role.MENTOR, request.mentee),
            self._take(request, request.mentee, Role.MENTEE, request.mentor),
        )
        if as_mentor.granted and as_mentee.granted:
            return PlaceAnswer(granted=True)
        # Both or neither: give back what one of them granted before answering.
        if as_mentor.granted:
            await self._release(request.key, request.mentor.id)
        if as_mentee.granted:
            await self._release(request.key, request.mentee.id)
        reasons = [answer.reason for answer in (as_mentor, as_mentee) if not answer.granted and answer.reason]
        return PlaceAnswer(granted=False, reason="; ".join(reasons) or "no free place")

    @activity.defn(name=RELEASE_PLACES)
    async def release_places(self, request: ReleasePlacesInput) -> None:
        await asyncio.gather(
            self._release(request.key, request.mentor_id), self._release(request.key, request.mentee_id)
        )

    @activity.defn(name=FIND_ENDED_PLACES)
    async def find_ended_places(self, request: FindEndedPlacesInput) -> list[str]:
        ended: list[str] = []
        for place in request.places:
            activity.heartbeat(place.key)
            if await has_ended(self._client, place.workflow_id, place.key):
                ended.append(place.key)
        return ended


async def has_ended(client: Client, workflow_id: str, key: str) -> bool:
    """Whether the mentorship ``key`` has ended. When in doubt, it has not: a place wrongly kept waits for the next
    check, a place wrongly taken back could over-book a person."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        described = await handle.describe()
    except RPCError as err:
        return err.status == RPCStatusCode.NOT_FOUND
    if described.status != WorkflowExecutionStatus.RUNNING:
        # The latest run of the pair's id has closed: whichever mentorship it was, it holds nothing now.
        return True
    try:
        current: MentorshipStatus = await handle.query("status", result_type=MentorshipStatus)
    except Exception:  # A query that fails (no worker yet) proves nothing.
        logging.getLogger(__name__).warning(
            "Could not ask %s whether it still holds its place", workflow_id, exc_info=True
        )
        return False
    if mentorship_key(current.workflow_id, current.invited_at) != key:
        # The pair's id now runs a later mentorship: the one that held the place has ended.
        return True
    # An open mentorship holds its place from the moment it took it (while still "invited", its acceptance is
    # under way) until it gives it back.
    return not current.stage.is_open
