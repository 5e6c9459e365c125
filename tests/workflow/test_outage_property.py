"""An outage changes nothing but when things happen (the issue's item: actions are judged after the timed events
already due).

For generated mentorships and stories, the same story is played twice on the time-skipping server:

- with outages: before some actions the worker stops, time passes with nobody to handle the timers (the test
  server holds its clock at the first timer that fires), the action is sent, and the worker starts again, so
  that timer and action reach the workflow in one task;
- without: the worker never stops, each timer is handled when it fires, and each action is sent at the very
  moment the first run handled it.

Both must end the same: stage, timeline, check-ins, counters, refusals and emails, at the same times relative to
the invitation. Before the fix an accept sent after the expiry won, a check-in after the term was recorded, and
one after a pause's end was refused as paused.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from tests.support.builders import ANA_AND_BEN, invitation
from tests.support.sandbox import Sandbox, sandbox_running, settled
from tests.support.temporal import running_worker
from tests.support.waiting import terminate_when_idle
from workflows.contract import MentorshipStatus
from workflows.plan import next_due

MOMENT = re.compile(r"\w{3} \d{1,2} \w{3} \d{4}, \d{2}:\d{2}(:\d{2})? UTC")
ACTIONS = ["accept", "accept", "decline", "withdraw", "check_in", "check_in", "check_in", "pause", "resume"]


@dataclass(frozen=True)
class Step:
    wait_hours: int
    action: str
    by: str  # mentor or mentee
    outage: bool
    until_hours: int | None = None  # a pause's end, from the moment it is sent


@dataclass
class Story:
    invitation: dict[str, Any]
    steps: list[Step]


@st.composite
def stories(draw: st.DrawFn) -> Story:
    fields: dict[str, Any] = {
        "check_in_every": draw(st.sampled_from(["P1D", "P2D", "P3D"])),
        "respond_within": draw(st.sampled_from(["P2D", "P4D"])),
        "invitation_reminders": draw(st.integers(0, 2)),
        "escalate_after_missed": draw(st.integers(1, 2)),
        "term": draw(st.sampled_from([None, "P5D", "P9D"])),
    }
    steps = [
        Step(
            wait_hours=draw(st.integers(1, 60)),
            action=(action := draw(st.sampled_from(ACTIONS))),
            by=draw(st.sampled_from(["mentor", "mentee"])),
            outage=draw(st.booleans()),
            until_hours=draw(st.sampled_from([None, 5, 30])) if action == "pause" else None,
        )
        for _ in range(draw(st.integers(2, 7)))
    ]
    return Story({**fields, "initiated_by": draw(st.sampled_from(["mentor", "mentee"]))}, steps)


@dataclass
class Played:
    workflow_id: str
    tag: str
    invited_at: datetime
    # When each action was sent, from the invitation.
    moments: list[timedelta] = field(default_factory=list)
    # The steps whose signal the server turned away: the mentorship had ended.
    turned_away: list[int] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    final: MentorshipStatus | None = None
    feedback_ended: set[str] = field(default_factory=set)


def payload(played: Played, step: Step, now: datetime) -> dict[str, Any]:
    data: dict[str, Any] = {"by": f"{'ana' if step.by == 'mentor' else 'ben'}-{played.tag}"}
    if step.until_hours is not None:
        data["until"] = (now + timedelta(hours=step.until_hours)).isoformat()
    return data


async def send(played: Played, handle: WorkflowHandle[Any, Any], index: int, step: Step, now: datetime) -> None:
    try:
        await handle.signal(step.action, payload(played, step, now))
    except RPCError:
        played.turned_away.append(index)


async def start(box: Sandbox, story: Story, task_queue: str) -> Played:
    tag = uuid.uuid4().hex[:6]
    start_input = invitation(tag, cast=ANA_AND_BEN, **story.invitation).model_dump(mode="json")
    workflow_id = f"mentorship-ana-{tag}--ben-{tag}"
    await box.client.start_workflow("Mentorship", start_input, id=workflow_id, task_queue=task_queue)
    played = Played(workflow_id, tag, await box.env.get_current_time())
    await settled(box.client, workflow_id, played.broken)
    return played


async def settle(box: Sandbox, played: Played) -> MentorshipStatus:
    """Settled; and once an active mentorship has ended, its Feedback workflow (which this property does not
    compare) is ended too: with its reminder days ahead on a task queue whose worker an outage stops, it would hold
    the test server's clock while the story sleeps."""
    status = await settled(box.client, played.workflow_id, played.broken)
    if status.feedback_workflow_id is not None and status.feedback_workflow_id not in played.feedback_ended:
        await terminate_when_idle(box.client, status.feedback_workflow_id, "not part of the story")
        played.feedback_ended.add(status.feedback_workflow_id)
    return status


async def with_outages(box: Sandbox, story: Story) -> Played:
    """The worker stops before each outage step and starts again once its action is sent."""
    task_queue = f"outage-{uuid.uuid4().hex[:8]}"

    def worker() -> Any:
        # No cache, so no sticky queue: a task for the stopped worker goes to the next one at once.
        return running_worker(box.client, box.sink, task_queue, worker_max_cached_workflows=0)

    async with AsyncExitStack() as stack:
        await stack.enter_async_context(worker())
        played = await start(box, story, task_queue)
        handle = box.client.get_workflow_handle(played.workflow_id)
        for index, step in enumerate(story.steps):
            wait = timedelta(hours=step.wait_hours)
            if step.outage:
                before = await settle(box, played)
                await stack.aclose()
                # Without a worker the test server stops skipping time once a timer fires (then its clock runs at
                # the wall clock's pace): the action is sent a second after the first timer, and reaches the
                # workflow in one task with it.
                due = next_due(before)
                if due is not None:
                    wait = min(wait, due.at + timedelta(seconds=1) - await box.env.get_current_time())
            await box.env.sleep(wait)
            now = await box.env.get_current_time()
            played.moments.append(now - played.invited_at)
            await send(played, handle, index, step, now)
            if step.outage:
                await stack.enter_async_context(worker())
            await settle(box, played)
        played.final = await settle(box, played)
        await end(box, played)
    return played


async def end(box: Sandbox, played: Played) -> None:
    """Settled, so nothing is in flight: terminating it leaves the shared test server's clock free (a workflow
    with timers and no worker would hold it)."""
    assert played.final is not None
    if played.final.stage.is_open:
        await terminate_when_idle(box.client, played.workflow_id, "story told")


async def without_outages(box: Sandbox, story: Story, moments: list[timedelta]) -> Played:
    """The same story on a worker that never stops, each action sent when the first run handled it."""
    played = await start(box, story, box.task_queue)
    handle = box.client.get_workflow_handle(played.workflow_id)
    for index, (step, moment) in enumerate(zip(story.steps, moments, strict=True)):
        now = await box.env.get_current_time()
        if played.invited_at + moment > now:
            await box.env.sleep(played.invited_at + moment - now)
        now = await box.env.get_current_time()
        await send(played, handle, index, step, now)
        await settle(box, played)
    played.final = await settle(box, played)
    await end(box, played)
    return played


def outcome(played: Played) -> dict[str, Any]:
    """What the story came to, with ids and times made comparable between the two runs."""
    state = played.final
    assert state is not None

    def plain(text: str | None) -> str | None:
        # Ids carry the run's tag; a moment in a text is the same moment of another run.
        return None if text is None else MOMENT.sub("<moment>", text.replace(played.tag, "TAG"))

    def since(moment: datetime | None) -> int | None:
        # To the second: the two runs' workflow tasks start a few milliseconds apart.
        return None if moment is None else round((moment - state.invited_at).total_seconds())

    return {
        "stage": state.stage,
        # An action sent after the end: turned away by the server once the workflow has closed, or refused by the
        # workflow itself when it reached it in the task that ended it; the same outcome either way.
        "after the end": len(played.turned_away) + sum("already ended" in r.reason for r in state.refused_signals),
        "timeline": [(e.event, since(e.at), plain(e.by), plain(e.detail)) for e in state.timeline],
        "check_ins": [(c.number, since(c.at), plain(c.by)) for c in state.check_ins],
        "refused": [
            (r.signal, since(r.at), plain(r.reason)) for r in state.refused_signals if "already ended" not in r.reason
        ],
        "counters": (state.cycle, state.missed_in_a_row, state.missed_total, state.at_risk, state.notifications_sent),
        "due": (since(state.next_check_in_due), since(state.paused_until), since(state.term_ends_at)),
    }


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    yield from sandbox_running()


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(story=stories())
def test_a_story_with_outages_ends_as_the_same_story_without(sandbox: Sandbox, story: Story) -> None:
    late = sandbox.run(with_outages(sandbox, story))
    on_time = sandbox.run(without_outages(sandbox, story, late.moments))
    note(f"moments: {late.moments}")
    assert late.broken == [] and on_time.broken == []
    first, second = outcome(late), outcome(on_time)
    timed = ("timeline", "check_ins", "refused", "due")
    # Everything but the moments exactly; the moments (seconds since the invitation) within TOLERANCE.
    assert {k: v for k, v in first.items() if k not in timed} == {k: v for k, v in second.items() if k not in timed}
    assert same_moments([first[k] for k in timed], [second[k] for k in timed]), (first, second)


# The time-skipping server's clock runs at the wall clock's pace between skips, and each step waits for the
# workflow to settle (its emails and webhook deliveries, a few activities): an action of the second run may be
# sent a second later than in the first. What the property is about (which events happen, in which order, who did
# what) is compared exactly; when, to within this many seconds.
TOLERANCE = 2


def same_moments(first: Any, second: Any) -> bool:
    """Equal, but for integers (seconds) that may differ by TOLERANCE."""
    if isinstance(first, int) and isinstance(second, int) and not isinstance(first, bool):
        return abs(first - second) <= TOLERANCE
    if isinstance(first, (list, tuple)) and isinstance(second, (list, tuple)):
        return len(first) == len(second) and all(same_moments(a, b) for a, b in zip(first, second, strict=True))
    return bool(first == second)
