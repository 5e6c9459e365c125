"""What a mentorship says about itself (workflows/wording.py) and the shared text helpers (workflows/text.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import workflows.effects as effects
import workflows.wording as wording
from tests.support.builders import invitation
from workflows.contract import AcceptInput, Notice, WithdrawInput
from workflows.text import escape_html, moment, truncate

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_moments_read_the_same_everywhere() -> None:
    assert moment(datetime(2026, 12, 9, 14, 0, 5, tzinfo=UTC)) == "Wed 9 Dec 2026, 14:00 UTC"
    assert moment(datetime(2026, 12, 9, 14, 0, 5, tzinfo=UTC), seconds=True) == "Wed 9 Dec 2026, 14:00:05 UTC"
    assert moment(None) == "—" and moment(None, missing="earlier") == "earlier"
    assert truncate("abcdef", 4) == "abc…" and truncate("abc", 4) == "abc"
    assert escape_html('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"


def test_waiting_for_names_who_and_until_when() -> None:
    state = effects.new_mentorship("w", invitation(), NOW).state
    assert wording.waiting_for(state) == (
        "Ada Lovelace (mentor) to accept or decline, until Tue 15 Dec 2026, 09:00 UTC; "
        "invitation reminder 1 on Fri 4 Dec 2026, 09:00 UTC"
    )
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    assert wording.waiting_for(state) == "check-in 1, due Tue 15 Dec 2026, 09:00 UTC"
    effects.withdrawn(effects.Change(state, NOW + timedelta(days=1)), WithdrawInput(by="ben.b"))
    assert wording.waiting_for(state) == "nothing: the mentorship ended (withdrawn) on Wed 2 Dec 2026, 09:00 UTC"


def test_demo_timings_show_seconds() -> None:
    state = effects.new_mentorship(
        "w", invitation(check_in_every="PT30S", check_in_grace="PT10S", respond_within="PT1M"), NOW
    ).state
    assert "until Tue 1 Dec 2026, 09:01:00 UTC" in wording.waiting_for(state)


def test_details_and_email_summaries() -> None:
    start = effects.new_mentorship("w", invitation(), NOW)
    details = wording.details(start.state)
    assert details.startswith("**Stage:** invited\n\n**Waiting for:** Ada Lovelace (mentor)")
    assert "**Cadence:** every 14 days" in details
    assert wording.email_summary(start.notifications[0]) == "email: invitation to the mentor"
    assert set(wording.EMAIL_LABELS) == set(Notice)
