"""The figures the fault, bad-input and property tests produce, for the README's "Reliability" section.

Each test calls ``report(...)`` with what it ran and saw. At the end of the session the figures are printed as a
table (so CI's log carries them) and written to ``.data/reliability.json``. Tests assert on their own figures
(no loss, no invalid state); this module only collects and shows them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
REPORT_FILE = ROOT / ".data" / "reliability.json"


@dataclass
class Figures:
    """One test's figures; a figure that does not apply stays 0."""

    mentorships: int = 0
    faults_injected: int = 0
    emails_expected: int = 0
    emails_delivered: int = 0
    emails_duplicated: int = 0
    emails_lost: int = 0
    inputs_tried: int = 0
    inputs_refused: int = 0
    invalid_states: int = 0
    events_expected: int = 0
    events_delivered: int = 0
    events_duplicated: int = 0
    events_lost: int = 0
    note: str = ""


FIGURES: dict[str, Figures] = {}


def report(test: str, **figures: int | str) -> Figures:
    """Record (or add to) the figures of ``test``; returns them."""
    current = FIGURES.setdefault(test, Figures())
    for name, value in figures.items():
        if name == "note":
            current.note = str(value)
        else:
            setattr(current, name, getattr(current, name) + int(value))
    return current


COLUMNS = [f.name for f in fields(Figures) if f.name != "note"]


def table() -> list[str]:
    if not FIGURES:
        return []
    short = {
        "mentorships": "mentorships",
        "faults_injected": "faults",
        "emails_expected": "expected",
        "emails_delivered": "delivered",
        "emails_duplicated": "duplicated",
        "emails_lost": "lost",
        "inputs_tried": "inputs",
        "inputs_refused": "refused",
        "invalid_states": "invalid states",
        "events_expected": "events",
        "events_delivered": "delivered",
        "events_duplicated": "duplicated",
        "events_lost": "lost",
    }
    width = max(len(name) for name in FIGURES) + 2
    lines = [f"{'test':<{width}}" + "".join(f"{short[c]:>{len(short[c]) + 2}}" for c in COLUMNS)]
    totals = Figures()
    for name, figures in sorted(FIGURES.items()):
        lines.append(f"{name:<{width}}" + "".join(f"{getattr(figures, c):>{len(short[c]) + 2}}" for c in COLUMNS))
        for c in COLUMNS:
            setattr(totals, c, getattr(totals, c) + getattr(figures, c))
    lines.append(f"{'total':<{width}}" + "".join(f"{getattr(totals, c):>{len(short[c]) + 2}}" for c in COLUMNS))
    return lines


def write() -> None:
    if not FIGURES:
        return
    REPORT_FILE.parent.mkdir(exist_ok=True)
    REPORT_FILE.write_text(json.dumps({name: asdict(f) for name, f in sorted(FIGURES.items())}, indent=2) + "\n")
