"""The worker as an operator sees it, for real: ``python worker.py`` started as a deployment starts it (environment
only), against the dev server, mailing a real SMTP sink, with metrics, health, JSON logs and tracing switched on.

Two mentorships are driven through the starter's API: one with a transient mail failure, an acceptance and a
missed check-in; one whose invitation is refused for good (550) and that the other side then invites back. Then
the Prometheus endpoint is scraped over HTTP and every counter is compared with what happened (the workflows'
own results and the mail that arrived); the log lines are parsed as JSON and must name their workflow; and the
spans must have reached an OTLP/HTTP receiver that the test runs.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import mentorship_client
import worker as worker_module
from devtools import processes
from devtools.mailsink import MailSink
from devtools.processes import HOST, Worker, distinct_free_ports
from devtools.webhook_receiver import WebhookReceiver
from tests.support import ROOT, builders
from tests.support.builders import MAIL_FROM
from tests.support.waiting import until, wait_status
from workflows import metrics
from workflows.contract import FeedbackStatus, MentorshipStatus, Stage

START_TIMEOUT = 60.0
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"observed-webhooks-secret-32bytes").decode()
ACTIVITY_SLOTS = 7
WORKFLOW_SLOTS = 9

Labels = dict[str, str]


# --- A tiny OTLP/HTTP receiver and a Prometheus text reader ---------------------------------------------------


@dataclass
class Span:
    name: str
    attributes: dict[str, str]
    service: str


@dataclass
class OtlpReceiver:
    """POST /v1/traces, as an OpenTelemetry Collector takes it (protobuf), kept in memory."""

    spans: list[Span] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self, port: int) -> None:
        app = web.Application()
        app.router.add_post("/v1/traces", self._traces)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, HOST, port).start()
        self.port = port

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _traces(self, request: web.Request) -> web.Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.read())
        for resource_spans in export.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: a.value.string_value for a in span.attributes}
                    self.spans.append(Span(span.name, attributes, resource.get("service.name", "")))
        return web.Response(body=b"", content_type="application/x-protobuf")


_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, Labels, float]]:
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a Prometheus sample: {line!r}"
        labels = dict(_LABEL.findall(match.group("labels") or ""))
        samples.append((match.group("name"), labels, float(match.group("value"))))
    return samples


def total(samples: list[tuple[str, Labels, float]], name: str, **labels: str) -> float:
    """The sum of ``name`` over every sample whose labels include ``labels``."""
    return sum(value for n, have, value in samples if n == name and labels.items() <= have.items())


# --- The worker under observation ------------------------------------------------------------------------


@dataclass
class Observed:
    process: Worker
    client: Client
    sink: MailSink
    otlp: OtlpReceiver
    task_queue: str
    metrics_port: int
    health_port: int
    env: dict[str, str]
    receiver: WebhookReceiver

    async def get(self, port: int, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.get(f"http://{HOST}:{port}{path}") as answer:
            return answer.status, await answer.text()

    async def scrape(self) -> list[tuple[str, Labels, float]]:
        status, text = await self.get(self.metrics_port, "/metrics")
        assert status == 200
        return [(n, labels, v) for n, labels, v in parse_metrics(text) if labels.get("task_queue") == self.task_queue]

    def log_lines(self) -> list[str]:
        return [line for line in self.process.output(since_start=False).splitlines() if line.strip()]


def worker_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """Only what configures the worker is set (everything of the kind in the developer's shell is dropped):
    Temporal's variables, then the defaults below, then ``overrides``."""
    defaults = {
        # Set (empty) so a developer's .env cannot switch these on for the test.
        "MENTORSHIP_ENCRYPTION_KEYS": "",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        "WORKER_METRICS_PORT": "",
        "WORKER_HEALTH_PORT": "",
        "SMTP_TLS": "false",
        "SMTP_STARTTLS": "false",
        "SMTP_TIMEOUT_SECONDS": "5",
        "MAIL_FROM": MAIL_FROM,
        "LOG_LEVEL": "INFO",
    }
    env = processes.worker_env(overrides["TEMPORAL_ADDRESS"])
    env.update(defaults)
    env.update(overrides)
    return env


def readyz(port: int) -> Callable[[], Awaitable[bool]]:
    """Ready when the worker's health endpoint says so."""

    async def ready() -> bool:
        try:
            async with aiohttp.ClientSession() as session, session.get(f"http://{HOST}:{port}/readyz") as answer:
                return answer.status == 200
        except aiohttp.ClientError:
            return False

    return ready


@pytest_asyncio.fixture(scope="module")
async def observed(dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Observed]:
    folder = tmp_path_factory.mktemp("observed")
    metrics_port, health_port, otlp_port = distinct_free_ports(3)
    task_queue = f"mentorship-observed-{uuid.uuid4().hex[:8]}"
    otlp = OtlpReceiver()
    await otlp.start(otlp_port)
    sink = MailSink(port=0, host=HOST)
    await asyncio.to_thread(sink.start)
    # Every event delivered to a verifying receiver, the first one after a 503 (one failed attempt, retried).
    receiver = WebhookReceiver(secrets=[WEBHOOK_SECRET], host=HOST, fail_next=1)
    await receiver.start()
    env = worker_env(
        {
            "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
            "MENTORSHIP_TASK_QUEUE": task_queue,
            "SMTP_HOST": sink.host,
            "SMTP_PORT": str(sink.port),
            "WORKER_METRICS_PORT": str(metrics_port),
            "WORKER_METRICS_HOST": HOST,
            "WORKER_HEALTH_PORT": str(health_port),
            "WORKER_HEALTH_HOST": HOST,
            "WORKER_MAX_CONCURRENT_ACTIVITIES": str(ACTIVITY_SLOTS),
            "WORKER_MAX_CONCURRENT_WORKFLOW_TASKS": str(WORKFLOW_SLOTS),
            "WORKER_MAX_CACHED_WORKFLOWS": "50",
            "LOG_FORMAT": "json",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{HOST}:{otlp_port}",
            "OTEL_SERVICE_NAME": "mentorship-observed",
            # Spans leave the batch processor every 100 ms instead of every 5 s.
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "MENTORSHIP_WEBHOOK_ENDPOINTS": json.dumps([{"url": receiver.url, "secrets": [WEBHOOK_SECRET]}]),
        }
    )
    process = Worker(env=env, log=folder / "worker.log", ready=readyz(health_port), start_timeout=START_TIMEOUT)
    try:
        await process.start()
        yield Observed(process, dev_env.client, sink, otlp, task_queue, metrics_port, health_port, env, receiver)
    finally:
        await process.kill()
        await asyncio.to_thread(sink.stop)
        await receiver.stop()
        await otlp.stop()


@dataclass
class Story:
    """What happened to the two mentorships: their final statuses, run ids and emails."""

    accepted: MentorshipStatus
    refused: MentorshipStatus
    run_ids: dict[str, str]
    emails: int
    # Both ended after being active: each Feedback workflow asked both participants (2 emails each).
    feedback_emails: int


# Ana, Ben and Cora with the story's tag in their ids and addresses; no message, no focus areas.
invitation = functools.partial(
    builders.invitation, cast=builders.ANA_AND_BEN, tag_emails=True, message=None, focus_areas=[]
)


async def accepted_story(observed: Observed) -> MentorshipStatus:
    """Invited by the mentee, one send deferred (451) and retried, accepted, a check-in missed (the coordinator
    is told), withdrawn by the mentor."""
    tag = uuid.uuid4().hex[:6]
    client = observed.client
    observed.sink.fail_next(1, "451 4.3.0 try again later")
    timings: dict[str, Any] = {"check_in_every": "PT2S", "check_in_grace": "PT1S", "escalate_after_missed": 1}
    status = await mentorship_client.invite(
        client, invitation(tag, "mentee", **timings), task_queue=observed.task_queue
    )
    handle = client.get_workflow_handle(status.workflow_id, result_type=MentorshipStatus)
    await mentorship_client.act(client, status.workflow_id, "accept", {"by": f"ana-{tag}"})
    await wait_status(handle, lambda s: s.missed_total >= 1, "a missed check-in", within=30.0)
    await mentorship_client.act(client, status.workflow_id, "withdraw", {"by": f"ana-{tag}"})
    final: MentorshipStatus = await handle.result()
    return final


async def refused_story(observed: Observed) -> MentorshipStatus:
    """Invited by the mentee; the invitation to the mentor is refused for good (550). The mentor invites back
    (both have agreed), then the mentee withdraws."""
    tag = uuid.uuid4().hex[:6]
    client = observed.client
    observed.sink.fail_for(f"ana-{tag}@example.com", "550 5.1.1 no such user", count=1)
    status = await mentorship_client.invite(client, invitation(tag, "mentee"), task_queue=observed.task_queue)
    handle = client.get_workflow_handle(status.workflow_id, result_type=MentorshipStatus)
    await wait_status(handle, lambda s: s.notifications_failed == 1, "the refused invitation", within=30.0)
    back = await mentorship_client.invite(client, invitation(tag, "mentor"), task_queue=observed.task_queue)
    assert back.stage is Stage.ACTIVE
    await mentorship_client.act(client, status.workflow_id, "withdraw", {"by": f"ben-{tag}"})
    final: MentorshipStatus = await handle.result()
    return final


@pytest_asyncio.fixture(scope="module")
async def story(observed: Observed) -> Story:
    accepted, refused = await asyncio.gather(accepted_story(observed), refused_story(observed))
    run_ids = {}
    for final in (accepted, refused):
        description = await observed.client.get_workflow_handle(final.workflow_id).describe()
        run_ids[final.workflow_id] = description.run_id
    ids = set(run_ids)
    emails = sum(1 for m in observed.sink.messages if m["X-Mentorship-Workflow-Id"] in ids)
    feedback_emails = 0
    for final in (accepted, refused):
        assert final.feedback_workflow_id is not None
        feedback_id = final.feedback_workflow_id

        async def asked(feedback_id: str = feedback_id) -> FeedbackStatus | None:
            current = await mentorship_client.feedback_status(observed.client, feedback_id)
            return current if current.notifications_sent + len(current.notification_failures) == 2 else None

        feedback_emails += (await until(asked, f"{feedback_id}: both asked", 30.0)).notifications_sent
    return Story(accepted, refused, run_ids, emails, feedback_emails)


# --- The tests ------------------------------------------------------------------------------------------


async def test_health_endpoints_and_the_probe(observed: Observed) -> None:
    status, body = await observed.get(observed.health_port, "/readyz")
    assert status == 200
    assert json.loads(body) == {"status": "ready", "task_queue": observed.task_queue, "namespace": "default"}
    assert await observed.get(observed.health_port, "/livez") == (200, '{"status": "alive"}')
    # The compose health check and a Kubernetes exec probe: exit 0 when ready (or live), 1 otherwise.
    for argv, expected in ((["--health"], 0), (["--health", "live"], 0)):
        probe = await asyncio.create_subprocess_exec(
            sys.executable, "worker.py", *argv, cwd=ROOT, env=observed.env, stdout=asyncio.subprocess.PIPE
        )
        output, _ = await probe.communicate()
        assert probe.returncode == expected, output
    nothing_there = {**observed.env, "WORKER_HEALTH_PORT": str(distinct_free_ports(1)[0])}
    probe = await asyncio.create_subprocess_exec(
        sys.executable, "worker.py", "--health", cwd=ROOT, env=nothing_there, stderr=asyncio.subprocess.DEVNULL
    )
    assert await probe.wait() == 1


async def test_metrics_count_what_happened(observed: Observed, story: Story) -> None:
    accepted, refused = story.accepted, story.refused
    assert (accepted.stage, refused.stage) == (Stage.WITHDRAWN, Stage.WITHDRAWN)
    sent = accepted.notifications_sent + refused.notifications_sent
    assert sent == story.emails, "every email the workflows counted arrived, once"

    async def scraped() -> list[tuple[str, Labels, float]] | None:
        samples = await observed.scrape()
        # Idle (no task in hand) and both workflows counted complete: the figures are final.
        idle = total(samples, "temporal_worker_task_slots_available", worker_type="ActivityWorker") == ACTIVITY_SLOTS
        return samples if idle and total(samples, "temporal_workflow_completed") == 2 else None

    samples = await until(scraped, "the final figures", 15.0, explain=lambda: "\n".join(observed.log_lines()[-20:]))

    # The service's own counters.
    assert total(samples, metrics.INVITATIONS.name) == 2
    assert total(samples, metrics.INVITATIONS.name, initiated_by="mentee") == 2
    assert total(samples, metrics.ACCEPTANCES.name, via="accept") == 1
    assert total(samples, metrics.ACCEPTANCES.name, via="mutual_invitation") == 1
    assert total(samples, metrics.CHECK_INS_MISSED.name) == accepted.missed_total >= 1
    assert total(samples, metrics.EMAILS_SENT.name) == sent + story.feedback_emails
    assert total(samples, metrics.EMAILS_SENT.name, notice="feedback_request") == story.feedback_emails == 4
    assert total(samples, metrics.EMAILS_SENT.name, notice="mentorship_started") == 4
    assert total(samples, metrics.EMAILS_SENT.name, notice="at_risk") == 1
    assert total(samples, metrics.EMAILS_FAILED.name, failure="transient") == 1
    assert total(samples, metrics.EMAILS_FAILED.name, failure="permanent", notice="invitation") == 1
    assert total(samples, metrics.EMAILS_FAILED.name) == 2
    assert total(samples, metrics.NOTIFICATIONS_GIVEN_UP.name, notice="invitation") == refused.notifications_failed
    assert total(samples, metrics.NOTIFICATIONS_GIVEN_UP.name) == 1
    # Every event of both mentorships delivered once; the receiver's one 503 counted as a failed attempt.
    events = accepted.events_emitted + refused.events_emitted
    assert len({event["id"] for event in observed.receiver.events}) == events
    assert total(samples, metrics.WEBHOOK_ATTEMPTS.name, result="delivered") == len(observed.receiver.received)
    assert total(samples, metrics.WEBHOOK_ATTEMPTS.name, result="failed") == 1
    assert total(samples, metrics.WEBHOOK_EVENTS_GIVEN_UP.name) == 0
    # The workflow's counters carry the workflow type, the activity's the activity type.
    assert {labels["workflow_type"] for n, labels, _ in samples if n == metrics.INVITATIONS.name} == {"Mentorship"}
    assert {labels["activity_type"] for n, labels, _ in samples if n == metrics.EMAILS_SENT.name} == {
        "send_notification"
    }

    # The SDK's own metrics, on the same endpoint, reflecting the tuning from the environment.
    assert total(samples, "temporal_workflow_completed", workflow_type="Mentorship") == 2
    assert total(samples, "temporal_worker_task_slots_available", worker_type="WorkflowWorker") == WORKFLOW_SLOTS
    assert total(samples, "temporal_activity_execution_latency_count", activity_type="send_notification") == (
        sent + story.feedback_emails + 2
    )
    assert total(samples, "temporal_num_pollers", poller_type="activity_task") >= 1


async def test_logs_are_json_lines_that_name_their_workflow(observed: Observed, story: Story) -> None:
    entries = []
    for line in observed.log_lines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON log line: {line!r}")
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    assert any(worker_module.READY_MESSAGE in entry["message"] for entry in entries)

    accepted_id, refused_id = story.accepted.workflow_id, story.refused.workflow_id
    sends = [e for e in entries if e["logger"] == "temporalio.activity" and e.get("workflow_id") == accepted_id]
    assert sends, "the activity's lines carry the workflow id"
    # The emails' and the webhook deliveries'.
    assert {e["activity_type"] for e in sends} == {"send_notification", "deliver_event"}
    assert {e["run_id"] for e in sends} == {story.run_ids[accepted_id]}
    assert any(" sent to " in e["message"] for e in sends)
    # The ids are fields, not appended to the message as well.
    assert not any("workflow_id" in e["message"] for e in sends)

    (given_up,) = [e for e in entries if e["logger"] == "temporalio.workflow" and e.get("workflow_id") == refused_id]
    assert given_up["level"] == "WARNING"
    assert given_up["message"].startswith("Notification invitation to mentor failed")
    assert given_up["run_id"] == story.run_ids[refused_id]
    assert given_up["workflow_type"] == "Mentorship"


async def test_traces_reach_the_collector(observed: Observed, story: Story) -> None:
    accepted_id = story.accepted.workflow_id

    async def spans() -> set[str] | None:
        names = {s.name for s in observed.otlp.spans if s.attributes.get("temporalWorkflowID") == accepted_id}
        wanted = {"RunWorkflow:Mentorship", "RunActivity:send_notification", "HandleUpdate:accept"}
        return names if wanted <= names else None

    names = await until(spans, "the spans of a mentorship", 15.0, explain=lambda: str(observed.otlp.spans[-10:]))
    assert "StartActivity:send_notification" in names
    assert {s.service for s in observed.otlp.spans} == {"mentorship-observed"}


async def test_a_stop_lets_the_worker_finish_and_exit_cleanly(
    dev_env: WorkflowEnvironment, tmp_path: Path, mail_sink: MailSink
) -> None:
    (health_port,) = distinct_free_ports(1)
    env = worker_env(
        {
            "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
            "MENTORSHIP_TASK_QUEUE": f"mentorship-stop-{uuid.uuid4().hex[:8]}",
            "SMTP_HOST": mail_sink.host,
            "SMTP_PORT": str(mail_sink.port),
            "WORKER_HEALTH_PORT": str(health_port),
            "WORKER_HEALTH_HOST": HOST,
        }
    )
    process = Worker(env=env, log=tmp_path / "worker.log", ready=readyz(health_port), start_timeout=START_TIMEOUT)
    try:
        await process.start()
        assert process.process is not None
        process.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
        output = process.output()
        assert code == 0, output
        assert "Stopping: no new tasks" in output and "Worker stopped" in output
    finally:
        await process.kill()


async def test_a_taken_metrics_port_stops_the_worker_at_start(dev_env: WorkflowEnvironment, tmp_path: Path) -> None:
    (port,) = distinct_free_ports(1)
    blocker = await asyncio.start_server(lambda r, w: None, HOST, port)
    env = worker_env(
        {
            "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
            "WORKER_METRICS_PORT": str(port),
            "WORKER_METRICS_HOST": HOST,
        }
    )
    process = Worker(env=env, log=tmp_path / "worker.log", ready=None)
    try:
        await process.start()
        assert process.process is not None
        code = await asyncio.wait_for(process.wait(), 30)
        assert code == 1
        assert "Address already in use" in process.output()
    finally:
        await process.kill()
        blocker.close()
        await blocker.wait_closed()
