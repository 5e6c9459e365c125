"""Who may do what, at which stage: the rules an action must pass before it changes anything.

Each rule takes the mentorship's state, the parsed input and the moment it is judged, and raises ``Refused``
with a reason a person can read; it never changes the state. The action table (``workflows/actions.py``) names
the rule of each action; the workflow runs it in the update's validator (a refused update leaves no trace in
history) and before applying a signal (a refused signal is recorded in the status). Pure: unit-testable without
a server.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from workflows.contract import (
    AcceptChangeInput,
    AcceptInput,
    CheckInInput,
    DeclineChangeInput,
    DeclineInput,
    Invitation,
    MentorshipStatus,
    PauseInput,
    ProposeChangeInput,
    ResumeInput,
    Role,
    Stage,
    UndecodableInput,
    WithdrawChangeInput,
    WithdrawInput,
    explain,
)
from workflows.durations import MAX_DURATION
from workflows.text import moment


class Refused(Exception):
    """An action that does not fit the actor or the stage; the message says why, for a person."""


def single_input(inputs: tuple[Any, ...], what: str) -> Any:
    """The single JSON input every workflow start, signal and update takes."""
    if len(inputs) != 1:
        raise Refused(f"{what} is not valid: expected exactly one JSON object, got {len(inputs) or 'none'}")
    if isinstance(inputs[0], UndecodableInput):
        raise Refused(f"{what} is not valid: it is not JSON text ({inputs[0].reason})")
    return inputs[0]


M = TypeVar("M", bound=BaseModel)


def parse_input(name: str, model: type[M], inputs: tuple[Any, ...]) -> M:
    """The action's one input as its model; Refused naming each invalid field."""
    raw = single_input(inputs, f"{name} input")
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise Refused(f"{name} input is not valid: {explain(err)}") from None


# --- The invitation ------------------------------------------------------------------------------------


def may_invite(state: MentorshipStatus, invitation: Invitation, now: datetime) -> None:
    """An invitation to an existing mentorship: the same pair, and only while it is open (the other side
    inviting too is their agreement; see ``effects.invited``)."""
    inv = state.invitation
    if (invitation.mentor.id, invitation.mentee.id) != (inv.mentor.id, inv.mentee.id):
        raise Refused(
            f"this mentorship is between mentor {inv.mentor.id!r} and mentee {inv.mentee.id!r}; "
            f"the invitation names mentor {invitation.mentor.id!r} and mentee {invitation.mentee.id!r}"
        )
    if not state.stage.is_open:
        raise Refused(f"this mentorship has already ended ({state.stage}); invite again to start a new one")


# --- The participants' actions -------------------------------------------------------------------------


def participant(state: MentorshipStatus, by: str) -> Role:
    """The role of ``by`` in an open mentorship: only its two participants act, and only until it ends."""
    inv = state.invitation
    role = inv.role_of(by)
    if role is None:
        raise Refused(f"{by!r} is not part of this mentorship (mentor {inv.mentor.id!r}, mentee {inv.mentee.id!r})")
    if not state.stage.is_open:
        raise Refused(f"the mentorship has already ended ({state.stage})")
    return role


def _answer_to_invitation(state: MentorshipStatus, by: str, verb: str) -> None:
    role = participant(state, by)
    inv = state.invitation
    if state.stage is not Stage.INVITED:
        raise Refused(f"the invitation was already accepted; the mentorship is {state.stage}")
    invitee = inv.invitee
    if role is not invitee:
        raise Refused(
            f"only the invitee, {inv.person(invitee).id!r} (the {invitee}), can {verb}; {by!r} sent the invitation"
        )


def may_accept(state: MentorshipStatus, action: AcceptInput, now: datetime) -> None:
    _answer_to_invitation(state, action.by, "accept")


def may_decline(state: MentorshipStatus, action: DeclineInput, now: datetime) -> None:
    _answer_to_invitation(state, action.by, "decline")


def may_withdraw(state: MentorshipStatus, action: WithdrawInput, now: datetime) -> None:
    role = participant(state, action.by)
    inv = state.invitation
    if state.stage is Stage.INVITED and role is inv.invitee:
        raise Refused(
            f"only the initiator, {inv.person(inv.initiated_by).id!r}, can withdraw the invitation; "
            "the invitee can decline it"
        )


def may_check_in(state: MentorshipStatus, action: CheckInInput, now: datetime) -> None:
    participant(state, action.by)
    if state.stage is Stage.INVITED:
        raise Refused("check-ins start once the invitation is accepted")
    if state.stage is Stage.PAUSED:
        raise Refused("the mentorship is paused; resume it before recording a check-in")


# Each pause and resume tells the other participant: a caller looping them must not flood anyone's inbox.
MAX_PAUSES_PER_DAY = 3


def may_pause(state: MentorshipStatus, action: PauseInput, now: datetime) -> None:
    participant(state, action.by)
    if state.stage is not Stage.ACTIVE:
        raise Refused(
            "the mentorship is already paused"
            if state.stage is Stage.PAUSED
            else "only an active mentorship can be paused; the invitation is not accepted yet"
        )
    if action.until is not None and action.until <= now:
        raise Refused(f"until ({action.until.isoformat()}) is not in the future")
    if action.until is not None and action.until > now + MAX_DURATION:
        raise Refused(f"until ({action.until.isoformat()}) is more than ten years away")
    recent = [at for at in state.recent_pauses if at > now - timedelta(days=1)]
    if len(recent) >= MAX_PAUSES_PER_DAY:
        raise Refused(
            f"the mentorship was paused {len(recent)} times in the last 24 hours, the most a day allows; "
            f"it can be paused again from {moment(min(recent) + timedelta(days=1))}"
        )


def may_resume(state: MentorshipStatus, action: ResumeInput, now: datetime) -> None:
    participant(state, action.by)
    if state.stage is not Stage.PAUSED:
        raise Refused(f"the mentorship is not paused (it is {state.stage})")


# --- Changes to the terms: proposed by one participant, applied only when the other accepts --------------------


def _while_running(state: MentorshipStatus, by: str) -> Role:
    role = participant(state, by)
    if state.stage is Stage.INVITED:
        raise Refused("changes to the terms can be proposed once the invitation is accepted")
    return role


def may_propose_change(state: MentorshipStatus, action: ProposeChangeInput, now: datetime) -> None:
    _while_running(state, action.by)
    open_one = state.proposal
    if open_one is not None:
        raise Refused(
            f"{open_one.by!r} already proposed a change, open until {moment(open_one.lapses_at)}; it must be "
            "answered, withdrawn or lapse before another one"
        )


def _answer_to_proposal(state: MentorshipStatus, by: str, verb: str, number: int | None) -> None:
    role = _while_running(state, by)
    proposal = state.proposal
    if proposal is None:
        raise Refused("no change is proposed")
    if number is not None and number != proposal.number:
        raise Refused(f"change {number} is no longer open; change {proposal.number} is")
    if role is proposal.role:
        raise Refused(
            f"only the other participant, {state.invitation.person(role.other).id!r}, can {verb} the change "
            f"{by!r} proposed"
        )


def may_accept_change(state: MentorshipStatus, action: AcceptChangeInput, now: datetime) -> None:
    _answer_to_proposal(state, action.by, "accept", action.number)


def may_decline_change(state: MentorshipStatus, action: DeclineChangeInput, now: datetime) -> None:
    _answer_to_proposal(state, action.by, "decline", action.number)


def may_withdraw_change(state: MentorshipStatus, action: WithdrawChangeInput, now: datetime) -> None:
    _while_running(state, action.by)
    proposal = state.proposal
    if proposal is None:
        raise Refused("no change is proposed")
    if proposal.by != action.by:
        raise Refused(f"only {proposal.by!r}, who proposed the change, can withdraw it; {action.by!r} can decline it")
