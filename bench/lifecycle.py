"""Lifecycle throughput of the Mentorship against the floor, on the dev server (and scale-out over workers).

    .venv/bin/python -m bench.lifecycle                   # 1,000 of each, 1 worker each: the 'lifecycle' section
    .venv/bin/python -m bench.lifecycle --scale-out       # 1 worker, then 2, for each: the 'scale-out' section
    .venv/bin/python -m bench.lifecycle --limits -n 250 --warmup 25   # with and without limits: 'limits'
    .venv/bin/python -m bench.lifecycle -n 2000 --concurrency 64 --no-write

One dev server (SQLite in memory), one mail sink process (bench/sink.py), and for each kind its own worker
process(es) on its own task queue: ``worker.py`` exactly as deployed for the Mentorship, ``bench/worker.py
--workflow floor`` (the same ``build_worker`` options) for the floor (bench/floor.py). Each mentorship is driven
by one coroutine, at most ``--concurrency`` at a time, on short timings (a reminder every 10 min, check-ins every
30 min: none fires while it is driven): the mentee invites (update-with-start ``invite``), the mentor accepts
(update), three check-ins (updates), the mentor withdraws (update); then it waits for the workflow to complete
(after its last email). Emails per mentorship: invitation, confirmation, two welcomes, one withdrawal notice.

The kinds alternate in rounds of n/2 (Mentorship, floor, floor, Mentorship) after a warm-up of each, so a
drift in the shared machine's load falls on both alike. CPU seconds come from /proc/<pid>/stat of each
process, read before and after each round.

Per-person limits (``--limits``): every acceptance of a Mentorship takes a place in the mentor's and the mentee's
records (Person workflows, ``workflows/person.py``) whether or not they have limits. Every person of the benchmark
is in one mentorship only, so plain ``Mentorship`` has both records started by its acceptance (a person's first
mentorship). ``Mentorship/limits`` first sets generous limits (``PEOPLE_SETUPS``: nothing is refused) on both
people of every mentorship of a round, before the round and untimed, so their records exist when the invitation
and the acceptance reach them (set up just before, they are still in the worker's cache unless a round outgrows
its bound); ``Mentorship/records`` does the same with no limits (``set_limits`` with nulls starts the record):
people who had a mentorship before. ``--limits`` runs these three and the floor in alternating rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

import mentorship_client
from bench.common import (
    BYTECODE_CHOICES,
    DEFAULT_BYTECODE,
    CpuMeter,
    DevServer,
    LoadWindow,
    Processes,
    PySpy,
    SinkProcess,
    WorkerProcess,
    bench_worker_argv,
    deployed_worker_argv,
    invitation,
    load_text,
    machine,
    ms,
    now_text,
    percentile,
    table,
    write_section,
)
from bench.email_experiments import MAILERS
from bench.floor import FLOOR_WORKFLOW_TYPE
from bench.variants import VARIANTS
from devtools.processes import ChildProcess
from workflows.contract import (
    AcceptInput,
    CheckInInput,
    Invitation,
    MentorshipInput,
    Stage,
    WithdrawInput,
    person_workflow_id,
    workflow_id_for,
)

MENTORSHIP = "Mentorship"
FLOOR = "floor"
# A Mentorship kind's suffix: what is set on both people of every mentorship of a round before it, untimed, which
# starts their records (see the docstring). Limits no one in the benchmark reaches (each person is in one
# mentorship), so nothing is refused; or no limits at all.
LIMITS = "/limits"
RECORDS = "/records"
PEOPLE_SETUPS: dict[str, dict[str, int | None]] = {
    LIMITS: {"max_mentees": 100, "max_mentors": 100},
    RECORDS: {"max_mentees": None, "max_mentors": None},
}
LIMITS_KINDS = [MENTORSHIP, MENTORSHIP + RECORDS, MENTORSHIP + LIMITS, FLOOR]
DEFAULT_WARMUP = 50
# The invitation and its confirmation, the two welcomes, the withdrawal, and (since issue 15) a feedback request to
# each participant.
EMAILS_PER_MENTORSHIP = 7


def emails_per_mentorship(kind: str) -> int:
    """The variant asking for no feedback sends the two feedback requests less."""
    return EMAILS_PER_MENTORSHIP - (2 if kind.endswith(":no-feedback") else 0)


TIMINGS: dict[str, Any] = {
    "remind_after": "PT10M",
    "invitation_reminders": 2,
    "respond_within": "PT1H",
    "check_in_every": "PT30M",
    "check_in_grace": "PT5M",
}


# --- The two kinds of workflow, driven the same way ---------------------------------------------------------


def is_floor(kind: str) -> bool:
    """A kind is ``Mentorship``, ``floor`` or ``Mentorship:<variant>`` (bench/variants.py), optionally followed by
    ``+<mailer>`` (an experimental email activity, bench/email_experiments.py), by ``@cached`` or ``@none``
    (overriding ``--bytecode`` for its workers) and, for a Mentorship, by ``/limits`` or ``/records`` (limits,
    or none, set on every person first: ``PEOPLE_SETUPS``)."""
    return without_setup(kind).split("@")[0].split("+")[0] == FLOOR


def people_setup(kind: str) -> dict[str, int | None] | None:
    return next((limits for suffix, limits in PEOPLE_SETUPS.items() if kind.endswith(suffix)), None)


def without_setup(kind: str) -> str:
    for suffix in PEOPLE_SETUPS:
        kind = kind.removesuffix(suffix)
    return kind


def worker_argv(kind: str) -> list[str]:
    if people_setup(kind) is not None and is_floor(kind):
        raise ValueError(f"{kind!r}: the floor keeps no person records, so it takes no limits")
    workflow, _, mailer = without_setup(kind).split("@")[0].partition("+")
    if mailer and mailer not in MAILERS:
        raise ValueError(f"unknown mailer in {kind!r}: {'|'.join(MAILERS)}")
    extra = ["--mailer", mailer] if mailer else []
    if workflow == MENTORSHIP:
        return bench_worker_argv("mentorship", *extra) if extra else deployed_worker_argv()
    if workflow == FLOOR:
        return bench_worker_argv("floor", *extra)
    base, _, variant = workflow.partition(":")
    if base != MENTORSHIP or variant not in VARIANTS:
        raise ValueError(f"unknown kind {kind!r}: Mentorship, floor or Mentorship:<{'|'.join(VARIANTS)}>")
    return bench_worker_argv("mentorship", "--variant", variant, *extra)


def bytecode_of(kind: str, default: str) -> str:
    _, _, choice = without_setup(kind).partition("@")
    if choice and choice not in BYTECODE_CHOICES:
        raise ValueError(f"unknown bytecode choice in {kind!r}: {'|'.join(BYTECODE_CHOICES)}")
    return choice or default


def _slug(kind: str) -> str:
    return kind.lower().replace(":", "-").replace("@", "-").replace("+", "-").replace("/", "-")


async def invite(kind: str, client: Client, inv: Invitation, task_queue: str) -> str:
    """Update-with-start ``invite``; the workflow id."""
    if not is_floor(kind):
        current = await mentorship_client.invite(client, inv, task_queue=task_queue)
        assert current.stage is Stage.INVITED, current.stage
        return current.workflow_id
    workflow_id = "floor-" + workflow_id_for(inv.mentor.id, inv.mentee.id).removeprefix("mentorship-")
    operation: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        FLOOR_WORKFLOW_TYPE,
        MentorshipInput.model_validate(inv.model_dump()),
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    await client.execute_update_with_start_workflow("invite", inv, start_workflow_operation=operation)
    return workflow_id


async def update(kind: str, client: Client, workflow_id: str, action: str, payload: Any) -> None:
    if not is_floor(kind):
        await mentorship_client.act(client, workflow_id, action, payload)  # validated, answers the status
    else:
        await client.get_workflow_handle(workflow_id).execute_update(action, payload)


async def set_limits(
    client: Client, task_queue: str, limits: dict[str, int | None], tag: str, n: int, concurrency: int
) -> None:
    """``limits`` on both people of each of the ``n`` mentorships ``drive`` will run with ``tag`` (which starts their
    records)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(person_id: str) -> None:
        async with gate:
            await mentorship_client.set_limits(client, person_id, limits, task_queue=task_queue)

    people: list[str] = []
    for i in range(n):
        inv = invitation(tag, i, **TIMINGS)
        people += [inv.mentor.id, inv.mentee.id]
    await asyncio.gather(*(one(person_id) for person_id in people))


@dataclass
class Round:
    kind: str
    workers: int
    n: int
    concurrency: int
    start_latencies: list[float] = field(default_factory=list)
    # All five updates; and the same split: the acceptance, and the four after it (check-ins, withdraw).
    update_latencies: list[float] = field(default_factory=list)
    accept_latencies: list[float] = field(default_factory=list)
    later_latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    load: LoadWindow = field(default_factory=LoadWindow)
    workflow_ids: list[str] = field(default_factory=list)
    # (mentor id, mentee id) of each, in the order of workflow_ids.
    people: list[tuple[str, str]] = field(default_factory=list)
    setup_seconds: float = 0.0


async def drive(kind: str, client: Client, task_queue: str, tag: str, n: int, concurrency: int, out: Round) -> None:
    gate = asyncio.Semaphore(concurrency)
    done: list[asyncio.Task[Any]] = []

    async def one(i: int) -> None:
        inv = invitation(tag, i, **TIMINGS)
        mentor, mentee = inv.mentor.id, inv.mentee.id
        steps: list[tuple[str, Any]] = [
            ("accept", AcceptInput(by=mentor, note="Glad to")),
            ("check_in", CheckInInput(by=mentee, note="First session", rating=5)),
            ("check_in", CheckInInput(by=mentor, note="Second session", rating=4)),
            ("check_in", CheckInInput(by=mentee, note="Third session", rating=5)),
            ("withdraw", WithdrawInput(by=mentor, reason="The bench is over")),
        ]
        async with gate:
            started = time.perf_counter()
            workflow_id = await invite(kind, client, inv, task_queue)
            out.start_latencies.append(time.perf_counter() - started)
            for action, payload in steps:
                started = time.perf_counter()
                await update(kind, client, workflow_id, action, payload)
                took = time.perf_counter() - started
                out.update_latencies.append(took)
                (out.accept_latencies if action == "accept" else out.later_latencies).append(took)
        out.workflow_ids.append(workflow_id)
        out.people.append((mentor, mentee))
        # Complete once its last email is sent; waited for outside the gate, as nobody drives it any more.
        done.append(asyncio.create_task(client.get_workflow_handle(workflow_id).result()))

    await asyncio.gather(*(one(i) for i in range(n)))
    await asyncio.gather(*done)


async def measure(
    kind: str,
    client: Client,
    task_queue: str,
    n: int,
    concurrency: int,
    meter_over: dict[str, ChildProcess],
    workers: int,
    spies: Sequence[PySpy] = (),
) -> Round:
    """One round; a kind's set-up of people (``PEOPLE_SETUPS``) first, neither metered nor profiled."""
    out = Round(kind, workers, n, concurrency)
    tag = uuid.uuid4().hex[:6]
    limits = people_setup(kind)
    if limits is not None:
        started = time.perf_counter()
        await set_limits(client, task_queue, limits, tag, n, concurrency)
        out.setup_seconds = time.perf_counter() - started
    for spy in spies:
        await spy.start()
    meter = CpuMeter(meter_over)
    meter.start()
    out.load = LoadWindow()
    started = time.perf_counter()
    await drive(kind, client, task_queue, tag, n, concurrency, out)
    out.seconds = time.perf_counter() - started
    out.cpu = meter.stop()
    out.load.close()
    for spy in spies:
        await spy.stop()
    return out


@dataclass
class Totals:
    kind: str
    workers: int
    rounds: list[Round]
    events: int
    worker_peak_rss_kib: int
    # Of the last mentorship driven: its history's events by type; its two people's records' events (both
    # records together) from the first take_place on, and before it (the record's start and set_limits).
    event_types: Counter[str] = field(default_factory=Counter)
    person_events: int = 0
    person_setup_events: int = 0
    person_event_types: Counter[str] = field(default_factory=Counter)

    @property
    def n(self) -> int:
        return sum(r.n for r in self.rounds)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.rounds)

    @property
    def rate(self) -> float:
        return self.n / self.seconds

    def latencies(self, which: str) -> list[float]:
        return [x for r in self.rounds for x in getattr(r, f"{which}_latencies")]

    def cpu_per(self, process: str) -> float:
        return sum(r.cpu.get(process, 0.0) for r in self.rounds) / self.n

    @property
    def load(self) -> str:
        return ", ".join(str(r.load) for r in self.rounds)


async def completed_history(client: Client, workflow_id: str) -> list[HistoryEvent]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    return list(history.events)


def event_types(events: Sequence[HistoryEvent]) -> Counter[str]:
    return Counter(EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in events)


def _update_name(event: HistoryEvent) -> str | None:
    if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        return None
    return event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name


async def person_history(client: Client, person_id: str) -> tuple[list[HistoryEvent], list[HistoryEvent]]:
    """A person's record (one mentorship's person: one take_place, one release_place) split where the
    mentorship's acceptance reaches it: (before: the record's start and set_limits, if limits were set first;
    from then on: the take, the give-back and what the record does after each). Both empty without a record (a
    variant that takes no places)."""
    try:
        events = list((await client.get_workflow_handle(person_workflow_id(person_id)).fetch_history()).events)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return [], []
    names = [_update_name(e) for e in events]
    if "set_limits" not in names:
        return [], events  # started by the acceptance's update-with-start: all of it is the mentorship's
    first_take = names.index("take_place")
    # The workflow task that accepted the update belongs to it: split before that task's scheduled event.
    split = max(i for i in range(first_take) if events[i].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED)
    return events[:split], events[split:]


async def totals(client: Client, kind: str, workers: int, rounds: list[Round], peak_rss_kib: int) -> Totals:
    last = rounds[-1]
    history = await completed_history(client, last.workflow_ids[-1])
    out = Totals(kind, workers, rounds, len(history), peak_rss_kib, event_types(history))
    if not is_floor(kind):
        for person_id in last.people[-1]:
            before, after = await person_history(client, person_id)
            out.person_setup_events += len(before)
            out.person_events += len(after)
            out.person_event_types += event_types(after)
    return out


async def run(
    n: int,
    concurrency: int,
    worker_counts: list[int],
    warmup: int,
    rounds: int,
    kinds: list[str],
    profile: Path | None = None,
    bytecode: str = DEFAULT_BYTECODE,
    keep_logs: Path | None = None,
) -> list[Totals]:
    results: list[Totals] = []
    with tempfile.TemporaryDirectory(prefix="mentorship-bench-") as tmp:
        logs = keep_logs or Path(tmp)
        async with Processes() as procs:
            server = DevServer(logs)
            await procs.start(server)
            sink = SinkProcess(logs)
            await procs.start(sink)
            client = await server.client()
            for workers in worker_counts:
                pools: dict[str, list[WorkerProcess]] = {}
                queues: dict[str, str] = {}
                for kind in kinds:
                    queues[kind] = f"bench-{_slug(kind)}-{uuid.uuid4().hex[:6]}"
                    argv = worker_argv(kind)
                    pools[kind] = []
                    for w in range(workers):
                        name = f"{_slug(kind)}-worker-{workers}-{w}"
                        proc = WorkerProcess(
                            name,
                            argv,
                            logs,
                            address=server.address,
                            task_queue=queues[kind],
                            smtp_port=sink.port,
                            bytecode=bytecode_of(kind, bytecode),
                        )
                        await procs.start(proc)
                        pools[kind].append(proc)
                for kind in kinds:
                    if warmup:
                        await measure(kind, client, queues[kind], warmup, concurrency, {}, workers)
                done: dict[str, list[Round]] = {kind: [] for kind in kinds}
                for r in range(rounds):
                    order = kinds if r % 2 == 0 else kinds[::-1]
                    for kind in order:
                        share = n // rounds + (1 if r < n % rounds else 0)
                        meter_over: dict[str, ChildProcess] = {"server": server, "mail sink": sink}
                        meter_over.update({f"worker {w}": proc for w, proc in enumerate(pools[kind])})
                        spies = []
                        for w, proc in enumerate(pools[kind] if profile else []):
                            assert profile is not None
                            spies.append(PySpy(proc, profile / f"{_slug(kind)}-workers{workers}-w{w}-round{r + 1}.txt"))
                        measured = await measure(
                            kind, client, queues[kind], share, concurrency, meter_over, workers, spies
                        )
                        done[kind].append(measured)
                        setup = (
                            f" (records set up in {measured.setup_seconds:.1f}s first)" if people_setup(kind) else ""
                        )
                        print(
                            f"  {kind}, {workers} worker(s), round {r + 1}: {share} in {measured.seconds:.1f}s "
                            f"({share / measured.seconds:.1f}/s), load {measured.load}{setup}",
                            file=sys.stderr,
                            flush=True,
                        )
                for kind in kinds:
                    peak = max(proc.peak_rss_kib() for proc in pools[kind])
                    results.append(await totals(client, kind, workers, done[kind], peak))
                for pool in pools.values():
                    for proc in pool:
                        await procs.stop(proc)
            await procs.stop(sink)
            delivered = sink.delivered()
            expected = sum(emails_per_mentorship(kind) for kind in kinds) * (n + warmup) * len(worker_counts)
            if delivered != expected:
                raise RuntimeError(f"the sink accepted {delivered} emails, {expected} expected")
    return results


def worker_cpu(t: Totals) -> float:
    return sum(t.cpu_per(f"worker {w}") for w in range(t.workers))


def all_cpu(t: Totals) -> float:
    """The worker(s), the dev server, the mail sink and the bench client, per mentorship."""
    return worker_cpu(t) + t.cpu_per("server") + t.cpu_per("mail sink") + t.cpu_per("bench client")


def p50_p99(values: Sequence[float]) -> str:
    return f"{ms(percentile(values, 50))} / {ms(percentile(values, 99))}"


def _figures(t: Totals) -> dict[str, str]:
    return {
        "mentorships/s": f"{t.rate:.1f}",
        "start latency p50 / p99 (ms)": p50_p99(t.latencies("start")),
        "update latency p50 / p99 (ms)": p50_p99(t.latencies("update")),
        "accept latency p50 / p99 (ms)": p50_p99(t.latencies("accept")),
        "worker CPU s per mentorship": f"{worker_cpu(t):.4f}",
        "server CPU s per mentorship": f"{t.cpu_per('server'):.4f}",
        "mail sink CPU s per mentorship": f"{t.cpu_per('mail sink'):.4f}",
        "bench client CPU s per mentorship": f"{t.cpu_per('bench client'):.4f}",
        "history events per mentorship": str(t.events),
        "worker peak RSS (MiB)": f"{t.worker_peak_rss_kib / 1024:.0f}",
        "wall s (rounds)": " + ".join(f"{r.seconds:.1f}" for r in t.rounds),
        "load average (1 min) per round": t.load,
    }


def _ratio(name: str, mentorship: Totals, floor: Totals) -> str:
    if name == "mentorships/s":
        return f"**{mentorship.rate / floor.rate:.2f}**"
    if name.startswith("update latency"):
        u_m, u_f = mentorship.latencies("update"), floor.latencies("update")
        p50, p99 = percentile(u_m, 50) / percentile(u_f, 50), percentile(u_m, 99) / percentile(u_f, 99)
        return f"{p50:.2f} / **{p99:.2f}**"
    if name.startswith("start latency") or name.startswith("accept latency"):
        s_m, s_f = mentorship.latencies(name.split()[0]), floor.latencies(name.split()[0])
        return f"{percentile(s_m, 50) / percentile(s_f, 50):.2f} / {percentile(s_m, 99) / percentile(s_f, 99):.2f}"
    if name == "worker CPU s per mentorship":
        return f"{worker_cpu(mentorship) / worker_cpu(floor):.2f}"
    if name == "server CPU s per mentorship":
        return f"{mentorship.cpu_per('server') / floor.cpu_per('server'):.2f}"
    if name == "history events per mentorship":
        return f"{mentorship.events / floor.events:.2f}"
    return ""


def lifecycle_section(results: list[Totals], n: int, concurrency: int, warmup: int, rounds: int, bytecode: str) -> str:
    m = next(t for t in results if t.kind == MENTORSHIP)
    f = next(t for t in results if t.kind == FLOOR)
    fm, ff = _figures(m), _figures(f)
    rows = [(name, fm[name], ff[name], _ratio(name, m, f)) for name in fm]
    return f"""## 1. Lifecycle throughput (`python -m bench.lifecycle`)

{now_text()}; {machine()}.

{n} mentorships of each kind (after a warm-up of {warmup} each, not counted), in {rounds} alternating rounds,
at most {concurrency} in flight, one worker process each (`worker.py` for the Mentorship; bytecode: {bytecode}),
on one dev server (SQLite in memory) and one mail sink process. Each: invite (update-with-start), accept,
three check-ins, withdraw (updates), then complete after the last of its {EMAILS_PER_MENTORSHIP} emails. Start
latency is the update-with-start call; update latency the five updates together, accept latency the first of
them alone. CPU seconds are /proc utime+stime per process over the rounds, divided by the mentorships driven.

{table(("", "Mentorship", "floor", "ratio (Mentorship / floor)"), rows)}

Targets: throughput ratio ≥ 0.8; update p99 ratio ≤ 2.
"""


def scale_out_section(results: list[Totals], n: int, concurrency: int, warmup: int, rounds: int, bytecode: str) -> str:
    rows = []
    for t in results:
        updates = t.latencies("update")
        base = next(b for b in results if b.kind == t.kind and b.workers == 1)
        rows.append(
            (
                t.kind,
                str(t.workers),
                f"{t.rate:.1f}",
                f"{t.rate / base.rate:.2f}",
                f"{ms(percentile(updates, 50))} / {ms(percentile(updates, 99))}",
                f"{worker_cpu(t):.4f}",
                f"{t.cpu_per('server'):.4f}",
                t.load,
            )
        )
    head = (
        "kind",
        "worker processes",
        "mentorships/s",
        "vs 1 worker",
        "update p50 / p99 (ms)",
        "worker CPU s / mentorship (all workers)",
        "server CPU s / mentorship",
        "load (1 min) per round",
    )
    return f"""## 5. Scale-out (`python -m bench.lifecycle --scale-out`)

{now_text()}; {machine()}.

The lifecycle load of section 1 ({n} mentorships of each kind per configuration, {rounds} alternating rounds
after a warm-up of {warmup}, at most {concurrency} in flight; bytecode: {bytecode}) with one worker process per
kind, then with two on the same task queue, on the same dev server and the same two cores.

{table(head, rows)}
"""


def experiments_section(
    results: list[Totals], n: int, concurrency: int, warmup: int, rounds: int, bytecode: str, title: str = ""
) -> str:
    def setting(kind: str) -> tuple[str, str]:
        return bytecode_of(kind, bytecode), without_setup(kind).split("@")[0].partition("+")[2]

    def floor_for(t: Totals) -> Totals | None:
        return next((f for f in results if is_floor(f.kind) and setting(f.kind) == setting(t.kind)), None)

    rows = []
    for t in results:
        updates = t.latencies("update")
        f = floor_for(t)
        rows.append(
            (
                f"`{t.kind}`",
                bytecode_of(t.kind, bytecode),
                f"{t.rate:.1f}",
                f"{t.rate / f.rate:.2f}" if f else "",
                f"{ms(percentile(updates, 50))} / {ms(percentile(updates, 99))}",
                f"{1000 * worker_cpu(t):.1f}",
                f"{1000 * t.cpu_per('server'):.1f}",
                f"{1000 * all_cpu(t):.1f}",
                f"{all_cpu(f) / all_cpu(t):.2f}" if f else "",
                str(t.events),
                t.load,
            )
        )
    head = (
        "kind",
        "bytecode",
        "mentorships/s",
        "vs floor",
        "update p50 / p99 ms",
        "worker CPU ms / mentorship",
        "server CPU ms",
        "all CPU ms",
        "floor's all CPU ÷ this",
        "events",
        "load (1 min) per round",
    )
    kinds = ",".join(t.kind for t in results)
    where = "" if not title or title.startswith("6.") else " --section experiments-email"
    return f"""## {title or "6. Experiments"} (`python -m bench.lifecycle -n {n}{where} --experiment {kinds}`)

{now_text()}; {machine()}.

The lifecycle of section 1 ({n} mentorships of each kind, {rounds} alternating rounds after a warm-up of
{warmup}, at most {concurrency} in flight, one worker each) for proposed changes, each against the floor with the
same bytecode and email activity. `Mentorship` is `worker.py` as deployed; `Mentorship:<variant>` a variant
from `bench/variants.py` on `bench/worker.py`; `@cached` workers have the project's modules compiled beforehand,
as the Dockerfile's image has them (the default), `@none` compile them from source (see `bench/README.md`);
`+before` workers run the email activity as it was before it reused SMTP connections and built messages with
compat32 (`bench/email_experiments.py`). "all CPU" adds the worker(s), the dev server, the mail
sink and the bench client: on two shared cores the throughput follows it.

{table(head, rows)}
"""


def _limits_text(limits: dict[str, int | None]) -> str:
    return ", ".join(f"`{name}` {value}" for name, value in limits.items())


def _met(met: bool) -> str:
    return "met" if met else "missed"


def _types(counts: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def limits_section(results: list[Totals], n: int, concurrency: int, warmup: int, rounds: int, bytecode: str) -> str:
    by_kind = {t.kind: t for t in results}
    plain, records, limited = by_kind[MENTORSHIP], by_kind[MENTORSHIP + RECORDS], by_kind[MENTORSHIP + LIMITS]
    floor = by_kind[FLOOR]
    ordered = (plain, records, limited, floor)
    rows = []
    for t in ordered:
        rows.append(
            (
                f"`{t.kind}`",
                f"{t.rate:.1f}",
                f"**{t.rate / floor.rate:.2f}**" if t is limited else f"{t.rate / floor.rate:.2f}",
                p50_p99(t.latencies("start")),
                p50_p99(t.latencies("accept")),
                p50_p99(t.latencies("later")),
                f"{1000 * worker_cpu(t):.1f}",
                f"{1000 * t.cpu_per('server'):.1f}",
                f"{1000 * t.cpu_per('bench client'):.1f}",
                f"{1000 * all_cpu(t):.1f}",
                str(t.events),
                "" if is_floor(t.kind) else str(t.person_events),
                t.load,
            )
        )
    head = (
        "kind",
        "mentorships/s",
        "vs floor",
        "start p50 / p99 ms",
        "accept p50 / p99 ms",
        "check-ins and withdraw p50 / p99 ms",
        "worker CPU ms / mentorship",
        "server CPU ms",
        "bench client CPU ms",
        "all CPU ms",
        "events",
        "Person events",
        "load (1 min) per round",
    )
    people = (plain, records, limited)
    types = sorted(
        {name for t in ordered for name in t.event_types} | {name for t in people for name in t.person_event_types}
    )
    type_rows = [
        (f"`{name}`", *(str(t.event_types[name]) for t in ordered), *(str(t.person_event_types[name]) for t in people))
        for name in types
    ]
    type_rows.append(("all", *(f"**{t.events}**" for t in ordered), *(f"**{t.person_events}**" for t in people)))
    type_head = ("event type", *(f"`{t.kind}`" for t in ordered), *(f"records of `{t.kind}`" for t in people))

    def accept_ratio(t: Totals, base: Totals, p: float) -> float:
        return percentile(t.latencies("accept"), p) / percentile(base.latencies("accept"), p)

    throughput, p99 = limited.rate / floor.rate, accept_ratio(limited, plain, 99)
    setup = {t.kind: f"{sum(r.setup_seconds for r in t.rounds):.0f} s" for t in (records, limited)}
    limits = _limits_text(PEOPLE_SETUPS[LIMITS])
    command = f"python -m bench.lifecycle --limits -n {n}" + (f" --warmup {warmup}" if warmup != DEFAULT_WARMUP else "")
    target_throughput = f"**{throughput:.2f}** (target ≥ 0.7: {_met(throughput >= 0.7)})"
    target_p99 = f"**{p99:.2f}** (target ≤ 1.5: {_met(p99 <= 1.5)})"
    plain_p50, records_p99 = accept_ratio(limited, plain, 50), accept_ratio(limited, records, 99)
    records_p50 = accept_ratio(limited, records, 50)
    without_limits, with_records = f"{plain.rate / floor.rate:.2f}", f"{records.rate / floor.rate:.2f}"
    setup_events = f"{limited.person_setup_events} events with limits, {records.person_setup_events} without"
    return f"""## 8. Per-person limits (`{command}`)

{now_text()}; {machine()}.

The lifecycle of section 1 ({n} mentorships of each kind, {rounds} alternating rounds after a warm-up of
{warmup}, at most {concurrency} in flight, one worker process each, `worker.py` as deployed for the three kinds
of Mentorship; bytecode: {bytecode}). Every acceptance takes a place in the mentor's and the mentee's records
(activity `take_places`: two update-with-start `take_place`, at once) and every end gives them back
(`release_places`: two updates), limits or not; the client reads both records before it invites. Each person
is in one mentorship. `Mentorship`: both records are started by the acceptance (a first mentorship).
`Mentorship/limits`: limits set on both people of every mentorship of a round before the round, not timed
({setup[limited.kind]} in all; {limits}: nothing is refused). `Mentorship/records`: the same with no
limits (nulls; {setup[records.kind]}): the records exist, as for people who had a mentorship before.
"accept" is the acceptance update as the caller sees it; "events" the Mentorship's (or floor's) history,
"Person events" those of its two people's records from the acceptance's `take_place` on (both records
together). CPU per mentorship as in section 1.

{table(head, rows)}

- Throughput with limits ÷ the floor's: {target_throughput}; without limits
  {without_limits} (records started by the acceptance), {with_records} (records there before).
- Acceptance p99 with limits ÷ without: {target_p99}, p50 {plain_p50:.2f}; against records
  there before (`Mentorship/records`): p99 {records_p99:.2f}, p50 {records_p50:.2f}.

History events of the last mentorship of each kind, and of its two people's records from the acceptance on
(before it, the two records set up beforehand had {setup_events}):

{table(type_head, type_rows)}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lifecycle", description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--mentorships", type=int, default=1000, help="of each kind (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=32, help="mentorships in flight (default %(default)s)")
    parser.add_argument(
        "--warmup", type=int, default=DEFAULT_WARMUP, help="not counted, of each kind (default %(default)s)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per kind (default %(default)s)")
    parser.add_argument("--scale-out", action="store_true", help="1 worker then 2 per kind; the scale-out section")
    parser.add_argument("--kinds", default="Mentorship,floor", help="comma-separated (default %(default)s)")
    parser.add_argument(
        "--experiment",
        metavar="KINDS",
        help="comma-separated kinds (Mentorship, floor, Mentorship:<variant>, each optionally @cached or @none, a "
        "Mentorship optionally /limits or /records): the experiments section",
    )
    parser.add_argument(
        "--section",
        choices=("experiments", "experiments-email"),
        default="experiments",
        help="where --experiment writes (default %(default)s)",
    )
    parser.add_argument(
        "--limits",
        action="store_true",
        help=f"{', '.join(LIMITS_KINDS)}: the Mentorship with and without limits on every person; the limits section",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--profile", type=Path, help="py-spy each worker during the rounds, raw profiles here")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs here (default: a temporary directory)")
    parser.add_argument(
        "--bytecode",
        choices=BYTECODE_CHOICES,
        default=DEFAULT_BYTECODE,
        help="workers' project modules compiled beforehand, as the Dockerfile does (default), or not",
    )
    args = parser.parse_args(argv)
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        args.no_write = True  # py-spy takes CPU from everything else: profiled figures are not the figures
    if args.limits and (args.experiment or args.scale_out):
        parser.error("--limits runs kinds of its own: not with --experiment or --scale-out")
    kinds = LIMITS_KINDS if args.limits else [k.strip() for k in (args.experiment or args.kinds).split(",")]
    try:
        for kind in kinds:
            worker_argv(kind)
            bytecode_of(kind, args.bytecode)
    except ValueError as err:
        parser.error(str(err))
    if args.mentorships < args.rounds or args.concurrency < 1:
        parser.error("-n at least --rounds; --concurrency at least 1")
    if not (args.experiment or args.limits) and not (args.scale_out or set(kinds) == {MENTORSHIP, FLOOR}):
        args.no_write = True  # only the standard pair makes the lifecycle section
    worker_counts = [1, 2] if args.scale_out else [1]
    print(f"load average at start: {load_text()}", file=sys.stderr)
    results = asyncio.run(
        run(
            args.mentorships,
            args.concurrency,
            worker_counts,
            args.warmup,
            args.rounds,
            kinds,
            args.profile,
            args.bytecode,
            args.logs,
        )
    )
    if args.experiment:
        section = args.section
        title = "6. Experiments" if section == "experiments" else "6b. Experiments: the email activity in the lifecycle"
        body = experiments_section(
            results, args.mentorships, args.concurrency, args.warmup, args.rounds, args.bytecode, title
        )
    elif args.limits:
        section = "limits"
        body = limits_section(results, args.mentorships, args.concurrency, args.warmup, args.rounds, args.bytecode)
    elif args.scale_out:
        section = "scale-out"
        body = scale_out_section(results, args.mentorships, args.concurrency, args.warmup, args.rounds, args.bytecode)
    elif set(kinds) == {MENTORSHIP, FLOOR}:
        section = "lifecycle"
        body = lifecycle_section(results, args.mentorships, args.concurrency, args.warmup, args.rounds, args.bytecode)
    else:
        section = ""
        body = "\n".join(f"{t.kind}: {_figures(t)}" for t in results)
    print(body)
    if not args.no_write and section:
        write_section(section, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
