"""History cost: events per invitation phase, per check-in cycle and per simulated year, Mentorship against
the floor, on the time-skipping test server; and the longest run before continue-as-new.

    .venv/bin/python -m bench.history_cost                 # 1 simulated year each, then a Mentorship to its CAN
    .venv/bin/python -m bench.history_cost --years 2 --no-can --no-write

Both run on the project's worker options (``worker.build_worker``; bench/worker.py swaps in the floor) with a
real SMTP sink, on the default timings (reminder every 3 days, check-ins every 14, follow-up 3 days after). The
scenario, the same for both and deterministic: the mentee invites (update-with-start); the first reminder goes
out on day 3; the mentor accepts on day 4 (update). Then every cycle: the check-in falls due (both reminded),
and a day later the mentee records it (update), which starts the next cycle; so a cycle is 15 days. Time is
skipped to one second past each timer and the script waits until no workflow task or email is in flight
before it skips on, so no activity ever times out on skipped time (checked: every activity ran once).

Events are counted from the fetched history: the invitation phase is everything up to the quiet point after
the acceptance's emails; a cycle, everything from one check-in's quiet point to the next. A simulated year is
the cycles run in 365 days after the acceptance. Then a Mentorship (no ``history_event_limit``: the server's
suggestion decides) runs cycles until it continues as new; its first run's length, in events, cycles and
simulated time, is the longest run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHistory
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import mentorship_client
from bench import common
from bench import worker as bench_worker
from bench.common import MAIL_FROM, TEST_SERVER, LoadWindow, load_text, machine, now_text, table, write_section
from bench.floor import FLOOR_WORKFLOW_TYPE
from devtools.mailsink import MailSink
from devtools.webhook_receiver import WebhookReceiver
from infra.settings import Settings
from infra.temporal import ensure_search_attributes
from workflows.contract import MentorshipInput, workflow_id_for

MENTORSHIP = "Mentorship"
# The same Mentorship with one webhook endpoint taking every event (a receiver on loopback): what webhooks cost.
WITH_WEBHOOKS = "Mentorship + webhooks"
FLOOR = "floor"
KINDS = (MENTORSHIP, WITH_WEBHOOKS, FLOOR)
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"bench-history-cost-webhook-key!!").decode()
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
YEAR = 365 * DAY

_OPEN_TASK = {EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED}


@dataclass
class Run:
    kind: str
    invitation_events: int = 0
    cycles: list[int] = field(default_factory=list)
    year_cycles: int = 0
    year_events: int = 0
    total_events: int = 0
    history_bytes: int = 0
    bytes_by_type: dict[str, int] = field(default_factory=dict)
    emails: int = 0
    seconds: float = 0.0
    load: LoadWindow = field(default_factory=LoadWindow)


@dataclass
class LongestRun:
    kind: str
    how: str
    events: int
    cycles: int
    simulated_days: float
    history_bytes: int
    seconds: float
    load: LoadWindow


class Driver:
    def __init__(self, env: WorkflowEnvironment, kind: str, task_queue: str) -> None:
        self.env = env
        self.kind = kind
        self.task_queue = task_queue
        self.inv = common.invitation(f"{kind.split()[0].lower()}-{uuid.uuid4().hex[:6]}")
        self.workflow_id = ""

    @property
    def client(self) -> Client:
        return self.env.client

    async def history(self, run_id: str | None = None) -> WorkflowHistory:
        return await self.client.get_workflow_handle(self.workflow_id, run_id=run_id).fetch_history()

    async def quiet(self) -> int:
        """Until the latest run has no workflow task and no email in flight; its number of events then."""
        for _ in range(3000):
            events = (await self.history()).events
            scheduled = sum(1 for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
            closed = sum(1 for e in events if e.event_type in common.ACTIVITY_CLOSED)
            if scheduled == closed and events[-1].event_type not in _OPEN_TASK:
                return len(events)
            await asyncio.sleep(0.01)
        raise TimeoutError(f"{self.workflow_id} never settled")

    async def skip(self, duration: timedelta) -> None:
        await self.quiet()
        await self.env.sleep(duration)
        await self.quiet()

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def invite(self) -> None:
        if self.kind != FLOOR:
            self.workflow_id = (
                await mentorship_client.invite(self.client, self.inv, task_queue=self.task_queue)
            ).workflow_id
            return
        self.workflow_id = "floor-" + workflow_id_for(self.inv.mentor.id, self.inv.mentee.id)
        operation: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
            FLOOR_WORKFLOW_TYPE,
            MentorshipInput.model_validate(self.inv.model_dump()),
            id=self.workflow_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
        await self.client.execute_update_with_start_workflow("invite", self.inv, start_workflow_operation=operation)

    async def act(self, action: str, payload: dict[str, Any]) -> None:
        if self.kind != FLOOR:
            await mentorship_client.act(self.client, self.workflow_id, action, payload)
        else:
            await self.client.get_workflow_handle(self.workflow_id).execute_update(action, payload)

    async def invitation_phase(self) -> int:
        """Invite; the first reminder on day 3; accepted on day 4. Events at the quiet point after."""
        await self.invite()
        await self.skip(3 * DAY + SECOND)  # the first reminder
        await self.skip(DAY - SECOND)
        await self.act("accept", {"by": self.inv.mentor.id, "note": "Glad to"})
        return await self.quiet()

    async def cycle(self) -> int:
        """Due (both reminded) 14 days after the last check-in; recorded a day later. Events at the quiet point."""
        await self.skip(14 * DAY + SECOND)
        await self.skip(DAY - SECOND)
        await self.act("check_in", {"by": self.inv.mentee.id, "note": "met", "rating": 4})
        return await self.quiet()

    async def runs(self) -> list[WorkflowHistory]:
        """Every run of the workflow, first to last."""
        chain: list[WorkflowHistory] = []
        run_id: str | None = None
        while True:
            history = await self.history(run_id)
            chain.append(history)
            previous = history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
            if not previous:
                return chain[::-1]
            run_id = previous

    async def check_every_activity_ran_once(self) -> None:
        for history in await self.runs():
            for e in history.events:
                if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                    assert e.activity_task_started_event_attributes.attempt == 1, f"{self.kind}: an email was retried"


@asynccontextmanager
async def kind_on_its_own_server(kind: str) -> AsyncIterator[tuple[WorkflowEnvironment, str, MailSink]]:
    """A time-skipping server, a mail sink and a worker for one kind alone. Each kind gets its own server: one
    server's skipped clock is shared by everything on it, and the test server stops skipping for good once a
    Mentorship's Feedback workflow has come and gone (the floor's first skip then timed out)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter
    )
    receiver = WebhookReceiver(secrets=[WEBHOOK_SECRET])
    try:
        await ensure_search_attributes(env.client, "default")
        queue = f"bench-history-{kind.split()[0].lower()}-{uuid.uuid4().hex[:6]}"
        endpoints = None
        if kind == WITH_WEBHOOKS:
            await receiver.start()
            endpoints = json.dumps([{"url": receiver.url, "secrets": [WEBHOOK_SECRET]}])
        async with MailSink(port=0) as sink:
            settings = Settings(
                _env_file=None,
                mentorship_task_queue=queue,
                smtp_host=sink.host,
                smtp_port=sink.port,
                mail_from=MAIL_FROM,
                mentorship_link_template=None,
                mentorship_webhook_endpoints=endpoints,
            )
            async with bench_worker.build(env.client, settings, workflow="floor" if kind == FLOOR else "mentorship"):
                yield env, queue, sink
    finally:
        await receiver.stop()
        await env.shutdown()


async def year(env: WorkflowEnvironment, kind: str, task_queue: str, years: int, sink: MailSink) -> Run:
    out = Run(kind)
    started = time.perf_counter()
    before = len(sink.deliveries)
    driver = Driver(env, kind, task_queue)
    out.invitation_events = await driver.invitation_phase()
    accepted = await driver.now()
    last = out.invitation_events
    while await driver.now() + 15 * DAY <= accepted + years * YEAR:
        events = await driver.cycle()
        out.cycles.append(events - last)
        last = events
    out.year_cycles = len(out.cycles) // years
    out.year_events = (last - out.invitation_events) // years
    await driver.act("withdraw", {"by": driver.inv.mentor.id, "reason": "the bench is over"})
    await driver.client.get_workflow_handle(driver.workflow_id).result()
    await driver.check_every_activity_ran_once()
    chain = await driver.runs()
    out.total_events = sum(len(h.events) for h in chain)
    out.history_bytes = max(History(events=h.events).ByteSize() for h in chain)
    for h in chain:
        for e in h.events:
            name = EventType.Name(e.event_type).removeprefix("EVENT_TYPE_")
            out.bytes_by_type[name] = out.bytes_by_type.get(name, 0) + e.ByteSize()
    out.emails = len(sink.deliveries) - before
    out.seconds = time.perf_counter() - started
    out.load.close()
    return out


def _suggested(history: WorkflowHistory) -> int | None:
    """The number of events up to the first workflow task on which the server suggested continue-as-new."""
    for i, e in enumerate(history.events):
        if (
            e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
            and e.workflow_task_started_event_attributes.suggest_continue_as_new
        ):
            return i + 1
    return None


async def longest_run(env: WorkflowEnvironment, kind: str, task_queue: str, max_cycles: int) -> LongestRun:
    """A Mentorship runs cycles until it continues as new; the floor (which never does) until the server first
    suggests it on a workflow task: the length of the first run, either way."""
    load = LoadWindow()
    started = time.perf_counter()
    driver = Driver(env, kind, task_queue)
    await driver.invitation_phase()
    first = (await driver.history()).events[0]
    first_run = first.workflow_execution_started_event_attributes.original_execution_run_id
    began = first.event_time.ToDatetime()
    for cycles in range(1, max_cycles + 1):
        await driver.cycle()
        history = await driver.history(first_run)
        last = history.events[-1]
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            how, events, until = "continued as new", history.events, last
        elif kind == FLOOR and (at := _suggested(history)) is not None:
            how, events, until = "server suggested continue-as-new", history.events[:at], history.events[at - 1]
        else:
            if cycles % 50 == 0:
                print(f"  {kind}: still one run after {cycles} cycles", file=sys.stderr, flush=True)
            continue
        days = (until.event_time.ToDatetime() - began).total_seconds() / 86400
        await driver.act("withdraw", {"by": driver.inv.mentor.id, "reason": "the bench is over"})
        load.close()
        size = History(events=events).ByteSize()
        return LongestRun(kind, how, len(events), cycles, days, size, time.perf_counter() - started, load)
    raise RuntimeError(f"{kind}: no continue-as-new within {max_cycles} cycles")


async def main_async(years: int, can: bool, max_cycles: int) -> tuple[list[Run], list[LongestRun]]:
    runs: list[Run] = []
    longest: list[LongestRun] = []
    for kind in KINDS:
        async with kind_on_its_own_server(kind) as (env, queue, sink):
            runs.append(await year(env, kind, queue, years, sink))
            print(f"  {kind}: {runs[-1].seconds:.1f}s", file=sys.stderr, flush=True)
        if can and kind != WITH_WEBHOOKS:
            async with kind_on_its_own_server(kind) as (env, queue, sink):
                longest.append(await longest_run(env, kind, queue, max_cycles))
                print(f"  {kind}: first run {longest[-1].events} events", file=sys.stderr, flush=True)
    return runs, longest


def section(runs: list[Run], longest: list[LongestRun], years: int) -> str:
    m, w, f = runs

    def spread(values: list[int]) -> str:
        return f"{sum(values) / len(values):.1f} ({min(values)}–{max(values)})"

    def mean(values: list[int]) -> float:
        return sum(values) / len(values)

    def row(
        name: str, value: Callable[[Run], float], shown: Callable[[Run], str], bold: bool = False
    ) -> tuple[str, ...]:
        ratios = [f"{value(r) / value(f):.2f}" for r in (m, w)]
        if bold:
            ratios[0] = f"**{ratios[0]}**"
        return (name, shown(m), shown(w), shown(f), *ratios)

    rows = [
        row("invitation phase (invite, 1 reminder, accept)", lambda r: r.invitation_events,
            lambda r: str(r.invitation_events)),
        row("check-in cycle: mean (min–max)", lambda r: mean(r.cycles), lambda r: spread(r.cycles), bold=True),
        row(f"simulated year ({m.year_cycles} cycles)", lambda r: r.year_events, lambda r: str(r.year_events)),
        row(f"whole history ({years} year(s), then withdrawn)", lambda r: r.total_events,
            lambda r: str(r.total_events)),
        row("largest run's history, protobuf KiB", lambda r: r.history_bytes,
            lambda r: f"{r.history_bytes / 1024:.0f}", bold=True),
        ("emails sent", str(m.emails), str(w.emails), str(f.emails), "", ""),
        ("wall s / load (1 min)", f"{m.seconds:.1f} / {m.load}", f"{w.seconds:.1f} / {w.load}",
         f"{f.seconds:.1f} / {f.load}", "", ""),
    ]  # fmt: skip
    head = ("history events", "Mentorship", "+ webhooks", "floor", "ratio", "ratio + webhooks")
    text = f"""## 2. History cost (`python -m bench.history_cost`)

{now_text()}; {machine()}.

One mentorship of each kind on the time-skipping test server (each kind on its own), default timings (reminders
every 3 days, check-ins every 14, follow-up after 3): invited, first reminder on day 3, accepted on day 4; then
each 15-day cycle: the check-in falls due (both reminded), recorded a day later (update). Events counted in the
fetched histories. "Mentorship" has no webhook endpoint configured (each event costs a local activity's marker);
"+ webhooks" is the same with one endpoint taking every event (a delivery activity per event).

{table(head, rows)}

Targets (issue 18): history bytes per simulated year ≤ 1.3 × the floor's; events per check-in cycle ≤ 1.1 ×;
the first run ends by event count, not by size.
"""
    if longest:
        long_rows = [
            (r.kind, r.how, str(r.events), f"{r.history_bytes / 1024:.0f}", str(r.cycles),
             f"{r.simulated_days:.0f} ({r.simulated_days / 365:.1f} years)", f"{r.seconds:.1f} / {r.load}")
            for r in longest
        ]  # fmt: skip
        long_head = ("", "first run ends: ", "events", "KiB", "cycles", "simulated days", "wall s / load (1 min)")
        text += f"""
**Longest run before continue-as-new.** The same cycles, on and on, with no `history_event_limit` (the server's
suggestion decides): the Mentorship until it continues as new, the floor (which never does) until the server
first suggests it on a workflow task.

{table(long_head, long_rows)}
"""
    kinds = sorted(set(m.bytes_by_type) | set(f.bytes_by_type), key=lambda k: -m.bytes_by_type.get(k, 0))
    byte_rows = [(k, *(f"{r.bytes_by_type.get(k, 0) / 1024:.0f}" for r in (m, w, f))) for k in kinds[:10]]
    text += f"""
Where the bytes of the {years}-year history go (KiB, by event type, largest first):

{table(("event type", "Mentorship", "+ webhooks", "floor"), byte_rows)}
"""
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=int, default=1, help="simulated years of cycles (default %(default)s)")
    parser.add_argument("--no-can", action="store_true", help="skip the runs to continue-as-new")
    parser.add_argument("--max-cycles", type=int, default=300, help="give up on continue-as-new after this many")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    if args.years < 1:
        parser.error("--years must be at least 1")
    print(f"load average at start: {load_text()}", file=sys.stderr)
    runs, longest = asyncio.run(main_async(args.years, not args.no_can, args.max_cycles))
    body = section(runs, longest, args.years)
    print(body)
    if not args.no_write:
        write_section("history", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
