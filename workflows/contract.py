"""The public contract: every payload that crosses the workflow's boundary, as pydantic models.

Other services (in any language) send these as JSON. Field names and enum values are stable; new fields are
added as optional. Inputs refuse unknown fields so that a typo ("check_in_evry") is an error, not a silent
default.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import idna
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    computed_field,
    model_serializer,
    model_validator,
)

from workflows.durations import default_grace, default_remind_after, parse_duration
from workflows.text import truncate
from workflows.zones import check_locale, check_time_zone

WORKFLOW_TYPE = "Mentorship"
DEFAULT_TASK_QUEUE = "mentorship"
# The one activity, and the error types it raises (the workflow retries the transient one, records the other).
SEND_NOTIFICATION = "send_notification"
PERMANENT_EMAIL_FAILURE = "PermanentEmailFailure"
TRANSIENT_EMAIL_FAILURE = "TransientEmailFailure"
# Validation context for state the workflow itself carried across continue-as-new (see ``_trusted``).
TRUSTED = "trusted"
# The error type of a workflow failed because its start input was not valid (sent by a client that is not ours).
INVALID_INPUT = "InvalidMentorshipInput"


class Role(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"

    @property
    def other(self) -> Role:
        return Role.MENTEE if self is Role.MENTOR else Role.MENTOR


class Audience(StrEnum):
    """Who a notification is addressed to."""

    MENTOR = "mentor"
    MENTEE = "mentee"
    COORDINATOR = "coordinator"


class Stage(StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    PAUSED = "paused"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    COMPLETED = "completed"

    @property
    def is_open(self) -> bool:
        return self in (Stage.INVITED, Stage.ACTIVE, Stage.PAUSED)


def _duration(value: str, info: ValidationInfo) -> str:
    if not _trusted(info):
        parse_duration(value)
    return value


ID_PATTERN = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")


def shown(value: str, limit: int = 40) -> str:
    """A value quoted in an error message, cut short: refusals are recorded in the state and must stay small."""
    return repr(truncate(value, limit + 1))


def _trusted(info: ValidationInfo) -> bool:
    """State the workflow carried across continue-as-new was checked when it first came in. Rules added since
    must not fail a mentorship that is already running, so the edge-only rules below skip it."""
    return bool(info.context and info.context.get(TRUSTED))


def _participant_id(value: str) -> str:
    # fullmatch: a pattern ending in '$' would also accept 'ana\n', a line feed inside every workflow id.
    if not ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"{shown(value)} is not a valid id: use letters and digits, with single '.', '_' or '-' between them"
        )
    return value


def _text(*, max_length: int, multiline: bool, required: bool, header: bool = False) -> AfterValidator:
    """Free text as people type it, checked the way mail needs it; every error names the first offending place.

    One line (names, focus areas): no control characters (C0 and C1) and no Unicode line or paragraph
    separators, so nothing typed can start a mail header. Several lines (notes, reasons, messages): LF and TAB
    allowed, CRLF, a lone CR and U+2028/U+2029 read as LF, other control characters refused. ``header``: the
    text goes into a header, where '=?' would be read as an RFC 2047 encoded word (and could smuggle in an address).
    """

    def check(value: str, info: ValidationInfo) -> str:
        if multiline:
            # CRLF, a lone CR and the Unicode line and paragraph separators are all read as LF.
            value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
        value = value.strip()
        if required and not value:
            raise ValueError("must not be empty")
        if len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters, got {len(value)}")
        if _trusted(info):
            return value
        for position, char in enumerate(value):
            if multiline and char in "\n\t":
                continue
            category = unicodedata.category(char)
            if category == "Cs":
                # A lone surrogate ("\ud800" in JSON) is no character: nothing can store or send it as UTF-8.
                raise ValueError(
                    f"must not contain unpaired surrogates; found U+{ord(char):04X} at position {position}"
                )
            if category == "Cc" or category in ("Zl", "Zp"):
                what = "control characters" if multiline else "line breaks or other control characters"
                raise ValueError(f"must not contain {what}; found U+{ord(char):04X} at position {position}")
        if header and "=?" in value:
            raise ValueError("must not contain '=?' (mail programs would read it as an encoded header word)")
        return value

    return AfterValidator(check)


def _mailable(value: str, info: ValidationInfo) -> str:
    # Python's email package cannot put a non-ASCII address into a header without SMTPUTF8 (which we do not
    # require of mail servers): refused here rather than retried for a day by the email activity. The domain can
    # always be written in ASCII: pydantic hands it over in Unicode even when it was given in its 'xn--' form, so
    # it is kept in that form (IDNA 2008, as email-validator reads it).
    if _trusted(info) or value.isascii():
        return value
    local, _, domain = value.rpartition("@")
    if local.isascii():
        try:
            return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
        except idna.IDNAError:
            pass
    raise ValueError(
        f"{shown(value)} is not an ASCII address; internationalized local parts (before the '@') are not supported"
    )


# Ids end up in workflow ids and search attributes: short, plain, never an email address.
ParticipantId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_participant_id),
    Field(
        description="Stable id of a person in the caller's system: letters and digits, single '.', '_' or '-' "
        "between them (so '--' never occurs in an id and can separate two ids)"
    ),
]
PersonName = Annotated[str, _text(max_length=120, multiline=False, required=True, header=True)]
EmailAddress = Annotated[EmailStr, AfterValidator(_mailable)]
IsoDuration = Annotated[
    str, AfterValidator(_duration), Field(description="ISO 8601 duration from PT1S to P10Y, e.g. 'P14D'")
]
Text = Annotated[str, _text(max_length=2000, multiline=True, required=False)]
FocusArea = Annotated[str, _text(max_length=80, multiline=False, required=True)]


def fitting_grace(check_in_every: str, check_in_grace: str | None) -> str:
    """The follow-up nudge's delay for a cadence: the one given if it fits, else derived from the cadence; a
    ValueError saying why when the given one (or the cadence) leaves no room for a follow-up."""
    if check_in_grace is None:
        if parse_duration(check_in_every).shortest().total_seconds() < 2:
            raise ValueError(
                f"check_in_every ({check_in_every}) is too short: the follow-up nudge needs a second "
                "before the next check-in is due; use PT2S or longer"
            )
        return default_grace(check_in_every)
    # Against the shortest month the cadence may span: a P29D grace with a P1M cadence would otherwise nudge
    # after the next check-in is due every February.
    if parse_duration(check_in_grace).longest() >= parse_duration(check_in_every).shortest():
        raise ValueError(
            f"check_in_grace ({check_in_grace}) must be shorter than check_in_every "
            f"({check_in_every}), or the follow-up would come after the next check-in is due"
        )
    return check_in_grace


def _time_zone(value: str, info: ValidationInfo) -> str:
    return value if _trusted(info) else check_time_zone(value)


def _locale(value: str, info: ValidationInfo) -> str:
    return value if _trusted(info) else check_locale(value)


TimeZoneName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_time_zone),
    Field(description="IANA time zone name, e.g. 'Europe/Berlin'; times this person reads are in it"),
]
LocaleTag = Annotated[
    str,
    StringConstraints(min_length=2, max_length=35),
    AfterValidator(_locale),
    Field(description="Language tag of a shipped language, with a region if wished (e.g. 'en', 'en-GB')"),
]


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ParticipantId
    name: PersonName
    email: EmailAddress
    time_zone: TimeZoneName | None = Field(
        default=None, description="Their IANA time zone; without one they read UTC, and no quiet hours apply"
    )
    locale: LocaleTag | None = Field(
        default=None, description="How dates and numbers read for them (a shipped language, any region)"
    )


class Invitation(BaseModel):
    """What starts a mentorship. Either side may send it; ``initiated_by`` says which."""

    model_config = ConfigDict(extra="forbid")

    mentor: Person
    mentee: Person
    initiated_by: Role
    message: Text | None = None
    focus_areas: list[FocusArea] = Field(default_factory=list, max_length=10)
    coordinator: Person | None = Field(default=None, description="Told when check-ins are missed in a row; optional")
    remind_after: IsoDuration = Field(
        default="P3D",
        description="Invitation reminder interval; when left out, P3D or the response window shared out so that "
        "every reminder goes before expiry",
    )
    invitation_reminders: int = Field(
        default=2, ge=0, le=10, strict=True, description="Reminders at most, before expiry"
    )
    respond_within: IsoDuration = Field(default="P14D", description="The invitation expires after this")
    check_in_every: IsoDuration = "P14D"
    check_in_grace: IsoDuration = Field(
        default="P3D",
        description="Follow-up nudge this long after a due date; when left out, P3D or a quarter of a shorter "
        "check_in_every",
    )
    escalate_after_missed: int = Field(default=2, ge=1, le=52, strict=True, description="Missed check-ins in a row")
    term: IsoDuration | None = Field(default=None, description="Optional length, counted from acceptance")
    feedback_within: IsoDuration = Field(
        default="P14D",
        description="After an active mentorship ends, both are asked for feedback, accepted for this long",
    )

    @model_validator(mode="after")
    def _coherent(self, info: ValidationInfo) -> Invitation:
        if self.mentor.id == self.mentee.id:
            raise ValueError(f"mentor and mentee must be two people, both are {self.mentor.id!r}")
        if self.coordinator is not None and self.coordinator.id in (self.mentor.id, self.mentee.id):
            raise ValueError("the coordinator must be someone other than the mentor and the mentee")
        if _trusted(info):
            return self
        # Defaults follow what was given: a duration the caller left out never makes the input invalid (an
        # explicit one that does not fit is still refused below). The status shows the values in force.
        if "check_in_grace" not in self.model_fields_set:
            self.check_in_grace = fitting_grace(self.check_in_every, None)
        if "remind_after" not in self.model_fields_set:
            self.remind_after = default_remind_after(self.respond_within, self.invitation_reminders)
        if self.mentor.email.lower() == self.mentee.email.lower():
            raise ValueError(f"mentor and mentee must be two people, both have the address {self.mentor.email}")
        if self.coordinator is not None and self.coordinator.email.lower() in (
            self.mentor.email.lower(),
            self.mentee.email.lower(),
        ):
            raise ValueError("the coordinator must be someone other than the mentor and the mentee (same address)")
        fitting_grace(self.check_in_every, self.check_in_grace)
        return self

    def person(self, role: Role) -> Person:
        return self.mentor if role is Role.MENTOR else self.mentee

    @property
    def invitee(self) -> Role:
        return self.initiated_by.other

    def role_of(self, participant_id: str) -> Role | None:
        if participant_id == self.mentor.id:
            return Role.MENTOR
        if participant_id == self.mentee.id:
            return Role.MENTEE
        return None


@dataclass(frozen=True)
class UndecodableInput:
    """An input whose bytes no JSON parser reads (see ``infra/converter.py``): refused with ``reason``."""

    reason: str


# How many of an input's errors a refusal names: an input of 200,000 unknown keys must not answer with 200,000.
MAX_ERRORS_NAMED = 10


def explain(err: ValidationError) -> str:
    """Pydantic's errors as one line a person reads: "rating: Input should be less than or equal to 5"."""
    errors = err.errors()
    named = "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or 'input'}: {e['msg'].removeprefix('Value error, ')}"
        for e in errors[:MAX_ERRORS_NAMED]
    )
    more = len(errors) - MAX_ERRORS_NAMED
    return named if more <= 0 else f"{named}; and {more} more error{'s' if more > 1 else ''}"


def workflow_id_for(mentor_id: str, mentee_id: str) -> str:
    """One open mentorship per pair and direction: the engine deduplicates on this id."""
    return f"mentorship-{mentor_id}--{mentee_id}"


# --- Actions: one input object each; the same names serve as signals and as updates. -------------------


class ActionInput(BaseModel):
    """What every participant's action carries: who acts. The action table (``workflows/actions.py``) names
    each action's input model."""

    model_config = ConfigDict(extra="forbid")

    by: ParticipantId = Field(description="Id of the participant who acts")


class AcceptInput(ActionInput):
    note: Text | None = None


class DeclineInput(ActionInput):
    reason: Text | None = None


class WithdrawInput(ActionInput):
    reason: Text | None = None


class CheckInInput(ActionInput):
    note: Text | None = None
    rating: int | None = Field(default=None, ge=1, le=5, strict=True, description="How useful it was, 1 to 5")


class PauseInput(ActionInput):
    reason: Text | None = None
    until: AwareDatetime | None = Field(default=None, description="Resume by itself at this time (ISO 8601)")


class ResumeInput(ActionInput):
    note: Text | None = None


# How long the other participant has to answer a proposed change when the proposal does not say.
DEFAULT_CHANGE_RESPOND_WITHIN = "P7D"


class ProposeChangeInput(ActionInput):
    """A change to the terms, proposed by one participant; only the other's acceptance applies it."""

    extend_term_by: IsoDuration | None = Field(
        default=None,
        description="Make the term this much longer; with no term yet, it ends this long after the change is accepted",
    )
    check_in_every: IsoDuration | None = Field(default=None, description="A new check-in cadence")
    check_in_grace: IsoDuration | None = Field(
        default=None,
        description="The follow-up nudge's delay with the new cadence (only with check_in_every); when left out, "
        "derived from the new cadence as for an invitation",
    )
    note: Text | None = None
    respond_within: IsoDuration = Field(
        default=DEFAULT_CHANGE_RESPOND_WITHIN,
        description="The proposal lapses after this (and at the latest when the term ends)",
    )

    @model_validator(mode="after")
    def _a_change(self, info: ValidationInfo) -> ProposeChangeInput:
        if self.extend_term_by is None and self.check_in_every is None:
            raise ValueError("propose extend_term_by, check_in_every or both")
        if self.check_in_grace is not None and self.check_in_every is None:
            raise ValueError("check_in_grace goes with a new check_in_every")
        if self.check_in_every is not None and not _trusted(info):
            self.check_in_grace = fitting_grace(self.check_in_every, self.check_in_grace)
        return self


class AcceptChangeInput(ActionInput):
    note: Text | None = None
    number: int | None = Field(
        default=None, ge=1, strict=True, description="The proposal answered (refused if another one is open now)"
    )


class DeclineChangeInput(ActionInput):
    reason: Text | None = None
    number: int | None = Field(
        default=None, ge=1, strict=True, description="The proposal answered (refused if another one is open now)"
    )


class WithdrawChangeInput(ActionInput):
    pass


# --- What the workflow tells: query `status`, update results, the workflow result. ---------------------


class TimelineEntry(BaseModel):
    at: datetime
    event: str
    by: str | None = None
    detail: str | None = None


class CheckIn(BaseModel):
    number: int
    at: datetime
    by: str
    note: str | None = None
    rating: int | None = None


class NotificationFailure(BaseModel):
    at: datetime
    step: str
    to: Audience
    error: str


class HeldEmail(BaseModel):
    """An email waiting for the end of its recipient's quiet hours (MENTORSHIP_QUIET_HOURS)."""

    step: str
    to: Audience
    until: datetime = Field(description="When it goes")


class Proposal(BaseModel):
    """An open proposal to change the terms."""

    number: int = Field(description="1 for the mentorship's first proposal, and so on")
    by: str = Field(description="Id of the participant who proposed it")
    role: Role
    extend_term_by: str | None = None
    check_in_every: str | None = None
    check_in_grace: str | None = None
    note: str | None = None
    proposed_at: datetime
    lapses_at: datetime


class RefusedSignal(BaseModel):
    at: datetime
    signal: str
    by: str | None
    reason: str


class WebhookStats(BaseModel):
    """How a workflow's events are getting out to other services (workflows/outbox.py)."""

    delivered: int = Field(default=0, description="Events delivered to every endpoint that takes them (or skipped)")
    pending: int = Field(default=0, description="Events waiting or being delivered (retried for up to 3 days)")
    given_up: int = Field(default=0, description="Events not delivered to some endpoint after 3 days of retries")
    last_failure: str | None = Field(default=None, description="Why the latest event given up on was not delivered")
    handed_over_to: str | None = Field(
        default=None,
        description="The WebhookOutbox workflow that took the events still undelivered when this workflow ended",
    )


# The contract's version (README, "The contract"). 2: an update answers an ``ActionAnswer`` (what the mentorship
# now is and what the action added), whose size does not grow with the mentorship's age; the ``status`` query
# answers the whole status, as before.
CONTRACT_VERSION = 2


class MentorshipStatus(BaseModel):
    """The whole state of one mentorship: answered by the `status` query and carried across continue-as-new.
    An update answers an ``ActionAnswer`` instead (contract 2)."""

    workflow_id: str
    stage: Stage
    invitation: Invitation
    invited_at: datetime
    expires_at: datetime | None = None
    invitation_reminders_sent: int = 0
    accepted_at: datetime | None = None
    ended_at: datetime | None = None
    term_ends_at: datetime | None = None
    paused_until: datetime | None = None
    cycle: int = Field(default=1, description="Number of the check-in currently due")
    next_check_in_due: datetime | None = None
    cycle_reminded: bool = False
    cycle_nudged: bool = False
    cycle_restarts: int = Field(
        default=0, description="How often the current check-in's cycle restarted after its reminder (a pause)"
    )
    check_ins: list[CheckIn] = Field(default_factory=list, description="The latest check-ins (at most 100)")
    check_ins_recorded: int = Field(default=0, description="Check-ins recorded in all")
    pauses: int = Field(default=0, description="Pauses in all")
    resumes: int = Field(default=0, description="Resumes in all, by a participant or by a pause's end")
    recent_pauses: list[datetime] = Field(default_factory=list, description="When the latest pauses began (at most 3)")
    missed_in_a_row: int = 0
    missed_total: int = 0
    at_risk: bool = False
    waiting_for: str = ""
    contract_version: int = Field(default=CONTRACT_VERSION, description="The contract this answer follows")
    abridged: bool = Field(
        default=False,
        description="false: the whole status; an update's answer (an ActionAnswer, contract 2) says true",
    )
    timeline: list[TimelineEntry] = Field(default_factory=list, description="The latest entries (at most 200)")
    timeline_entries_dropped: int = Field(default=0, description="Older entries no longer kept in the status")
    notifications_sent: int = 0
    notifications_pending: int = Field(
        default=0, description="Emails being sent (or retried), queued, or due from timed events not yet handled"
    )
    notifications_failed: int = Field(default=0, description="Emails given up on, in all (the list keeps the latest)")
    notification_failures: list[NotificationFailure] = Field(default_factory=list)
    held_emails: list[HeldEmail] = Field(
        default_factory=list, description="Emails waiting for the end of their recipient's quiet hours"
    )
    refused_signals: list[RefusedSignal] = Field(default_factory=list)
    wrap_up_sent: bool = False
    proposal: Proposal | None = Field(default=None, description="The open proposal to change the terms, if any")
    proposals: int = Field(default=0, description="Changes proposed in all")
    changes_agreed: int = Field(default=0, description="Proposed changes the other participant accepted, in all")
    feedback_workflow_id: str | None = Field(
        default=None,
        description="Once an active mentorship ended: the Feedback workflow collecting both participants' feedback",
    )
    events_emitted: int = Field(
        default=0, description="Events emitted in all: the sequence number of the latest (workflows/events.py)"
    )
    webhooks: WebhookStats = Field(default_factory=WebhookStats, description="How its events are getting out")
    holds_places: bool = Field(
        default=False,
        description="Whether the mentorship holds a place with both people (from acceptance until the places are "
        "given back after its end; see the Person workflow)",
    )

    @model_validator(mode="after")
    def _counted(self) -> MentorshipStatus:
        # State carried from before the counters existed kept every entry, so they can be counted from it.
        self.check_ins_recorded = max(self.check_ins_recorded, len(self.check_ins))
        self.pauses = max(self.pauses, sum(1 for entry in self.timeline if entry.event == "paused"))
        self.resumes = max(self.resumes, sum(1 for entry in self.timeline if entry.event == "resumed"))
        return self

    # Top-level views for callers reading the JSON; recomputed, never read back.
    @computed_field  # type: ignore[prop-decorator]
    @property
    def initiated_by(self) -> Role:
        return self.invitation.initiated_by

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mentor(self) -> Person:
        return self.invitation.mentor

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mentee(self) -> Person:
        return self.invitation.mentee


class ActionAnswer(BaseModel):
    """An update's answer (contract 2): where the action left the mentorship and the timeline entries it added.
    Temporal keeps every update's answer in the workflow's history, so it must not grow with the mentorship's age
    (a whole status in each made a run's bytes grow with the square of its check-ins). The top-level fields are
    those of the status, with the same names and meaning; the ``status`` query answers the rest."""

    workflow_id: str
    stage: Stage
    waiting_for: str = Field(description="What the mentorship waits for now, in words")
    next_check_in_due: datetime | None = None
    cycle: int = Field(description="Number of the check-in currently due")
    check_ins_recorded: int = Field(description="Check-ins recorded in all")
    missed_in_a_row: int = 0
    at_risk: bool = False
    expires_at: datetime | None = None
    paused_until: datetime | None = None
    term_ends_at: datetime | None = None
    ended_at: datetime | None = None
    proposal: Proposal | None = Field(default=None, description="The open proposal to change the terms, if any")
    timeline: list[TimelineEntry] = Field(
        default_factory=list,
        description="The entries this action added (a timed event that fell due before it first), oldest first",
    )
    contract_version: int = Field(default=CONTRACT_VERSION, description="The contract this answer follows")
    abridged: bool = Field(default=True, description="Always true: the whole status is the status query's")

    @classmethod
    def of(cls, status: MentorshipStatus, added: int) -> ActionAnswer:
        """The answer for ``status``, the action having added its last ``added`` timeline entries."""
        kept = status.model_dump(include=set(cls.model_fields) - {"timeline", "contract_version", "abridged"})
        return cls(**kept, timeline=status.timeline[len(status.timeline) - added :] if added > 0 else [])


class MentorshipInput(Invitation):
    """The workflow's input: an invitation, plus what the workflow itself carries across continue-as-new."""

    carried: MentorshipStatus | None = Field(
        default=None, description="Set by the workflow on continue-as-new; callers leave it out"
    )
    history_event_limit: int | None = Field(
        strict=True,
        default=None,
        ge=50,
        description="Continue as new past this many history events (operations knob; default: the server's hint)",
    )

    def invitation(self) -> Invitation:
        return Invitation.model_validate(self.model_dump(exclude={"carried", "history_event_limit"}))


# --- Notifications: what the workflow asks the email activity to send. ----------------------------------

# The invitation time as it appears in a mentorship key and in action links, to the second.
INVITATION_STAMP_FORMAT = "%Y%m%dT%H%M%SZ"


def invitation_stamp(invited_at: datetime) -> str:
    return invited_at.astimezone(UTC).strftime(INVITATION_STAMP_FORMAT)


def mentorship_key(workflow_id: str, invited_at: datetime) -> str:
    """Unique per mentorship: a pair's workflow id is reused by its later mentorships, the invitation time tells
    them apart."""
    return f"{workflow_id}.{invitation_stamp(invited_at)}"


class Notice(StrEnum):
    INVITATION = "invitation"
    INVITATION_SENT = "invitation_sent"
    INVITATION_REMINDER = "invitation_reminder"
    MENTORSHIP_STARTED = "mentorship_started"
    INVITATION_DECLINED = "invitation_declined"
    INVITATION_EXPIRED = "invitation_expired"
    INVITATION_WITHDRAWN = "invitation_withdrawn"
    CHECK_IN_DUE = "check_in_due"
    CHECK_IN_NUDGE = "check_in_nudge"
    AT_RISK = "at_risk"
    BACK_ON_TRACK = "back_on_track"
    PAUSED = "paused"
    RESUMED = "resumed"
    WITHDRAWN = "withdrawn"
    WRAP_UP = "wrap_up"
    CHANGE_PROPOSED = "change_proposed"
    CHANGE_ACCEPTED = "change_accepted"
    CHANGE_DECLINED = "change_declined"
    CHANGE_WITHDRAWN = "change_withdrawn"
    CHANGE_LAPSED = "change_lapsed"
    TERM_CHANGED = "term_changed"
    FEEDBACK_REQUEST = "feedback_request"
    FEEDBACK_REMINDER = "feedback_reminder"
    FEEDBACK_SUMMARY = "feedback_summary"


class Notification(BaseModel):
    """One message to one person. ``step`` is stable for the mentorship, so a retried send keeps its Message-ID."""

    kind: Notice
    workflow_id: str
    mentorship_key: str = Field(description="Unique per mentorship, even when a pair's workflow id is reused")
    # Optional only for notifications scheduled before it existed (their retries still run after a deploy).
    invited_at: datetime | None = Field(default=None, description="When the mentorship was invited")
    step: str
    to: Audience
    recipient: Person
    invitation: Invitation
    actor: Role | None = Field(default=None, description="Who did what this notice reports")
    at: datetime | None = Field(default=None, description="The moment the notice is about (due, expiry, ...)")
    issued_at: datetime | None = Field(
        default=None,
        description="When the workflow decided to send it (workflow time): quiet hours and calendar updates go by it",
    )
    deliver_now: bool = Field(
        default=False, description="Sent without looking at quiet hours: set once they were waited out"
    )
    check_in_number: int | None = None
    missed_in_a_row: int | None = None
    text: str | None = Field(default=None, description="A note or reason a participant wrote")
    mutual: bool = False
    proposal: Proposal | None = Field(default=None, description="The proposed change a change notice is about")
    feedback: list[ParticipantFeedback] = Field(
        default_factory=list, description="The feedback a feedback summary reports"
    )

    @model_serializer(mode="wrap")
    def _without_defaults(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        """Only what differs from the defaults, here and in the invitation: the email activity's input is kept in
        the history for every email sent (about 450 bytes instead of 900), and reading it back fills the defaults
        in again, so the activity sees the same notification."""
        data = handler(self)
        if not isinstance(data, dict):
            return data
        for name, field in type(self).model_fields.items():
            if (
                name in data
                and not field.is_required()
                and getattr(self, name) == field.get_default(call_default_factory=True)
            ):
                del data[name]
        data["invitation"] = self.invitation.model_dump(mode=info.mode, exclude_defaults=True)
        return data


# --- Feedback: asked of both once an active mentorship ended, collected by a workflow of its own ---------------

FEEDBACK_WORKFLOW_TYPE = "Feedback"


def feedback_workflow_id(key: str) -> str:
    """One per mentorship (its key): the pair may start a new mentorship while the last one's feedback comes in."""
    return f"feedback-{key}"


class FeedbackInput(ActionInput):
    """The signal and update ``feedback`` of a Feedback workflow: each participant gives it once."""

    rating: int = Field(ge=1, le=5, strict=True, description="How the mentorship went, 1 to 5")
    would_continue: bool | None = Field(default=None, strict=True, description="Would they do it again together")
    note: Text | None = None


class ParticipantFeedback(BaseModel):
    by: str
    role: Role
    rating: int
    would_continue: bool | None = None
    note: str | None = None
    at: datetime


class FeedbackStart(BaseModel):
    """The Feedback workflow's input, from the mentorship that ended."""

    model_config = ConfigDict(extra="forbid")

    mentorship_workflow_id: str
    mentorship_key: str
    invited_at: datetime
    invitation: Invitation
    ended: Stage
    ended_at: datetime
    events_emitted: int = Field(
        default=0, description="The mentorship's events when it ended: feedback events continue its sequence"
    )


class FeedbackStatus(BaseModel):
    """The Feedback workflow's ``status`` query and result."""

    workflow_id: str
    mentorship_workflow_id: str
    mentorship_key: str
    invited_at: datetime
    invitation: Invitation
    ended: Stage
    ended_at: datetime
    closes_at: datetime
    answers: list[ParticipantFeedback] = Field(default_factory=list)
    reminders_sent: int = 0
    closed: bool = Field(default=False, description="Both answered, or the window closed")
    summary_sent: bool = Field(default=False, description="Whether the coordinator was sent the summary")
    refused_signals: list[RefusedSignal] = Field(default_factory=list)
    notifications_sent: int = Field(default=0, description="Feedback emails sent")
    notification_failures: list[NotificationFailure] = Field(
        default_factory=list, description="Feedback emails given up on (refused for good, or retried for a day)"
    )
    held_emails: list[HeldEmail] = Field(
        default_factory=list, description="Feedback emails waiting for the end of their recipient's quiet hours"
    )
    events_emitted: int = Field(
        default=0, description="The mentorship's events so far, feedback's included: the latest sequence number"
    )
    webhooks: WebhookStats = Field(default_factory=WebhookStats, description="How its events are getting out")

    def answered(self, role: Role) -> bool:
        return any(answer.role is role for answer in self.answers)


class SendReceipt(BaseModel):
    """The email activity's answer: sent (to ``accepted``), or held for the recipient's quiet hours."""

    message_id: str
    accepted: list[str]
    held_until: datetime | None = Field(
        default=None, description="Not sent: its recipient's quiet hours end then (infra/quiet_hours.py)"
    )


# --- People: one Person workflow per participant keeps their limits and the places their mentorships hold. ---

PERSON_WORKFLOW_TYPE = "Person"
# The activities a mentorship runs to take and give back its places, and the one a Person runs to find places
# held by mentorships that ended without giving them back (a terminated workflow).
TAKE_PLACES = "take_places"
RELEASE_PLACES = "release_places"
FIND_ENDED_PLACES = "find_ended_places"
# The error type of a refused acceptance (no free place), as the update's error.
NO_FREE_PLACE = "NoFreePlace"
# The error type of an acceptance refused by a rule after it waited for its turn (another one won the race).
REFUSED = "Refused"
# The most a limit can be: a person with more than this at once is no longer being mentored or mentoring.
MAX_LIMIT = 100


def person_workflow_id(person_id: str) -> str:
    return f"person-{person_id}"


Limit = Annotated[int | None, Field(ge=0, le=MAX_LIMIT, strict=True)]


class SetLimitsInput(BaseModel):
    """The update ``set_limits``. A field left out keeps its value; ``null`` removes the limit; ``0`` means not
    taking any now."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    max_mentees: Limit = Field(default=None, description="How many people they mentor at once (0-100; null: no limit)")
    max_mentors: Limit = Field(default=None, description="How many mentors they have at once (0-100; null: no limit)")

    @model_validator(mode="after")
    def _something(self) -> SetLimitsInput:
        if not self.model_fields_set:
            raise ValueError("give max_mentees, max_mentors or both (null removes a limit)")
        return self

    @model_serializer(mode="wrap")
    def _only_what_was_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A field left out keeps its value: it must stay left out on the wire, not become a null that removes it.
        data: dict[str, Any] = handler(self)
        return {name: value for name, value in data.items() if name in self.model_fields_set}


class PlaceRequest(BaseModel):
    """The update ``take_place``: a mentorship asks a person for a place in ``role``. Idempotent per ``key``."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=200, description="The mentorship's key (mentorship_key)")
    workflow_id: str = Field(min_length=1, max_length=200)
    role: Role = Field(description="The person's role in the mentorship")
    name: PersonName = Field(description="The person's name, for the reason of a refusal")
    partner_id: ParticipantId


class PlaceRelease(BaseModel):
    """The update ``release_place``: the mentorship ``key`` ended; its place is given back (idempotent)."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=200)


class PlaceAnswer(BaseModel):
    granted: bool
    reason: str | None = Field(default=None, description="Why not, for a person, when not granted")


class Place(BaseModel):
    """A place one of the person's mentorships holds."""

    key: str
    workflow_id: str
    role: Role
    partner_id: str
    since: datetime


class PersonStatus(BaseModel):
    """The whole state of one person's record: answered by the ``status`` query, carried across continue-as-new."""

    person_id: str
    name: str | None = Field(default=None, description="As the latest mentorship that asked gave it")
    max_mentees: int | None = Field(default=None, description="How many people they mentor at once; null: no limit")
    max_mentors: int | None = Field(default=None, description="How many mentors they have at once; null: no limit")
    places: list[Place] = Field(default_factory=list, description="The places their open mentorships hold")
    limits_changed_at: datetime | None = None
    places_taken: int = Field(default=0, description="Places taken in all")
    places_released: int = Field(default=0, description="Places given back by mentorships that ended, in all")
    places_reclaimed: int = Field(
        default=0, description="Places taken back from mentorships that ended without giving them back, in all"
    )
    refusals: int = Field(default=0, description="Acceptances refused for want of a free place, in all")
    events_emitted: int = Field(default=0, description="This person's events in all: the latest sequence number")
    webhooks: WebhookStats = Field(default_factory=WebhookStats, description="How their events are getting out")

    def open_as(self, role: Role) -> int:
        return sum(1 for place in self.places if place.role is role)

    def limit_as(self, role: Role) -> int | None:
        return self.max_mentees if role is Role.MENTOR else self.max_mentors

    def free_as(self, role: Role) -> int | None:
        limit = self.limit_as(role)
        return None if limit is None else max(0, limit - self.open_as(role))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def open_as_mentor(self) -> int:
        return self.open_as(Role.MENTOR)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def open_as_mentee(self) -> int:
        return self.open_as(Role.MENTEE)

    @computed_field(description="How many more people they can mentor now; null: no limit")  # type: ignore[prop-decorator]
    @property
    def free_as_mentor(self) -> int | None:
        return self.free_as(Role.MENTOR)

    @computed_field(description="How many more mentors they can have now; null: no limit")  # type: ignore[prop-decorator]
    @property
    def free_as_mentee(self) -> int | None:
        return self.free_as(Role.MENTEE)

    @computed_field(description="At a limit in either role")  # type: ignore[prop-decorator]
    @property
    def at_limit(self) -> bool:
        return self.free_as_mentor == 0 or self.free_as_mentee == 0


class PersonInput(BaseModel):
    """The Person workflow's input."""

    model_config = ConfigDict(extra="forbid")

    person_id: ParticipantId
    carried: PersonStatus | None = Field(default=None, description="Set by the workflow on continue-as-new")
    history_event_limit: int | None = Field(strict=True, default=None, ge=50)


class TakePlacesInput(BaseModel):
    """The activity ``take_places``: both places of one mentorship, or neither."""

    key: str
    workflow_id: str
    mentor: Person
    mentee: Person


class ReleasePlacesInput(BaseModel):
    """The activity ``release_places``."""

    key: str
    mentor_id: str
    mentee_id: str


class FindEndedPlacesInput(BaseModel):
    """The activity ``find_ended_places``: which of these places belong to mentorships that have ended."""

    places: list[Place]
