"""How big does a mentorship's history get over years, and how often does it continue as new?

    .venv/bin/python -m bench.history_size              # 3 years, then again with --limit 200
    .venv/bin/python -m bench.history_size --years 5 --limit 500 --seed 1

On the time-skipping test server (years pass in seconds) with the project's own worker and an in-process mail
sink, one mentorship runs for ``--years`` of biweekly check-ins with a seeded, realistic mix: most check-ins
recorded (some early, most after the reminder, some only after the follow-up nudge), some missed, and one pause
of three weeks a year. It runs twice: without ``history_event_limit`` (the server's continue-as-new suggestion
decides) and with ``--limit``. For each it prints the total history events over all runs, the number of runs,
events per year, the largest single run's history (protobuf bytes, what the server counts against its limits),
the status payload that continue-as-new carries (JSON of the ``status`` query), emails sent and wall-clock time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import mentorship_client
from bench.common import ACTIVITY_CLOSED, invitation
from devtools.mailsink import MailSink
from infra.settings import Settings
from infra.temporal import ensure_search_attributes
from worker import build_worker
from workflows.contract import Invitation, MentorshipStatus, Stage

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
DAY = timedelta(days=1)
YEAR = 365 * DAY

_OPEN_WORKFLOW_TASK = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


@dataclass
class Figures:
    label: str
    years: int
    runs: int
    events: int
    largest_history_bytes: int
    largest_history_events: int
    status_json_bytes: int
    carried_input_bytes: int
    emails: int
    check_ins: int
    missed: int
    pauses: int
    seconds: float

    @property
    def events_per_year(self) -> float:
        return self.events / self.years


class Driver:
    """One mentorship, driven like people would: check in, forget, pause."""

    def __init__(self, env: WorkflowEnvironment, sink: MailSink, task_queue: str, rng: random.Random) -> None:
        self.env = env
        self.sink = sink
        self.task_queue = task_queue
        self.rng = rng
        self.pauses = 0

    @property
    def client(self) -> Client:
        return self.env.client

    async def quiet(self, workflow_id: str) -> None:
        """Until the latest run has no workflow task and no activity in flight, so skipping time never races an
        email (a skipped-over activity would time out and retry) and queries reach a run that is settled."""
        for _ in range(2000):
            history = await self.client.get_workflow_handle(workflow_id).fetch_history()
            scheduled = sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
            closed = sum(1 for e in history.events if e.event_type in ACTIVITY_CLOSED)
            if scheduled == closed and history.events[-1].event_type not in _OPEN_WORKFLOW_TASK:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{workflow_id} never settled")

    async def status(self, workflow_id: str) -> MentorshipStatus:
        return await mentorship_client.status(self.client, workflow_id)

    async def until(
        self, workflow_id: str, predicate: Callable[[MentorshipStatus], bool], what: str
    ) -> MentorshipStatus:
        for _ in range(500):
            await self.quiet(workflow_id)
            current = await self.status(workflow_id)
            if predicate(current):
                return current
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{workflow_id}: {what} never happened")

    async def skip(self, workflow_id: str, duration: timedelta) -> None:
        await self.quiet(workflow_id)
        if duration > timedelta(0):
            await self.env.sleep(duration)
        await self.quiet(workflow_id)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def run(self, invitation: Invitation, years: int, limit: int | None) -> str:
        mentor, mentee = invitation.mentor.id, invitation.mentee.id
        current = await mentorship_client.invite(
            self.client, invitation, task_queue=self.task_queue, history_event_limit=limit
        )
        wid = current.workflow_id
        await mentorship_client.send(self.client, wid, "accept", {"by": mentor, "note": "Glad to"})
        active = await self.until(wid, lambda s: s.stage is Stage.ACTIVE, "acceptance")
        assert active.accepted_at is not None
        end = active.accepted_at + years * YEAR
        # One pause a year, on a day picked at random; it starts with the cycle in which that day falls.
        pauses = [active.accepted_at + year * YEAR + self.rng.randrange(20, 330) * DAY for year in range(years)]
        while await self.now() < end:
            s = await self.status(wid)
            assert s.next_check_in_due is not None
            wait = s.next_check_in_due - await self.now()
            who = self.rng.choice((mentor, mentee))
            if pauses and pauses[0] <= s.next_check_in_due:
                pauses.pop(0)
                # Three weeks off, announced a little before the check-in falls due.
                await self.skip(wid, wait - 2 * DAY)
                until = await self.now() + 21 * DAY
                await mentorship_client.send(
                    self.client, wid, "pause", {"by": who, "reason": "holidays", "until": until}
                )
                await self.until(wid, lambda s: s.stage is Stage.PAUSED, "pause")
                await self.skip(wid, until - await self.now() + timedelta(hours=1))
                await self.until(wid, lambda s: s.stage is Stage.ACTIVE, "resume")
                self.pauses += 1
                continue
            roll = self.rng.random()
            cycle = s.cycle
            if roll < 0.12:  # missed: nobody records it before the next one falls due
                await self.skip(wid, wait + 14 * DAY + timedelta(hours=1))
                await self.until(wid, lambda s, c=cycle: s.cycle == c + 1, "miss")  # type: ignore[misc]
                continue
            if roll < 0.27 and not s.cycle_reminded:  # early, before the reminder
                await self.skip(wid, wait - 3 * DAY)
            elif roll < 0.42:  # late: after the follow-up nudge
                await self.skip(wid, wait + 4 * DAY)
            else:  # the day after the reminder
                await self.skip(wid, wait + 1 * DAY)
            rating = self.rng.randint(3, 5)
            await mentorship_client.send(self.client, wid, "check_in", {"by": who, "note": "met", "rating": rating})
            await self.until(wid, lambda s, c=cycle: s.cycle == c + 1 and s.stage is Stage.ACTIVE, "check-in")  # type: ignore[misc]
        await mentorship_client.send(self.client, wid, "withdraw", {"by": mentor, "reason": "the bench is over"})
        await self.until(wid, lambda s: not s.stage.is_open, "the end")
        return wid

    async def chain(self, workflow_id: str) -> list[WorkflowHistory]:
        """Every run of the workflow, first to last (the latest run's start event names its predecessor)."""
        runs: list[WorkflowHistory] = []
        run_id: str | None = None
        while True:
            history = await self.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
            runs.append(history)
            previous = history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
            if not previous:
                return runs[::-1]
            run_id = previous


@asynccontextmanager
async def running_worker(client: Client, sink: MailSink) -> AsyncIterator[str]:
    task_queue = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        _env_file=None,
        mentorship_task_queue=task_queue,
        smtp_host=sink.host,
        smtp_port=sink.port,
        mail_from="Mentorships <mentorships@example.org>",
        mentorship_link_template=None,
    )
    async with build_worker(client, settings):
        yield task_queue


async def measure(env: WorkflowEnvironment, label: str, years: int, limit: int | None, seed: int) -> Figures:
    started = time.perf_counter()
    async with MailSink(port=0) as sink, running_worker(env.client, sink) as task_queue:
        driver = Driver(env, sink, task_queue, random.Random(seed))
        wid = await driver.run(invitation(f"{label.split()[0]}{limit or 0}", coordinator=True), years, limit)
        runs = await driver.chain(wid)
        final = await driver.status(wid)
        emails = len(sink.messages)
    sizes = [History(events=run.events).ByteSize() for run in runs]
    largest = max(range(len(runs)), key=lambda i: sizes[i])
    carried = [sum(len(p.data) for p in run.events[0].workflow_execution_started_event_attributes.input.payloads)
               for run in runs[1:]]  # fmt: skip
    return Figures(
        label=label,
        years=years,
        runs=len(runs),
        events=sum(len(run.events) for run in runs),
        largest_history_bytes=sizes[largest],
        largest_history_events=len(runs[largest].events),
        status_json_bytes=len(final.model_dump_json()),
        carried_input_bytes=max(carried, default=0),
        emails=emails,
        check_ins=len(final.check_ins),
        missed=final.missed_total,
        pauses=driver.pauses,
        seconds=time.perf_counter() - started,
    )


def table(rows: list[Figures]) -> str:
    head = (
        "history_event_limit", "runs", "events", "events/yr", "largest run", "status JSON", "carried input",
        "emails", "check-ins", "missed", "pauses", "wall s",
    )  # fmt: skip
    lines = [head]
    for f in rows:
        lines.append(
            (
                f.label,
                str(f.runs),
                str(f.events),
                f"{f.events_per_year:.0f}",
                f"{f.largest_history_bytes / 1024:.0f} KiB / {f.largest_history_events} ev",
                f"{f.status_json_bytes / 1024:.1f} KiB",
                f"{f.carried_input_bytes / 1024:.1f} KiB" if f.carried_input_bytes else "-",
                str(f.emails),
                str(f.check_ins),
                str(f.missed),
                str(f.pauses),
                f"{f.seconds:.1f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) for line in lines]
    out.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(out)


async def main_async(years: int, limit: int, seed: int) -> list[Figures]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter
    )
    try:
        await ensure_search_attributes(env.client, "default")
        rows = []
        for label, event_limit in (("none (server hint)", None), (str(limit), limit)):
            figures = await measure(env, label, years, event_limit, seed)
            print(f"  done: {label}: {figures.runs} run(s), {figures.seconds:.1f}s", file=sys.stderr, flush=True)
            rows.append(figures)
        return rows
    finally:
        await env.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="History size of a mentorship over years of check-ins.")
    parser.add_argument("--years", type=int, default=3, help="simulated years (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=200, help="the low history_event_limit (>= 50)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the behaviour mix (default: %(default)s)")
    args: Any = parser.parse_args(argv)
    if args.years < 1 or args.limit < 50:
        parser.error("--years must be at least 1 and --limit at least 50")
    started = time.perf_counter()
    rows = asyncio.run(main_async(args.years, args.limit, args.seed))
    print(f"{args.years} simulated year(s) of biweekly check-ins, seed {args.seed}\n")
    print(table(rows))
    print(f"\ntotal wall-clock {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
