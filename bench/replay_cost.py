"""The worker-side workflow CPU of one lifecycle, without server, network or email: replay its history.

    .venv/bin/python -m bench.replay_cost                    # 200 replays per kind and bytecode setting
    .venv/bin/python -m bench.replay_cost -k 500 --no-write

Records the history of one lifecycle of each kind (as in bench/lifecycle.py: invite, accept, three check-ins,
withdraw, five emails) on a dev server with in-process workers, then replays it ``-k`` times with
``temporalio.worker.Replayer`` (the deployed sandbox runner and payload converter) in a fresh child process per
kind and bytecode setting, and reports CPU milliseconds per replay. A replay runs exactly the workflow code a
worker runs for that mentorship when nothing is cached: a new sandbox instance (importing the workflow's
module), every activation, every command; not the activities, polling or gRPC. Far less noisy than the
end-to-end figures on a shared machine, so it resolves changes of a millisecond or two. Variants
(bench/variants.py) issue the same commands as the Mentorship and replay its history.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

import worker as deployed
from bench import lifecycle
from bench import worker as bench_worker
from bench.common import (
    BYTECODE_CHOICES,
    MAIL_FROM,
    DevServer,
    LoadWindow,
    Processes,
    SinkProcess,
    bytecode_env,
    child_env,
    load_text,
    machine,
    now_text,
    table,
    write_section,
)
from bench.floor import Floor
from bench.variants import VARIANTS
from infra.settings import Settings
from workflows.mentorship import Mentorship

# Variants that issue the Mentorship's very commands (no-search-attributes does not: it upserts nothing).
KINDS = ("Mentorship", "floor", "Mentorship:passthrough", "Mentorship:no-summaries")


def workflow_class(kind: str) -> type:
    if kind == "floor":
        return Floor
    if kind == "Mentorship":
        return Mentorship
    return VARIANTS[kind.split(":", 1)[1]]


async def record(directory: Path) -> dict[str, Path]:
    """One lifecycle of the Mentorship and one of the floor, their histories as JSON files."""
    files = {}
    async with Processes() as procs:
        server = DevServer(directory)
        await procs.start(server)
        sink = SinkProcess(directory)
        await procs.start(sink)
        client = await server.client()
        for kind in ("Mentorship", "floor"):
            queue = f"bench-replay-{kind.lower()}-{uuid.uuid4().hex[:6]}"
            settings = Settings(
                _env_file=None,
                mentorship_task_queue=queue,
                smtp_host="127.0.0.1",
                smtp_port=sink.port,
                mail_from=MAIL_FROM,
                mentorship_link_template=None,
            )
            built = bench_worker.build(client, settings, workflow="floor" if kind == "floor" else "mentorship")
            async with built:
                out = lifecycle.Round(kind, 1, 1, 1)
                await lifecycle.drive(kind, client, queue, uuid.uuid4().hex[:6], 1, 1, out)
            history = await client.get_workflow_handle(out.workflow_ids[0]).fetch_history()
            files[kind] = directory / f"{kind}.json"
            # With its workflow id: the Mentorship's Feedback workflow's id is made from it.
            files[kind].write_text(json.dumps({"workflowId": history.workflow_id, **json.loads(history.to_json())}))
    return files


async def replay(kind: str, history_json: str, k: int) -> float:
    """CPU seconds per replay, in this process (after one unmeasured replay)."""
    data = json.loads(history_json)
    history = WorkflowHistory.from_json(data["workflowId"], data)
    replayer = Replayer(
        workflows=[workflow_class(kind)],
        workflow_runner=deployed.WORKFLOW_RUNNER,
        data_converter=pydantic_data_converter,
    )
    await replayer.replay_workflow(history)
    started = time.process_time()

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for _ in range(k):
            yield history

    results = await replayer.replay_workflows(histories(), raise_on_replay_failure=True)
    assert not results.replay_failures
    return (time.process_time() - started) / k


def run(k: int, kinds: list[str]) -> list[tuple[str, str, float, LoadWindow]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="mentorship-bench-") as tmp:
        directory = Path(tmp)
        files = asyncio.run(record(directory))
        for bytecode in BYTECODE_CHOICES:
            for kind in kinds:
                history = files["floor" if kind == "floor" else "Mentorship"]
                env = child_env(bytecode_env(bytecode, directory))
                load = LoadWindow()
                out = subprocess.run(
                    [sys.executable, "-m", "bench.replay_cost", "--child", kind, str(history), str(k)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=900,
                )
                if out.returncode != 0:
                    raise RuntimeError(f"replaying {kind} failed:\n{out.stderr[-4000:]}")
                load.close()
                seconds = json.loads(out.stdout.strip().splitlines()[-1])["seconds_per_replay"]
                print(f"  {kind} ({bytecode}): {1000 * seconds:.2f} ms", file=sys.stderr, flush=True)
                rows.append((kind, bytecode, seconds, load))
    return rows


def section(rows: list[tuple[str, str, float, LoadWindow]], k: int) -> str:
    floor = {bytecode: s for kind, bytecode, s, _ in rows if kind == "floor"}
    mentorship = {bytecode: s for kind, bytecode, s, _ in rows if kind == "Mentorship"}
    body = [
        (
            f"`{kind}`",
            bytecode,
            f"{1000 * s:.2f}",
            f"{1000 * (s - floor[bytecode]):+.2f}",
            f"{1000 * (s - mentorship[bytecode]):+.2f}",
            str(load),
        )
        for kind, bytecode, s, load in rows
    ]
    head = ("kind", "bytecode", "CPU ms per lifecycle", "vs floor", "vs Mentorship", "load (1 min)")
    return f"""## 7. Workflow CPU by replay (`python -m bench.replay_cost`)

{now_text()}; {machine()}.

One lifecycle's history of each kind (invite, accept, three check-ins, withdraw, five emails) replayed {k} times
with `Replayer` (the deployed sandbox runner and converter), in a child process per row: the worker's
workflow-side CPU for one mentorship when nothing is cached (a new sandbox instance, every activation), without
activities, polling or gRPC. Variants replay the Mentorship's history.

{table(head, body)}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", "--replays", type=int, default=200, help="per row (default %(default)s)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated (default %(default)s)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "HISTORY", "K"), help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    if args.child:
        kind, history, k = args.child
        seconds = asyncio.run(replay(kind, Path(history).read_text(), int(k)))
        print(json.dumps({"seconds_per_replay": seconds}))
        return 0
    kinds = [k.strip() for k in args.kinds.split(",")]
    if not set(kinds) <= set(KINDS) or "floor" not in kinds or "Mentorship" not in kinds:
        parser.error(f"--kinds: Mentorship, floor and any of {', '.join(KINDS)}")
    print(f"load average at start: {load_text()}", file=sys.stderr)
    rows = run(args.replays, kinds)
    body = section(rows, args.replays)
    print(body)
    if not args.no_write:
        write_section("replay", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
