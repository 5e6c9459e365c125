"""Changes to the terms (rules and effects) and feedback after the end (workflows/feedback_rules.py), without a
server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

import workflows.effects as effects
import workflows.feedback_rules as feedback_rules
import workflows.rules as rules
from tests.support.builders import invitation
from workflows.contract import (
    AcceptChangeInput,
    AcceptInput,
    Audience,
    DeclineChangeInput,
    FeedbackInput,
    FeedbackStart,
    MentorshipStatus,
    Notice,
    ProposeChangeInput,
    Role,
    Stage,
    WithdrawChangeInput,
    WithdrawInput,
)
from workflows.plan import Due, after, next_due

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MENTOR, MENTEE = "ada", "ben.b"


def active(**overrides: Any) -> MentorshipStatus:
    state = effects.new_mentorship("mentorship-ada--ben.b", invitation(**overrides), NOW).state
    change = effects.Change(state, NOW)
    effects.accepted(change, AcceptInput(by=MENTOR))
    return state


def propose(state: MentorshipStatus, at: datetime = NOW, **fields: object) -> effects.Change:
    action = ProposeChangeInput.model_validate({"by": MENTEE, **fields})
    rules.may_propose_change(state, action, at)
    change = effects.Change(state, at)
    effects.change_proposed(change, action)
    return change


def test_a_proposal_goes_to_the_other_participant_and_waits_for_them() -> None:
    state = active()
    change = propose(state, check_in_every="P7D", note="weekly?")
    assert state.proposal is not None and state.proposal.role is Role.MENTEE
    assert state.proposal.lapses_at == NOW + timedelta(days=7)
    assert [(n.kind, n.to, n.step) for n in change.notifications] == [
        (Notice.CHANGE_PROPOSED, Audience.MENTOR, "change-1-proposed")
    ]
    assert next_due(state) is not None
    with pytest.raises(rules.Refused, match="only the other participant, 'ada', can accept"):
        rules.may_accept_change(state, AcceptChangeInput(by=MENTEE), NOW)
    with pytest.raises(rules.Refused, match="already proposed a change"):
        rules.may_propose_change(state, ProposeChangeInput(by=MENTOR, extend_term_by="P1M"), NOW)
    with pytest.raises(rules.Refused, match=r"only 'ben\.b', who proposed the change, can withdraw it"):
        rules.may_withdraw_change(state, WithdrawChangeInput(by=MENTOR), NOW)


def test_accepting_a_cadence_starts_a_fresh_cycle_and_a_term_moves_the_wrap_up() -> None:
    state = active(term="P3M")
    assert state.term_ends_at is not None
    term_end = state.term_ends_at
    propose(state, check_in_every="P7D", check_in_grace="P2D", extend_term_by="P1M")
    later = NOW + timedelta(days=3)
    rules.may_accept_change(state, AcceptChangeInput(by=MENTOR), later)
    change = effects.Change(state, later)
    effects.change_accepted(change, AcceptChangeInput(by=MENTOR, note="deal"))
    assert state.proposal is None and state.changes_agreed == 1
    assert (state.invitation.check_in_every, state.invitation.check_in_grace) == ("P7D", "P2D")
    assert state.next_check_in_due == later + timedelta(days=7)
    assert state.term_ends_at == after("P1M", term_end)
    assert [(n.kind, n.to) for n in change.notifications] == [
        (Notice.CHANGE_ACCEPTED, Audience.MENTEE),
        (Notice.TERM_CHANGED, Audience.COORDINATOR),
    ]


def test_a_term_where_there_was_none_ends_that_long_after_the_agreement() -> None:
    state = active()
    propose(state, extend_term_by="P2M")
    effects.change_accepted(effects.Change(state, NOW), AcceptChangeInput(by=MENTOR))
    assert state.term_ends_at == after("P2M", NOW)


def test_declined_withdrawn_and_lapsed_change_nothing_but_tell_someone() -> None:
    state = active()
    before = (state.invitation.check_in_every, state.term_ends_at, state.next_check_in_due)
    propose(state, check_in_every="P7D")
    change = effects.Change(state, NOW)
    effects.change_declined(change, DeclineChangeInput(by=MENTOR, reason="no"))
    assert [(n.kind, n.to) for n in change.notifications] == [(Notice.CHANGE_DECLINED, Audience.MENTEE)]
    propose(state, extend_term_by="P1M")
    change = effects.Change(state, NOW)
    effects.change_withdrawn(change, WithdrawChangeInput(by=MENTEE))
    assert [(n.kind, n.to) for n in change.notifications] == [(Notice.CHANGE_WITHDRAWN, Audience.MENTOR)]
    propose(state, extend_term_by="P1M", respond_within="P2D")
    due = next_due(state)
    assert due is not None and due.event is Due.CHANGE_LAPSES and due.at == NOW + timedelta(days=2)
    change = effects.Change(state, due.at)
    effects.fell_due(change, due)
    assert [(n.kind, n.to) for n in change.notifications] == [(Notice.CHANGE_LAPSED, Audience.MENTEE)]
    assert state.proposal is None and state.proposals == 3 and state.changes_agreed == 0
    assert (state.invitation.check_in_every, state.term_ends_at, state.next_check_in_due) == before


def test_a_proposal_lapses_with_the_term_at_the_latest() -> None:
    state = active(term="P5D")
    propose(state, extend_term_by="P1M")
    assert state.proposal is not None and state.proposal.lapses_at == state.term_ends_at
    due = next_due(state)
    assert due is not None and due.event is Due.TERM_ENDS  # on a tie the end comes first and takes it along
    effects.fell_due(effects.Change(state, due.at), due)
    assert state.stage is Stage.COMPLETED and state.proposal is None
    assert [e.event for e in state.timeline][-2:] == ["completed", "change 1 lapsed"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, "propose extend_term_by, check_in_every or both"),
        ({"extend_term_by": "P1M", "check_in_grace": "P1D"}, "check_in_grace goes with a new check_in_every"),
        ({"check_in_every": "P7D", "check_in_grace": "P7D"}, "must be shorter than check_in_every"),
        ({"check_in_every": "PT1S"}, "too short"),
        ({"extend_term_by": "soon"}, "extend_term_by"),
        ({"extend_term_by": "P1M", "extra": 1}, "Extra inputs are not permitted"),
    ],
)
def test_bad_proposals_are_refused_with_the_reason(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        ProposeChangeInput.model_validate({"by": MENTEE, **fields})


def test_no_change_before_acceptance_nor_after_the_end() -> None:
    invited = effects.new_mentorship("w", invitation(), NOW).state
    with pytest.raises(rules.Refused, match="once the invitation is accepted"):
        rules.may_propose_change(invited, ProposeChangeInput(by=MENTEE, extend_term_by="P1M"), NOW)
    state = active()
    effects.withdrawn(effects.Change(state, NOW), WithdrawInput(by=MENTEE))
    with pytest.raises(rules.Refused, match="already ended"):
        rules.may_propose_change(state, ProposeChangeInput(by=MENTEE, extend_term_by="P1M"), NOW)


# --- Feedback ----------------------------------------------------------------------------------------------


def start(**overrides: Any) -> FeedbackStart:
    inv = invitation(**overrides)
    return FeedbackStart(
        mentorship_workflow_id="mentorship-ada--ben.b",
        mentorship_key="mentorship-ada--ben.b.20261201T090000Z",
        invited_at=NOW,
        invitation=inv,
        ended=Stage.COMPLETED,
        ended_at=NOW,
    )


def test_feedback_is_asked_of_both_reminded_once_and_summarised() -> None:
    state, asks = feedback_rules.started("feedback-x", start(), NOW)
    assert [(n.kind, n.to, n.workflow_id) for n in asks] == [
        (Notice.FEEDBACK_REQUEST, Audience.MENTOR, "feedback-x"),
        (Notice.FEEDBACK_REQUEST, Audience.MENTEE, "feedback-x"),
    ]
    assert state.closes_at == NOW + timedelta(days=14)
    assert feedback_rules.given(state, FeedbackInput(by=MENTEE, rating=4), NOW) == []
    due = feedback_rules.next_due(state)
    assert due is not None and due.at == NOW + timedelta(days=7)
    reminders = feedback_rules.fell_due(state, due)
    assert [(n.kind, n.to) for n in reminders] == [(Notice.FEEDBACK_REMINDER, Audience.MENTOR)]
    due = feedback_rules.next_due(state)
    assert due is not None and due.event is feedback_rules.FeedbackDue.CLOSES
    summary = feedback_rules.fell_due(state, due)
    assert [(n.kind, n.to) for n in summary] == [(Notice.FEEDBACK_SUMMARY, Audience.COORDINATOR)]
    assert [a.rating for a in summary[0].feedback] == [4]
    assert state.closed and feedback_rules.next_due(state) is None
    with pytest.raises(rules.Refused, match="closed"):
        feedback_rules.may_give(state, FeedbackInput(by=MENTOR, rating=5), NOW)


def test_both_answers_close_the_window_at_once_and_each_answers_once() -> None:
    state, _ = feedback_rules.started("feedback-x", start(coordinator=None), NOW)
    feedback_rules.given(state, FeedbackInput(by=MENTOR, rating=5, would_continue=True), NOW)
    with pytest.raises(rules.Refused, match="already gave feedback"):
        feedback_rules.may_give(state, FeedbackInput(by=MENTOR, rating=5), NOW)
    with pytest.raises(rules.Refused, match="not part of this mentorship"):
        feedback_rules.may_give(state, FeedbackInput(by="cleo", rating=5), NOW)
    assert feedback_rules.given(state, FeedbackInput(by=MENTEE, rating=3), NOW) == []  # no coordinator, no summary
    assert state.closed and not state.summary_sent


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, "rating"),
        ({"rating": 0}, "greater than or equal to 1"),
        ({"rating": 6}, "less than or equal to 5"),
        ({"rating": 4.5}, "valid integer"),
        ({"rating": 4, "would_continue": "yes"}, "valid boolean"),
        ({"rating": 4, "stars": 5}, "Extra inputs are not permitted"),
    ],
)
def test_bad_feedback_is_refused_with_the_reason(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        FeedbackInput.model_validate({"by": MENTOR, **fields})
