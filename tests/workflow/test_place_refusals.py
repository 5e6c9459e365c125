"""How an acceptance waiting for its places is refused when the mentorship changed meanwhile, on the time-skipping
server with the real Mentorship workflow and a stand-in for the place activities that answers when the test
says so: the acceptance is judged again once its places are taken, and refused with the rule's reason.

A second click on "accept" (an email link, a double submit) that passed the validator while the first acceptance
was taking its places is such a refusal. Its error type must not say that a place was missing: the email-link
page (api/routes/links.py) and the command line (starter.py, exit code 3) read error type NoFreePlace as "the
mentor or the mentee is at their limit; the invitation stays open", which is false for a mentorship already
active.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import mentorship_client
from activities.mailer import Mailer
from activities.webhooks import WebhookSender
from infra.settings import Settings
from tests.support.builders import people
from tests.support.temporal import time_skipping_server
from tests.support.waiting import terminate_when_idle, until
from worker import WORKFLOW_RUNNER
from workflows.contract import (
    NO_FREE_PLACE,
    RELEASE_PLACES,
    TAKE_PLACES,
    MentorshipStatus,
    PlaceAnswer,
    ReleasePlacesInput,
    Role,
    Stage,
    TakePlacesInput,
)
from workflows.mentorship import Mentorship


class GatedPlaces:
    """take_places that grants both places once the test opens the gate; release_places that records the key."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.gate = asyncio.Event()
        self.released: list[str] = []

    @activity.defn(name=TAKE_PLACES)
    async def take_places(self, request: TakePlacesInput) -> PlaceAnswer:
        self.asked.set()
        await self.gate.wait()
        return PlaceAnswer(granted=True)

    @activity.defn(name=RELEASE_PLACES)
    async def release_places(self, request: ReleasePlacesInput) -> None:
        self.released.append(request.key)


@pytest_asyncio.fixture
async def own_time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server for the test alone. On the session's shared one, something of the first test kept
    the clock from skipping afterwards (every later test's sleep timed out), although its mentorship is
    terminated. Not diagnosed further (it ends with an update refused while another waited for its activity);
    a server of its own keeps it from the others."""
    async with time_skipping_server() as env:
        yield env


class Mislabelled(AssertionError):
    """A refusal for another reason than a missing place, with error type NoFreePlace."""


async def test_a_second_accept_that_lost_the_race_is_not_refused_as_a_missing_place(
    own_time_env: WorkflowEnvironment, mail_settings: Settings
) -> None:
    client = own_time_env.client
    task_queue = f"gated-places-{uuid.uuid4().hex[:8]}"
    places = GatedPlaces()
    invitation = people(Role.MENTEE)
    mentor = invitation.mentor.id
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[Mentorship],
        activities=[
            Mailer(mail_settings).send_notification,
            WebhookSender(mail_settings).deliver_event,
            WebhookSender(mail_settings).count_subscribers,
            places.take_places,
            places.release_places,
        ],
        workflow_runner=WORKFLOW_RUNNER,
    ):
        current = await mentorship_client.invite(client, invitation, task_queue=task_queue)
        handle = client.get_workflow_handle(current.workflow_id)
        first = asyncio.create_task(mentorship_client.act(client, current.workflow_id, "accept", {"by": mentor}))
        second: asyncio.Task[MentorshipStatus] | None = None
        try:
            await asyncio.wait_for(places.asked.wait(), 10)
            # The second click arrives while the first takes its places: the validator still sees an invitation.
            second = asyncio.create_task(mentorship_client.act(client, current.workflow_id, "accept", {"by": mentor}))

            async def both_accepted() -> bool:
                names = [
                    event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
                    async for event in handle.fetch_history_events()
                    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
                ]
                return names.count("accept") == 2

            await until(both_accepted, "both accepts admitted by the validator", 10)
            places.gate.set()
            status = await asyncio.wait_for(first, 10)
            assert status.stage is Stage.ACTIVE and status.holds_places
            with pytest.raises(WorkflowUpdateFailedError) as caught:
                await asyncio.wait_for(second, 10)
        finally:
            for task in (first, second):
                if task is not None and not task.done():
                    task.cancel()
        # The mentorship's check-in timers must not stay on the shared test server once this worker is gone.
        await terminate_when_idle(client, handle.id)
        cause = caught.value.cause
        assert isinstance(cause, ApplicationError)
        assert "already accepted" in cause.message, cause.message
        # Refused by a rule, nothing given back: the first acceptance holds the places.
        assert places.released == []
        if cause.type == NO_FREE_PLACE:
            raise Mislabelled(f"refused with {cause.message!r}, but error type {cause.type}")


async def test_actions_sent_while_an_acceptance_takes_its_places_apply_after_it_in_order(
    own_time_env: WorkflowEnvironment, mail_settings: Settings
) -> None:
    """A person accepts by email link and at once records the kick-off check-in, then pauses (signals, as the
    links and other services send them): neither is refused because the acceptance is still taking its places."""
    client = own_time_env.client
    task_queue = f"gated-places-{uuid.uuid4().hex[:8]}"
    places = GatedPlaces()
    invitation = people(Role.MENTOR)
    mentor, mentee = invitation.mentor.id, invitation.mentee.id
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[Mentorship],
        activities=[
            Mailer(mail_settings).send_notification,
            WebhookSender(mail_settings).deliver_event,
            WebhookSender(mail_settings).count_subscribers,
            places.take_places,
            places.release_places,
        ],
        workflow_runner=WORKFLOW_RUNNER,
    ):
        current = await mentorship_client.invite(client, invitation, task_queue=task_queue)
        workflow_id = current.workflow_id
        handle = client.get_workflow_handle(workflow_id)
        await mentorship_client.send(client, workflow_id, "accept", {"by": mentee})
        await asyncio.wait_for(places.asked.wait(), 10)
        await mentorship_client.send(client, workflow_id, "check_in", {"by": mentee, "rating": 5, "note": "kick-off"})
        await mentorship_client.send(client, workflow_id, "pause", {"by": mentor, "reason": "holidays"})

        async def both_signals_in() -> bool:
            names = [
                event.workflow_execution_signaled_event_attributes.signal_name
                async for event in handle.fetch_history_events()
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            ]
            return names[-2:] == ["check_in", "pause"]

        await until(both_signals_in, "the check-in and the pause delivered while the places are taken", 10)
        before = await mentorship_client.status(client, workflow_id)
        assert before.stage is Stage.INVITED and before.refused_signals == [], before
        places.gate.set()

        async def settled() -> MentorshipStatus | None:
            status = await mentorship_client.status(client, workflow_id)
            return status if status.stage is Stage.PAUSED else None

        status = await until(settled, "accepted, checked in, then paused", 10)
        assert status.refused_signals == [], status.refused_signals
        assert [(c.number, c.rating) for c in status.check_ins] == [(1, 5)]
        assert status.holds_places
        # Ended here (not withdrawn, which would start a Feedback workflow): nothing of it may stay on the shared
        # test server with timers and no worker, which would hold the server's clock for every later test.
        await terminate_when_idle(client, handle.id)
