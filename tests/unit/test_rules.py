"""Who may do what, at which stage (workflows/rules.py), judged without a server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import workflows.effects as effects
import workflows.rules as rules
from tests.support.builders import invitation
from workflows.actions import ACTIONS, PARTICIPANT_ACTIONS
from workflows.contract import (
    AcceptInput,
    CheckInInput,
    MentorshipStatus,
    PauseInput,
    Stage,
    WithdrawInput,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def invited() -> MentorshipStatus:
    """Ada mentors Ben, Ben asked: Ada is the invitee."""
    return effects.new_mentorship("mentorship-ada--ben.b", invitation(), NOW).state


def active() -> MentorshipStatus:
    state = invited()
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    return state


def test_only_the_invitee_accepts_or_declines() -> None:
    state = invited()
    rules.may_accept(state, AcceptInput(by="ada"), NOW)
    with pytest.raises(rules.Refused, match=r"only the invitee, 'ada' \(the mentor\), can accept; 'ben.b' sent"):
        rules.may_accept(state, AcceptInput(by="ben.b"), NOW)


def test_strangers_are_refused_before_anything_else() -> None:
    with pytest.raises(rules.Refused, match="'eve' is not part of this mentorship"):
        rules.may_check_in(active(), CheckInInput(by="eve"), NOW)


def test_the_invitee_declines_rather_than_withdraws() -> None:
    with pytest.raises(rules.Refused, match=r"only the initiator, 'ben\.b', can withdraw the invitation"):
        rules.may_withdraw(invited(), WithdrawInput(by="ada"), NOW)
    rules.may_withdraw(invited(), WithdrawInput(by="ben.b"), NOW)
    rules.may_withdraw(active(), WithdrawInput(by="ada"), NOW)


@pytest.mark.parametrize(
    ("stage_of", "name", "reason"),
    [
        (invited, "check_in", "check-ins start once the invitation is accepted"),
        (invited, "pause", "only an active mentorship can be paused"),
        (active, "resume", "the mentorship is not paused"),
        (active, "accept", "the invitation was already accepted; the mentorship is active"),
    ],
)
def test_actions_out_of_their_stage_are_refused(
    stage_of: Callable[[], MentorshipStatus], name: str, reason: str
) -> None:
    action = ACTIONS[name]
    with pytest.raises(rules.Refused, match=reason):
        action.rule(stage_of(), action.input(by="ada"), NOW)


def test_a_pause_ends_in_the_future_and_within_ten_years() -> None:
    state = active()
    with pytest.raises(rules.Refused, match="is not in the future"):
        rules.may_pause(state, PauseInput(by="ada", until=NOW), NOW)
    with pytest.raises(rules.Refused, match="more than ten years away"):
        rules.may_pause(state, PauseInput(by="ada", until=NOW + timedelta(days=3700)), NOW)
    rules.may_pause(state, PauseInput(by="ada", until=NOW + timedelta(days=7)), NOW)


def minimal(action: str, by: str) -> Any:
    """The smallest valid input of ``action`` by ``by`` (a proposal proposes something)."""
    extra = {"extend_term_by": "P1M"} if action == "propose_change" else {}
    return PARTICIPANT_ACTIONS[action].input.model_validate({"by": by, **extra})


def test_nothing_is_allowed_once_ended() -> None:
    state = active()
    effects.withdrawn(effects.Change(state, NOW), WithdrawInput(by="ada"))
    for action in PARTICIPANT_ACTIONS.values():
        with pytest.raises(rules.Refused, match=r"already ended \(withdrawn\)"):
            action.rule(state, minimal(action.name, "ada"), NOW)
    with pytest.raises(rules.Refused, match="invite again to start a new one"):
        rules.may_invite(state, invitation(initiated_by="mentor"), NOW)
    assert state.stage is Stage.WITHDRAWN


def test_an_invitation_must_name_the_same_pair() -> None:
    other = invitation(mentee={"id": "cy", "name": "Cy", "email": "cy@example.com"})
    with pytest.raises(rules.Refused, match="the invitation names mentor 'ada' and mentee 'cy'"):
        rules.may_invite(invited(), other, NOW)


def test_inputs_are_one_json_object_of_the_actions_model() -> None:
    with pytest.raises(rules.Refused, match="accept input is not valid: expected exactly one JSON object, got none"):
        ACTIONS["accept"].parse(())
    with pytest.raises(rules.Refused, match="check_in input is not valid: rating: "):
        ACTIONS["check_in"].parse(({"by": "ada", "rating": 9},))
    assert ACTIONS["check_in"].parse(({"by": "ada", "rating": 4},)) == CheckInInput(by="ada", rating=4)


def test_a_rule_changes_nothing() -> None:
    state = invited()
    before = state.model_dump()
    for action in PARTICIPANT_ACTIONS.values():
        try:
            action.rule(state, minimal(action.name, "ben.b"), NOW)
        except rules.Refused:
            pass
    assert state.model_dump() == before
