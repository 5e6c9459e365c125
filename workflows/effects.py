"""What each action and each timed event does to a mentorship: the story, as pure functions.

An effect receives a ``Change``: the state to change, the moment it happens, and places to put what the
workflow must do afterwards (notifications to send, counters to add). It never sends, sleeps or reads a clock,
so a unit test can run the whole story without a server; the workflow class applies a ``Change`` and does the
I/O (``workflows/mentorship.py``). The action table (``workflows/actions.py``) names the effect of each action.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import workflows.metrics as metrics
import workflows.rules as rules
from workflows.contract import (
    AcceptChangeInput,
    AcceptInput,
    Audience,
    CheckIn,
    CheckInInput,
    DeclineChangeInput,
    DeclineInput,
    FeedbackStatus,
    Invitation,
    MentorshipStatus,
    Notice,
    Notification,
    NotificationFailure,
    PauseInput,
    Proposal,
    ProposeChangeInput,
    RefusedSignal,
    ResumeInput,
    Role,
    Stage,
    TimelineEntry,
    WithdrawChangeInput,
    WithdrawInput,
    mentorship_key,
)
from workflows.durations import humanize_duration, humanize_every
from workflows.events import EventType, MentorshipEvent, build_event
from workflows.plan import Due, NextDue, after, next_due
from workflows.text import truncate
from workflows.wording import email_label, when

# How many refused signals and failed notifications the status keeps (the latest ones).
KEEP_LATEST = 50
# How many timeline entries and check-ins the status keeps (the latest ones): the state must stay far below
# Temporal's payload limit whatever the age and whatever callers send. Older ones are in the workflow's
# history (and the emails that told people), not in the status.
KEEP_TIMELINE = 200
KEEP_CHECK_INS = 100
KEEP_CHARACTERS_DETAIL = 500
# How much of a refused signal's actor and reason, and of a failure's reason, the status keeps.
KEEP_CHARACTERS_BY = 64
KEEP_CHARACTERS_REASON = 500


# The notices that show the invitation's message and focus areas (activities/messages.py).
SHOWS_THE_INVITATION = frozenset({Notice.INVITATION, Notice.INVITATION_REMINDER})


def _without_its_text(invitation: Invitation) -> Invitation:
    if invitation.message is None and not invitation.focus_areas:
        return invitation
    return invitation.model_copy(update={"message": None, "focus_areas": []})


@dataclass
class Change:
    """One change to a mentorship, as it is being decided."""

    state: MentorshipStatus
    # The moment of the change: for a timed event its due time, however late a worker got to it.
    now: datetime
    notifications: list[Notification] = field(default_factory=list)
    counts: list[tuple[metrics.Counter, Mapping[str, str]]] = field(default_factory=list)
    # What other services hear (workflows/events.py), each with the mentorship's next sequence number.
    events: list[MentorshipEvent] = field(default_factory=list)
    # Whether anything happened (an invitation from the side that already invited changes nothing).
    changed: bool = False

    def record(self, event: str, *, by: str | None = None, detail: str | None = None) -> None:
        timeline = self.state.timeline
        # A note or reason in full went to the other participant by email and stays in the history; the timeline
        # keeps its start, so that 200 entries stay small whatever people wrote.
        detail = truncate(detail, KEEP_CHARACTERS_DETAIL) if detail is not None else None
        timeline.append(TimelineEntry(at=self.now, event=event, by=by, detail=detail))
        if len(timeline) > KEEP_TIMELINE:
            self.state.timeline_entries_dropped += len(timeline) - KEEP_TIMELINE
            del timeline[:-KEEP_TIMELINE]
        self.changed = True

    def emit(self, kind: EventType, *, actor: Role | None = None, text: str | None = None, **data: Any) -> None:
        """One event for other services, beside the timeline entry that tells the same; ``text`` is what a person
        wrote (delivered only where the deployment opts in to personal data)."""
        state = self.state
        state.events_emitted += 1
        self.events.append(
            build_event(
                kind=kind,
                key=mentorship_key(state.workflow_id, state.invited_at),
                workflow_id=state.workflow_id,
                sequence=state.events_emitted,
                occurred_at=self.now,
                invitation=state.invitation,
                actor=actor,
                data=data,
                text=text,
            )
        )
        self.changed = True

    def count(self, counter: metrics.Counter, labels: Mapping[str, str] | None = None) -> None:
        self.counts.append((counter, labels or {}))

    def notify(
        self,
        kind: Notice,
        step: str,
        to: Role | Audience,
        *,
        actor: Role | None = None,
        at: datetime | None = None,
        text: str | None = None,
        check_in_number: int | None = None,
        missed_in_a_row: int | None = None,
        mutual: bool = False,
        proposal: Proposal | None = None,
    ) -> None:
        """Queue one notice to one person; ``step`` names it within the mentorship (its Message-ID)."""
        state = self.state
        inv = state.invitation
        audience = Audience(str(to))
        if audience is Audience.COORDINATOR:
            assert inv.coordinator is not None
            recipient = inv.coordinator
        else:
            recipient = inv.person(Role(str(to)))
        self.notifications.append(
            Notification(
                kind=kind,
                workflow_id=state.workflow_id,
                mentorship_key=mentorship_key(state.workflow_id, state.invited_at),
                invited_at=state.invited_at,
                step=step,
                to=audience,
                recipient=recipient,
                # What the message needs: the invitation's own message and focus areas only where they are shown
                # (every email's input is kept in the history, up to a 2,000-character message each time).
                invitation=inv if kind in SHOWS_THE_INVITATION else _without_its_text(inv),
                actor=actor,
                at=at,
                issued_at=self.now,
                text=text,
                check_in_number=check_in_number,
                missed_in_a_row=missed_in_a_row,
                mutual=mutual,
                proposal=proposal,
            )
        )
        self.changed = True

    def notify_both(self, kind: Notice, step: str, **details: Any) -> None:
        """The same notice to the mentor and to the mentee, mentor first (the order of the activities)."""
        for role in (Role.MENTOR, Role.MENTEE):
            self.notify(kind, step, role, **details)

    # Small steps shared by several effects.

    def start_cycle(self, start: datetime) -> None:
        state = self.state
        state.next_check_in_due = after(state.invitation.check_in_every, start)
        state.cycle_reminded = False
        state.cycle_nudged = False

    def end(self, stage: Stage, *, by: str | None = None, detail: str | None = None) -> None:
        state = self.state
        before = state.stage
        state.stage = stage
        state.ended_at = self.now
        state.expires_at = None
        state.next_check_in_due = None
        state.paused_until = None
        self.record(str(stage), by=by, detail=detail)
        actor = state.invitation.role_of(by) if by is not None else None
        self.emit(
            ENDED[stage],
            actor=actor,
            text=detail if actor is not None else None,
            stage_before=str(before),
            ended_at=self.now,
            check_ins_recorded=state.check_ins_recorded,
        )
        if state.proposal is not None:
            # Nothing is left to change: the open proposal goes with the mentorship (its proposer learns of the end).
            self.record(f"change {state.proposal.number} lapsed", detail="the mentorship ended")
            self.emit(EventType.CHANGE_LAPSED, number=state.proposal.number, because="the_mentorship_ended")
            state.proposal = None


# The event of each way a mentorship ends.
ENDED = {
    Stage.DECLINED: EventType.DECLINED,
    Stage.EXPIRED: EventType.EXPIRED,
    Stage.WITHDRAWN: EventType.WITHDRAWN,
    Stage.COMPLETED: EventType.COMPLETED,
}


def _proposal_data(proposal: Proposal) -> dict[str, Any]:
    return {
        "number": proposal.number,
        "extend_term_by": proposal.extend_term_by,
        "check_in_every": proposal.check_in_every,
        "check_in_grace": proposal.check_in_grace,
        "proposed_at": proposal.proposed_at,
        "lapses_at": proposal.lapses_at,
    }


# --- The start -----------------------------------------------------------------------------------------


def new_mentorship(workflow_id: str, invitation: Invitation, now: datetime) -> Change:
    """A mentorship just invited: the invitee is asked, the initiator gets a confirmation."""
    state = MentorshipStatus(
        workflow_id=workflow_id,
        stage=Stage.INVITED,
        invitation=invitation,
        invited_at=now,
        expires_at=after(invitation.respond_within, now),
    )
    change = Change(state, now)
    initiator = invitation.person(invitation.initiated_by)
    change.record("invited", by=initiator.id, detail=f"invited by the {invitation.initiated_by}")
    change.emit(
        EventType.INVITED,
        actor=invitation.initiated_by,
        text=invitation.message,
        initiated_by=str(invitation.initiated_by),
        mentor_id=invitation.mentor.id,
        mentee_id=invitation.mentee.id,
        coordinator_id=invitation.coordinator.id if invitation.coordinator is not None else None,
        expires_at=state.expires_at,
        check_in_every=invitation.check_in_every,
        term=invitation.term,
    )
    change.notify(
        Notice.INVITATION,
        "invitation",
        invitation.invitee,
        actor=invitation.initiated_by,
        at=state.expires_at,
        text=invitation.message,
    )
    change.notify(Notice.INVITATION_SENT, "invitation-sent", invitation.initiated_by, at=state.expires_at)
    change.count(metrics.INVITATIONS, {"initiated_by": invitation.initiated_by.value})
    return change


# --- The actions (rules in workflows/rules.py have passed) -----------------------------------------------


def is_agreement(state: MentorshipStatus, other: Invitation) -> bool:
    """Whether an invitation to this mentorship is the other side's agreement (it makes the mentorship active)."""
    return state.stage is Stage.INVITED and other.initiated_by is not state.invitation.initiated_by


def invited(change: Change, other: Invitation) -> None:
    """An invitation to this mentorship. From the other side it is their agreement: the mentorship is active.
    From the same side it creates nothing and sends nothing (this is also the companion of the update-with-start
    that just created the workflow)."""
    state = change.state
    if is_agreement(state, other):
        change.record(
            "invited back",
            by=other.person(other.initiated_by).id,
            detail=f"the {other.initiated_by} invited too: both have agreed",
        )
        _activate(change, other.initiated_by, mutual=True, note=other.message)


def accepted(change: Change, action: AcceptInput) -> None:
    _activate(change, _role(change, action.by), mutual=False, note=action.note)


def _activate(change: Change, role: Role, *, mutual: bool, note: str | None) -> None:
    state = change.state
    state.stage = Stage.ACTIVE
    state.accepted_at = change.now
    state.expires_at = None
    state.term_ends_at = after(state.invitation.term, change.now) if state.invitation.term else None
    change.start_cycle(change.now)
    change.record(
        "accepted" if not mutual else "active",
        by=state.invitation.person(role).id,
        detail=note if not mutual else "mutual invitation",
    )
    change.emit(
        EventType.ACCEPTED,
        actor=role,
        text=note,
        mutual=mutual,
        next_check_in_due=state.next_check_in_due,
        term_ends_at=state.term_ends_at,
    )
    change.notify_both(
        Notice.MENTORSHIP_STARTED, "started", actor=role, at=state.next_check_in_due, mutual=mutual, text=note
    )
    change.count(metrics.ACCEPTANCES, {"via": "mutual_invitation" if mutual else "accept"})


def declined(change: Change, action: DeclineInput) -> None:
    role = _role(change, action.by)
    change.end(Stage.DECLINED, by=action.by, detail=action.reason)
    change.notify(
        Notice.INVITATION_DECLINED, "declined", change.state.invitation.initiated_by, actor=role, text=action.reason
    )


def withdrawn(change: Change, action: WithdrawInput) -> None:
    role = _role(change, action.by)
    was_invited = change.state.stage is Stage.INVITED
    change.end(Stage.WITHDRAWN, by=action.by, detail=action.reason)
    kind = Notice.INVITATION_WITHDRAWN if was_invited else Notice.WITHDRAWN
    change.notify(kind, "withdrawn", role.other, actor=role, text=action.reason)


def checked_in(change: Change, action: CheckInInput) -> None:
    role = _role(change, action.by)
    state = change.state
    number = state.cycle
    state.check_ins.append(CheckIn(number=number, at=change.now, by=action.by, note=action.note, rating=action.rating))
    del state.check_ins[:-KEEP_CHECK_INS]
    state.check_ins_recorded += 1
    change.record(
        f"check-in {number} recorded", by=action.by, detail=f"rating {action.rating}/5" if action.rating else None
    )
    change.emit(EventType.CHECK_IN_RECORDED, actor=role, text=action.note, number=number, rating=action.rating)
    if state.at_risk:
        state.at_risk = False
        change.record("back on track", detail=f"after {state.missed_in_a_row} missed check-ins")
        change.emit(
            EventType.BACK_ON_TRACK,
            actor=role,
            after_missed=state.missed_in_a_row,
            coordinator_told=state.invitation.coordinator is not None,
        )
        if state.invitation.coordinator is not None:
            change.notify(
                Notice.BACK_ON_TRACK,
                f"check-in-{number}-back-on-track",
                Audience.COORDINATOR,
                actor=role,
                check_in_number=number,
            )
    state.missed_in_a_row = 0
    state.cycle = number + 1
    state.cycle_restarts = 0
    change.start_cycle(change.now)


def paused(change: Change, action: PauseInput) -> None:
    role = _role(change, action.by)
    state = change.state
    state.stage = Stage.PAUSED
    state.paused_until = action.until
    state.next_check_in_due = None
    state.pauses += 1
    pause_number = state.pauses
    state.recent_pauses = [*state.recent_pauses, change.now][-rules.MAX_PAUSES_PER_DAY :]
    until = f"until {when(state, action.until)}" if action.until else "until resumed"
    change.record("paused", by=action.by, detail=until + (f": {action.reason}" if action.reason else ""))
    change.emit(EventType.PAUSED, actor=role, text=action.reason, pause_number=pause_number, until=action.until)
    change.notify(Notice.PAUSED, f"pause-{pause_number}", role.other, actor=role, at=action.until, text=action.reason)


def resumed(change: Change, action: ResumeInput) -> None:
    _resume(change, _role(change, action.by), action.note)


def _resume(change: Change, role: Role | None, note: str | None) -> None:
    """Resume by a participant (``role``) or by the pause's own end (``None``)."""
    state = change.state
    state.stage = Stage.ACTIVE
    state.paused_until = None
    if state.cycle_reminded:
        # The same check-in will be reminded again, at another time: under another step (Message-ID).
        state.cycle_restarts += 1
    # A fresh full cycle after a pause: people get the whole cadence to meet again.
    change.start_cycle(change.now)
    state.resumes += 1
    resume_number = state.resumes
    change.record(
        "resumed", by=state.invitation.person(role).id if role else None, detail=note if role else "the pause ended"
    )
    change.emit(
        EventType.RESUMED,
        actor=role,
        text=note,
        resume_number=resume_number,
        pause_ended=role is None,
        next_check_in_due=state.next_check_in_due,
    )
    audiences = (role.other,) if role else (Role.MENTOR, Role.MENTEE)
    for audience in audiences:
        change.notify(
            Notice.RESUMED, f"resume-{resume_number}", audience, actor=role, at=state.next_check_in_due, text=note
        )


# --- Changes to the terms ---------------------------------------------------------------------------------


def describe_change(proposal: Proposal) -> str:
    """'the term 3 months longer and check-ins every week (follow-up after 2 days)'."""
    parts: list[str] = []
    if proposal.extend_term_by is not None:
        parts.append(f"the term {humanize_duration(proposal.extend_term_by)} longer")
    if proposal.check_in_every is not None:
        grace = f" (follow-up after {humanize_duration(proposal.check_in_grace)})" if proposal.check_in_grace else ""
        parts.append(f"check-ins {humanize_every(proposal.check_in_every)}{grace}")
    return " and ".join(parts)


def change_proposed(change: Change, action: ProposeChangeInput) -> None:
    role = _role(change, action.by)
    state = change.state
    lapses_at = after(action.respond_within, change.now)
    if state.term_ends_at is not None:
        # Never after the term: there is nothing left to change then.
        lapses_at = min(lapses_at, state.term_ends_at)
    state.proposals += 1
    proposal = Proposal(
        number=state.proposals,
        by=action.by,
        role=role,
        extend_term_by=action.extend_term_by,
        check_in_every=action.check_in_every,
        check_in_grace=action.check_in_grace,
        note=action.note,
        proposed_at=change.now,
        lapses_at=lapses_at,
    )
    state.proposal = proposal
    change.record(f"change {proposal.number} proposed", by=action.by, detail=describe_change(proposal))
    change.emit(EventType.CHANGE_PROPOSED, actor=role, text=action.note, **_proposal_data(proposal))
    change.notify(
        Notice.CHANGE_PROPOSED,
        f"change-{proposal.number}-proposed",
        role.other,
        actor=role,
        at=lapses_at,
        text=action.note,
        proposal=proposal,
    )


def change_accepted(change: Change, action: AcceptChangeInput) -> None:
    role = _role(change, action.by)
    state = change.state
    proposal = state.proposal
    assert proposal is not None, "the rule admits an open proposal only"
    state.proposal = None
    state.changes_agreed += 1
    if proposal.extend_term_by is not None:
        base = state.term_ends_at if state.term_ends_at is not None else change.now
        state.term_ends_at = after(proposal.extend_term_by, base)
    if proposal.check_in_every is not None:
        assert proposal.check_in_grace is not None
        state.invitation = state.invitation.model_copy(
            update={"check_in_every": proposal.check_in_every, "check_in_grace": proposal.check_in_grace}
        )
        if state.stage is Stage.ACTIVE:
            # A fresh cycle at the new cadence, from the moment both agreed.
            if state.cycle_reminded:
                state.cycle_restarts += 1
            change.start_cycle(change.now)
    change.record(f"change {proposal.number} accepted", by=action.by, detail=describe_change(proposal))
    change.emit(
        EventType.CHANGE_ACCEPTED,
        actor=role,
        text=action.note,
        **_proposal_data(proposal),
        term_ends_at=state.term_ends_at,
        next_check_in_due=state.next_check_in_due,
    )
    change.notify(
        Notice.CHANGE_ACCEPTED,
        f"change-{proposal.number}-accepted",
        proposal.role,
        actor=role,
        at=state.next_check_in_due,
        text=action.note,
        proposal=proposal,
    )
    if proposal.extend_term_by is not None and state.invitation.coordinator is not None:
        change.notify(
            Notice.TERM_CHANGED,
            f"change-{proposal.number}-term",
            Audience.COORDINATOR,
            actor=role,
            at=state.term_ends_at,
            proposal=proposal,
        )


def change_declined(change: Change, action: DeclineChangeInput) -> None:
    role = _role(change, action.by)
    proposal = change.state.proposal
    assert proposal is not None, "the rule admits an open proposal only"
    change.state.proposal = None
    change.record(f"change {proposal.number} declined", by=action.by, detail=action.reason)
    change.emit(EventType.CHANGE_DECLINED, actor=role, text=action.reason, number=proposal.number)
    change.notify(
        Notice.CHANGE_DECLINED,
        f"change-{proposal.number}-declined",
        proposal.role,
        actor=role,
        text=action.reason,
        proposal=proposal,
    )


def change_withdrawn(change: Change, action: WithdrawChangeInput) -> None:
    role = _role(change, action.by)
    proposal = change.state.proposal
    assert proposal is not None, "the rule admits an open proposal only"
    change.state.proposal = None
    change.record(f"change {proposal.number} withdrawn", by=action.by)
    change.emit(EventType.CHANGE_WITHDRAWN, actor=role, number=proposal.number)
    change.notify(
        Notice.CHANGE_WITHDRAWN, f"change-{proposal.number}-withdrawn", role.other, actor=role, proposal=proposal
    )


def change_lapsed(change: Change) -> None:
    proposal = change.state.proposal
    assert proposal is not None
    change.state.proposal = None
    change.record(f"change {proposal.number} lapsed", detail="no answer in time")
    change.emit(EventType.CHANGE_LAPSED, number=proposal.number, because="no_answer_in_time")
    change.notify(
        Notice.CHANGE_LAPSED, f"change-{proposal.number}-lapsed", proposal.role, proposal=proposal, at=change.now
    )


def _role(change: Change, by: str) -> Role:
    role = change.state.invitation.role_of(by)
    assert role is not None, "the action's rule admits participants only"
    return role


# --- The timed events (workflows/plan.py says which is next) ----------------------------------------------


def invitation_reminder(change: Change) -> None:
    state = change.state
    inv = state.invitation
    state.invitation_reminders_sent += 1
    n = state.invitation_reminders_sent
    change.record(f"invitation reminder {n} sent")
    assert state.expires_at is not None, "only an open invitation is reminded"
    change.emit(EventType.INVITATION_REMINDED, reminder_number=n, expires_at=state.expires_at)
    change.notify(
        Notice.INVITATION_REMINDER,
        f"invitation-reminder-{n}",
        inv.invitee,
        actor=inv.initiated_by,
        at=state.expires_at,
        text=inv.message,
    )


def invitation_expired(change: Change) -> None:
    change.end(Stage.EXPIRED, detail="no answer in time")
    change.notify(Notice.INVITATION_EXPIRED, "expired", change.state.invitation.initiated_by)


def _cycle_step(state: MentorshipStatus, what: str) -> str:
    """``check-in-3-due``; ``check-in-3-due-2`` once a pause restarted check-in 3's cycle after its reminder: a
    different message (due at another time) must never share a Message-ID with the first one."""
    step = f"check-in-{state.cycle}-{what}"
    return step if not state.cycle_restarts else f"{step}-{state.cycle_restarts + 1}"


def check_in_due(change: Change) -> None:
    state = change.state
    state.cycle_reminded = True
    change.record(f"check-in {state.cycle} due", detail="both reminded")
    change.emit(
        EventType.CHECK_IN_DUE,
        number=state.cycle,
        due_at=state.next_check_in_due,
        missed_in_a_row=state.missed_in_a_row,
    )
    change.notify_both(
        Notice.CHECK_IN_DUE,
        _cycle_step(state, "due"),
        at=state.next_check_in_due,
        check_in_number=state.cycle,
        missed_in_a_row=state.missed_in_a_row,
    )


def check_in_nudge(change: Change) -> None:
    state = change.state
    state.cycle_nudged = True
    change.record(f"check-in {state.cycle} follow-up", detail="both nudged")
    change.emit(EventType.CHECK_IN_NUDGED, number=state.cycle, due_at=state.next_check_in_due)
    change.notify_both(
        Notice.CHECK_IN_NUDGE, _cycle_step(state, "nudge"), at=state.next_check_in_due, check_in_number=state.cycle
    )


def check_in_missed(change: Change) -> None:
    state = change.state
    inv = state.invitation
    missed = state.cycle
    state.missed_in_a_row += 1
    state.missed_total += 1
    change.record(f"check-in {missed} missed", detail=f"{state.missed_in_a_row} in a row")
    change.emit(EventType.CHECK_IN_MISSED, number=missed, missed_in_a_row=state.missed_in_a_row)
    change.count(metrics.CHECK_INS_MISSED)
    if state.missed_in_a_row == inv.escalate_after_missed:
        state.at_risk = True
        told = inv.coordinator is not None
        change.record("at risk", detail="coordinator told" if told else "no coordinator named")
        change.emit(EventType.AT_RISK, missed_in_a_row=state.missed_in_a_row, coordinator_told=told)
        if told:
            change.notify(
                Notice.AT_RISK,
                f"check-in-{missed}-at-risk",
                Audience.COORDINATOR,
                check_in_number=missed,
                missed_in_a_row=state.missed_in_a_row,
            )
    # The missed one's successor falls due right now; the loop reminds about it straight away.
    assert state.next_check_in_due is not None
    state.cycle = missed + 1
    state.cycle_restarts = 0
    state.next_check_in_due = after(inv.check_in_every, state.next_check_in_due)
    state.cycle_reminded = False
    state.cycle_nudged = False


def pause_ended(change: Change) -> None:
    _resume(change, None, None)


def term_ended(change: Change) -> None:
    change.state.wrap_up_sent = True
    change.end(Stage.COMPLETED, detail="the term ended; wrap-up sent asking both for feedback")
    change.notify_both(Notice.WRAP_UP, "wrap-up", at=change.now)


TIMED_EFFECTS: dict[Due, Callable[[Change], None]] = {
    Due.INVITATION_REMINDER: invitation_reminder,
    Due.INVITATION_EXPIRY: invitation_expired,
    Due.CHECK_IN_DUE: check_in_due,
    Due.CHECK_IN_NUDGE: check_in_nudge,
    Due.CHECK_IN_MISSED: check_in_missed,
    Due.PAUSE_ENDS: pause_ended,
    Due.TERM_ENDS: term_ended,
    Due.CHANGE_LAPSES: change_lapsed,
}


def fell_due(change: Change, due: NextDue) -> None:
    """A timed event, at its due time (``change.now``)."""
    TIMED_EFFECTS[due.event](change)


def catch_up(state: MentorshipStatus, now: datetime) -> list[Change]:
    """Every timed event due at or before ``now``, in order, each at its own due time: how an action handled at
    ``now`` must find the mentorship, however late a worker got to the timers."""
    changes: list[Change] = []
    due = next_due(state)
    while due is not None and due.at <= now:
        change = Change(state, due.at)
        fell_due(change, due)
        changes.append(change)
        due = next_due(state)
    return changes


# --- What goes wrong, kept in the status -----------------------------------------------------------------


def signal_refused(state: MentorshipStatus | FeedbackStatus, signal: str, raw: Any, reason: str, now: datetime) -> None:
    """A refused signal, kept in the status. Only the latest few, each cut short: a misbehaving caller must not
    grow the state without bound (a few signals of a megabyte each would otherwise make continue-as-new fail,
    wedging the mentorship)."""
    by = raw.get("by") if isinstance(raw, dict) else None
    if isinstance(by, str):
        # As UTF-8 can carry it: a lone surrogate in a refused ``by`` must not make the state unstorable.
        by = truncate(by.encode("utf-8", "replace").decode("utf-8"), KEEP_CHARACTERS_BY)
    del state.refused_signals[: -KEEP_LATEST + 1]
    state.refused_signals.append(
        RefusedSignal(
            at=now,
            signal=signal,
            # As UTF-8 can carry it: a lone surrogate in a refused ``by`` must not make the state unstorable.
            by=truncate(by.encode("utf-8", "replace").decode("utf-8"), KEEP_CHARACTERS_BY)
            if isinstance(by, str)
            else None,
            reason=truncate(reason, KEEP_CHARACTERS_REASON),
        )
    )


def acceptance_refused(change: Change, by: str | None, reason: str) -> None:
    """An acceptance (or the other side's invitation) refused because a person has no free place: the invitation
    stays open, to be accepted once a place frees."""
    change.record("acceptance refused", by=by, detail=reason)
    invitation = change.state.invitation
    role = next((role for role in Role if invitation.person(role).id == by), None)
    # The reason names people and their limits: it travels as text (personal data, delivered only when opted in).
    change.emit(EventType.ACCEPTANCE_REFUSED, actor=role, text=reason, for_want_of_a_place=True)


def notification_failed(change: Change, notification: Notification, error: str) -> str:
    """An email given up on (refused for good, or retried for a day): recorded, and the mentorship goes on.
    Returns the reason as kept."""
    state = change.state
    reason = truncate(error, KEEP_CHARACTERS_REASON)
    state.notifications_failed += 1
    del state.notification_failures[: -KEEP_LATEST + 1]
    state.notification_failures.append(
        NotificationFailure(at=change.now, step=notification.step, to=notification.to, error=reason)
    )
    change.record("notification failed", detail=f"{email_label(notification)} to the {notification.to}: {reason}")
    # The reason may name an address: it travels as text (personal data, delivered only when opted in).
    change.emit(
        EventType.NOTIFICATION_FAILED,
        text=reason,
        notice=str(notification.kind),
        step=notification.step,
        to=str(notification.to),
        failures=state.notifications_failed,
    )
    change.count(metrics.NOTIFICATIONS_GIVEN_UP, {"notice": notification.kind.value})
    return reason
