"""What an operator sees of a running worker: logs, metrics, traces and a health endpoint (see README, "Deploying").

- **Logs** (``LOG_FORMAT``): ``text`` for people, or ``json``, one object a line, with the workflow and activity
  the line is about (``workflow_id``, ``run_id``, ``activity_type``, ...), from the records the SDK's
  ``workflow.logger`` and ``activity.logger`` write. The SDK's Core logs are forwarded into the same handler.
- **Metrics** (``WORKER_METRICS_PORT``): the SDK runtime's Prometheus exporter serves its own metrics and the
  service's counters (workflows/metrics.py, recorded through Temporal's metric meters) at ``/metrics``.
- **Traces** (``OTEL_EXPORTER_OTLP_ENDPOINT``): ``temporalio.contrib.opentelemetry``'s ``TracingInterceptor``
  makes spans for workflows, signals, updates and activities, sent over OTLP/HTTP.
- **Health** (``WORKER_HEALTH_PORT``): ``/livez`` answers while the process does; ``/readyz`` answers 200 only
  while the worker polls its task queue and the Temporal frontend answers, 503 otherwise (and from the moment a
  stop begins). ``python worker.py --health`` asks ``/readyz`` (``infra.process.probe``), for a container health
  check.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import temporalio.activity
import temporalio.workflow
from aiohttp import web
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.worker import Interceptor, Worker

from infra.process import bind_address
from infra.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger("mentorship.worker")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Where the SDK's Core (Rust) log lines go, as records of this logger.
CORE_LOGGER = "temporalio.core"

LIVE_PATH = "/livez"
READY_PATH = "/readyz"
# How long /readyz waits for the Temporal frontend, and how long one answer is reused (probes come in bursts).
TEMPORAL_CHECK_TIMEOUT = 2.0
TEMPORAL_CHECK_REUSE = 1.0


# --- Logs -----------------------------------------------------------------------------------------------


# The SDK's log records carry these under ``temporal_workflow`` / ``temporal_activity``: flattened to top-level
# fields of one name whichever side logged (an activity's ``workflow_run_id`` is its workflow's ``run_id``).
_WORKFLOW_FIELDS = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "workflow_type": "workflow_type",
    "namespace": "namespace",
    "task_queue": "task_queue",
    "attempt": "attempt",
    "update_id": "update_id",
    "update_name": "update_name",
}
_ACTIVITY_FIELDS = {
    "workflow_id": "workflow_id",
    "workflow_run_id": "run_id",
    "workflow_type": "workflow_type",
    "activity_id": "activity_id",
    "activity_type": "activity_type",
    "namespace": "namespace",
    "task_queue": "task_queue",
    "attempt": "attempt",
}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, then what the record is about."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for extra, fields in (("temporal_workflow", _WORKFLOW_FIELDS), ("temporal_activity", _ACTIVITY_FIELDS)):
            details = getattr(record, extra, None)
            if isinstance(details, Mapping):
                entry.update({name: details[key] for key, name in fields.items() if key in details})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(settings: Settings) -> None:
    """Root logging as LOG_FORMAT and LOG_LEVEL say, to standard error."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
        # The ids travel as fields; the SDK would also append them to every message as a dict.
        temporalio.workflow.logger.workflow_info_on_message = False
        temporalio.activity.logger.activity_info_on_message = False
        # Python's own warnings become records too, so that every line is JSON.
        logging.captureWarnings(True)
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)


# --- Metrics (and Core's logs) --------------------------------------------------------------------------


def build_runtime(settings: Settings) -> Runtime:
    """The SDK runtime of the worker process: Prometheus on WORKER_METRICS_PORT (when set), Core logs forwarded
    into Python logging (so they follow LOG_FORMAT). A port already taken stops the process at start."""
    metrics = (
        None
        if settings.worker_metrics_port is None
        else PrometheusConfig(bind_address=bind_address(settings.worker_metrics_host, settings.worker_metrics_port))
    )
    logging_config = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger(CORE_LOGGER)),
    )
    return Runtime(telemetry=TelemetryConfig(logging=logging_config, metrics=metrics))


# --- Traces ---------------------------------------------------------------------------------------------


@dataclass
class Tracing:
    """OpenTelemetry tracing for one process: the interceptors to give the worker, and a flush on the way out."""

    provider: TracerProvider
    interceptors: Sequence[Interceptor]

    def shutdown(self) -> None:
        # Sends what the batch processor still holds.
        self.provider.shutdown()


def traces_endpoint(base: str) -> str:
    """The OTLP/HTTP traces URL for a base endpoint, as the OpenTelemetry specification builds it."""
    return base.rstrip("/") + "/v1/traces"


def start_tracing(settings: Settings) -> Tracing | None:
    """Tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set; None (and nothing imported) otherwise.

    Workflow spans are made even without a traced caller (``always_create_workflow_spans``): our callers (the
    starter, the CLI, other services) usually send no trace context. Such spans start traces of their own.
    """
    if not settings.otel_exporter_otlp_endpoint:
        return None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from temporalio.contrib.opentelemetry import TracingInterceptor

    provider = TracerProvider(resource=Resource.create({"service.name": settings.otel_service_name}))
    exporter = OTLPSpanExporter(endpoint=traces_endpoint(settings.otel_exporter_otlp_endpoint))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    interceptor = TracingInterceptor(provider.get_tracer("mentorship.worker"), always_create_workflow_spans=True)
    return Tracing(provider, [interceptor])


# --- Health ---------------------------------------------------------------------------------------------


class Health:
    """``/livez`` and ``/readyz`` for compose health checks and Kubernetes probes.

    Liveness is only that the process answers: a worker that lost Temporal reconnects by itself, and restarting
    it would not help. Readiness is what an operator wants to see: polling, and the frontend answering.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client: Client | None = None
        self.worker: Worker | None = None
        self.stopping = False
        self._runner: web.AppRunner | None = None
        self._checked_at = -1.0
        self._checked: str | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.worker_health_port is not None

    async def start(self) -> None:
        if self.settings.worker_health_port is None:
            return
        app = web.Application()
        app.router.add_get(LIVE_PATH, self._live)
        app.router.add_get(READY_PATH, self._ready)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.worker_health_host, self.settings.worker_health_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def readiness(self) -> str | None:
        """None when ready; otherwise why not."""
        if self.stopping:
            return "stopping: polls no more, finishing what it started"
        if self.worker is None or self.client is None or not self.worker.is_running:
            return "not polling yet"
        return await self._temporal_problem(self.client)

    async def _temporal_problem(self, client: Client) -> str | None:
        now = time.monotonic()
        if now - self._checked_at > TEMPORAL_CHECK_REUSE:
            try:
                await client.workflow_service.get_system_info(
                    GetSystemInfoRequest(), timeout=timedelta(seconds=TEMPORAL_CHECK_TIMEOUT)
                )
                self._checked = None
            except Exception as err:  # any failure to answer is "not ready", with the reason
                self._checked = f"Temporal at {client.service_client.config.target_host} does not answer: {err}"
            self._checked_at = time.monotonic()
        return self._checked

    async def _live(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def _ready(self, request: web.Request) -> web.Response:
        problem = await self.readiness()
        body: dict[str, Any] = {
            "status": "ready" if problem is None else "not ready",
            "task_queue": self.settings.mentorship_task_queue,
        }
        if self.client is not None:
            body["namespace"] = self.client.namespace
        if problem is not None:
            body["reason"] = problem
        return web.json_response(body, status=200 if problem is None else 503)
