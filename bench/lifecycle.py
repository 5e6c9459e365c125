"""Lifecycle throughput of the Mentorship against the floor, on the dev server (and scale-out over workers).

    .venv/bin/python -m bench.lifecycle                   # 1,000 of each, 1 worker each: the 'lifecycle' section
    .venv/bin/python -m bench.lifecycle --scale-out       # 1 worker, then 2, for each: the 'scale-out' section
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
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

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
    workflow_id_for,
)

MENTORSHIP = "Mentorship"
FLOOR = "floor"
EMAILS_PER_MENTORSHIP = 5
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
    ``+<mailer>`` (an experimental email activity, bench/email_experiments.py) and by ``@cached`` or ``@none``
    (overriding ``--bytecode`` for its workers)."""
    return kind.split("@")[0].split("+")[0] == FLOOR


def worker_argv(kind: str) -> list[str]:
    workflow, _, mailer = kind.split("@")[0].partition("+")
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
    _, _, choice = kind.partition("@")
    if choice and choice not in BYTECODE_CHOICES:
        raise ValueError(f"unknown bytecode choice in {kind!r}: {'|'.join(BYTECODE_CHOICES)}")
    return choice or default


def _slug(kind: str) -> str:
    return kind.lower().replace(":", "-").replace("@", "-").replace("+", "-")


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


@dataclass
class Round:
    kind: str
    workers: int
    n: int
    concurrency: int
    start_latencies: list[float] = field(default_factory=list)
    update_latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    load: LoadWindow = field(default_factory=LoadWindow)
    workflow_ids: list[str] = field(default_factory=list)


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
                out.update_latencies.append(time.perf_counter() - started)
        out.workflow_ids.append(workflow_id)
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
) -> Round:
    out = Round(kind, workers, n, concurrency)
    meter = CpuMeter(meter_over)
    meter.start()
    out.load = LoadWindow()
    started = time.perf_counter()
    await drive(kind, client, task_queue, uuid.uuid4().hex[:6], n, concurrency, out)
    out.seconds = time.perf_counter() - started
    out.cpu = meter.stop()
    out.load.close()
    return out


@dataclass
class Totals:
    kind: str
    workers: int
    rounds: list[Round]
    events: int
    worker_peak_rss_kib: int

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


async def history_events(client: Client, workflow_id: str) -> int:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    return len(history.events)


async def run(
    n: int,
    concurrency: int,
    worker_counts: list[int],
    warmup: int,
    rounds: int,
    kinds: list[str],
    profile: Path | None = None,
    bytecode: str = DEFAULT_BYTECODE,
) -> list[Totals]:
    results: list[Totals] = []
    with tempfile.TemporaryDirectory(prefix="mentorship-bench-") as tmp:
        logs = Path(tmp)
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
                            await spies[-1].start()
                        measured = await measure(kind, client, queues[kind], share, concurrency, meter_over, workers)
                        for spy in spies:
                            await spy.stop()
                        done[kind].append(measured)
                        print(
                            f"  {kind}, {workers} worker(s), round {r + 1}: {share} in {measured.seconds:.1f}s "
                            f"({share / measured.seconds:.1f}/s), load {measured.load}",
                            file=sys.stderr,
                            flush=True,
                        )
                for kind in kinds:
                    events = await history_events(client, done[kind][-1].workflow_ids[-1])
                    peak = max(proc.peak_rss_kib() for proc in pools[kind])
                    results.append(Totals(kind, workers, done[kind], events, peak))
                for pool in pools.values():
                    for proc in pool:
                        await procs.stop(proc)
            await procs.stop(sink)
            delivered = sink.delivered()
            expected = EMAILS_PER_MENTORSHIP * (n + warmup) * len(kinds) * len(worker_counts)
            if delivered != expected:
                raise RuntimeError(f"the sink accepted {delivered} emails, {expected} expected")
    return results


def worker_cpu(t: Totals) -> float:
    return sum(t.cpu_per(f"worker {w}") for w in range(t.workers))


def _figures(t: Totals) -> dict[str, str]:
    starts, updates = t.latencies("start"), t.latencies("update")
    return {
        "mentorships/s": f"{t.rate:.1f}",
        "start latency p50 / p99 (ms)": f"{ms(percentile(starts, 50))} / {ms(percentile(starts, 99))}",
        "update latency p50 / p99 (ms)": f"{ms(percentile(updates, 50))} / {ms(percentile(updates, 99))}",
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
    if name.startswith("start latency"):
        s_m, s_f = mentorship.latencies("start"), floor.latencies("start")
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
latency is the update-with-start call; update latency the five updates together. CPU seconds are /proc
utime+stime per process over the rounds, divided by the mentorships driven.

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
        return bytecode_of(kind, bytecode), kind.split("@")[0].partition("+")[2]

    def floor_for(t: Totals) -> Totals | None:
        return next((f for f in results if is_floor(f.kind) and setting(f.kind) == setting(t.kind)), None)

    def total_cpu(t: Totals) -> float:
        return worker_cpu(t) + t.cpu_per("server") + t.cpu_per("mail sink") + t.cpu_per("bench client")

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
                f"{1000 * total_cpu(t):.1f}",
                f"{total_cpu(f) / total_cpu(t):.2f}" if f else "",
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lifecycle", description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--mentorships", type=int, default=1000, help="of each kind (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=32, help="mentorships in flight (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=50, help="not counted, of each kind (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per kind (default %(default)s)")
    parser.add_argument("--scale-out", action="store_true", help="1 worker then 2 per kind; the scale-out section")
    parser.add_argument("--kinds", default="Mentorship,floor", help="comma-separated (default %(default)s)")
    parser.add_argument(
        "--experiment",
        metavar="KINDS",
        help="comma-separated kinds (Mentorship, floor, Mentorship:<variant>, each optionally @cached or @none): "
        "the experiments section",
    )
    parser.add_argument(
        "--section",
        choices=("experiments", "experiments-email"),
        default="experiments",
        help="where --experiment writes (default %(default)s)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--profile", type=Path, help="py-spy each worker during the rounds, raw profiles here")
    parser.add_argument(
        "--bytecode",
        choices=BYTECODE_CHOICES,
        default=DEFAULT_BYTECODE,
        help="workers' project modules compiled beforehand, as the Dockerfile does (default), or not",
    )
    args = parser.parse_args(argv)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        args.no_write = True  # py-spy takes CPU from everything else: profiled figures are not the figures
    kinds = [k.strip() for k in (args.experiment or args.kinds).split(",")]
    try:
        for kind in kinds:
            worker_argv(kind)
            bytecode_of(kind, args.bytecode)
    except ValueError as err:
        parser.error(str(err))
    if args.mentorships < args.rounds or args.concurrency < 1:
        parser.error("-n at least --rounds; --concurrency at least 1")
    if not args.experiment and not (args.scale_out or set(kinds) == {MENTORSHIP, FLOOR}):
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
        )
    )
    if args.experiment:
        section = args.section
        title = "6. Experiments" if section == "experiments" else "6b. Experiments: the email activity in the lifecycle"
        body = experiments_section(
            results, args.mentorships, args.concurrency, args.warmup, args.rounds, args.bytecode, title
        )
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
