"""Scale held: many active mentorships waiting on their timers, on one worker.

    .venv/bin/python -m bench.scale                                  # 10,000, worker.py's default cache bound
    .venv/bin/python -m bench.scale --max-cached-workflows 1000 500  # one full run per cache bound
    .venv/bin/python -m bench.scale -n 50000 --section scale-50k     # the sizing model's check (section 3b)
    .venv/bin/python -m bench.scale -n 2000 --no-write

One dev server (SQLite in memory, or ``--db-file``), a counting mail sink process, one worker: ``worker.py``
itself, its cache bound set by WORKER_MAX_CACHED_WORKFLOWS (default 500, chosen by this script's runs); with
``--variant``, ``bench/worker.py`` (worker.py with that workflow). Then:

1. **start them all**: ``-n`` mentorships started with signal-with-start (the invitation as start input, the
   invitee's ``accept`` as its signal: one call each, at most ``--concurrency`` in flight), so each becomes
   active in its first workflow task; done when every one shows ``MentorshipStage = 'active'`` in visibility
   and all four emails of each (invitation, confirmation, two welcomes) reached the sink. Default timings: the
   next timer of each is its first check-in, 14 days away;
2. **held**: with all of them waiting on their timers, the worker's and the server's resident memory (VmRSS,
   and the peak VmHWM), and CPU over ``--idle`` seconds of waiting;
3. **update latency while they wait**: ``--probes`` ``check_in`` updates (``mentorship_client.act``), one at a
   time, each to a different mentorship picked at random: with the cache bound below ``-n`` most of them are not
   cached and are replayed from their history first.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

import mentorship_client
from bench.common import (
    BYTECODE_CHOICES,
    DEFAULT_BYTECODE,
    DevServer,
    LoadWindow,
    Processes,
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
from bench.variants import VARIANTS
from infra.settings import Settings
from workflows.contract import AcceptInput, CheckInInput, Invitation, MentorshipInput, Stage, workflow_id_for
from workflows.mentorship import Mentorship

SDK_DEFAULT_CACHE = 1000
DEFAULT_CACHE = Settings.model_fields["worker_max_cached_workflows"].default
SECTION_TITLES = {"scale": "3. Scale held", "scale-50k": "3b. 50,000 waiting on one dev server"}
EMAILS_PER_START = 4


@dataclass
class Held:
    n: int
    cache: int
    start_latencies: list[float] = field(default_factory=list)
    calls_seconds: float = 0.0
    all_active_seconds: float = 0.0
    start_load: LoadWindow = field(default_factory=LoadWindow)
    start_worker_cpu: float = 0.0
    start_server_cpu: float = 0.0
    worker_rss_before_kib: int = 0
    worker_rss_kib: int = 0
    worker_peak_kib: int = 0
    server_rss_kib: int = 0
    server_peak_kib: int = 0
    idle_seconds: float = 0.0
    idle_worker_cpu: float = 0.0
    idle_server_cpu: float = 0.0
    probe_latencies: list[float] = field(default_factory=list)
    probe_load: LoadWindow = field(default_factory=LoadWindow)
    worker_rss_after_probes_kib: int = 0


async def start_all(
    client: Client, task_queue: str, n: int, concurrency: int, window: int, sink: SinkProcess, out: Held
) -> list[Invitation]:
    tag = uuid.uuid4().hex[:6]
    invitations = [invitation(tag, i) for i in range(n)]
    gate = asyncio.Semaphore(concurrency)
    launched = 0

    async def one(inv: Invitation) -> None:
        nonlocal launched
        async with gate:
            # At most `window` mentorships started whose emails are not all sent yet: a burst of thousands
            # would only queue up in the server while the worker's cache thrashes.
            while launched - sink.delivered() // EMAILS_PER_START >= window:  # noqa: ASYNC110 - another process
                await asyncio.sleep(0.05)
            launched += 1
            started = time.perf_counter()
            await client.start_workflow(
                Mentorship.run,
                MentorshipInput.model_validate(inv.model_dump()),
                id=workflow_id_for(inv.mentor.id, inv.mentee.id),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                static_summary=mentorship_client.summary_for(inv),
                static_details=mentorship_client.details_for(inv),
                start_signal="accept",
                start_signal_args=[AcceptInput(by=inv.mentor.id, note="Glad to")],
            )
            out.start_latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(one(inv) for inv in invitations))
    return invitations


async def run_one(
    n: int,
    cache: int,
    concurrency: int,
    window: int,
    probes: int,
    idle: float,
    db_file: bool,
    bytecode: str,
    seed: int,
    variant: str | None,
) -> Held:
    out = Held(n, cache)
    with tempfile.TemporaryDirectory(prefix="mentorship-bench-") as tmp:
        logs = Path(tmp)
        async with Processes() as procs:
            server = DevServer(logs, db_file=logs / "temporal.db" if db_file else None)
            await procs.start(server)
            sink = SinkProcess(logs)
            await procs.start(sink)
            client = await server.client()
            task_queue = f"bench-scale-{uuid.uuid4().hex[:6]}"
            extra_env = {}
            if variant is None and "worker_max_cached_workflows" in Settings.model_fields:
                argv = deployed_worker_argv()  # worker.py itself: WORKER_MAX_CACHED_WORKFLOWS sets its cache bound
                extra_env["WORKER_MAX_CACHED_WORKFLOWS"] = str(cache)
            elif cache == SDK_DEFAULT_CACHE and variant is None:
                argv = deployed_worker_argv()
            else:
                argv = bench_worker_argv("mentorship", "--max-cached-workflows", str(cache))
                argv += ["--variant", variant] if variant else []
            worker = WorkerProcess(
                "worker",
                argv,
                logs,
                address=server.address,
                task_queue=task_queue,
                smtp_port=sink.port,
                bytecode=bytecode,
                extra_env=extra_env,
            )
            await procs.start(worker)
            await asyncio.sleep(1)
            out.worker_rss_before_kib = worker.rss_kib()

            # 1. Start them all.
            out.start_load = LoadWindow()
            worker_cpu, server_cpu = worker.cpu(), server.cpu()
            started = time.perf_counter()
            invitations = await start_all(client, task_queue, n, concurrency, window, sink, out)
            out.calls_seconds = time.perf_counter() - started
            query = f"WorkflowType = 'Mentorship' AND MentorshipStage = '{Stage.ACTIVE.value}'"
            last_report = 0.0
            while True:
                active = (await client.count_workflows(query)).count
                delivered = sink.delivered()
                if active >= n and delivered >= EMAILS_PER_START * n:
                    break
                now = time.perf_counter() - started
                if now - last_report >= 15:
                    print(
                        f"  {now:.0f}s: {active} active, {delivered} emails, worker RSS {worker.rss_kib() // 1024} MiB",
                        file=sys.stderr,
                        flush=True,
                    )
                    last_report = now
                await asyncio.sleep(0.5)
            out.all_active_seconds = time.perf_counter() - started
            out.start_worker_cpu = worker.cpu() - worker_cpu
            out.start_server_cpu = server.cpu() - server_cpu
            out.start_load.close()

            # 2. Held: all of them waiting on their timers.
            await asyncio.sleep(2)
            worker_cpu, server_cpu = worker.cpu(), server.cpu()
            await asyncio.sleep(idle)
            out.idle_seconds = idle
            out.idle_worker_cpu = worker.cpu() - worker_cpu
            out.idle_server_cpu = server.cpu() - server_cpu
            out.worker_rss_kib, out.worker_peak_kib = worker.rss_kib(), worker.peak_rss_kib()
            out.server_rss_kib, out.server_peak_kib = server.rss_kib(), server.peak_rss_kib()

            # 3. Update latency while they wait.
            out.probe_load = LoadWindow()
            for inv in random.Random(seed).sample(invitations, min(probes, n)):
                started = time.perf_counter()
                current = await mentorship_client.act(
                    client,
                    workflow_id_for(inv.mentor.id, inv.mentee.id),
                    "check_in",
                    CheckInInput(by=inv.mentee.id, note="Met", rating=4),
                )
                out.probe_latencies.append(time.perf_counter() - started)
                assert len(current.check_ins) == 1
            out.probe_load.close()
            out.worker_rss_after_probes_kib = worker.rss_kib()
    return out


def section(
    results: list[Held], concurrency: int, window: int, db_file: bool, bytecode: str, variant: str | None
) -> str:
    rows = []
    for h in results:
        per_cached = (h.worker_rss_kib - h.worker_rss_before_kib) / min(h.cache, h.n)
        rows.append(
            (
                f"{h.cache}" + (" (the default)" if h.cache == DEFAULT_CACHE and not variant else ""),
                f"{h.n}",
                f"{h.worker_rss_kib / 1024:.0f} (peak {h.worker_peak_kib / 1024:.0f}; idle worker "
                f"{h.worker_rss_before_kib / 1024:.0f}; ≈{per_cached:.0f} KiB per cached workflow)",
                f"{h.server_rss_kib / 1024:.0f} (peak {h.server_peak_kib / 1024:.0f})",
                f"{h.all_active_seconds:.0f} s ({h.n / h.all_active_seconds:.1f}/s; calls done in "
                f"{h.calls_seconds:.0f} s, p50/p99 {ms(percentile(h.start_latencies, 50))}/"
                f"{ms(percentile(h.start_latencies, 99))} ms)",
                f"{1000 * h.start_worker_cpu / h.n:.1f} / {1000 * h.start_server_cpu / h.n:.1f}",
                f"{h.idle_worker_cpu:.2f} / {h.idle_server_cpu:.2f} in {h.idle_seconds:.0f} s",
                f"{ms(percentile(h.probe_latencies, 50))} / {ms(percentile(h.probe_latencies, 99))} / "
                f"{ms(max(h.probe_latencies))} ({len(h.probe_latencies)} probes)",
                f"{h.worker_rss_after_probes_kib / 1024:.0f}",
                f"start {h.start_load}; probes {h.probe_load}",
            )
        )
    head = (
        "worker cache bound (max_cached_workflows)",
        "active mentorships",
        "worker RSS MiB",
        "server RSS MiB",
        "time to start them all",
        "start CPU ms / mentorship (worker / server)",
        "CPU s while held (worker / server)",
        "update latency while held p50 / p99 / max ms",
        "worker RSS after probes MiB",
        "load (1 min)",
    )
    transposed = [(name, *(row[i] for row in rows)) for i, name in enumerate(head)]
    return f"""## 3. Scale held (`python -m bench.scale`)

{now_text()}; {machine()}.

Active mentorships started with signal-with-start (invitation + `accept`: active in the first workflow task, four
emails each), at most {concurrency} calls in flight and at most {window} mentorships started but not done with their
emails, on one worker{f" (variant `{variant}`)" if variant else ""} and one dev server (SQLite
{"in a file" if db_file else "in memory"}); workers' bytecode: {bytecode}. "Time to start them all" runs from the
first call until visibility shows every one active and the sink has every email. Then, with all of them waiting
on their first check-in timer (14 days away), memory and idle CPU, and `check_in` updates one at a time to
random mentorships (most of them not in the worker's cache, so replayed first).

{table(("", *(f"run {i + 1}" for i in range(len(results)))), transposed)}

Target (issue 18): 10,000 mentorships waiting on their timers with worker RSS ≤ 300 MiB at the default cache
bound.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--mentorships", type=int, default=10_000, help="(default %(default)s)")
    parser.add_argument(
        "--max-cached-workflows",
        type=int,
        nargs="+",
        default=[DEFAULT_CACHE],
        help="worker cache bound(s), one full run each (default: %(default)s, worker.py's default)",
    )
    parser.add_argument("--concurrency", type=int, default=20, help="start calls in flight (default %(default)s)")
    parser.add_argument(
        "--window",
        type=int,
        default=200,
        help="at most this many started and not yet done with their emails (default %(default)s)",
    )
    parser.add_argument("--variant", choices=sorted(VARIANTS), help="an experimental Mentorship (bench/variants.py)")
    parser.add_argument("--probes", type=int, default=200, help="updates while held (default %(default)s)")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measured (default %(default)s)")
    parser.add_argument("--db-file", action="store_true", help="the dev server's SQLite in a file, not in memory")
    parser.add_argument("--bytecode", choices=BYTECODE_CHOICES, default=DEFAULT_BYTECODE, help="see bench/README.md")
    parser.add_argument("--seed", type=int, default=5, help="which mentorships are probed (default %(default)s)")
    parser.add_argument("--section", choices=sorted(SECTION_TITLES), default="scale", help="of BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    if args.mentorships < 1 or args.concurrency < 1 or min(args.max_cached_workflows) < 1:
        parser.error("-n, --concurrency and --max-cached-workflows must be at least 1")
    print(f"load average at start: {load_text()}", file=sys.stderr)
    results = []
    for cache in args.max_cached_workflows:
        held = asyncio.run(
            run_one(
                args.mentorships,
                cache,
                args.concurrency,
                args.window,
                args.probes,
                args.idle,
                args.db_file,
                args.bytecode,
                args.seed,
                args.variant,
            )
        )
        print(f"  cache {cache}: all active after {held.all_active_seconds:.0f}s", file=sys.stderr, flush=True)
        results.append(held)
    body = section(results, args.concurrency, args.window, args.db_file, args.bytecode, args.variant)
    body = body.replace("## 3. Scale held", f"## {SECTION_TITLES[args.section]}", 1)
    if args.section != "scale":
        command = f"`python -m bench.scale -n {args.mentorships} --section {args.section}`"
        body = body.replace("`python -m bench.scale`", command, 1)
    print(body)
    if not args.no_write:
        write_section(args.section, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
