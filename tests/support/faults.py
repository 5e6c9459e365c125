"""Real processes to break: the Temporal dev server on an SQLite file and worker processes, for the fault tests.

Everything runs as a child process exactly as deployed (``temporal server start-dev``, ``python worker.py``,
configured by environment alone; devtools/processes.py starts them), in its own session and dying with the test
process, so a test can SIGKILL it, or its whole process group, at any moment. Output goes to a log file in the
test's temporary folder, quoted in failures. ``fault_stack`` starts a server, an in-process mail sink and one
worker, and kills whatever is left in its ``finally``, whatever happened.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from devtools.mailsink import MailSink, free_port
from devtools.processes import HOST, DevServer, Worker, distinct_free_ports, worker_env
from devtools.webhook_receiver import WebhookReceiver
from infra.encryption import CONTRACT_DATA_CONVERTER
from tests.support.builders import MAIL_FROM
from workflows.contract import MentorshipStatus, feedback_workflow_id

# The fault stack's webhook receiver (in the test process) verifies every delivery with this secret.
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"fault-stack-webhook-secret-32by!").decode()
SERVER_START_TIMEOUT = 60.0
WORKER_START_TIMEOUT = 60.0

# (workflow id, step, recipient role): one email, as the headers and the Message-ID name it.
MailKey = tuple[str, str, str]


def dev_server(folder: Path) -> DevServer:
    """``temporal server start-dev`` on an SQLite file in ``folder``, on ports fixed now, so that it can be killed
    and started again as it was."""
    port, http_port, metrics_port = distinct_free_ports(3)
    return DevServer(
        log=folder / "temporal.log",
        db_file=folder / "temporal.db",
        port=port,
        http_port=http_port,
        metrics_port=metrics_port,
        start_timeout=SERVER_START_TIMEOUT,
    )


@dataclass
class FaultStack:
    """One test's world: a dev server, a mail sink on a fixed port, worker processes, a client."""

    folder: Path
    server: DevServer
    sink: MailSink
    client: Client
    task_queue: str
    receiver: WebhookReceiver
    workers: list[Worker] = field(default_factory=list)

    async def start_worker(self) -> Worker:
        """``python worker.py`` with the environment a deployment would give it (in the test's folder: no .env)."""
        env = worker_env(
            self.server.address,
            task_queue=self.task_queue,
            smtp=(self.sink.host, self.sink.port),
            # Set (empty) so that no .env can switch encryption on for these plain-converter clients.
            MENTORSHIP_ENCRYPTION_KEYS="",
            MAIL_FROM=MAIL_FROM,
            MENTORSHIP_WEBHOOK_ENDPOINTS=json.dumps([{"url": self.receiver.url, "secrets": [WEBHOOK_SECRET]}]),
        )
        name = f"worker-{len(self.workers) + 1}"
        worker = Worker(
            name, env=env, log=self.folder / f"{name}.log", cwd=self.folder, start_timeout=WORKER_START_TIMEOUT
        )
        self.workers.append(worker)
        await worker.start()
        return worker

    def handle(self, workflow_id: str) -> WorkflowHandle[Any, MentorshipStatus]:
        return self.client.get_workflow_handle(workflow_id, result_type=MentorshipStatus)

    def logs(self) -> str:
        """The tail of every child's log, for a failure message."""
        parts = [f"--- {self.server.name} ---\n{self.server.output(since_start=False)[-3000:]}"]
        parts += [f"--- {w.name} ---\n{w.output(since_start=False)[-3000:]}" for w in self.workers]
        return "\n".join(parts)


@asynccontextmanager
async def fault_stack(folder: Path, *, worker: bool = True) -> AsyncIterator[FaultStack]:
    """Dev server (SQLite file in ``folder``), mail sink (fixed port: it can be stopped and started again on it),
    and one worker process. Every child's process group is SIGKILLed on the way out, whatever happened."""
    server = dev_server(folder)
    sink = MailSink(port=free_port(HOST), host=HOST)
    receiver = WebhookReceiver(secrets=[WEBHOOK_SECRET], host=HOST)
    stack: FaultStack | None = None
    try:
        await server.start()
        await asyncio.to_thread(sink.start)
        await receiver.start()
        client = await Client.connect(server.address, namespace="default", data_converter=CONTRACT_DATA_CONVERTER)
        stack = FaultStack(folder, server, sink, client, f"mentorship-faults-{uuid.uuid4().hex[:8]}", receiver)
        if worker:
            await stack.start_worker()
        yield stack
    finally:
        for child in stack.workers if stack is not None else []:
            await child.kill()
        await server.kill()
        await asyncio.to_thread(sink.stop)
        await receiver.stop()


# --- Counting emails -------------------------------------------------------------------------------------


def mail_key(message: Any) -> MailKey:
    """(mentorship workflow id, step, role); the role is the last part of the Message-ID's left side
    (``<{mentorship_key}.{step}.{role}@domain>``). A feedback email comes from the mentorship's Feedback workflow
    (``feedback-{mentorship_key}``): it is counted under the mentorship it asks about."""
    role = str(message["Message-ID"]).strip().strip("<>").split("@")[0].rsplit(".", 1)[1]
    workflow_id = mentorship_of(str(message["X-Mentorship-Workflow-Id"]).strip())
    return (workflow_id, str(message["X-Mentorship-Step"]).strip(), role)


FEEDBACK_PREFIX = feedback_workflow_id("")


def mentorship_of(workflow_id: str) -> str:
    """The mentorship's workflow id for a workflow that sends its emails: itself, or the mentorship a Feedback
    workflow asks about (``feedback-{workflow id}.{invitation stamp}``, perhaps ``-{run id}`` after it)."""
    if workflow_id.startswith(FEEDBACK_PREFIX):
        return workflow_id.removeprefix(FEEDBACK_PREFIX).rsplit(".", 1)[0]
    return workflow_id


class MailIndex:
    """How many times each email arrived at ``sink``, indexed as it arrives (it survives stopping and starting
    the sink again), and waiting for given emails without re-reading everything for every waiter."""

    def __init__(self, sink: MailSink) -> None:
        self.sink = sink
        self._counts: Counter[MailKey] = Counter()
        self._seen = 0
        # When each email was first seen (time.monotonic()); as precise as the calls to counts(), which every
        # arrival wakes while someone waits.
        self.first_seen: dict[MailKey, float] = {}

    def counts(self) -> Counter[MailKey]:
        deliveries = self.sink.deliveries
        now = time.monotonic()
        for delivery in deliveries[self._seen :]:
            if delivery.message["X-Mentorship-Workflow-Id"]:
                key = mail_key(delivery.message)
                self._counts[key] += 1
                self.first_seen.setdefault(key, now)
        self._seen = len(deliveries)
        return Counter(self._counts)

    def has(self, keys: Iterable[MailKey]) -> bool:
        counts = self.counts()
        return all(key in counts for key in keys)

    async def wait(self, keys: Iterable[MailKey], what: str, within: float) -> None:
        """Until every one of ``keys`` has arrived at least once; fail after ``within`` seconds saying which
        have not."""
        wanted = set(keys)

        def missing() -> str:
            absent = sorted(wanted - set(self.counts()))
            return f"{len(absent)} of {len(wanted)} emails missing, e.g. {absent[:10]}"

        await self.wait_until(lambda counts: wanted <= counts.keys(), what, within, explain=missing)

    async def wait_until(
        self,
        done: Callable[[Counter[MailKey]], bool],
        what: str,
        within: float,
        *,
        explain: Callable[[], str] | None = None,
    ) -> None:
        """Until ``done(counts)``, re-checked at every arrival; fail after ``within`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not done(self.counts()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {within:.0f}s waiting for {what}" + (f": {explain()}" if explain else "")
                )
            # Woken by the next arrival (or after a second, to re-check the deadline).
            with contextlib.suppress(TimeoutError):
                await self.sink.wait_for(self._seen + 1, timeout=min(remaining, 1.0))


@dataclass(frozen=True)
class MailTally:
    expected: int
    delivered: int
    duplicated: int
    lost: int
    unexpected: list[MailKey]
    missing: list[MailKey]


def tally(expected: Counter[MailKey] | set[MailKey], got: Counter[MailKey]) -> MailTally:
    """Compare what arrived with what should have: a duplicate is a second (third...) copy of an expected
    email, lost is an expected email that never arrived, unexpected is one nobody should have got."""
    wanted = set(expected)
    duplicated = sum(count - 1 for key, count in got.items() if key in wanted and count > 1)
    missing = sorted(wanted - set(got))
    unexpected = sorted(key for key in got if key not in wanted)
    return MailTally(
        expected=len(wanted),
        delivered=sum(1 for key in wanted if key in got),
        duplicated=duplicated,
        lost=len(missing),
        unexpected=unexpected,
        missing=missing,
    )
