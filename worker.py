"""The worker: runs the Mentorship, Person and Feedback workflows and the webhook workflows, the email activity,
the webhook activity and the place activities on the mentorship task queue.

Connection follows Temporal's environment configuration (see ``infra/temporal.py``); mail, the task queue,
tuning and observability follow ``infra.settings.Settings``. SIGINT or SIGTERM stops polling and lets in-flight
activities finish (see ``shutdown_grace``) before they are cancelled, so a deploy does not cut a send in half.

    python worker.py              run the worker
    python worker.py --health     ask a running worker's /readyz (WORKER_HEALTH_PORT): exit 0 if ready, else 1
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Sequence
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Interceptor, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.mailer import Mailer
from activities.places import PlaceKeeper
from activities.webhooks import WebhookSender
from infra import observability
from infra.process import bind_address, exit_now, probe
from infra.settings import Settings
from infra.temporal import connect
from infra.webhook_endpoints import WebhookConfigError
from workflows.feedback import Feedback
from workflows.mentorship import Mentorship
from workflows.person import PersonRecord
from workflows.webhook_endpoint import WebhookEndpointRecord
from workflows.webhook_outbox import WebhookOutbox

log = logging.getLogger("mentorship.worker")

# devtools/dev.py waits for this phrase to know the worker is up.
READY_MESSAGE = "Worker polling"


# pydantic imports these lazily while validating email addresses; they are deterministic libraries, so the
# sandbox passes them through instead of re-importing them in the middle of a workflow task. OpenTelemetry is
# passed through for the tracing interceptor's workflow side (infra.observability.start_tracing), as its docs ask.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("email_validator", "idna", "dns", "opentelemetry")
)


def shutdown_grace(settings: Settings) -> timedelta:
    """How long in-flight activities may run on after a stop: one SMTP exchange, with room to spare."""
    return timedelta(seconds=settings.smtp_timeout_seconds + 10)


def build_worker(
    client: Client,
    settings: Settings,
    *,
    graceful_shutdown: timedelta | None = None,
    interceptors: Sequence[Interceptor] = (),
    mailer: Mailer | None = None,
    webhooks: WebhookSender | None = None,
) -> Worker:
    """The worker exactly as deployed, for ``main`` and for tests against a test server."""
    if graceful_shutdown is None:
        graceful_shutdown = shutdown_grace(settings)
    keeper = PlaceKeeper(client)
    webhooks = webhooks or WebhookSender(settings)
    return Worker(
        client,
        task_queue=settings.mentorship_task_queue,
        workflows=[Mentorship, PersonRecord, Feedback, WebhookOutbox, WebhookEndpointRecord],
        activities=[
            (mailer or Mailer(settings)).send_notification,
            webhooks.deliver_event,
            webhooks.count_subscribers,
            keeper.take_places,
            keeper.release_places,
            keeper.find_ended_places,
        ],
        graceful_shutdown_timeout=graceful_shutdown,
        workflow_runner=WORKFLOW_RUNNER,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_cached_workflows=settings.worker_max_cached_workflows,
        interceptors=interceptors,
    )


def _endpoints(settings: Settings) -> str:
    parts = []
    if settings.worker_metrics_port is not None:
        where = bind_address(settings.worker_metrics_host, settings.worker_metrics_port)
        parts.append(f"metrics on http://{where}/metrics")
    if settings.worker_health_port is not None:
        where = bind_address(settings.worker_health_host, settings.worker_health_port)
        parts.append(f"health on http://{where}{observability.READY_PATH}")
    if settings.otel_exporter_otlp_endpoint:
        parts.append(f"traces to {observability.traces_endpoint(settings.otel_exporter_otlp_endpoint)}")
    if settings.webhook_endpoints:
        parts.append("events to " + ", ".join(endpoint.url for endpoint in settings.webhook_endpoints))
    return "; ".join(parts)


async def main() -> None:
    settings = Settings()
    observability.configure_logging(settings)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    # The email templates first (compiled and tried, overrides included): a broken one stops the worker here.
    mailer = Mailer(settings)
    webhooks = WebhookSender(settings)
    # Then the health endpoint: liveness answers while the worker connects, readiness says it does not poll yet.
    health = observability.Health(settings)
    await health.start()
    tracing = observability.start_tracing(settings)
    try:
        client = await connect(settings=settings, runtime=observability.build_runtime(settings))
        grace = shutdown_grace(settings)
        worker = build_worker(
            client,
            settings,
            graceful_shutdown=grace,
            interceptors=tracing.interceptors if tracing else (),
            mailer=mailer,
            webhooks=webhooks,
        )
        health.client, health.worker = client, worker
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
                endpoints = _endpoints(settings)
                log.info(
                    "%s on task queue %r in namespace %r at %s%s",
                    READY_MESSAGE,
                    settings.mentorship_task_queue,
                    client.namespace,
                    client.service_client.config.target_host,
                    f"; {endpoints}" if endpoints else "",
                )
            await stop.wait()
            health.stopping = True
            log.info("Stopping: no new tasks; in-flight activities get up to %s to finish", grace)
        # The SMTP connections kept open for the next send.
        await mailer.close()
        await webhooks.close()
        log.info("Worker stopped")
    finally:
        health.stopping = True
        if tracing is not None:
            tracing.shutdown()
        await health.stop()


def cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python worker.py", description="The mentorship worker.")
    parser.add_argument(
        "--health",
        nargs="?",
        const="ready",
        choices=("ready", "live"),
        help="ask a running worker (WORKER_HEALTH_PORT) whether it is ready (default) or live; exit 0 if so",
    )
    args = parser.parse_args(argv)
    if args.health is not None:
        settings = Settings()
        return probe(
            settings.worker_health_host,
            settings.worker_health_port,
            observability.READY_PATH if args.health == "ready" else observability.LIVE_PATH,
            unset="WORKER_HEALTH_PORT is not set: this worker serves no health endpoint",
        )
    try:
        asyncio.run(main())
    except WebhookConfigError as err:
        # A configuration mistake, not a crash: the reason alone (it names the endpoint, never a secret).
        log.error("Worker not started: %s", err)
        return 2
    except Exception:
        # Through logging, so that a JSON log stays JSON to the last line.
        log.exception("Worker failed")
        return 1
    return 0


if __name__ == "__main__":
    # The worker has stopped by then: leave without the interpreter's teardown (see exit_now).
    exit_now(cli())
