"""What falls due next: the timed events of a mentorship, computed from its state alone.

Pure: no clock, no I/O. The workflow asks ``next_due`` after every change and keeps one durable timer for the
answer; unit tests ask it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from workflows.contract import MentorshipStatus, Stage
from workflows.durations import parse_duration


class Due(StrEnum):
    """The timed events a mentorship waits for."""

    INVITATION_REMINDER = "invitation_reminder"
    INVITATION_EXPIRY = "invitation_expiry"
    CHECK_IN_DUE = "check_in_due"
    CHECK_IN_NUDGE = "check_in_nudge"
    CHECK_IN_MISSED = "check_in_missed"
    PAUSE_ENDS = "pause_ends"
    TERM_ENDS = "term_ends"
    CHANGE_LAPSES = "change_lapses"


@dataclass(frozen=True)
class NextDue:
    event: Due
    at: datetime
    # What the Temporal UI shows for the timer ("check-in 3 due"); also read by the waiting-for text.
    summary: str


def after(duration: str, start: datetime) -> datetime:
    """The moment an ISO 8601 ``duration`` after ``start``, months on the calendar."""
    return parse_duration(duration).after(start)


def next_due(state: MentorshipStatus) -> NextDue | None:
    """The earliest timed event of the current stage; None once nothing is waited for (the mentorship ended)."""
    inv = state.invitation
    candidates: list[NextDue] = []
    if state.stage is Stage.INVITED:
        assert state.expires_at is not None
        n = state.invitation_reminders_sent + 1
        if n <= inv.invitation_reminders:
            at = state.invited_at
            for _ in range(n):
                at = after(inv.remind_after, at)
            if at < state.expires_at:
                candidates.append(NextDue(Due.INVITATION_REMINDER, at, f"invitation reminder {n}"))
        candidates.append(NextDue(Due.INVITATION_EXPIRY, state.expires_at, "invitation expires"))
    elif state.stage is Stage.ACTIVE:
        due = state.next_check_in_due
        assert due is not None
        if state.term_ends_at is not None:
            candidates.append(NextDue(Due.TERM_ENDS, state.term_ends_at, "term ends: wrap-up"))
        if not state.cycle_reminded:
            candidates.append(NextDue(Due.CHECK_IN_DUE, due, f"check-in {state.cycle} due"))
        elif not state.cycle_nudged:
            nudge_at = after(inv.check_in_grace, due)
            candidates.append(NextDue(Due.CHECK_IN_NUDGE, nudge_at, f"check-in {state.cycle} follow-up"))
        else:
            missed_at = after(inv.check_in_every, due)
            candidates.append(NextDue(Due.CHECK_IN_MISSED, missed_at, f"check-in {state.cycle} missed unless recorded"))
    elif state.stage is Stage.PAUSED:
        if state.term_ends_at is not None:
            candidates.append(NextDue(Due.TERM_ENDS, state.term_ends_at, "term ends: wrap-up"))
        if state.paused_until is not None:
            candidates.append(NextDue(Due.PAUSE_ENDS, state.paused_until, "pause ends"))
    if state.proposal is not None and state.stage in (Stage.ACTIVE, Stage.PAUSED):
        # After the term's end on a tie: the end takes the proposal with it.
        proposal = state.proposal
        candidates.append(NextDue(Due.CHANGE_LAPSES, proposal.lapses_at, f"change {proposal.number} lapses"))
    # Earliest first; on a tie the order above wins (the term ends before another reminder goes out).
    return min(candidates, key=lambda c: c.at) if candidates else None
