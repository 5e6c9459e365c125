"""Sizing: what one mentorship costs a year, measured, and what that makes for 10,000, 100,000 and 1,000,000.

    .venv/bin/python -m bench.sizing                       # measure, then write the 'sizing' section
    .venv/bin/python -m bench.sizing --server-ms-per-event 1.5 --no-write

Measured here (about a minute): one Mentorship (no webhook endpoint) and one with an endpoint taking every event,
each through one simulated year on the time-skipping test server exactly as ``bench.history_cost`` drives it
(default timings: a check-in every 15 days, both reminded when it falls due). From each year's history: its events
and bytes, workflow tasks, updates, timers fired, activities by type, local activity markers, search attribute
upserts; and the CPU of replaying that year's history with the worker's own sandbox and converter (what a task
costs the worker when the mentorship is not in its cache).

Taken from the other sections (flags, defaults from this run of ``make bench``): the server's CPU per history event
(section 1: the dev server's CPU per lifecycle over the Mentorship's events, so the people's records and the
Feedback workflow are charged to it) and a worker's resident memory at the default cache bound (section 3).

The model, with its assumptions as flags:

- **state transitions**: every write to a history: a workflow task scheduled, started and completed, an activity
  started and closed, a timer fired, an update accepted and completed, a start, an upsert, the close;
- **daily peak**: ``--peak-share`` of a day's work falls in its busiest hour (check-ins fall due at the hour they
  were accepted, mostly working hours; emails held for quiet hours go out at 08:00 in their recipients' zone);
- **worker CPU**: every burst of tasks (a timer firing, an update) finds its mentorship out of the cache at large
  scale and replays its history first (the measured replay of a one-year history: the median age of a run);
  the tasks that follow in the burst are cached (measured per task by the same replay);
- **worker processes**: one core each (the GIL), run at ``--utilization`` at the peak;
- **history storage**: each open mentorship's current run (a year's bytes per year of age, until it continues as
  new at the event limit) plus closed runs kept for the namespace's ``--retention-days``;
- **visibility writes**: a start, every upsert, the close.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

import worker as deployed
from bench import history_cost
from bench.common import LoadWindow, load_text, machine, now_text, table, write_section
from infra.settings import Settings
from workflows.feedback import Feedback
from workflows.mentorship import Mentorship
from workflows.person import PersonRecord
from workflows.webhook_endpoint import WebhookEndpointRecord
from workflows.webhook_outbox import WebhookOutbox

SCALES = (10_000, 100_000, 1_000_000)
TRANSITIONS_ROW = "state transitions / s at the daily peak (average)"
STORAGE_ROW = "history written per year (GiB; retention adds closed runs)"
WORKER_CPU_ROW = "worker CPU cores at the peak (replays + tasks)"
WEBHOOKS_ROW = "webhook deliveries / s at the peak, with an endpoint (per day)"
E = EventType
TRANSITIONS = {
    E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
    E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    E.EVENT_TYPE_ACTIVITY_TASK_STARTED,
    E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    E.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    E.EVENT_TYPE_TIMER_FIRED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
}


@dataclass
class Year:
    """One simulated year of one mentorship (after its invitation phase), from its history."""

    kind: str
    days: float
    events: int
    history_bytes: int
    transitions: int
    workflow_tasks: int
    updates: int
    timers_fired: int
    emails: int
    webhook_deliveries: int
    markers: int
    upserts: int
    replay_ms: float
    load: LoadWindow

    def per_day(self, value: float) -> float:
        return value / self.days

    @property
    def bursts(self) -> int:
        """Tasks that start after a long idle: each timer fired and each update."""
        return self.timers_fired + self.updates


async def measure_year(kind: str, replays: int) -> Year:
    load = LoadWindow()
    async with history_cost.kind_on_its_own_server(kind) as (env, queue, _sink):
        driver = history_cost.Driver(env, kind, queue)
        await driver.invitation_phase()
        start = await driver.now()
        first = await driver.quiet()
        while await driver.now() + 15 * history_cost.DAY <= start + history_cost.YEAR:
            await driver.cycle()
        days = (await driver.now() - start).total_seconds() / 86400
        history = await driver.history()
    events = history.events[first:]
    kinds = Counter(e.event_type for e in events)
    activities = Counter(
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    )
    replay_ms = await replay_cpu_ms(history, replays)
    load.close()
    return Year(
        kind=kind,
        days=days,
        events=len(events),
        history_bytes=History(events=events).ByteSize(),
        transitions=sum(n for k, n in kinds.items() if k in TRANSITIONS),
        workflow_tasks=kinds[E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED],
        updates=kinds[E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED],
        timers_fired=kinds[E.EVENT_TYPE_TIMER_FIRED],
        emails=activities["send_notification"],
        webhook_deliveries=activities["deliver_event"],
        markers=kinds[E.EVENT_TYPE_MARKER_RECORDED],
        upserts=kinds[E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES],
        replay_ms=replay_ms,
        load=load,
    )


async def replay_cpu_ms(history: WorkflowHistory, k: int) -> float:
    """CPU milliseconds per replay of the whole history (after one unmeasured), as the worker would replay it."""
    replayer = Replayer(
        workflows=[Mentorship, PersonRecord, Feedback, WebhookOutbox, WebhookEndpointRecord],
        workflow_runner=deployed.WORKFLOW_RUNNER,
        data_converter=pydantic_data_converter,
    )
    await replayer.replay_workflow(history)

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for _ in range(k):
            yield history

    started = time.process_time()
    results = await replayer.replay_workflows(histories(), raise_on_replay_failure=True)
    assert not results.replay_failures
    return 1000 * (time.process_time() - started) / k


@dataclass
class Model:
    peak_share: float
    utilization: float
    retention_days: int
    server_ms_per_event: float
    worker_rss_mib: int
    cache_bound: int


def plan(year: Year, model: Model, n: int) -> dict[str, str]:
    """One column of the sizing table: ``n`` open mentorships like ``year``."""
    per_day = {
        "events": year.per_day(year.events) * n,
        "transitions": year.per_day(year.transitions) * n,
        "tasks": year.per_day(year.workflow_tasks) * n,
        "bursts": year.per_day(year.bursts) * n,
        "emails": year.per_day(year.emails) * n,
        "webhooks": year.per_day(year.webhook_deliveries) * n,
        "visibility": year.per_day(year.upserts) * n,
        "updates": year.per_day(year.updates) * n,
        "timers": year.per_day(year.timers_fired) * n,
    }
    peak = {k: v * model.peak_share / 3600 for k, v in per_day.items()}
    # A burst's first task replays the history; the rest of its tasks cost a cached task's share of the replay.
    task_ms = year.replay_ms / max(1, year.workflow_tasks)
    worker_ms_per_s = peak["bursts"] * year.replay_ms + (peak["tasks"] - peak["bursts"]) * task_ms
    worker_cores = worker_ms_per_s / 1000
    processes = max(1, math.ceil(worker_cores / model.utilization))
    server_cores = peak["events"] * model.server_ms_per_event / 1000
    storage_gib = n * year.history_bytes * 365 / year.days / 2**30
    average = per_day["transitions"] / 86400
    memory_gib = processes * model.worker_rss_mib / 1024
    return {
        TRANSITIONS_ROW: f"{peak['transitions']:,.0f} ({average:,.1f})",
        "updates + timers fired / s at the peak": f"{peak['updates'] + peak['timers']:,.1f}",
        "server CPU cores at the peak (history service work)": f"{server_cores:,.1f}",
        STORAGE_ROW: f"{storage_gib:,.1f}",
        "visibility writes / s at the peak": f"{peak['visibility']:,.1f}",
        WORKER_CPU_ROW: f"{worker_cores:,.2f}",
        f"worker processes (1 core each, ≤ {model.utilization:.0%} busy)": f"{processes}",
        f"worker memory (GiB; {model.worker_rss_mib} MiB each, cache {model.cache_bound})": f"{memory_gib:,.1f}",
        "emails / s at the peak (per day)": f"{peak['emails']:,.1f} ({per_day['emails']:,.0f})",
        WEBHOOKS_ROW: "",
    }  # fmt: skip


def section(years: list[Year], model: Model) -> str:
    plain, hooked = years

    def both(name: str, shown: Callable[[Year], str]) -> tuple[str, str, str]:
        return (name, shown(plain), shown(hooked))

    rows_year = [
        both("simulated days", lambda y: f"{y.days:.0f}"),
        both("history events", lambda y: f"{y.events}"),
        both("history KiB", lambda y: f"{y.history_bytes / 1024:.0f}"),
        both("state transitions", lambda y: f"{y.transitions}"),
        both("workflow tasks", lambda y: f"{y.workflow_tasks}"),
        both("updates / timers fired", lambda y: f"{y.updates} / {y.timers_fired}"),
        both("emails / webhook deliveries", lambda y: f"{y.emails} / {y.webhook_deliveries}"),
        both("local activity markers / upserts", lambda y: f"{y.markers} / {y.upserts}"),
        both("replay of the year's history, worker CPU ms", lambda y: f"{y.replay_ms:.0f}"),
        both("load (1 min)", lambda y: f"{y.load}"),
    ]
    columns = {n: plan(plain, model, n) for n in SCALES}
    hooked_columns = {n: plan(hooked, model, n) for n in SCALES}
    for n in SCALES:
        per_day = hooked.per_day(hooked.webhook_deliveries) * n
        columns[n][WEBHOOKS_ROW] = f"{per_day * model.peak_share / 3600:,.1f} ({per_day:,.0f})"
    rows_plan = [(name, *(columns[n][name] for n in SCALES)) for name in columns[SCALES[0]]]
    hooked_rows = [
        (name, *(hooked_columns[n][name] for n in SCALES)) for name in (TRANSITIONS_ROW, STORAGE_ROW, WORKER_CPU_ROW)
    ]
    peak_million = columns[SCALES[-1]][TRANSITIONS_ROW]
    peak_million_hooked = hooked_columns[SCALES[-1]][TRANSITIONS_ROW]
    return f"""## 9. Sizing a deployment (`python -m bench.sizing`)

{now_text()}; {machine()}.

**What one mentorship costs in a year**, measured: one simulated year after acceptance on the time-skipping
server, default timings (a check-in every 15 days, both reminded when it falls due), without and with a webhook
endpoint taking every event. The one-off costs of a mentorship (its invitation, the two people's records, its
Feedback workflow: sections 1 and 8) come on top, once per mentorship.

{table(("per mentorship-year", "Mentorship", "+ webhooks"), rows_year)}

**The plan** for that many open mentorships, no webhook endpoint (the model and its assumptions are in
`bench/sizing.py`'s docstring): daily peak = {model.peak_share:.0%} of a day's work in one hour; server CPU
{model.server_ms_per_event:.2f} ms per history event (the dev server's, section 1; a production cluster spreads it
over its history, matching and frontend services and its database); workers at
{model.worker_rss_mib} MiB with the default cache bound of {model.cache_bound} (section 3).

{table(("", *(f"{n:,}" for n in SCALES)), rows_plan)}

With a webhook endpoint taking every event:

{table(("", *(f"{n:,}" for n in SCALES)), hooked_rows)}

How to read it: the cluster's load is set by state transitions at the peak (at a million, per second at the peak
and, in brackets, on the day's average: {peak_million}; {peak_million_hooked} with webhooks: a modest
cluster; Temporal's guidance sizes history shards and database IOPS from that rate). History storage
grows by a year's bytes per open mentorship per year until a run continues as new (section 2: at about 4,100
events, some 0.8 MiB, after six years); closed runs stay for the namespace's retention
({model.retention_days} days assumed), then go. Workers are bound by replays, not by memory: at scale almost every
burst finds its mentorship out of a 500-mentorship cache, so a bigger cache buys little; more processes (or
fewer replays: shorter runs through a lower `history_event_limit`) buy throughput.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sizing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--replays", type=int, default=5, help="replays of each year's history measured")
    parser.add_argument("--peak-share", type=float, default=0.25, help="share of a day's work in its busiest hour")
    parser.add_argument("--utilization", type=float, default=0.7, help="a worker process's CPU share at the peak")
    parser.add_argument("--retention-days", type=int, default=30, help="the namespace's retention")
    parser.add_argument(
        "--server-ms-per-event",
        type=float,
        default=2.1,
        help="server CPU ms per history event (section 1: 194 ms per lifecycle of 92 events; default %(default)s)",
    )
    parser.add_argument("--worker-rss-mib", type=int, default=267, help="a worker's RSS (section 3)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    print(f"load average at start: {load_text()}", file=sys.stderr)
    years = [
        asyncio.run(measure_year(kind, args.replays)) for kind in (history_cost.MENTORSHIP, history_cost.WITH_WEBHOOKS)
    ]
    model = Model(
        peak_share=args.peak_share,
        utilization=args.utilization,
        retention_days=args.retention_days,
        server_ms_per_event=args.server_ms_per_event,
        worker_rss_mib=args.worker_rss_mib,
        cache_bound=Settings.model_fields["worker_max_cached_workflows"].default,
    )
    body = section(years, model)
    print(body)
    if not args.no_write:
        write_section("sizing", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
