"""Waking hours on the time-skipping test server (MENTORSHIP_QUIET_HOURS=21:00-08:00): an email that falls due
at night for its recipient waits for their morning, while the other participant gets theirs at once; the due
times themselves never move. The decisions are read back from the history, where the email activity recorded
them (a replay reads them there, whatever its zone database says: tests/workflow/test_replay.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import mentorship_client
from devtools.mailsink import MailSink
from tests.support.builders import ANA_AND_BEN, invitation, new_tag
from tests.support.temporal import running_worker, time_skipping_server
from tests.support.waiting import steps, terminate_when_idle, until, wait_status
from workflows.contract import SEND_NOTIFICATION, Notification, SendReceipt, Stage

QUIET = "21:00-08:00"


class World:
    def __init__(self, env: WorkflowEnvironment, sink: MailSink, task_queue: str) -> None:
        self.env, self.sink, self.task_queue = env, sink, task_queue
        self.opened: list[str] = []

    @property
    def client(self) -> Client:
        return self.env.client

    async def skip_to(self, moment: datetime) -> None:
        now = await self.env.get_current_time()
        assert moment > now, f"{moment} is in the test server's past ({now})"
        await self.env.sleep(moment - now)

    async def accepted(self, mentor: dict[str, Any], mentee: dict[str, Any], **overrides: Any) -> str:
        tag = new_tag()
        inv = invitation(tag, "mentee", cast=ANA_AND_BEN, coordinator=None, **overrides)
        inv = inv.model_copy(
            update={
                "mentor": inv.mentor.model_copy(update=mentor),
                "mentee": inv.mentee.model_copy(update=mentee),
            }
        )
        current = await mentorship_client.invite(self.client, inv, task_queue=self.task_queue)
        self.opened.append(current.workflow_id)
        # A signal: updates do not let the test server skip time, and the mentor may be asleep.
        await mentorship_client.send(self.client, current.workflow_id, "accept", {"by": inv.mentor.id})
        handle = self.client.get_workflow_handle(current.workflow_id)
        await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "accepted")
        return current.workflow_id

    async def decisions(self, workflow_id: str) -> dict[tuple[str, str], list[datetime | None]]:
        """Per email (step, recipient), what each send activity answered: None for sent, else held until when."""
        converter = self.client.data_converter
        scheduled: dict[int, Notification] = {}
        answers: dict[tuple[str, str], list[datetime | None]] = {}
        async for event in self.client.get_workflow_handle(workflow_id).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                attributes = event.activity_task_scheduled_event_attributes
                if attributes.activity_type.name == SEND_NOTIFICATION:
                    [scheduled[event.event_id]] = await converter.decode(attributes.input.payloads, [Notification])
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                completed = event.activity_task_completed_event_attributes
                notification = scheduled.get(completed.scheduled_event_id)
                if notification is not None:
                    [receipt] = await converter.decode(completed.result.payloads, [SendReceipt])
                    answers.setdefault((notification.step, notification.to.value), []).append(receipt.held_until)
        return answers

    async def close(self) -> None:
        for workflow_id in self.opened:
            status = await mentorship_client.status(self.client, workflow_id)
            for closing in (workflow_id, status.feedback_workflow_id):
                if closing is not None:
                    await terminate_when_idle(self.client, closing)


@pytest_asyncio.fixture
async def world(mail_sink: MailSink) -> AsyncIterator[World]:
    # A server of its own: the test moves its clock to chosen dates.
    async with (
        time_skipping_server() as env,
        running_worker(env.client, mail_sink, mentorship_quiet_hours=QUIET) as task_queue,
    ):
        world = World(env, mail_sink, task_queue)
        yield world
        await world.close()


def next_at(now: datetime, hour: int, minute: int) -> datetime:
    """The next moment after ``now`` (at least a minute on) whose UTC clock reads hour:minute."""
    moment = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    while moment < now + timedelta(minutes=1):
        moment += timedelta(days=1)
    return moment


async def test_a_reminder_at_2am_in_kolkata_waits_for_morning_while_los_angeles_gets_it_at_once(world: World) -> None:
    # 03:00 UTC: 08:30 in Kolkata, 19:00 the evening before in Los Angeles; both awake for the acceptance.
    start = next_at(await world.env.get_current_time(), 3, 0)
    await world.skip_to(start)
    workflow_id = await world.accepted(
        {"time_zone": "Asia/Kolkata"},
        {"time_zone": "America/Los_Angeles", "locale": "en-US"},
        check_in_every="PT17H30M",
        check_in_grace="PT1H",
    )
    handle = world.client.get_workflow_handle(workflow_id)
    # Check-in 1 falls due at 20:30 UTC: 02:00 the next day in Kolkata, 12:30 in Los Angeles.
    due = start + timedelta(hours=17, minutes=30)
    morning = due + timedelta(hours=6)  # 08:00 in Kolkata (UTC+05:30)
    await world.skip_to(due + timedelta(minutes=5))
    status = await wait_status(
        handle, lambda s: any(e.step == "check-in-1-due" for e in s.held_emails), "the mentor's reminder held"
    )
    assert status.next_check_in_due is not None
    [held] = [e for e in status.held_emails if e.step == "check-in-1-due"]
    assert (held.to.value, held.until) == ("mentor", morning)

    async def mentee_reminded() -> bool:
        return ("check-in-1-due", "mentee") in steps(world.sink, workflow_id)

    await until(mentee_reminded, "the mentee's reminder, at once", 10)
    assert ("check-in-1-due", "mentor") not in steps(world.sink, workflow_id)

    await world.skip_to(morning + timedelta(minutes=1))

    async def mentor_reminded() -> bool:
        return ("check-in-1-due", "mentor") in steps(world.sink, workflow_id)

    await until(mentor_reminded, "the mentor's reminder, in the morning", 10)
    decisions = await world.decisions(workflow_id)
    assert decisions[("check-in-1-due", "mentor")] == [morning, None]  # held, then sent as it was
    assert decisions[("check-in-1-due", "mentee")] == [None]
    # Each reads the due time in their own zone.
    [to_mentor] = [
        m for m in world.sink.messages if str(m["X-Mentorship-Step"]) == "check-in-1-due" and "ana" in str(m["To"])
    ]
    [to_mentee] = [
        m for m in world.sink.messages if str(m["X-Mentorship-Step"]) == "check-in-1-due" and "ben" in str(m["To"])
    ]
    assert "02:00 IST" in text_of(to_mentor), text_of(to_mentor)
    # en-US: "12:30 PM" (CLDR puts a narrow no-break space before "PM"; read as a space here).
    assert "12:30 PM PST" in text_of(to_mentee).replace("\u202f", " "), text_of(to_mentee)


def text_of(message: Any) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


async def test_held_until_the_local_morning_across_daylight_saving_changes(world: World) -> None:
    """New York moves its clocks on 14 March 2027, Berlin on 28 March: the morning a held email waits for moves
    with them, an hour earlier in UTC after the change."""
    # Accepted at 05:30 UTC on 28 Feb 2027, check-ins every two weeks: due 14 Mar and 28 Mar at 05:30 UTC.
    accepted_at = datetime(2027, 2, 28, 5, 30, tzinfo=UTC)
    await world.skip_to(accepted_at)
    workflow_id = await world.accepted(
        {"time_zone": "America/New_York"},
        {"time_zone": "Europe/Berlin"},
        check_in_every="P14D",
        check_in_grace="PT1H",
        respond_within="P30D",
    )
    await world.skip_to(datetime(2027, 3, 28, 13, 0, tzinfo=UTC))

    async def both_reminders_sent() -> bool:
        sent = steps(world.sink, workflow_id)
        return all((f"check-in-{n}-due", role) in sent for n in (1, 2) for role in ("mentor", "mentee"))

    await until(both_reminders_sent, "both check-in reminders to both", 20)
    decisions = await world.decisions(workflow_id)
    # 14 Mar, 05:30 UTC: 00:30 EST in New York, held to 08:00 EDT (12:00 UTC, not 13:00: clocks went forward at 2).
    assert decisions[("check-in-1-due", "mentor")] == [datetime(2027, 3, 14, 12, 0, tzinfo=UTC), None]
    # ... and 06:30 CET in Berlin, held to 08:00 CET (07:00 UTC).
    assert decisions[("check-in-1-due", "mentee")] == [datetime(2027, 3, 14, 7, 0, tzinfo=UTC), None]
    # 28 Mar, 05:30 UTC: 01:30 EDT in New York (12:00 UTC again), 07:30 CEST in Berlin, held to 08:00 CEST (06:00 UTC).
    assert decisions[("check-in-2-due", "mentor")] == [datetime(2027, 3, 28, 12, 0, tzinfo=UTC), None]
    assert decisions[("check-in-2-due", "mentee")] == [datetime(2027, 3, 28, 6, 0, tzinfo=UTC), None]
    # The due times did not move: check-in 2 (not recorded) is still due when it fell due, not when it was told.
    status = await mentorship_client.status(world.client, workflow_id)
    assert status.next_check_in_due is not None
    assert status.next_check_in_due.replace(microsecond=0) == datetime(2027, 3, 28, 5, 30, tzinfo=UTC)
