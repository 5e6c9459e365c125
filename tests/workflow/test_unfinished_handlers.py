"""pytest turns the SDK's unfinished-handler warnings into errors (pyproject's filterwarnings).

A workflow that completes while a signal or update handler is still running abandons that handler's work: for a
mentorship, a check-in or an acceptance lost without a trace. The SDK only warns; under pytest such a workflow
cannot complete, so a test that provokes it fails instead of passing with a warning nobody reads. The
Mentorship's handlers are synchronous and cannot be left unfinished; this shows the guard would catch it.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


@workflow.defn(name="AbandonsItsSignalHandler")
class _AbandonsItsSignalHandler:
    def __init__(self) -> None:
        self._poked = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self._poked)
        return "done"

    @workflow.signal
    async def poke(self) -> None:
        self._poked = True
        await workflow.wait_condition(lambda: False)  # still running when the workflow completes


async def test_a_workflow_abandoning_a_handler_fails_its_task(time_env: WorkflowEnvironment) -> None:
    client = time_env.client
    task_queue = f"unfinished-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[_AbandonsItsSignalHandler],
        # Unsandboxed: this test module (pytest and all) is no workflow module to re-import.
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            _AbandonsItsSignalHandler.run,
            id=f"abandons-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
            # The raised warning escapes the activation, so the task fails only when its timeout passes.
            task_timeout=timedelta(seconds=1),
        )
        await handle.signal(_AbandonsItsSignalHandler.poke)
        failure = ""
        for _ in range(200):
            history = await handle.fetch_history()
            failed = [
                e.workflow_task_failed_event_attributes.failure.message
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
            ]
            completed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED]
            assert not completed, "the workflow completed although a handler was still running"
            if failed:
                failure = failed[0]
                break
            await asyncio.sleep(0.05)
        await handle.terminate("test over")
    # The SDK's warning, raised as an error: the task failed and the workflow did not complete.
    assert "TMPRL1102" in failure and "signal handlers are still running" in failure, failure
