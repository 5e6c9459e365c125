"""What each action and timed event changes and whom it tells (workflows/effects.py), without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import workflows.effects as effects
import workflows.metrics as metrics
import workflows.rules as rules
from tests.support.builders import invitation
from workflows.contract import (
    AcceptInput,
    Audience,
    CheckInInput,
    MentorshipStatus,
    Notice,
    PauseInput,
    ResumeInput,
    Role,
    Stage,
    mentorship_key,
)
from workflows.plan import Due, next_due

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_an_invitation_asks_the_invitee_and_confirms_to_the_initiator() -> None:
    start = effects.new_mentorship("mentorship-ada--ben.b", invitation(), NOW)
    assert [(n.kind, n.to, n.step) for n in start.notifications] == [
        (Notice.INVITATION, Audience.MENTOR, "invitation"),
        (Notice.INVITATION_SENT, Audience.MENTEE, "invitation-sent"),
    ]
    assert all(n.invited_at == NOW for n in start.notifications)
    assert start.notifications[0].mentorship_key == mentorship_key("mentorship-ada--ben.b", NOW)
    assert start.counts == [(metrics.INVITATIONS, {"initiated_by": "mentee"})]
    assert [entry.event for entry in start.state.timeline] == ["invited"]


def test_the_same_side_inviting_again_changes_nothing() -> None:
    state = effects.new_mentorship("w", invitation(), NOW).state
    change = effects.Change(state, NOW)
    effects.invited(change, invitation())
    assert not change.changed and not change.notifications and state.stage is Stage.INVITED
    effects.invited(change, invitation(initiated_by=Role.MENTOR))
    assert change.changed and state.stage is Stage.ACTIVE
    assert change.counts == [(metrics.ACCEPTANCES, {"via": "mutual_invitation"})]


def test_missed_check_ins_escalate_once_and_a_check_in_puts_it_back_on_track() -> None:
    state = effects.new_mentorship("w", invitation(escalate_after_missed=2), NOW).state
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    told = []
    for _ in range(3):
        due = next_due(state)
        assert due is not None
        while due.event is not Due.CHECK_IN_MISSED:
            effects.fell_due(effects.Change(state, due.at), due)
            due = next_due(state)
            assert due is not None
        change = effects.Change(state, due.at)
        effects.fell_due(change, due)
        told += [n for n in change.notifications if n.kind is Notice.AT_RISK]
    assert state.at_risk and state.missed_in_a_row == 3 and len(told) == 1 and told[0].to is Audience.COORDINATOR
    change = effects.Change(state, NOW + timedelta(days=60))
    effects.checked_in(change, CheckInInput(by="ben.b", rating=5))
    assert not state.at_risk and state.missed_in_a_row == 0
    assert [n.kind for n in change.notifications] == [Notice.BACK_ON_TRACK]


def test_pause_and_resume_tell_the_other_and_start_a_fresh_cycle() -> None:
    state = effects.new_mentorship("w", invitation(check_in_every="P14D"), NOW).state
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    change = effects.Change(state, NOW)
    effects.paused(change, PauseInput(by="ada", reason="travelling"))
    assert state.stage is Stage.PAUSED and [(n.kind, n.to, n.step) for n in change.notifications] == [
        (Notice.PAUSED, Audience.MENTEE, "pause-1")
    ]
    later = NOW + timedelta(days=30)
    change = effects.Change(state, later)
    effects.resumed(change, ResumeInput(by="ben.b"))
    assert state.next_check_in_due == later + timedelta(days=14)
    assert [(n.to, n.step) for n in change.notifications] == [(Audience.MENTOR, "resume-1")]


def test_the_term_ends_at_its_due_time_with_a_wrap_up_to_both() -> None:
    state = effects.new_mentorship("w", invitation(term="P1M"), NOW).state
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    assert state.term_ends_at is not None
    change = effects.Change(state, state.term_ends_at)
    effects.term_ended(change)
    assert state.stage is Stage.COMPLETED and state.ended_at == state.term_ends_at and state.wrap_up_sent
    assert [(n.kind, n.to) for n in change.notifications] == [
        (Notice.WRAP_UP, Audience.MENTOR),
        (Notice.WRAP_UP, Audience.MENTEE),
    ]


def test_refusals_and_failures_keep_only_the_latest_few_cut_short() -> None:
    state = effects.new_mentorship("w", invitation(), NOW).state
    for i in range(effects.KEEP_LATEST + 5):
        effects.signal_refused(state, "accept", {"by": "x" * 1000}, f"reason {i} " + "y" * 1000, NOW)
    assert len(state.refused_signals) == effects.KEEP_LATEST
    assert state.refused_signals[-1].reason.startswith(f"reason {effects.KEEP_LATEST + 4} ")
    assert len(state.refused_signals[-1].reason) == effects.KEEP_CHARACTERS_REASON
    assert len(state.refused_signals[-1].by or "") == effects.KEEP_CHARACTERS_BY
    start = effects.new_mentorship("w", invitation(), NOW)
    change = effects.Change(start.state, NOW)
    effects.notification_failed(change, start.notifications[0], "550 no such user")
    assert start.state.notifications_failed == 1 and start.state.timeline[-1].detail == (
        "invitation to the mentor: 550 no such user"
    )


def test_a_reminder_repeated_after_a_pause_is_another_message() -> None:
    """Check-in 1 reminded and nudged, paused, resumed: its new reminder and nudge are due at other times, so they
    are other messages under other steps (Message-IDs), while the first ones keep theirs."""
    state = effects.new_mentorship("w", invitation(check_in_every="P14D", check_in_grace="P3D"), NOW).state
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    steps: list[str] = []
    for round_ in range(3):
        for _ in range(2):  # reminded, then nudged
            due = next_due(state)
            assert due is not None
            change = effects.Change(state, due.at)
            effects.fell_due(change, due)
            steps += [n.step for n in change.notifications if n.to is Audience.MENTOR]
        at = NOW + timedelta(days=20 * (round_ + 1))
        effects.paused(effects.Change(state, at), PauseInput(by="ada"))
        effects.resumed(effects.Change(state, at + timedelta(days=1)), ResumeInput(by="ben.b"))
    assert steps == [
        "check-in-1-due",
        "check-in-1-nudge",
        "check-in-1-due-2",
        "check-in-1-nudge-2",
        "check-in-1-due-3",
        "check-in-1-nudge-3",
    ]
    # A check-in moves on to the next number, whose steps start afresh.
    effects.checked_in(effects.Change(state, NOW + timedelta(days=80)), CheckInInput(by="ben.b"))
    due = next_due(state)
    assert due is not None
    change = effects.Change(state, due.at)
    effects.fell_due(change, due)
    assert change.notifications[0].step == "check-in-2-due"


def test_catch_up_applies_every_event_due_in_order_at_its_own_time() -> None:
    state = effects.new_mentorship("w", invitation(check_in_every="P7D", check_in_grace="P2D"), NOW).state
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    changes = effects.catch_up(state, NOW + timedelta(days=15))
    assert [(entry.event, entry.at - NOW) for entry in state.timeline[2:]] == [
        ("check-in 1 due", timedelta(days=7)),
        ("check-in 1 follow-up", timedelta(days=9)),
        ("check-in 1 missed", timedelta(days=14)),
        ("check-in 2 due", timedelta(days=14)),
    ]
    assert len(changes) == 4 and effects.catch_up(state, NOW + timedelta(days=15)) == []


def test_the_state_stays_bounded_however_long_and_whatever_callers_send() -> None:
    """A thousand check-ins with notes of 2,000 characters: the status keeps the latest, counts them all, and
    stays far below Temporal's payload limit."""
    state = effects.new_mentorship("w", invitation(), NOW).state
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    for i in range(1000):
        effects.checked_in(effects.Change(state, NOW + timedelta(minutes=i)), CheckInInput(by="ben.b", note="n" * 2000))
    assert state.check_ins_recorded == 1000 and len(state.check_ins) == effects.KEEP_CHECK_INS
    assert state.check_ins[-1].number == 1000 and state.cycle == 1001
    assert len(state.timeline) == effects.KEEP_TIMELINE
    assert state.timeline_entries_dropped == 1002 - effects.KEEP_TIMELINE
    assert len(state.model_dump_json()) < 512 * 1024


def test_pauses_are_limited_to_three_a_day_with_the_reason() -> None:
    state = effects.new_mentorship("w", invitation(), NOW).state
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    at = NOW
    for _ in range(3):
        rules.may_pause(state, PauseInput(by="ada"), at)
        effects.paused(effects.Change(state, at), PauseInput(by="ada"))
        effects.resumed(effects.Change(state, at), ResumeInput(by="ben.b"))
        at += timedelta(hours=1)
    with pytest.raises(
        rules.Refused, match=r"paused 3 times in the last 24 hours.*again from Wed 2 Dec 2026, 09:00 UTC"
    ):
        rules.may_pause(state, PauseInput(by="ada"), at)
    rules.may_pause(state, PauseInput(by="ada"), NOW + timedelta(days=1, seconds=1))
    assert (state.pauses, state.resumes) == (3, 3)


def test_counters_are_derived_for_state_carried_from_before_they_existed() -> None:
    state = effects.new_mentorship("w", invitation(), NOW).state
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    effects.paused(effects.Change(state, NOW), PauseInput(by="ada"))
    effects.resumed(effects.Change(state, NOW), ResumeInput(by="ada"))
    effects.checked_in(effects.Change(state, NOW), CheckInInput(by="ada"))
    old = state.model_dump(mode="json", exclude={"check_ins_recorded", "pauses", "resumes", "recent_pauses"})
    carried = MentorshipStatus.model_validate(old)
    assert (carried.check_ins_recorded, carried.pauses, carried.resumes) == (1, 1, 1)


def test_an_email_carries_the_invitations_text_only_where_it_shows_it() -> None:
    """Every email's input stays in the history: the invitation's message and focus areas go only with the
    invitation and its reminders, which show them."""
    start = effects.new_mentorship("w", invitation(message="m" * 2000, focus_areas=["talks"]), NOW)
    state = start.state
    reminder = effects.Change(state, NOW)
    effects.invitation_reminder(reminder)
    accepted = effects.Change(state, NOW)
    effects.accepted(accepted, AcceptInput(by="ada"))
    sent = start.notifications + reminder.notifications + accepted.notifications
    shown = {n.kind: (n.invitation.message, n.invitation.focus_areas) for n in sent}
    assert shown[Notice.INVITATION] == shown[Notice.INVITATION_REMINDER] == ("m" * 2000, ["talks"])
    assert shown[Notice.INVITATION_SENT] == shown[Notice.MENTORSHIP_STARTED] == (None, [])
    assert state.invitation.message == "m" * 2000  # the status keeps it
