"""The one set of text helpers every layer shares: how a moment reads, how long text is cut short, how text is
made safe for HTML.

Pure code with no locale and no clock, so the workflow sandbox passes it through: the workflow's timeline and
current details, the emails and the link pages all say a moment the same way.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

# English whatever the worker's locale, which strftime's %a and %b would follow.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def moment(value: datetime | None, *, seconds: bool = False, missing: str = "—") -> str:
    """'Tue 9 Dec 2026, 14:00 UTC' (with ':05' before ' UTC' when ``seconds``); ``missing`` for no moment."""
    if value is None:
        return missing
    if value.tzinfo is None:
        # Everything here works in UTC; a naive value can only have come from there.
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    clock = f"{value:%H:%M:%S}" if seconds else f"{value:%H:%M}"
    return f"{_WEEKDAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1]} {value.year}, {clock} UTC"


def truncate(text: str, limit: int) -> str:
    """``text`` of at most ``limit`` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape_html(text: str) -> str:
    """Text typed by people, safe inside HTML elements and quoted attributes."""
    return html.escape(text, quote=True)
