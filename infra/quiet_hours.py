"""Waking hours: when an email that would reach someone at night should go instead (pure, no clock).

A deployment sets ``MENTORSHIP_QUIET_HOURS=21:00-08:00``; an email issued inside that window of its recipient's
local time is held until the window ends there. People without a time zone are never held (nobody knows when
they sleep). Due times do not move: only the email waits.

The decision reads the zone database, which may differ between the worker that made it and one that replays the
workflow later. So it is made in the email activity (activities/mailer.py), whose answer ("held until ...") is
recorded in the workflow's history; a replay reads the answer and never decides again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from infra.local_time import zone

_WINDOW = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


@dataclass(frozen=True)
class QuietHours:
    """A daily window of local time, ``start`` inclusive, ``end`` exclusive; it may wrap past midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """'21:00-08:00'; a ValueError saying what is expected otherwise."""
        match = _WINDOW.match(text)
        if match is None:
            raise ValueError(f"{text!r} is not a quiet-hours window; write it as HH:MM-HH:MM, e.g. '21:00-08:00'")
        start = time(int(match[1]), int(match[2]))
        end = time(int(match[3]), int(match[4]))
        if start == end:
            raise ValueError(f"{text!r}: the quiet hours start and end at the same time; leave the setting unset")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, clock: time) -> bool:
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end


def held_until(issued_at: datetime, time_zone: str | None, quiet: QuietHours | None) -> datetime | None:
    """When an email issued at ``issued_at`` may reach someone in ``time_zone``: None for at once, else the end of
    their quiet hours (UTC). Across a daylight-saving change the end is the first moment the wall clock there
    reads it (or, when the change skips it, the first moment after the gap)."""
    if quiet is None or time_zone is None:
        return None
    if issued_at.tzinfo is None:
        issued_at = issued_at.replace(tzinfo=UTC)
    where = zone(time_zone)
    local = issued_at.astimezone(where)
    if not quiet.contains(local.timetz().replace(tzinfo=None)):
        return None
    day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        day += timedelta(days=1)  # in the evening part of a window that wraps: it ends tomorrow morning
    # fold=0: a time that occurs twice (clocks going back) is its first occurrence; one that never occurs (clocks
    # going forward) is read with the offset before the change, which lands just after the gap.
    end = datetime.combine(day, quiet.end, tzinfo=where).astimezone(UTC)
    return end if end > issued_at else None
