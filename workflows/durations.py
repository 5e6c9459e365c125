"""ISO 8601 durations as the contract carries them ("P14D", "PT30S", "P6M").

Calendar parts (years, months) are kept apart from exact parts so that "P1M" after 31 January lands on the last
day of February, as a person would expect, instead of after a fixed 30 days. Pure code: safe in the workflow
sandbox (no zoneinfo, no clock).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_PATTERN = re.compile(
    r"^P(?!$)"
    r"(?:(?P<years>\d+)Y)?"
    r"(?:(?P<months>\d+)M)?"
    r"(?:(?P<weeks>\d+)W)?"
    r"(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)"
    r"(?:(?P<hours>\d+)H)?"
    r"(?:(?P<minutes>\d+)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?"
    r")?$"
)


# Bounds for every duration in the contract: a timer shorter than a second only hammers the server, and
# nothing in a mentorship is planned further ahead than a decade.
MIN_DURATION = timedelta(seconds=1)
MAX_DURATION = timedelta(days=3653)  # ten calendar years, leap days included
# "At most ten years" is checked on the calendar: P10Y is, P10Y1D and P3654D are not.
_ANCHOR = datetime(2000, 1, 1)
_ANCHOR_PLUS_MAX = datetime(2010, 1, 1)


@dataclass(frozen=True)
class Duration:
    months: int
    exact: timedelta

    def after(self, start: datetime) -> datetime:
        """The moment this duration after ``start``: calendar months first, then the exact part."""
        if self.months:
            month_index = start.month - 1 + self.months
            year = start.year + month_index // 12
            month = month_index % 12 + 1
            day = min(start.day, calendar.monthrange(year, month)[1])
            start = start.replace(year=year, month=month, day=day)
        return start + self.exact

    def approximate(self) -> timedelta:
        """A fixed-length stand-in (a month as 30 days), only for comparing durations with each other."""
        return timedelta(days=30 * self.months) + self.exact

    def shortest(self) -> timedelta:
        """The least time it can span (every month a February)."""
        return timedelta(days=28 * self.months) + self.exact

    def longest(self) -> timedelta:
        """The most time it can span (every month 31 days)."""
        return timedelta(days=31 * self.months) + self.exact


def parse_duration(text: str) -> Duration:
    """Parse an ISO 8601 duration; raise ValueError saying what is wrong."""
    shown = repr(text if not isinstance(text, str) or len(text) <= 40 else text[:40] + "…")
    match = _PATTERN.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"{shown} is not an ISO 8601 duration; write it like 'P14D' (14 days), 'PT30S' (30 seconds), "
            "'P1M' (one calendar month) or 'P1DT12H'"
        )
    parts = {name: float(value) if value else 0.0 for name, value in match.groupdict().items()}
    # Checked before building a timedelta, which overflows (OverflowError, not ValueError) past 999,999,999 days.
    rough_days = (parts["years"] * 12 + parts["months"]) * 30 + parts["weeks"] * 7 + parts["days"]
    rough_days += (parts["hours"] * 3600 + parts["minutes"] * 60 + parts["seconds"]) / 86400
    if rough_days > MAX_DURATION.days:
        raise ValueError(f"{shown} is longer than ten years; a duration here must be at most P10Y")
    duration = Duration(
        months=int(parts["years"]) * 12 + int(parts["months"]),
        exact=timedelta(
            weeks=parts["weeks"],
            days=parts["days"],
            hours=parts["hours"],
            minutes=parts["minutes"],
            seconds=parts["seconds"],
        ),
    )
    if duration.exact < MIN_DURATION and not duration.months:
        raise ValueError(f"{shown} is shorter than one second; a duration here must be at least PT1S")
    if duration.after(_ANCHOR) > _ANCHOR_PLUS_MAX:
        raise ValueError(f"{shown} is longer than ten years; a duration here must be at most P10Y")
    return duration


# --- Defaults that fit what was given --------------------------------------------------------------------

USUAL_GRACE = "P3D"
USUAL_REMIND_AFTER = "P3D"


def iso_seconds(seconds: int) -> str:
    """Whole seconds as a compact ISO 8601 duration: 21600 -> 'PT6H', 90061 -> 'P1DT1H1M1S'."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "") if seconds else "PT0S"


def default_grace(check_in_every: str) -> str:
    """The follow-up nudge's delay when none was given: three days, or a quarter of a cadence too short for that
    (at least a second), so that the nudge always comes before the next check-in is due."""
    every = parse_duration(check_in_every).shortest()
    if parse_duration(USUAL_GRACE).longest() < every:
        return USUAL_GRACE
    return iso_seconds(max(1, int(every.total_seconds()) // 4))


def default_remind_after(respond_within: str, reminders: int) -> str:
    """The invitation reminders' interval when none was given: three days, or the response window shared out so
    that every reminder goes before the invitation expires."""
    window = parse_duration(respond_within).shortest()
    if parse_duration(USUAL_REMIND_AFTER).longest() * max(reminders, 1) < window:
        return USUAL_REMIND_AFTER
    return iso_seconds(max(1, int(window.total_seconds()) // (reminders + 1)))


# --- Saying durations the way people do -----------------------------------------------------------------


def count(number: int | float, unit: str) -> str:
    shown = f"{number:g}"
    return f"{shown} {unit}" if shown == "1" else f"{shown} {unit}s"


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def duration_units(value: str) -> list[tuple[str, int | float]]:
    """The parts a person would say, biggest first, for wording in any language (the email templates):
    'P1DT12H' -> [('day', 1), ('hour', 12)]; 'P2W' -> [('week', 2)]; 'P14D' -> [('day', 14)]."""
    duration = parse_duration(value)
    parts: list[tuple[str, int | float]] = []
    years, months = divmod(duration.months, 12)
    if years:
        parts.append(("year", years))
    if months:
        parts.append(("month", months))
    rest = duration.exact
    days = rest.days
    if days:
        weeks, leftover = divmod(days, 7)
        # Say it the way it was written: "P14D" is "14 days", "P2W" is "2 weeks".
        if "W" in value.upper() and not leftover:
            parts.append(("week", weeks))
        else:
            parts.append(("day", days))
    seconds = rest - timedelta(days=days)
    hours, remainder = divmod(seconds, timedelta(hours=1))
    minutes, remainder = divmod(remainder, timedelta(minutes=1))
    if hours:
        parts.append(("hour", hours))
    if minutes:
        parts.append(("minute", minutes))
    if remainder:
        exact = remainder.total_seconds()
        parts.append(("second", int(exact) if exact.is_integer() else exact))
    return parts


def _duration_parts(value: str) -> list[str]:
    return [count(number, unit) for unit, number in duration_units(value)]


def humanize_duration(value: str) -> str:
    """'P14D' -> '14 days', 'P2W' -> '2 weeks', 'P1M' -> '1 month', 'P1DT12H' -> '1 day and 12 hours'."""
    return _join(_duration_parts(value))


def humanize_every(value: str) -> str:
    """'P14D' -> 'every 14 days', 'P1W' -> 'every week', 'P1M' -> 'every month'."""
    parts = _duration_parts(value)
    if len(parts) == 1 and parts[0].startswith("1 "):
        return "every " + parts[0][2:]
    return "every " + _join(parts)
