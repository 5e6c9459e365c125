"""The worker: runs the Mentorship workflow and its email activity on the mentorship task queue.

Connection follows Temporal's environment configuration (see ``temporal_client.py``); mail and the task
queue follow ``config.Settings``. SIGINT or SIGTERM stops polling and lets in-flight activities finish (see
``shutdown_grace``) before they are cancelled, so a deploy does not cut a send in half.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.email import Mailer
from config import Settings
from temporal_client import connect
from workflows.mentorship import Mentorship

log = logging.getLogger("mentorship.worker")

# devtools/dev.py waits for this phrase to know the worker is up.
READY_MESSAGE = "Worker polling"


# pydantic imports these lazily while validating email addresses; they are deterministic libraries, so the
# sandbox passes them through instead of re-importing them in the middle of a workflow task.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("email_validator", "idna", "dns")
)


def shutdown_grace(settings: Settings) -> timedelta:
    """How long in-flight activities may run on after a stop: one SMTP exchange, with room to spare."""
    return timedelta(seconds=settings.smtp_timeout_seconds + 10)


def build_worker(client: Client, settings: Settings, *, graceful_shutdown: timedelta | None = None) -> Worker:
    """The worker exactly as deployed, for ``main`` and for tests against a test server."""
    if graceful_shutdown is None:
        graceful_shutdown = shutdown_grace(settings)
    return Worker(
        client,
        task_queue=settings.mentorship_task_queue,
        workflows=[Mentorship],
        activities=[Mailer(settings).send_notification],
        graceful_shutdown_timeout=graceful_shutdown,
        workflow_runner=WORKFLOW_RUNNER,
    )


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    client = await connect()
    grace = shutdown_grace(settings)
    worker = build_worker(client, settings, graceful_shutdown=grace)
    # `async with` runs the worker in the background and, on a fatal worker error, cancels this block
    # and re-raises that error, so waiting on `stop` alone cannot hang on a dead worker.
    async with worker:
        # Polled: is_running turns true once the namespace check has passed and the pollers start, and the
        # worker offers no event for that.
        while True:
            if worker.is_running or stop.is_set():
                break
            await asyncio.sleep(0.05)
        if not stop.is_set():
            log.info(
                "%s on task queue %r in namespace %r at %s",
                READY_MESSAGE,
                settings.mentorship_task_queue,
                client.namespace,
                client.service_client.config.target_host,
            )
        await stop.wait()
        log.info("Stopping: no new tasks; in-flight activities get up to %s to finish", grace)
    log.info("Worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
