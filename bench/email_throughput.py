"""Email throughput: the notification activity against raw aiosmtplib loops, into the same aiosmtpd sink.

    .venv/bin/python -m bench.email_throughput               # 2,000 messages per path, 16 in flight
    .venv/bin/python -m bench.email_throughput -n 5000 --concurrency 32 --no-write

The sink is the project's ``MailSink`` (devtools/mailsink.py, aiosmtpd) unchanged, in its own process
(bench/sink.py ``--keep``: every message parsed and kept). The messages are the lifecycle's mix (invitation,
confirmation, two welcomes, a withdrawal notice), to distinct recipients. Paths, each with at most
``--concurrency`` sends in flight, in alternating rounds:

- **activity**: ``Mailer(settings).send_notification`` called in this process through
  ``temporalio.testing.ActivityEnvironment`` (the activity function with its activity context, without a
  worker or server), as deployed: it renders the notification, builds the message (compat32 classes) and sends
  it over one of its reused SMTP connections (``SMTP_MAX_IDLE_CONNECTIONS``, 16 by default);
- **raw send()**: ``aiosmtplib.send`` of the same messages, built beforehand (not timed), one connection per
  message: the plainest aiosmtplib loop, without rendering, building or Temporal;
- **raw, reused connections**: ``--concurrency`` ``aiosmtplib.SMTP`` clients connected once, each sending its
  share of the same pre-built messages in a loop: the fastest this client and this sink go;
- **activity before**: the activity as it was before it reused connections (``bench/email_experiments.py``:
  ``EmailMessage`` with ``policy.default``, ``aiosmtplib.send`` per message), to show what the change brought.

CPU seconds of this process (the client) and of the sink come from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path

import aiosmtplib
from temporalio.testing import ActivityEnvironment

from activities.mailer import Mailer
from bench.common import (
    MAIL_FROM,
    LoadWindow,
    Processes,
    SinkProcess,
    invitation,
    load_text,
    machine,
    now_text,
    table,
    write_section,
)
from bench.email_experiments import PerMessageMailer
from infra.settings import Settings
from workflows.contract import Notice, Notification, Role

ACTIVITY = "activity, as deployed (ActivityEnvironment)"
RAW_SEND = "raw aiosmtplib.send(), a connection per message"
RAW_REUSED = "raw aiosmtplib.SMTP, reused connections"
ACTIVITY_BEFORE = "activity before (EmailMessage, a connection per message)"


def notifications(n: int) -> list[Notification]:
    """The lifecycle's five emails, over and over, each mentorship with its own people."""
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    out: list[Notification] = []
    for i in range(n // 5 + 1):
        inv = invitation(number=i)
        wid = f"mentorship-mentor-{i}--mentee-{i}"
        common = {"workflow_id": wid, "mentorship_key": f"{wid}.20261201T090000Z", "invitation": inv}
        mix = [
            (Notice.INVITATION, "invitation", Role.MENTOR, Role.MENTEE, at + timedelta(days=14), inv.message),
            (Notice.INVITATION_SENT, "invitation-sent", Role.MENTEE, None, at + timedelta(days=14), None),
            (Notice.MENTORSHIP_STARTED, "started", Role.MENTOR, Role.MENTOR, at + timedelta(days=14), "Glad to"),
            (Notice.MENTORSHIP_STARTED, "started", Role.MENTEE, Role.MENTOR, at + timedelta(days=14), "Glad to"),
            (Notice.WITHDRAWN, "withdrawn", Role.MENTEE, Role.MENTOR, None, "The bench is over"),
        ]
        for kind, step, to, actor, when, text in mix:
            out.append(
                Notification.model_validate(
                    {
                        **common,
                        "kind": kind,
                        "step": step,
                        "to": to,
                        "recipient": inv.person(to),
                        "actor": actor,
                        "at": when,
                        "text": text,
                    }
                )
            )
    return out[:n]


@dataclass
class PathResult:
    name: str
    sent: int = 0
    seconds: float = 0.0
    client_cpu: float = 0.0
    sink_cpu: float = 0.0
    loads: list[LoadWindow] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


async def bounded(items: int, concurrency: int, one: Callable[[int], Awaitable[object]]) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def run(i: int) -> None:
        async with gate:
            await one(i)

    await asyncio.gather(*(run(i) for i in range(items)))


async def timed(result: PathResult, sink: SinkProcess, count: int, go: Callable[[], Awaitable[None]]) -> None:
    load = LoadWindow()
    cpu, sink_cpu, started = time.process_time(), sink.cpu(), time.perf_counter()
    await go()
    result.seconds += time.perf_counter() - started
    result.client_cpu += time.process_time() - cpu
    result.sink_cpu += sink.cpu() - sink_cpu
    result.sent += count
    load.close()
    result.loads.append(load)


async def run(n: int, concurrency: int, rounds: int) -> list[PathResult]:
    with tempfile.TemporaryDirectory(prefix="mentorship-bench-") as tmp:
        async with Processes() as procs:
            sink = SinkProcess(Path(tmp), keep=True)
            await procs.start(sink)
            settings = Settings(
                _env_file=None,
                smtp_host="127.0.0.1",
                smtp_port=sink.port,
                mail_from=MAIL_FROM,
                mentorship_link_template=None,
            )
            mailer = Mailer(settings)
            before = PerMessageMailer(settings)
            env = ActivityEnvironment()
            batch = notifications(n // rounds)
            built: list[tuple[Message, str]] = [
                (mailer.build_message(x), str(x.recipient.email)) for x in batch
            ]  # not timed: the raw paths send what the activity would have built

            async def activity() -> None:
                await bounded(len(batch), concurrency, lambda i: env.run(mailer.send_notification, batch[i]))

            async def activity_before() -> None:
                await bounded(len(batch), concurrency, lambda i: env.run(before.send_notification, batch[i]))

            async def raw_send() -> None:
                async def one(i: int) -> object:
                    message, to = built[i]
                    return await aiosmtplib.send(
                        message, sender=mailer.sender, recipients=[to], hostname="127.0.0.1", port=sink.port
                    )

                await bounded(len(built), concurrency, one)

            async def raw_reused() -> None:
                async def worker(w: int) -> None:
                    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port) as smtp:
                        for message, to in built[w::concurrency]:
                            await smtp.send_message(message, sender=mailer.sender, recipients=[to])

                await asyncio.gather(*(worker(w) for w in range(min(concurrency, len(built)))))

            paths: dict[str, Callable[[], Awaitable[None]]] = {
                ACTIVITY: activity,
                RAW_SEND: raw_send,
                RAW_REUSED: raw_reused,
                ACTIVITY_BEFORE: activity_before,
            }
            results = {name: PathResult(name) for name in paths}
            # Warm-up: imports, the sink's first connections.
            for go in paths.values():
                await go()
            for r in range(rounds):
                order = list(paths) if r % 2 == 0 else list(paths)[::-1]
                for name in order:
                    await timed(results[name], sink, len(batch), paths[name])
                    print(f"  round {r + 1}: {name}: {results[name].rate:.0f}/s so far", file=sys.stderr, flush=True)
            await mailer.close()
            await procs.stop(sink)
            expected = len(batch) * len(paths) * (rounds + 1)
            if sink.delivered() != expected:
                raise RuntimeError(f"the sink accepted {sink.delivered()} messages, {expected} expected")
    return list(results.values())


def section(results: list[PathResult], n: int, concurrency: int, rounds: int) -> str:
    by = {r.name: r for r in results}
    activity, raw_send, raw_reused = by[ACTIVITY], by[RAW_SEND], by[RAW_REUSED]
    rows = []
    for r in results:
        rows.append(
            (
                r.name,
                f"{r.rate:.0f}",
                f"{r.rate / raw_send.rate:.2f}",
                f"{r.rate / raw_reused.rate:.2f}",
                f"{1000 * r.client_cpu / r.sent:.2f}",
                f"{1000 * r.sink_cpu / r.sent:.2f}",
                ", ".join(str(x) for x in r.loads),
            )
        )
    head = (
        "path",
        "messages/s",
        "vs raw send()",
        "vs raw reused",
        "client CPU ms/message",
        "sink CPU ms/message",
        "load (1 min) per round",
    )
    return f"""## 4. Email throughput (`python -m bench.email_throughput`)

{now_text()}; {machine()}.

{n} messages per path (the lifecycle's mix of five notices; {rounds} alternating rounds after a warm-up), at
most {concurrency} in flight, into the project's `MailSink` (aiosmtpd; every message parsed and kept) in its
own process. The activity is called in-process through `ActivityEnvironment` (no worker, no server), with its
default of 16 reusable connections; the raw paths send the very messages the activity builds, built beforehand.
"Activity before" is the activity as it was before this change (`bench/email_experiments.py`).

{table(head, rows)}

Target: activity ≥ 0.8 of raw aiosmtplib: **{activity.rate / raw_send.rate:.2f}** of raw `send()`,
**{activity.rate / raw_reused.rate:.2f}** of raw reused connections (the same SMTP calls as the activity makes).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.email_throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=2000, help="per path (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=16, help="sends in flight (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default %(default)s)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    if args.messages < args.rounds or args.concurrency < 1:
        parser.error("-n at least --rounds, --concurrency at least 1")
    print(f"load average at start: {load_text()}", file=sys.stderr)
    results = asyncio.run(run(args.messages, args.concurrency, args.rounds))
    body = section(results, args.messages // args.rounds * args.rounds, args.concurrency, args.rounds)
    print(body)
    if not args.no_write:
        write_section("email", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
