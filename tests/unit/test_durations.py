"""ISO 8601 durations as people read them (workflows/durations.py)."""

from __future__ import annotations

import pytest

from workflows.durations import humanize_duration, humanize_every


@pytest.mark.parametrize(
    ("iso", "every", "plain"),
    [
        ("P14D", "every 14 days", "14 days"),
        ("P1D", "every day", "1 day"),
        ("P1W", "every week", "1 week"),
        ("P2W", "every 2 weeks", "2 weeks"),
        ("P1M", "every month", "1 month"),
        ("P1Y6M", "every 1 year and 6 months", "1 year and 6 months"),
        ("P1DT12H", "every 1 day and 12 hours", "1 day and 12 hours"),
        ("PT30S", "every 30 seconds", "30 seconds"),
    ],
)
def test_durations_read_humanly(iso: str, every: str, plain: str) -> None:
    assert humanize_every(iso) == every
    assert humanize_duration(iso) == plain
