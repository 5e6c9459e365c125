"""A person's record, behind the API key: their limits and the places their open mentorships hold.

    PUT /people/{person_id}/limits   a SetLimitsInput   -> PersonStatus
    GET /people/{person_id}                             -> PersonStatus

Setting limits is the Person workflow's ``set_limits`` update-with-start (the record starts if the person has
none; a field left out keeps its value, ``null`` removes the limit), reading it the ``status`` query. A person
has no record until limits are set or a mentorship of theirs is accepted: reading it then is 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateFailedError

import mentorship_client
from api.deps import SettingsDep, TemporalDep, require_api_key
from api.errors import Problem, refusal_reason
from api.routes.mentorships import MAX_ID_LENGTH, PERSON_PATTERN
from workflows.contract import PersonStatus, SetLimitsInput

PersonId = Annotated[
    str,
    Path(
        pattern=PERSON_PATTERN,
        max_length=MAX_ID_LENGTH,
        description="A participant id: letters and digits with single '.', '_' or '-' between them",
        examples=["ana"],
    ),
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid API key"},
    422: {"model": Problem, "description": "The input does not fit the contract: each field with its reason"},
    503: {"model": Problem, "description": "Temporal cannot be reached"},
    504: {"model": Problem, "description": "Temporal (or a worker) did not answer in time"},
}
_RECORD: dict[int | str, dict[str, Any]] = {
    200: {"model": PersonStatus, "description": "The person's record: their limits and the places held"}
}

router = APIRouter(prefix="/people", tags=["people"], dependencies=[Depends(require_api_key)])


def _record_response(record: PersonStatus) -> Response:
    # With the computed counts (open_as_mentor, free_as_mentor, at_limit, ...), as the schema says.
    return Response(record.model_dump_json(), media_type="application/json")


@router.put(
    "/{person_id}/limits",
    summary="Set a person's limits",
    response_model=None,
    responses={
        **_RECORD,
        **_ERRORS,
        409: {"model": Problem, "description": "Refused by the person's record (the reason says why)"},
    },
)
async def set_limits(
    person_id: PersonId, limits: SetLimitsInput, temporal: TemporalDep, settings: SettingsDep
) -> Response:
    """How many people they mentor at once (`max_mentees`) and how many mentors they have at once
    (`max_mentors`), each 0-100. A field left out keeps its value; `null` removes the limit; `0` means not taking
    any now; `{}` is refused. Lowering a limit below what is open ends nothing: it only stops new acceptances
    until enough places are given back. Answers the record (it starts if the person has none)."""
    try:
        record = await temporal.call(
            lambda client: mentorship_client.set_limits(
                client, person_id, limits, task_queue=settings.mentorship_task_queue
            )
        )
    except WorkflowUpdateFailedError as err:
        raise HTTPException(409, refusal_reason(err)) from None
    return _record_response(record)


@router.get(
    "/{person_id}",
    summary="Read a person's record",
    response_model=None,
    responses={
        **_RECORD,
        **_ERRORS,
        404: {"model": Problem, "description": "No record: no limits set and no mentorship of theirs accepted yet"},
        409: {"model": Problem, "description": "The record cannot be read (the reason says why)"},
    },
)
async def read_person(person_id: PersonId, temporal: TemporalDep) -> Response:
    """Their limits, the places their open mentorships hold (as mentor: counted against `max_mentees`; as
    mentee: against `max_mentors`), and what is free: `free_as_mentor`, `free_as_mentee` (`null`: no limit),
    `at_limit`."""
    try:
        record = await temporal.call(lambda client: mentorship_client.person_status(client, person_id))
    except WorkflowQueryFailedError as err:
        raise HTTPException(409, f"the person's record cannot be read: {refusal_reason(err)}") from None
    if record is None:
        raise HTTPException(404, f"no record of {person_id!r}: no limits set and no mentorship of theirs accepted yet")
    return _record_response(record)
