"""Waiting on a condition with a deadline: a workflow's status, the emails of a mentorship, anything else.

Tests wait on conditions, never for fixed times (queries do not move time on the time-skipping server, so polling
them is safe there too).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any, TypeVar

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from devtools.mailsink import MailSink
from workflows.contract import MentorshipStatus

T = TypeVar("T")


async def until(
    check: Callable[[], Awaitable[T | None]],
    what: str,
    within: float,
    *,
    every: float = 0.1,
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` until it answers something other than None/False; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await check()
        if result is not None and result is not False:
            return result
        if loop.time() > deadline:
            extra = f"\n{explain()}" if explain is not None else ""
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}{extra}")
        await asyncio.sleep(every)


async def status_of(handle: WorkflowHandle[Any, Any]) -> MentorshipStatus:
    current: MentorshipStatus = await handle.query("status", result_type=MentorshipStatus)
    return current


async def wait_status(
    handle: WorkflowHandle[Any, Any],
    predicate: Callable[[MentorshipStatus], bool],
    what: str,
    within: float = 15.0,
) -> MentorshipStatus:
    """Wait on a condition of the workflow's state (queries do not move time on the test server)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        current = await status_of(handle)
        if predicate(current):
            return current
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last status: {current.model_dump_json(indent=1)}")
        await asyncio.sleep(0.05)


def steps(sink: MailSink, workflow_id: str) -> list[tuple[str, str]]:
    """(step, recipient role) of every email this mentorship sent, in arrival order."""
    found = []
    for message in sink.messages:
        # Stripped: a long id folds onto the header's next line, which leaves a space before it when read back.
        if str(message["X-Mentorship-Workflow-Id"]).strip() == workflow_id:
            found.append((str(message["X-Mentorship-Step"]), _role(message)))
    return found


def _role(message: Any) -> str:
    # Message-ID: <{mentorship_key}.{step}.{audience}@domain>
    return str(message["Message-ID"]).strip("<>").split("@")[0].rsplit(".", 1)[1]


async def wait_mail(sink: MailSink, workflow_id: str, count: int, within: float = 15.0) -> list[tuple[str, str]]:
    """Wait until exactly ``count`` emails of this mentorship arrived (and fail if more did)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        found = steps(sink, workflow_id)
        if len(found) >= count:
            assert len(found) == count, f"expected {count} emails, got {len(found)}: {found}"
            return found
        if loop.time() > deadline:
            raise AssertionError(f"expected {count} emails, got {len(found)}: {found}")
        await asyncio.sleep(0.05)


async def wait_for_email(sink: MailSink, workflow_id: str, step: str, to: str, within: float = 15.0) -> EmailMessage:
    """The email of ``step`` to ``to`` (mentor, mentee) of this mentorship, once it arrived."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        for message in sink.messages:
            if (
                message["X-Mentorship-Workflow-Id"] == workflow_id
                and message["X-Mentorship-Step"] == step
                and str(message["Message-ID"]).split("@")[0].endswith(f".{to}")
            ):
                return message
        if loop.time() > deadline:
            raise AssertionError(f"no {step} email to the {to} of {workflow_id}")
        await asyncio.sleep(0.05)


async def terminate_when_idle(
    client: Client, workflow_id: str, reason: str = "test finished", within: float = 15.0
) -> None:
    """Terminate a workflow once no activity of it is in flight (an email, a webhook delivery): an activity cut off
    by termination never releases the time-skipping server's time lock, and every later sleep would time out.
    Already closed (or never started): nothing to do."""
    handle = client.get_workflow_handle(workflow_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    request = DescribeWorkflowExecutionRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
    )
    quiet = 0
    try:
        while True:
            # The raw call: the SDK's describe() decodes search attributes, which the time-skipping server
            # returns in a form it cannot read.
            described = await client.workflow_service.describe_workflow_execution(request)
            if described.workflow_execution_info.status != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING:
                return
            # Idle twice in a row: no activity and no workflow task (which could schedule one) in flight.
            idle = not described.pending_activities and not described.HasField("pending_workflow_task")
            quiet = quiet + 1 if idle else 0
            if quiet >= 2 or loop.time() >= deadline:
                break
            await asyncio.sleep(0.05)
        await handle.terminate(reason)
    except RPCError as err:
        if err.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise
