"""mentorship_client's early check of free places when a person's record cannot answer: an invitation is not
refused because a record is busy (under load a record's query buffer fills up and the server answers
RESOURCE_EXHAUSTED); the acceptance still checks the places, atomically. Injected, since a real server makes
this fault only under a load no unit test should make."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.service import RPCError, RPCStatusCode

import mentorship_client
from tests.support.builders import people


class _Handle:
    def __init__(self, status: RPCStatusCode) -> None:
        self.status = status

    async def query(self, *args: Any, **kwargs: Any) -> Any:
        raise RPCError("consistent query buffer is full", self.status, b"")


class _Client:
    """Only what the early check calls: each person's record answers with the given error."""

    def __init__(self, status: RPCStatusCode) -> None:
        self.status = status
        self.asked: list[str] = []

    def get_workflow_handle(self, workflow_id: str) -> _Handle:
        self.asked.append(workflow_id)
        return _Handle(self.status)


@pytest.mark.parametrize(
    "status", [RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED]
)
async def test_a_record_that_cannot_answer_now_skips_the_early_check(status: RPCStatusCode) -> None:
    client = _Client(status)
    invitation = people("mentee")
    fake: Any = client
    await mentorship_client.refuse_without_free_places(fake, invitation)
    assert sorted(client.asked) == sorted(f"person-{p.id}" for p in (invitation.mentor, invitation.mentee))


async def test_any_other_error_is_raised() -> None:
    client: Any = _Client(RPCStatusCode.PERMISSION_DENIED)
    with pytest.raises(RPCError):
        await mentorship_client.refuse_without_free_places(client, people("mentee"))
