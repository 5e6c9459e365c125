"""How many mentorships a single worker starts and drives per second, on the real dev server.

    .venv/bin/python -m bench.throughput                  # 200 mentorships, 16 at a time
    .venv/bin/python -m bench.throughput -n 500 --concurrency 32

Starts the Temporal dev server (the ``temporal`` CLI from the venv, in memory, on 127.0.0.1, custom search
attributes registered), an in-process mail sink, and the worker as deployed (``worker.py`` in its own process,
configured by environment). Then, with at most ``--concurrency`` calls in flight:

1. invites ``-n`` pairs with ``mentorship_client.invite`` (update-with-start: starts the workflow, answers the
   status);
2. accepts each with the ``accept`` update;
3. records a check-in on each with the ``check_in`` update;

and waits until all 4 emails per mentorship (invitation, confirmation, two welcomes) reached the sink. Prints
invitations/s, updates/s, p50/p95 latencies, emails delivered/s and the worker process's peak RSS. Everything
stops by itself (``--timeout``) and listens on loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client

import mentorship_client
from bench.common import invitation
from devtools.mailsink import MailSink
from devtools.processes import DevServer, Worker, worker_env
from workflows.contract import Stage, workflow_id_for

EMAILS_PER_MENTORSHIP = 4  # invitation + confirmation to the initiator, then a welcome to each


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1]


async def run_phase(name: str, n: int, concurrency: int, call: Callable[[int], Awaitable[Any]]) -> Phase:
    phase = Phase(name)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            started = time.perf_counter()
            await call(i)
            phase.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    phase.seconds = time.perf_counter() - started
    return phase


def worker_process(address: str, task_queue: str, sink: MailSink, workdir: Path) -> Worker:
    """``worker.py`` as deployed, in a child process, configured by environment only (in ``workdir``: no .env
    there, so the environment is the whole configuration)."""
    env = worker_env(
        address, task_queue=task_queue, smtp=(sink.host, sink.port), MAIL_FROM="Mentorships <mentorships@example.org>"
    )
    return Worker(env=env, log=workdir / "worker.log", cwd=workdir)


async def bench(n: int, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mentorship-bench-") as tmp:
        server = DevServer(log=Path(tmp) / "dev-server.log")
        await server.start()
        try:
            client = await server.client()
            task_queue = f"bench-{uuid.uuid4().hex[:8]}"
            async with MailSink(port=0) as sink:
                worker = worker_process(server.address, task_queue, sink, Path(tmp))
                await worker.start()
                try:
                    figures = await drive(client, task_queue, sink, n, concurrency)
                finally:
                    # SIGTERM (a graceful stop, as in a deploy), then its peak RSS in KiB, from getrusage: the dev
                    # server, this process's other child, is still running; only the worker has been waited for.
                    await worker.stop()
                    figures_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        finally:
            await server.stop()
    figures["worker_peak_rss_kib"] = figures_rss
    figures["bench_peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures["server"] = server.address
    return figures


async def drive(client: Client, task_queue: str, sink: MailSink, n: int, concurrency: int) -> dict[str, Any]:
    invitations = [invitation(number=i, focus_areas=["leadership"]) for i in range(n)]
    ids = [workflow_id_for(inv.mentor.id, inv.mentee.id) for inv in invitations]

    async def invite(i: int) -> None:
        current = await mentorship_client.invite(client, invitations[i], task_queue=task_queue)
        assert current.stage is Stage.INVITED

    async def accept(i: int) -> None:
        current = await mentorship_client.act(
            client, ids[i], "accept", {"by": invitations[i].mentor.id, "note": "Glad to"}
        )
        assert current.stage is Stage.ACTIVE

    async def check_in(i: int) -> None:
        payload = {"by": invitations[i].mentee.id, "note": "First session", "rating": 5}
        current = await mentorship_client.act(client, ids[i], "check_in", payload)
        assert len(current.check_ins) == 1

    started = time.perf_counter()
    phases = [
        await run_phase("invite (update-with-start)", n, concurrency, invite),
        await run_phase("accept (update)", n, concurrency, accept),
        await run_phase("check_in (update)", n, concurrency, check_in),
    ]
    await sink.wait_for(EMAILS_PER_MENTORSHIP * n, timeout=max(60.0, n * 0.5))
    mail_seconds = time.perf_counter() - started
    return {
        "phases": phases,
        "emails": len(sink.deliveries),
        "mail_seconds": mail_seconds,
        "total_seconds": time.perf_counter() - started,
    }


def report(n: int, concurrency: int, figures: dict[str, Any]) -> str:
    phases: list[Phase] = figures["phases"]
    rows = [("phase", "calls", "seconds", "calls/s", "p50 ms", "p95 ms", "max ms")]
    for phase in phases:
        rows.append(
            (
                phase.name,
                str(len(phase.latencies)),
                f"{phase.seconds:.2f}",
                f"{phase.rate:.1f}",
                f"{phase.percentile(50) * 1000:.0f}",
                f"{phase.percentile(95) * 1000:.0f}",
                f"{max(phase.latencies) * 1000:.0f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    updates = phases[1].latencies + phases[2].latencies
    update_phase = Phase("updates", updates, phases[1].seconds + phases[2].seconds)
    invite_p50, invite_p95 = phases[0].percentile(50) * 1000, phases[0].percentile(95) * 1000
    lines += [
        "",
        f"mentorships:          {n}, at most {concurrency} calls in flight, dev server at {figures['server']}",
        f"invitations/s:        {phases[0].rate:.1f}",
        f"invite latency:       p50 {invite_p50:.0f} ms, p95 {invite_p95:.0f} ms",
        f"update latency:       p50 {update_phase.percentile(50) * 1000:.0f} ms, "
        f"p95 {update_phase.percentile(95) * 1000:.0f} ms (accept and check_in together)",
        f"emails delivered/s:   {figures['emails'] / figures['mail_seconds']:.1f} "
        f"({figures['emails']} emails in {figures['mail_seconds']:.1f}s from the first invitation to the last email)",
        f"worker peak RSS:      {figures['worker_peak_rss_kib'] / 1024:.0f} MiB (worker.py process, getrusage)",
        f"bench peak RSS:       {figures['bench_peak_rss_kib'] / 1024:.0f} MiB (this process: client and mail sink)",
        f"wall-clock:           {figures['total_seconds']:.1f}s of load, {os.cpu_count()} CPU(s)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Throughput of the mentorship worker on the dev server.")
    parser.add_argument("-n", "--mentorships", type=int, default=200, help="how many (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    args: Any = parser.parse_args(argv)
    if args.mentorships < 1 or args.concurrency < 1:
        parser.error("-n and --concurrency must be at least 1")

    async def bounded() -> dict[str, Any]:
        async with asyncio.timeout(args.timeout):
            return await bench(args.mentorships, args.concurrency)

    figures = asyncio.run(bounded())
    print(report(args.mentorships, args.concurrency, figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
