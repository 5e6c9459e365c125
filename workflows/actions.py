"""The action table: every action a mentorship takes, as a signal and as an update of the same name.

One row per action: its name (the signal's and the update's, part of the public contract), its input model
(one JSON object), its rule (``workflows/rules.py``: who may do it at which stage; refuses with a reason) and
its effect (``workflows/effects.py``: what it changes and whom it tells). The workflow class builds its handlers
from these rows (``workflows/handlers.py``), the CLI its verbs, the HTTP API its routes. Adding an
action is a row here plus its rule and its effect, its two lines in the workflow class (the signal and the update,
listed there so that a reader finds every handler in one place), and, when it tells someone, its notice's
wording in ``activities/messages.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

import workflows.effects as effects
import workflows.rules as rules
from workflows.contract import (
    AcceptChangeInput,
    AcceptInput,
    ActionInput,
    CheckInInput,
    DeclineChangeInput,
    DeclineInput,
    Invitation,
    MentorshipStatus,
    PauseInput,
    ProposeChangeInput,
    ResumeInput,
    WithdrawChangeInput,
    WithdrawInput,
)

InputT = TypeVar("InputT", bound=BaseModel)


def _never(state: MentorshipStatus, parsed: Any) -> bool:
    return False


def _always(state: MentorshipStatus, parsed: Any) -> bool:
    return True


@dataclass(frozen=True)
class Action(Generic[InputT]):
    name: str
    input: type[InputT]
    rule: Callable[[MentorshipStatus, InputT, datetime], None]
    effect: Callable[[effects.Change, InputT], None]
    # What the HTTP API says of it: its operation's summary and description.
    summary: str
    description: str
    # Whether, applied to this state, it makes the mentorship active: then it first takes a place with both people
    # (workflows/person.py), and is refused with the reason when either has none free.
    activates: Callable[[MentorshipStatus, InputT], bool] = _never

    def parse(self, inputs: tuple[Any, ...]) -> InputT:
        return rules.parse_input(self.name, self.input, inputs)


INVITE = Action(
    "invite",
    Invitation,
    rules.may_invite,
    effects.invited,
    "Invite",
    "An invitation to an open mentorship of the same pair: from the other side, it is agreement.",
    effects.is_agreement,
)
ACCEPT = Action(
    "accept",
    AcceptInput,
    rules.may_accept,
    effects.accepted,
    "Accept (the invitee)",
    "The invitee accepts the invitation: the mentorship becomes active and both are told (if both have a free "
    "place; see the Person workflow).",
    _always,
)
DECLINE = Action(
    "decline",
    DeclineInput,
    rules.may_decline,
    effects.declined,
    "Decline (the invitee)",
    "The invitee declines the invitation; the initiator is told.",
)
WITHDRAW = Action(
    "withdraw",
    WithdrawInput,
    rules.may_withdraw,
    effects.withdrawn,
    "Withdraw",
    "The initiator withdraws the invitation, or either participant ends an active or paused mentorship.",
)
CHECK_IN = Action(
    "check_in",
    CheckInInput,
    rules.may_check_in,
    effects.checked_in,
    "Record a check-in",
    "Either participant records the check-in that is due (an early one counts for the current cycle).",
)
PAUSE = Action(
    "pause",
    PauseInput,
    rules.may_pause,
    effects.paused,
    "Pause",
    "Either participant pauses an active mentorship, until resumed or until `until`.",
)
RESUME = Action(
    "resume",
    ResumeInput,
    rules.may_resume,
    effects.resumed,
    "Resume",
    "Either participant resumes a paused mentorship; a fresh check-in cycle starts.",
)

PROPOSE_CHANGE = Action(
    "propose_change",
    ProposeChangeInput,
    rules.may_propose_change,
    effects.change_proposed,
    "Propose a change to the terms",
    "Either participant proposes a longer term and/or another check-in cadence, while active or paused; only the "
    "other participant's acceptance applies it. One open proposal at a time; it lapses after `respond_within`.",
)
ACCEPT_CHANGE = Action(
    "accept_change",
    AcceptChangeInput,
    rules.may_accept_change,
    effects.change_accepted,
    "Accept the proposed change (the other participant)",
    "The other participant agrees: the change applies now (a new cadence starts a fresh cycle; a longer term moves "
    "the wrap-up) and the proposer is told.",
)
DECLINE_CHANGE = Action(
    "decline_change",
    DeclineChangeInput,
    rules.may_decline_change,
    effects.change_declined,
    "Decline the proposed change (the other participant)",
    "The other participant declines: nothing changes and the proposer is told.",
)
WITHDRAW_CHANGE = Action(
    "withdraw_change",
    WithdrawChangeInput,
    rules.may_withdraw_change,
    effects.change_withdrawn,
    "Withdraw the proposed change (the proposer)",
    "The proposer takes the proposal back; the other participant is told.",
)

# Every action, by name. The invitation is the one whose input is not a participant's ActionInput.
ACTIONS: dict[str, Action[Any]] = {
    action.name: action
    for action in (
        INVITE,
        ACCEPT,
        DECLINE,
        WITHDRAW,
        CHECK_IN,
        PAUSE,
        RESUME,
        PROPOSE_CHANGE,
        ACCEPT_CHANGE,
        DECLINE_CHANGE,
        WITHDRAW_CHANGE,
    )
}

# The actions a participant takes (each input names ``by``): the CLI's verbs and the HTTP API's action routes.
PARTICIPANT_ACTIONS: dict[str, Action[Any]] = {
    name: action for name, action in ACTIONS.items() if issubclass(action.input, ActionInput)
}
