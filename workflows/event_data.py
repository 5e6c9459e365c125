"""What each event type carries in its ``data``: one model per type, documented field by field (issue 17).

Pure, and only documentation at run time: an event's ``data`` stays a plain dict (``workflows/events.py``,
``MentorshipEvent``), filled by the effects (``workflows/effects.py``, ``Change.emit``). These models describe it
for receivers: ``devtools/schemas.py`` publishes them inside one JSON Schema per type (``schemas/event-*.schema.json``),
the README's event catalog lists them, and a unit test checks that every event a whole lifecycle emits validates
against its model (``extra="forbid"``, strict), so the effects and the documentation cannot drift apart.

``data`` holds ids, stages, numbers, moments (RFC 3339, UTC) and durations (ISO 8601); never a name, an address or
what someone wrote (that is the event's ``text``, delivered only when the deployment opts in). Every field is
always present (``null`` when it has no value). Fields may be added to a type later, never renamed or removed: a
receiver ignores the ones it does not know (the published schemas allow them).

``CATALOG`` adds, per type, when it happens and who its actor is (the README's table; the schemas say whether
``actor`` is an object, ``null`` or either).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.contract import MAX_LIMIT, Audience, IsoDuration, Notice, Role
from workflows.events import EventType


class EventData(BaseModel):
    """The base of every type's ``data``: no field beyond the documented ones (strict, for the drift test)."""

    model_config = ConfigDict(extra="forbid", strict=True)


Count = Annotated[int, Field(ge=0)]
Number = Annotated[int, Field(ge=1)]
Moment = datetime


# --- The invitation and how it ends -------------------------------------------------------------------------


class InvitedData(EventData):
    initiated_by: Role = Field(description="Which side invited (the event's actor): mentor or mentee")
    mentor_id: str = Field(description="The mentor's id (as the caller's system knows them)")
    mentee_id: str = Field(description="The mentee's id")
    coordinator_id: str | None = Field(description="The coordinator's id; null when none was named")
    expires_at: Moment = Field(description="When the invitation expires unless answered")
    check_in_every: IsoDuration = Field(description="The check-in cadence, as an ISO 8601 duration (e.g. P14D)")
    term: IsoDuration | None = Field(
        description="How long the mentorship runs once accepted (ISO 8601 duration); null: until someone ends it"
    )


class AcceptedData(EventData):
    mutual: bool = Field(
        description="true when the other side invited too (both invitations are the agreement); false for an accept"
    )
    next_check_in_due: Moment = Field(description="When the first check-in falls due")
    term_ends_at: Moment | None = Field(description="When the term ends; null without a term")


EndedAt = Annotated[Moment, Field(description="When the mentorship ended (the same as occurred_at)")]
CheckInsRecorded = Annotated[Count, Field(description="How many check-ins were recorded over the whole mentorship")]


class DeclinedData(EventData):
    stage_before: Literal["invited"] = Field(description="The stage it left: always invited")
    ended_at: EndedAt
    check_ins_recorded: CheckInsRecorded


class ExpiredData(EventData):
    stage_before: Literal["invited"] = Field(description="The stage it left: always invited")
    ended_at: EndedAt
    check_ins_recorded: CheckInsRecorded


class WithdrawnData(EventData):
    stage_before: Literal["invited", "active", "paused"] = Field(
        description="The stage it left: invited (the invitation taken back), active or paused"
    )
    ended_at: EndedAt
    check_ins_recorded: CheckInsRecorded


class CompletedData(EventData):
    stage_before: Literal["active", "paused"] = Field(description="The stage it left: active or paused")
    ended_at: EndedAt
    check_ins_recorded: CheckInsRecorded


# --- Pauses and check-ins ----------------------------------------------------------------------------------


class PausedData(EventData):
    pause_number: Number = Field(description="1 for the mentorship's first pause, then each next one")
    until: Moment | None = Field(description="When the pause ends by itself; null: until someone resumes")


class ResumedData(EventData):
    resume_number: Number = Field(description="1 for the mentorship's first resume, then each next one")
    pause_ended: bool = Field(description="true when the pause ended by itself (no actor); false when resumed")
    next_check_in_due: Moment = Field(description="When the next check-in falls due (a fresh full cycle)")


class InvitationRemindedData(EventData):
    reminder_number: Number = Field(description="1 for the invitation's first reminder, then each next one")
    expires_at: Moment = Field(description="When the invitation expires unless answered")


class AcceptanceRefusedData(EventData):
    for_want_of_a_place: bool = Field(
        description="true: a participant is at their limit (README, People and their limits); the invitation "
        "stays open, to be accepted once a place frees. The reason, naming who, is in text (personal data)"
    )


class CheckInDueData(EventData):
    number: Number = Field(description="Which check-in falls due (1, 2, ...): both participants are reminded")
    due_at: Moment = Field(description="When it fell due")
    missed_in_a_row: Annotated[int, Field(ge=0)] = Field(description="How many check-ins in a row are missed so far")


class CheckInNudgedData(EventData):
    number: Number = Field(description="Which check-in is still not recorded after its grace: both are nudged")
    due_at: Moment = Field(description="When it fell due")


class CheckInRecordedData(EventData):
    number: Number = Field(description="Which check-in of the mentorship this is (1, 2, ...)")
    rating: Annotated[int, Field(ge=1, le=5)] | None = Field(
        description="How the participant rated it, 1 to 5; null when not rated"
    )


class CheckInMissedData(EventData):
    number: Number = Field(description="Which check-in was missed")
    missed_in_a_row: Number = Field(description="How many check-ins in a row are now missed")


class AtRiskData(EventData):
    missed_in_a_row: Number = Field(description="How many check-ins in a row were missed (the escalation threshold)")
    coordinator_told: bool = Field(description="Whether a coordinator was told by email (false: none was named)")


class BackOnTrackData(EventData):
    after_missed: Number = Field(description="How many check-ins in a row had been missed before this one")
    coordinator_told: bool = Field(description="Whether the coordinator was told by email (false: none was named)")


# --- Changes to the terms ----------------------------------------------------------------------------------


class _Proposal(EventData):
    number: Number = Field(description="The proposal's number within the mentorship (1, 2, ...)")
    extend_term_by: IsoDuration | None = Field(
        description="How much longer the term would run (ISO 8601 duration); null: the term is not changed"
    )
    check_in_every: IsoDuration | None = Field(
        description="The new check-in cadence (ISO 8601 duration); null: the cadence is not changed"
    )
    check_in_grace: IsoDuration | None = Field(
        description="The follow-up nudge's delay with the new cadence; null when the cadence is not changed"
    )
    proposed_at: Moment = Field(description="When it was proposed")
    lapses_at: Moment = Field(description="When it lapses unless answered (never after the term's end)")


class ChangeProposedData(_Proposal):
    pass


class ChangeAcceptedData(_Proposal):
    term_ends_at: Moment | None = Field(description="When the term ends now (after an extension); null without a term")
    next_check_in_due: Moment | None = Field(
        description="When the next check-in falls due now (a fresh cycle at a new cadence); null while paused"
    )


class _Answered(EventData):
    number: Number = Field(description="The proposal's number within the mentorship")


class ChangeDeclinedData(_Answered):
    pass


class ChangeWithdrawnData(_Answered):
    pass


class ChangeLapsedData(_Answered):
    because: Literal["no_answer_in_time", "the_mentorship_ended"] = Field(
        description="no_answer_in_time: lapses_at passed; the_mentorship_ended: it ended with the proposal open"
    )


# --- Feedback, failures, people ----------------------------------------------------------------------------


class FeedbackSubmittedData(EventData):
    feedback_workflow_id: str = Field(description="The Feedback workflow's id (feedback-{mentorship_key})")
    rating: Annotated[int, Field(ge=1, le=5)] = Field(description="How the mentorship went, 1 to 5")
    would_continue: bool | None = Field(description="Whether they would do it again together; null: not said")


class NotificationFailedData(EventData):
    notice: Notice = Field(description="Which email was given up on (its kind)")
    step: str = Field(description="The email's step within the mentorship (stable: its Message-ID)")
    to: Audience = Field(description="Whom it was for: mentor, mentee or coordinator")
    failures: Number = Field(description="How many emails of this mentorship were given up on so far")


Limit = Annotated[int, Field(ge=0, le=MAX_LIMIT)] | None


class PersonLimitsChangedData(EventData):
    person_id: str = Field(description="The person's id")
    max_mentees: Limit = Field(description="How many people they mentor at once now (0-100); null: no limit")
    max_mentors: Limit = Field(description="How many mentors they have at once now (0-100); null: no limit")


# --- The catalog ------------------------------------------------------------------------------------------


class Actor(StrEnum):
    """Whether an event type has an actor."""

    ALWAYS = "always"
    NEVER = "never"
    SOMETIMES = "sometimes"


@dataclass(frozen=True)
class EventDoc:
    data: type[EventData]
    when: str
    actor: str
    has_actor: Actor


_PARTICIPANT = "the participant who did it"

CATALOG: dict[EventType, EventDoc] = {
    EventType.INVITED: EventDoc(InvitedData, "A mentorship is started by an invitation", "who invited", Actor.ALWAYS),
    EventType.INVITATION_REMINDED: EventDoc(
        InvitationRemindedData,
        "The invitation is still unanswered: the invitee is reminded (remind_after)",
        "none (timed)",
        Actor.NEVER,
    ),
    EventType.ACCEPTANCE_REFUSED: EventDoc(
        AcceptanceRefusedData,
        "An acceptance (or the other side's invitation) is refused for want of a free place: still invited",
        "who accepted (null when not a participant)",
        Actor.SOMETIMES,
    ),
    EventType.CHECK_IN_DUE: EventDoc(
        CheckInDueData, "A check-in falls due: both participants are reminded", "none (timed)", Actor.NEVER
    ),
    EventType.CHECK_IN_NUDGED: EventDoc(
        CheckInNudgedData,
        "A check-in is still not recorded after its grace (check_in_grace): both are nudged",
        "none (timed)",
        Actor.NEVER,
    ),
    EventType.ACCEPTED: EventDoc(
        AcceptedData,
        "The invitee accepts, or the other side invites too (mutual): the mentorship is active",
        "who accepted (or invited back)",
        Actor.ALWAYS,
    ),
    EventType.DECLINED: EventDoc(DeclinedData, "The invitee declines the invitation", "who declined", Actor.ALWAYS),
    EventType.EXPIRED: EventDoc(ExpiredData, "The invitation was not answered in time", "none (timed)", Actor.NEVER),
    EventType.WITHDRAWN: EventDoc(
        WithdrawnData, "A participant ends the mentorship (or takes back the invitation)", _PARTICIPANT, Actor.ALWAYS
    ),
    EventType.PAUSED: EventDoc(PausedData, "A participant pauses the mentorship", _PARTICIPANT, Actor.ALWAYS),
    EventType.RESUMED: EventDoc(
        ResumedData,
        "A participant resumes it, or the pause ends by itself",
        "who resumed; none when the pause ended",
        Actor.SOMETIMES,
    ),
    EventType.CHECK_IN_RECORDED: EventDoc(
        CheckInRecordedData, "A participant records a check-in", _PARTICIPANT, Actor.ALWAYS
    ),
    EventType.CHECK_IN_MISSED: EventDoc(
        CheckInMissedData,
        "A check-in's cycle ended with none recorded (the next one falls due at once)",
        "none (timed)",
        Actor.NEVER,
    ),
    EventType.AT_RISK: EventDoc(
        AtRiskData,
        "Enough check-ins in a row were missed (escalate_after_missed); with a coordinator, they are told",
        "none (timed)",
        Actor.NEVER,
    ),
    EventType.BACK_ON_TRACK: EventDoc(
        BackOnTrackData, "A check-in is recorded while at risk", "who recorded the check-in", Actor.ALWAYS
    ),
    EventType.CHANGE_PROPOSED: EventDoc(
        ChangeProposedData,
        "A participant proposes a longer term, another cadence or both",
        "who proposed",
        Actor.ALWAYS,
    ),
    EventType.CHANGE_ACCEPTED: EventDoc(
        ChangeAcceptedData, "The other participant accepts the proposal: it applies", "who accepted", Actor.ALWAYS
    ),
    EventType.CHANGE_DECLINED: EventDoc(
        ChangeDeclinedData, "The other participant declines the proposal", "who declined", Actor.ALWAYS
    ),
    EventType.CHANGE_WITHDRAWN: EventDoc(
        ChangeWithdrawnData, "The proposer takes the proposal back", "who proposed", Actor.ALWAYS
    ),
    EventType.CHANGE_LAPSED: EventDoc(
        ChangeLapsedData,
        "A proposal was not answered in time, or the mentorship ended with it open",
        "none (timed)",
        Actor.NEVER,
    ),
    EventType.COMPLETED: EventDoc(
        CompletedData, "The term ended: the wrap-up asks both for feedback", "none (timed)", Actor.NEVER
    ),
    EventType.FEEDBACK_SUBMITTED: EventDoc(
        FeedbackSubmittedData,
        "A participant gives their feedback once an active mentorship ended",
        "who gave it",
        Actor.ALWAYS,
    ),
    EventType.NOTIFICATION_FAILED: EventDoc(
        NotificationFailedData,
        "An email was given up on (refused for good, or retried for a day); the mentorship goes on",
        "none",
        Actor.NEVER,
    ),
    EventType.PERSON_LIMITS_CHANGED: EventDoc(
        PersonLimitsChangedData,
        "A person's limits change (set_limits); no mentorship: mentorship_key is null, workflow_id person-{id}",
        "none",
        Actor.NEVER,
    ),
}

DATA_MODELS: dict[EventType, type[EventData]] = {kind: doc.data for kind, doc in CATALOG.items()}
