"""A time-skipping server, the project's worker and a mail sink on an event loop of their own, for property tests
(hypothesis drives examples synchronously; each example runs its story here to completion), and how to tell that
a mentorship has handled everything sent and due so far."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from devtools.mailsink import MailSink
from tests.support.temporal import running_worker, time_skipping_server
from workflows.contract import MentorshipStatus

R = TypeVar("R")


class Sandbox:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="properties-sandbox", daemon=True)
        self.stack = AsyncExitStack()
        self.env: WorkflowEnvironment
        self.sink: MailSink
        self.task_queue: str

    def run(self, coroutine: Coroutine[Any, Any, R], timeout: float = 120) -> R:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def start(self) -> None:
        self.env = await self.stack.enter_async_context(time_skipping_server())
        self.sink = await self.stack.enter_async_context(MailSink(port=0))
        self.task_queue = await self.stack.enter_async_context(running_worker(self.env.client, self.sink))

    @property
    def client(self) -> Client:
        return self.env.client


def sandbox_running() -> Iterator[Sandbox]:
    """A module fixture's body: the sandbox started, and stopped after the module."""
    box = Sandbox()
    box.thread.start()
    try:
        box.run(box.start())
        yield box
    finally:
        box.run(box.stack.aclose())
        box.loop.call_soon_threadsafe(box.loop.stop)
        box.thread.join(10)
        box.loop.close()


OPEN_ACTIVITY_CLOSERS = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}
WORKFLOW_TASK_CLOSERS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}


def quiet(events: list[HistoryEvent]) -> bool:
    """No workflow task and no activity (email) in flight, no signal waiting to be handled."""
    task_open = False
    activities: set[int] = set()
    for event in events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            task_open = True
        elif kind in WORKFLOW_TASK_CLOSERS:
            task_open = False
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activities.add(event.event_id)
        elif kind in OPEN_ACTIVITY_CLOSERS:
            activities.discard(getattr(event, OPEN_ACTIVITY_CLOSERS[kind]).scheduled_event_id)
    return (
        not task_open and not activities and events[-1].event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    )


async def settled(client: Client, workflow_id: str, broken: list[str], within: float = 20.0) -> MentorshipStatus:
    """Wait until the workflow has handled everything sent and due so far, then answer its status; a failed
    workflow task is noted in ``broken``."""
    handle = client.get_workflow_handle(workflow_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        events = list((await handle.fetch_history()).events)
        if quiet(events):
            if any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED for e in events):
                broken.append("a workflow task failed")
            status: MentorshipStatus = await handle.query("status", result_type=MentorshipStatus)
            return status
        if loop.time() > deadline:
            raise AssertionError(f"{workflow_id} never settled; last events: {[e.event_type for e in events[-5:]]}")
        await asyncio.sleep(0.02)
