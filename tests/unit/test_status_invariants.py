"""The status invariants the workflow's property tests check (tests/support/invariants.py) catch broken states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.invariants import invariants
from workflows.contract import Invitation, MentorshipStatus


def test_the_invariants_catch_broken_states() -> None:
    """The checker of tests/support/invariants.py is not vacuous: a consistent status passes, and each kind of
    corruption is caught."""
    invitation = Invitation.model_validate(
        {
            "mentor": {"id": "ana", "name": "Ana", "email": "ana@example.com"},
            "mentee": {"id": "ben", "name": "Ben", "email": "ben@example.com"},
            "initiated_by": "mentee",
            "escalate_after_missed": 1,
        }
    )
    t0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    accepted = t0 + timedelta(hours=1)
    good = MentorshipStatus.model_validate(
        {
            "workflow_id": "mentorship-ana--ben",
            "stage": "active",
            "invitation": invitation,
            "invited_at": t0,
            "accepted_at": accepted,
            "next_check_in_due": accepted + timedelta(days=28),
            "cycle": 2,
            "missed_in_a_row": 1,
            "missed_total": 1,
            "at_risk": True,
            "timeline": [
                {"at": t0, "event": "invited", "by": "ben"},
                {"at": accepted, "event": "accepted", "by": "ana"},
                {"at": accepted + timedelta(days=28), "event": "check-in 1 missed"},
                {"at": accepted + timedelta(days=28), "event": "at risk"},
            ],
        }
    )
    assert invariants(good, accepted + timedelta(days=28)) == []

    def broken(now: datetime | None = None, **changes: Any) -> list[str]:
        return invariants(good.model_copy(update=changes), now)

    timeline = good.timeline
    corruptions: dict[str, list[str]] = {
        "active without a due date": broken(next_check_in_due=None),
        "at risk without misses": broken(missed_in_a_row=0, missed_total=0, timeline=timeline[:2], cycle=1),
        "cycle off by one": broken(cycle=3),
        "more in a row than in all": broken(missed_in_a_row=2),
        "accepted by the initiator": broken(timeline=[timeline[0], timeline[1].model_copy(update={"by": "ben"})]),
        "acted by a stranger": broken(
            timeline=[*timeline, timeline[1].model_copy(update={"event": "paused", "by": "eve"})]
        ),
        "declined, then active": broken(
            timeline=[timeline[0], timeline[0].model_copy(update={"event": "declined"}), timeline[1]]
        ),
        "ended but active": broken(ended_at=accepted),
        "a wrap-up while active": broken(wrap_up_sent=True),
        "a reminder overdue": broken(now=accepted + timedelta(days=40)),
        "sends pending once settled": broken(now=accepted, notifications_pending=1),
        "nudged before reminded": broken(cycle_nudged=True),
    }
    assert [what for what, found in corruptions.items() if not found] == []
