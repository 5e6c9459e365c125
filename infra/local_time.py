"""A moment as a person reads it: in their time zone, with its abbreviation, in their locale's words.

Used where people read (emails, link pages, the HTTP API's status for a reader); never in a workflow, which must not
depend on the zone database of the worker that replays it (workflows/zones.py validates the names only).

- Neither a zone nor a locale: exactly ``workflows.text.moment``, 'Tue 9 Dec 2026, 14:00 UTC' (UTC, said so).
- A zone without a locale: the same English shape in their zone, 'Tue 9 Dec 2026, 15:00 CET'.
- A locale: Babel's pattern for it, 'Tue, Dec 9, 2026, 9:00 AM EST' (en-US), 'Tue, 9 Dec 2026, 14:00 GMT' (en-GB).

The abbreviation is the zone database's ('CET', 'CEST', 'IST', 'PST'); a zone that has none ('+0545' for
Asia/Kathmandu) reads as its offset from UTC ('UTC+05:45').
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime, tzinfo

from babel.dates import format_skeleton, format_time
from babel.numbers import format_decimal

from workflows.contract import Person
from workflows.text import moment

# English whatever the worker's locale, as workflows.text.moment reads.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@functools.cache
def zone(name: str | None) -> tzinfo:
    return UTC if name is None else zoneinfo.ZoneInfo(name)


def abbreviation(local: datetime) -> str:
    """'CET', 'IST', 'PST'; 'UTC+05:45' for a zone whose database entry has only a numeric name."""
    name = local.tzname() or "UTC"
    if name[0] in "+-":
        offset = local.utcoffset()
        assert offset is not None
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        hours, rest = divmod(abs(minutes), 60)
        return f"UTC{sign}{hours:02d}:{rest:02d}" if rest else f"UTC{sign}{hours:02d}"
    return name


def local_moment(
    value: datetime | None,
    time_zone: str | None = None,
    locale: str | None = None,
    *,
    seconds: bool = False,
    missing: str = "—",
) -> str:
    """``value`` as someone in ``time_zone`` speaking ``locale`` reads it (see the module's docstring)."""
    if value is None:
        return missing
    if time_zone is None and locale is None:
        return moment(value, seconds=seconds, missing=missing)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone(time_zone))
    if locale is None:
        clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
        day = f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}"
        return f"{day}, {clock} {abbreviation(local)}"
    babel_locale = locale.replace("-", "_")
    day = format_skeleton("yMMMEd", local, locale=babel_locale, fuzzy=True)
    clock = format_time(local, "medium" if seconds else "short", tzinfo=local.tzinfo, locale=babel_locale)
    return f"{day}, {clock} {abbreviation(local)}"


def moment_for(person: Person | None, value: datetime | None, *, seconds: bool = False, missing: str = "—") -> str:
    """``value`` as ``person`` reads it (UTC, in English, for nobody in particular)."""
    if person is None:
        return moment(value, seconds=seconds, missing=missing)
    return local_moment(value, person.time_zone, person.locale, seconds=seconds, missing=missing)


def number_for(person: Person | None, value: int | float) -> str:
    """A number as ``person``'s locale writes it ('1,234.5' in en-US, '1.234,5' in de)."""
    if person is None or person.locale is None:
        return f"{value:g}" if isinstance(value, float) else str(value)
    return format_decimal(value, locale=person.locale.replace("-", "_"))
