"""Summaries of py-spy's raw (collapsed-stack) profiles, as the benchmarks record them with ``--profile DIR``.

    .venv/bin/python -m bench.profiling DIR/Mentorship-*.txt [--top 30]
    .venv/bin/python -m bench.profiling --compare DIR/Mentorship-*.txt -- DIR/floor-*.txt

Each line of a raw profile is ``frame;frame;...;frame count`` (outermost first), each frame ``function
(file:line)``. The summary gives, per function (line numbers dropped), the share of samples in which it is on
the stack (inclusive) and on top (self), and a share per area of code (the project's workflow, pydantic, the
SDK's sandbox, ...), counted by the innermost frame that belongs to an area.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")

# First match wins, tried on each frame from the innermost outwards.
AREAS: tuple[tuple[str, str], ...] = (
    ("workflow code: workflows/mentorship.py", "workflows/mentorship.py"),
    ("workflow code: bench/floor.py", "bench/floor.py"),
    ("workflow code: workflows/person.py", "workflows/person.py"),
    ("contract and durations (workflows/)", "workflows/"),
    ("place activities: activities/places.py", "activities/places.py"),
    ("email activity: activities/", "activities/"),
    ("aiosmtplib", "aiosmtplib/"),
    ("pydantic", "pydantic"),
    ("email (stdlib)", "email/"),
    ("SDK: payload converter", "temporalio/converter"),
    ("SDK: workflow sandbox", "workflow_sandbox"),
    ("SDK: workflow instance", "temporalio/worker/_workflow_instance"),
    ("SDK: workflow worker", "temporalio/worker/_workflow"),
    ("SDK: activity worker", "temporalio/worker/_activity"),
    ("SDK: protobuf and bridge", "temporalio/bridge"),
    ("protobuf", "google/protobuf"),
    ("SDK: client (the place activities' calls)", "temporalio/client"),
    ("SDK: other", "temporalio/"),
    ("asyncio", "asyncio/"),
)


def frames(line: str) -> tuple[list[tuple[str, str]], int] | None:
    stack, _, count = line.rstrip("\n").rpartition(" ")
    if not stack or not count.isdigit():
        return None
    parsed = []
    for frame in stack.split(";"):
        match = _FRAME.match(frame)
        if match is None:
            parsed.append((frame, ""))
        else:
            parsed.append((match["function"], match["file"]))
    return parsed, int(count)


def area_of(stack: list[tuple[str, str]]) -> str:
    for _, file in reversed(stack):
        for name, fragment in AREAS:
            if fragment in file:
                return name
    return "other"


class Summary:
    def __init__(self, paths: Iterable[Path]) -> None:
        self.total = 0
        self.inclusive: Counter[str] = Counter()
        self.own: Counter[str] = Counter()
        self.areas: Counter[str] = Counter()
        for path in paths:
            for line in path.read_text(errors="replace").splitlines():
                parsed = frames(line)
                if parsed is None:
                    continue
                stack, count = parsed
                self.total += count
                names = [f"{function} ({file})" for function, file in stack]
                for name in set(names):
                    self.inclusive[name] += count
                self.own[names[-1]] += count
                self.areas[area_of(stack)] += count

    def share(self, count: int) -> str:
        return f"{100 * count / self.total:5.1f}%" if self.total else "  -  "

    def report(self, top: int) -> str:
        lines = [f"{self.total} samples holding the GIL", "", "by area (innermost frame that belongs to one):"]
        lines += [f"  {self.share(c)}  {name}" for name, c in self.areas.most_common()]
        lines += ["", f"top {top} functions, inclusive:"]
        lines += [f"  {self.share(c)}  {name}" for name, c in self.inclusive.most_common(top)]
        lines += ["", f"top {top} functions, self:"]
        lines += [f"  {self.share(c)}  {name}" for name, c in self.own.most_common(top)]
        return "\n".join(lines)


def compare(a: Summary, b: Summary, top: int) -> str:
    """Areas side by side, in samples (not shares: the two runs did the same amount of work)."""
    names = sorted(set(a.areas) | set(b.areas), key=lambda n: -(a.areas[n] - b.areas[n]))
    lines = [f"{'area':45} {'first':>8} {'second':>8} {'diff':>8}"]
    for name in names[:top]:
        lines.append(f"{name:45} {a.areas[name]:8} {b.areas[name]:8} {a.areas[name] - b.areas[name]:8}")
    lines.append(f"{'total':45} {a.total:8} {b.total:8} {a.total - b.total:8}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profiling", description=__doc__.split("\n\n")[0])
    parser.add_argument("profiles", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--compare", action="store_true", help="two sets of profiles, separated by --")
    args = parser.parse_args(argv)
    if args.compare:
        raw = [str(p) for p in args.profiles]
        if "--" not in (argv or sys.argv[1:]):
            parser.error("--compare needs two sets separated by --")
        given = argv or sys.argv[1:]
        split = given.index("--")
        first = [Path(p) for p in given[:split] if p in raw]
        second = [Path(p) for p in given[split + 1 :] if p in raw]
        print(compare(Summary(first), Summary(second), args.top))
        return 0
    print(Summary(args.profiles).report(args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
