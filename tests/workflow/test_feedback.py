"""Feedback after the end, on the time-skipping test server: asked of both, reminded once, summarised for the
coordinator, and never in the way of the same pair starting again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

import mentorship_client
from devtools.mailsink import MailSink
from tests.support.builders import ANA_AND_BEN, invitation, new_tag
from tests.support.temporal import running_worker, time_skipping_server
from tests.support.waiting import steps, terminate_when_idle, wait_status
from workflows.contract import FeedbackStatus, Invitation, MentorshipStatus, Role, Stage

DAY = timedelta(days=1)


class World:
    def __init__(self, env: WorkflowEnvironment, sink: MailSink, task_queue: str) -> None:
        self.env, self.sink, self.task_queue = env, sink, task_queue
        self.opened: list[str] = []

    @property
    def client(self) -> Client:
        return self.env.client

    async def accepted(self, **overrides: Any) -> tuple[Invitation, str]:
        inv = invitation(new_tag(), "mentee", cast=ANA_AND_BEN, **overrides)
        current = await mentorship_client.invite(self.client, inv, task_queue=self.task_queue)
        await mentorship_client.act(self.client, current.workflow_id, "accept", {"by": inv.mentor.id})
        self.opened.append(current.workflow_id)
        return inv, current.workflow_id

    async def ended(self, workflow_id: str) -> MentorshipStatus:
        handle = self.client.get_workflow_handle(workflow_id)
        final = await wait_status(handle, lambda s: s.feedback_workflow_id is not None, "feedback asked", 30)
        assert final.feedback_workflow_id is not None
        self.opened.append(final.feedback_workflow_id)
        return final

    async def feedback(
        self, feedback_id: str, predicate: Callable[[FeedbackStatus], bool], what: str
    ) -> FeedbackStatus:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while True:
            current = await mentorship_client.feedback_status(self.client, feedback_id)
            if predicate(current):
                return current
            assert loop.time() < deadline, f"never {what}: {current}"
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for workflow_id in self.opened:
            await terminate_when_idle(self.client, workflow_id)


@pytest_asyncio.fixture
async def world(mail_sink: MailSink) -> AsyncIterator[World]:
    # A time-skipping server of its own, not the session's: a Feedback workflow outlives its mentorship with timers
    # days ahead, and one left behind on the shared server would hold the clock for every later test.
    async with time_skipping_server() as env, running_worker(env.client, mail_sink) as task_queue:
        world = World(env, mail_sink, task_queue)
        yield world
        await world.close()


async def test_both_answer_and_the_coordinator_gets_one_summary(world: World) -> None:
    inv, workflow_id = await world.accepted(term="P30D")
    await world.env.sleep(31 * DAY)
    final = await world.ended(workflow_id)
    assert final.stage is Stage.COMPLETED
    feedback_id = final.feedback_workflow_id
    assert feedback_id is not None
    # By the mentorship's id (its latest run's feedback) or by the Feedback workflow's own id.
    await mentorship_client.give_feedback(
        world.client, workflow_id, {"by": inv.mentor.id, "rating": 5, "note": "A joy"}
    )
    done = await mentorship_client.give_feedback(
        world.client, feedback_id, {"by": inv.mentee.id, "rating": 4, "would_continue": True}
    )
    assert done is not None and done.closed and done.summary_sent
    assert [(a.role, a.rating, a.would_continue) for a in done.answers] == [
        (Role.MENTOR, 5, None),
        (Role.MENTEE, 4, True),
    ]
    await wait_for_mail(world, feedback_id, {("feedback-summary", "coordinator")})
    assert sorted(steps(world.sink, feedback_id)) == [
        ("feedback-request", "mentee"),
        ("feedback-request", "mentor"),
        ("feedback-summary", "coordinator"),
    ]
    result = FeedbackStatus.model_validate(await world.client.get_workflow_handle(feedback_id).result())
    assert result.closed and len(result.answers) == 2


async def test_one_answers_the_other_is_reminded_once_and_the_window_closes(world: World) -> None:
    inv, workflow_id = await world.accepted(feedback_within="PT6S")
    await mentorship_client.send(world.client, workflow_id, "withdraw", {"by": inv.mentee.id, "reason": "moving"})
    final = await world.ended(workflow_id)
    assert final.stage is Stage.WITHDRAWN
    feedback_id = final.feedback_workflow_id
    assert feedback_id is not None
    await mentorship_client.give_feedback(
        world.client, feedback_id, {"by": inv.mentee.id, "rating": 2, "note": "Not the right time"}, as_signal=True
    )
    await world.feedback(feedback_id, lambda s: len(s.answers) == 1, "one answer")
    # A short window, in the server's own time: the reminder at its middle, the close at its end.
    await world.feedback(feedback_id, lambda s: s.reminders_sent == 1, "the reminder")
    closed = await world.feedback(feedback_id, lambda s: s.closed, "closed")
    assert closed.reminders_sent == 1 and closed.summary_sent
    await wait_for_mail(world, feedback_id, {("feedback-summary", "coordinator")})
    assert sorted(steps(world.sink, feedback_id)) == [
        ("feedback-reminder", "mentor"),
        ("feedback-request", "mentee"),
        ("feedback-request", "mentor"),
        ("feedback-summary", "coordinator"),
    ]
    # Too late now: refused with the reason, by the workflow (closing) or on its behalf (completed).
    with pytest.raises((mentorship_client.FeedbackRefused, WorkflowUpdateFailedError)) as caught:
        await mentorship_client.give_feedback(world.client, feedback_id, {"by": inv.mentor.id, "rating": 5})
    error = caught.value
    cause = error.cause if isinstance(error, WorkflowUpdateFailedError) else None
    reason = cause.message if isinstance(cause, ApplicationError) else str(error)
    assert reason == "feedback on this mentorship is closed"


async def test_feedback_is_given_once_by_a_participant(world: World) -> None:
    inv, workflow_id = await world.accepted(coordinator=None)
    await mentorship_client.act(world.client, workflow_id, "withdraw", {"by": inv.mentor.id})
    feedback_id = (await world.ended(workflow_id)).feedback_workflow_id
    assert feedback_id is not None
    await mentorship_client.give_feedback(world.client, feedback_id, {"by": inv.mentor.id, "rating": 3})

    async def refused(payload: dict[str, Any]) -> str:
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await world.client.get_workflow_handle(feedback_id).execute_update("feedback", payload)
        assert isinstance(caught.value.cause, ApplicationError)
        return caught.value.cause.message

    assert (
        await refused({"by": inv.mentor.id, "rating": 4})
        == f"{inv.mentor.id!r} already gave feedback on this mentorship"
    )
    assert "is not part of this mentorship" in await refused({"by": "stranger", "rating": 4})
    assert "rating: Input should be less than or equal to 5" in await refused({"by": inv.mentee.id, "rating": 6})
    assert "rating: Field required" in await refused({"by": inv.mentee.id})
    assert "would_continue: Input should be a valid boolean" in await refused(
        {"by": inv.mentee.id, "rating": 4, "would_continue": "yes"}
    )
    current = await mentorship_client.feedback_status(world.client, feedback_id)
    assert len(current.answers) == 1 and not current.closed
    # No coordinator: closing sends no summary.
    done = await mentorship_client.give_feedback(world.client, feedback_id, {"by": inv.mentee.id, "rating": 4})
    assert done is not None and done.closed and not done.summary_sent


async def test_the_pair_starts_again_while_the_last_feedback_comes_in(world: World) -> None:
    inv, workflow_id = await world.accepted()
    await mentorship_client.act(world.client, workflow_id, "withdraw", {"by": inv.mentee.id})
    first = await world.ended(workflow_id)
    assert first.feedback_workflow_id is not None
    # The same two people, a second later (a mentorship's key is to the second): a new mentorship under the same
    # workflow id.
    await world.env.sleep(timedelta(seconds=1))
    again = await mentorship_client.invite(world.client, inv, task_queue=world.task_queue)
    assert again.workflow_id == workflow_id and again.stage is Stage.INVITED
    assert again.invited_at != first.invited_at and again.feedback_workflow_id is None
    await mentorship_client.act(world.client, workflow_id, "accept", {"by": inv.mentor.id})
    await mentorship_client.act(world.client, workflow_id, "check_in", {"by": inv.mentee.id, "rating": 5})
    # The first one's feedback still reaches the first one's record, and the second mentorship is untouched.
    await mentorship_client.give_feedback(world.client, first.feedback_workflow_id, {"by": inv.mentor.id, "rating": 4})
    old = await mentorship_client.feedback_status(world.client, first.feedback_workflow_id)
    assert old.mentorship_key != f"{workflow_id}.{again.invited_at:%Y%m%dT%H%M%SZ}"
    assert [a.by for a in old.answers] == [inv.mentor.id]
    current = await mentorship_client.status(world.client, workflow_id)
    assert current.stage is Stage.ACTIVE and current.check_ins_recorded == 1
    with pytest.raises(mentorship_client.NoFeedbackAsked):
        await mentorship_client.give_feedback(world.client, workflow_id, {"by": inv.mentor.id, "rating": 4})


async def wait_for_mail(world: World, workflow_id: str, wanted: set[tuple[str, str]]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not wanted <= set(steps(world.sink, workflow_id)):
        assert loop.time() < deadline, f"never mailed {wanted}: {steps(world.sink, workflow_id)}"
        await asyncio.sleep(0.05)
