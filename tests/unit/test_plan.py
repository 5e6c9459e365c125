"""What falls due next (workflows/plan.py), computed from the state alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import workflows.effects as effects
from tests.support.builders import invitation
from workflows.contract import AcceptInput, PauseInput
from workflows.plan import Due, after, next_due

NOW = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)


def test_an_invitation_is_reminded_then_expires() -> None:
    state = effects.new_mentorship("w", invitation(remind_after="P3D", invitation_reminders=2), NOW).state
    due = next_due(state)
    assert due is not None and (due.event, due.at, due.summary) == (
        Due.INVITATION_REMINDER,
        NOW + timedelta(days=3),
        "invitation reminder 1",
    )
    for _ in range(2):
        effects.invitation_reminder(effects.Change(state, NOW))
    due = next_due(state)
    assert due is not None and (due.event, due.at) == (Due.INVITATION_EXPIRY, NOW + timedelta(days=14))


def test_a_cycle_is_due_then_nudged_then_missed() -> None:
    state = effects.new_mentorship("w", invitation(check_in_every="P1M", check_in_grace="P3D"), NOW).state
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    # One calendar month after 31 January is the last day of February.
    first = datetime(2026, 2, 28, 9, 0, tzinfo=UTC)
    assert next_due(state) == next_due(state) and next_due(state).at == first  # type: ignore[union-attr]
    effects.check_in_due(effects.Change(state, first))
    assert next_due(state).event is Due.CHECK_IN_NUDGE  # type: ignore[union-attr]
    effects.check_in_nudge(effects.Change(state, first))
    due = next_due(state)
    assert due is not None and (due.event, due.at) == (Due.CHECK_IN_MISSED, after("P1M", first))


def test_the_term_ends_before_another_reminder_on_a_tie() -> None:
    state = effects.new_mentorship("w", invitation(check_in_every="P14D", term="P14D"), NOW).state
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    assert next_due(state).event is Due.TERM_ENDS  # type: ignore[union-attr]


def test_a_pause_waits_for_its_end_or_nothing() -> None:
    state = effects.new_mentorship("w", invitation(), NOW).state
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    effects.paused(effects.Change(state, NOW), PauseInput(by="ben.b"))
    assert next_due(state) is None
    state.paused_until = NOW + timedelta(days=5)
    assert next_due(state).event is Due.PAUSE_ENDS  # type: ignore[union-attr]
