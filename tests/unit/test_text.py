"""Dates as people read them in messages and details (workflows/text.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from workflows.text import moment


def test_dates_are_shown_in_utc() -> None:
    assert moment(datetime(2026, 12, 9, 14, 0, tzinfo=UTC)) == "Wed 9 Dec 2026, 14:00 UTC"
    assert moment(datetime.fromisoformat("2026-12-09T23:30:00-05:00")) == "Thu 10 Dec 2026, 04:30 UTC"
