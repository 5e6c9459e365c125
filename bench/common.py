"""What the benchmark scripts share: child processes (dev server, mail sink, workers; devtools/processes.py's,
with their CPU time and memory read from /proc), latency percentiles, the machine's description, and
BENCHMARKS.md's sections.

Every server listens on 127.0.0.1 only, every child is stopped by the script that started it (its process group),
and dies with it; nothing is downloaded: the dev server is the `temporal` CLI from the venv.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

from temporalio.api.enums.v1 import EventType

from devtools import processes
from devtools.mailsink import free_port
from devtools.processes import ChildProcess, Worker
from workflows.contract import Invitation

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
TEST_SERVER = BIN / "temporal-test-server"
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
MAIL_FROM = "Mentorships <mentorships@example.org>"
# The events that close an activity (an email send): none of a history's sends is open once as many closed.
ACTIVITY_CLOSED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
}


# --- Load ------------------------------------------------------------------------------------------------


def loadavg() -> tuple[float, float, float]:
    with open("/proc/loadavg", encoding="ascii") as file:
        one, five, fifteen = file.read().split()[:3]
    return float(one), float(five), float(fifteen)


def load_text(load: tuple[float, float, float] | None = None) -> str:
    one, five, fifteen = load or loadavg()
    return f"{one:.2f}/{five:.2f}/{fifteen:.2f}"


@dataclass
class LoadWindow:
    """The load average (1 min) at the start and at the end of a measured span, as `uptime` shows it."""

    start: tuple[float, float, float] = field(default_factory=loadavg)
    end: tuple[float, float, float] | None = None

    def close(self) -> None:
        self.end = loadavg()

    def __str__(self) -> str:
        end = self.end or loadavg()
        return f"{self.start[0]:.2f}→{end[0]:.2f}"


# --- Invitations --------------------------------------------------------------------------------------------

MESSAGE = "I would value your guidance on leading a team."


def invitation(
    tag: str | None = None, number: int | None = None, *, coordinator: bool = False, **overrides: Any
) -> Invitation:
    """The benchmarks' one invitation: a mentee asks a mentor, with a message and two focus areas.

    Numbered, ``Mentor {number}`` and ``Mentee {number}`` (ids ``mentor-{tag}-{number}``, or ``mentor-{number}``
    without a tag; addresses ``mentor{number}@example.com``); otherwise Ana Ruiz and Ben Ode (ids ``ana-{tag}``).
    With ``coordinator``, Cora Lind coordinates. Override any field by name.
    """
    suffix = "-".join(str(part) for part in (tag, number) if part is not None)

    def person(base: str, name: str, email: str) -> dict[str, str]:
        return {"id": f"{base}-{suffix}" if suffix else base, "name": name, "email": email}

    if number is None:
        data: dict[str, Any] = {
            "mentor": person("ana", "Ana Ruiz", "ana@example.com"),
            "mentee": person("ben", "Ben Ode", "ben@example.com"),
        }
    else:
        data = {
            "mentor": person("mentor", f"Mentor {number}", f"mentor{number}@example.com"),
            "mentee": person("mentee", f"Mentee {number}", f"mentee{number}@example.com"),
        }
    if coordinator:
        data["coordinator"] = person("cora", "Cora Lind", "cora@example.com")
    data.update(initiated_by="mentee", message=MESSAGE, focus_areas=["leadership", "feedback"])
    data.update(overrides)
    return Invitation.model_validate(data)


# --- Child processes ----------------------------------------------------------------------------------------


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child: ours without Temporal's or the project's settings, plus ``extra``.

    Workers run in a scratch directory (no .env there), so the variables given here are their whole
    configuration; PYTHONPATH lets them import ``bench``.
    """
    env = processes.child_env()
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


class DevServer(processes.DevServer):
    """``temporal server start-dev``, headless, on loopback, SQLite in memory (or in ``db_file``), with the
    project's search attributes registered; its log in ``log_dir``."""

    def __init__(self, log_dir: Path, db_file: Path | None = None, dynamic_config: dict[str, str] | None = None):
        super().__init__(
            name="dev-server",
            log=log_dir / "dev-server.log",
            db_file=db_file,
            dynamic_config=dynamic_config,
            env=child_env(),
        )


class SinkProcess(ChildProcess):
    """The project's mail sink (devtools/mailsink.py, aiosmtpd) in its own process: see bench/sink.py."""

    def __init__(self, log_dir: Path, *, keep: bool = False) -> None:
        self.port = free_port()
        argv = [sys.executable, "-m", "bench.sink", "--port", str(self.port)] + (["--keep"] if keep else [])
        super().__init__("mail-sink", argv, env=child_env(), log=log_dir / "mail-sink.log", ready="sink ready")
        self._read_to = 0
        self._delivered = 0

    def delivered(self) -> int:
        """Messages accepted, as the sink last reported (twice a second while it runs; exactly once stopped)."""
        assert self.log is not None
        with self.log.open("rb") as log:
            log.seek(self._read_to)
            chunk = log.read()
        complete = chunk.rfind(b"\n") + 1  # only whole lines; the rest is read next time
        self._read_to += complete
        found = re.findall(rb"sink delivered (\d+)", chunk[:complete])
        if found:
            self._delivered = int(found[-1])
        return self._delivered


BYTECODE_CHOICES = ("cached", "none")
DEFAULT_BYTECODE = "cached"


def bytecode_env(choice: str, log_dir: Path) -> dict[str, str]:
    """How a worker finds compiled bytecode, made explicit rather than inherited from whoever runs the bench.

    The workflow sandbox imports the workflow's module afresh for every workflow instance it creates (a new
    workflow, or one replayed after eviction from the cache), so whether that import compiles the source matters.
    ``cached``: the project's modules compiled beforehand into a PYTHONPYCACHEPREFIX of our own (nothing is
    written into the work tree), as the Dockerfile's ``python -m compileall -q /app`` does for the image.
    ``none``: an empty PYTHONPYCACHEPREFIX and PYTHONDONTWRITEBYTECODE=1, as in an image with
    PYTHONDONTWRITEBYTECODE=1 and no compiled sources (the Dockerfile before that line): every such import
    compiles ``workflows/mentorship.py`` from source.
    """
    prefix = log_dir / f"pycache-{choice}"
    if prefix.exists():
        return _bytecode_vars(choice, prefix)
    prefix.mkdir()
    if choice == "cached":
        sources = [str(ROOT / name) for name in ("workflows", "activities", "bench", "devtools")]
        sources += [str(p) for p in ROOT.glob("*.py")]
        env = child_env(_bytecode_vars(choice, prefix))
        subprocess.run([sys.executable, "-m", "compileall", "-q", *sources], env=env, check=True, timeout=300)
    return _bytecode_vars(choice, prefix)


def _bytecode_vars(choice: str, prefix: Path) -> dict[str, str]:
    assert choice in BYTECODE_CHOICES, choice
    env = {"PYTHONPYCACHEPREFIX": str(prefix)}
    if choice == "none":
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class WorkerProcess(Worker):
    """A worker in its own process, configured by environment only (as deployed), in a scratch directory.

    ``argv`` is ``[sys.executable, "worker.py"]`` for the project's worker exactly as deployed, or
    ``[sys.executable, "-m", "bench.worker", ...]`` for the floor and for experiments. ``bytecode``: see
    ``bytecode_env``.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        *,
        address: str,
        task_queue: str,
        smtp_port: int,
        bytecode: str = DEFAULT_BYTECODE,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        env = processes.worker_env(
            address,
            task_queue=task_queue,
            smtp=(processes.HOST, smtp_port),
            base=child_env(),
            drop=(),
            MAIL_FROM=MAIL_FROM,
            **bytecode_env(bytecode, log_dir),
            **(extra_env or {}),
        )
        scratch = log_dir / f"{name}-cwd"
        scratch.mkdir(exist_ok=True)
        super().__init__(name, env=env, log=log_dir / f"{name}.log", argv=argv, cwd=scratch)


class PySpy(ChildProcess):
    """``py-spy record`` on a live process, as raw collapsed stacks (only samples holding the GIL: Python CPU).

    Stopped with SIGINT, on which py-spy writes its file (SIGKILL if it has not within a minute). py-spy is a dev
    tool: ``pip install py-spy``.
    """

    def __init__(self, target: ChildProcess, output: Path, rate: int = 200) -> None:
        self.profile = output
        argv = [str(BIN / "py-spy"), "record", "-p", str(target.pid), "-f", "raw", "-o", str(output)]
        argv += ["-r", str(rate), "--gil", "--nonblocking"]
        name = f"py-spy-{output.stem}"
        super().__init__(name, argv, env=child_env(), cwd=output.parent, log=output.parent / f"{name}.log")
        self.stop_signal = signal.SIGINT


def deployed_worker_argv() -> list[str]:
    return [sys.executable, str(ROOT / "worker.py")]


def bench_worker_argv(workflow: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "bench.worker", "--workflow", workflow, *options]


class Processes:
    """Children stopped in reverse order of start, whatever happens."""

    def __init__(self) -> None:
        self.children: list[ChildProcess] = []

    async def start(self, child: ChildProcess) -> ChildProcess:
        self.children.append(child)
        await child.start()
        return child

    async def stop(self, child: ChildProcess) -> int | None:
        code = await child.stop()
        if child in self.children:
            self.children.remove(child)
        return code

    async def __aenter__(self) -> Processes:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for child in reversed(self.children):
            with contextlib.suppress(Exception):
                await child.stop()
        self.children.clear()


class CpuMeter:
    """CPU seconds used by some processes (and this one) between ``start()`` and ``stop()``."""

    def __init__(self, children: dict[str, ChildProcess]) -> None:
        self.processes = children
        self.before: dict[str, float] = {}
        self.used: dict[str, float] = {}
        self.started = 0.0
        self.wall = 0.0

    def _read(self) -> dict[str, float]:
        now = {name: child.cpu() for name, child in self.processes.items()}
        now["bench client"] = time.process_time()
        return now

    def start(self) -> None:
        self.before = self._read()
        self.started = time.perf_counter()

    def stop(self) -> dict[str, float]:
        self.wall = time.perf_counter() - self.started
        after = self._read()
        self.used = {name: after[name] - self.before[name] for name in after}
        return self.used


# --- Figures ------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation between the closest ranks; 0 when empty."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def mean(values: Iterable[float]) -> float:
    listed = list(values)
    return statistics.fmean(listed) if listed else 0.0


def table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _version(argv: Sequence[str]) -> str:
    try:
        out = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"


def machine() -> str:
    """One paragraph: this machine and the versions, as the figures depend on them."""
    with open("/proc/meminfo", encoding="ascii") as file:
        mem_kib = int(next(line for line in file if line.startswith("MemTotal:")).split()[1])
    cpu_model = "?"
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo", encoding="ascii") as file:
        cpu_model = next(line for line in file if line.startswith("model name")).split(":", 1)[1].strip()
    return (
        f"{os.cpu_count()} CPUs (`nproc`; {cpu_model}), {mem_kib / 1024 / 1024:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"temporalio {metadata.version('temporalio')}, pydantic {metadata.version('pydantic')}, "
        f"aiosmtplib {metadata.version('aiosmtplib')}, aiosmtpd {metadata.version('aiosmtpd')}, "
        f"{_version([str(TEMPORAL_CLI), '--version'])}"
    )


def now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- BENCHMARKS.md ------------------------------------------------------------------------------------------

SECTIONS = (
    "summary",
    "lifecycle",
    "history",
    "scale",
    "scale-50k",
    "sizing",
    "email",
    "scale-out",
    "experiments",
    "experiments-email",
    "replay",
    "limits",
    "soak",
)
_PREAMBLE = """# Benchmarks

What a mentorship costs, against the floor Temporal itself imposes: a hand-written workflow doing the same
externally visible work with no business logic. Each section below is written by one script in `bench/` (see
`bench/README.md` for what each measures and how); rerunning a script replaces its own section only. Load
averages (1 minute, as `uptime` shows them) are given at the start → end of every measurement: the machine is
shared with other work.
"""


def _markers(section: str) -> tuple[str, str]:
    return f"<!-- bench:{section}:begin -->", f"<!-- bench:{section}:end -->"


def write_section(section: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace ``section`` of BENCHMARKS.md with ``body`` (creating the file and its sections as needed)."""
    assert section in SECTIONS, section
    text = path.read_text(encoding="utf-8") if path.exists() else _PREAMBLE
    for name in SECTIONS:
        begin, end = _markers(name)
        if begin not in text:
            text = text.rstrip("\n") + f"\n\n{begin}\n{end}\n"
    begin, end = _markers(section)
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = f"{head}{begin}\n{body.strip()}\n{end}{tail}"
    path.write_text(text, encoding="utf-8")
    print(f"wrote the {section!r} section of {path.relative_to(ROOT)}", file=sys.stderr)
