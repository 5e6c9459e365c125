"""Feedback after a mentorship: who may give it, what giving it does, what falls due. Pure decisions over a
``FeedbackStatus``, unit-tested without a server; the Feedback workflow (``workflows/feedback.py``) orchestrates.

When an active mentorship ends (its term completes, or a participant withdraws), both participants are asked
for feedback, accepted for ``feedback_within`` (the invitation's; P14D by default). Whoever has not answered by
the middle of the window gets one reminder. When both have answered or the window closes, the coordinator (when
named) gets one summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from workflows.contract import (
    Audience,
    FeedbackInput,
    FeedbackStart,
    FeedbackStatus,
    Notice,
    Notification,
    NotificationFailure,
    ParticipantFeedback,
    Role,
)
from workflows.effects import KEEP_CHARACTERS_REASON, KEEP_LATEST
from workflows.events import EventType, MentorshipEvent, build_event
from workflows.plan import after
from workflows.rules import Refused
from workflows.text import truncate


class FeedbackDue(StrEnum):
    REMINDER = "feedback_reminder"
    CLOSES = "feedback_closes"


@dataclass(frozen=True)
class NextFeedbackDue:
    event: FeedbackDue
    at: datetime
    summary: str


def started(workflow_id: str, start: FeedbackStart, now: datetime) -> tuple[FeedbackStatus, list[Notification]]:
    """The feedback asked of both participants."""
    state = FeedbackStatus(
        workflow_id=workflow_id,
        mentorship_workflow_id=start.mentorship_workflow_id,
        mentorship_key=start.mentorship_key,
        invited_at=start.invited_at,
        invitation=start.invitation,
        ended=start.ended,
        ended_at=start.ended_at,
        events_emitted=start.events_emitted,
        closes_at=after(start.invitation.feedback_within, now),
    )
    asks = [_notice(state, Notice.FEEDBACK_REQUEST, "feedback-request", Audience(role.value), now) for role in Role]
    return state, asks


def may_give(state: FeedbackStatus, given: FeedbackInput, now: datetime) -> Role:
    """The role of the participant giving feedback; Refused if they may not (anyone else, twice, too late)."""
    inv = state.invitation
    role = inv.role_of(given.by)
    if role is None:
        raise Refused(
            f"{given.by!r} is not part of this mentorship (mentor {inv.mentor.id!r}, mentee {inv.mentee.id!r})"
        )
    if state.answered(role):
        raise Refused(f"{given.by!r} already gave feedback on this mentorship")
    if state.closed or now >= state.closes_at:
        raise Refused("feedback on this mentorship is closed")
    return role


def given(state: FeedbackStatus, feedback: FeedbackInput, now: datetime) -> list[Notification]:
    """Feedback recorded; when both have answered, the window closes (and the coordinator gets the summary)."""
    role = may_give(state, feedback, now)
    state.answers.append(
        ParticipantFeedback(
            by=feedback.by,
            role=role,
            rating=feedback.rating,
            would_continue=feedback.would_continue,
            note=feedback.note,
            at=now,
        )
    )
    return close(state, now) if all(state.answered(r) for r in Role) else []


def submitted_event(state: FeedbackStatus, answer: ParticipantFeedback) -> MentorshipEvent:
    """``mentorship.feedback.submitted``: the next number of the mentorship's sequence (FeedbackStart carried it)."""
    state.events_emitted += 1
    return build_event(
        kind=EventType.FEEDBACK_SUBMITTED,
        key=state.mentorship_key,
        workflow_id=state.mentorship_workflow_id,
        sequence=state.events_emitted,
        occurred_at=answer.at,
        invitation=state.invitation,
        actor=answer.role,
        data={
            "feedback_workflow_id": state.workflow_id,
            "rating": answer.rating,
            "would_continue": answer.would_continue,
        },
        text=answer.note,
    )


def next_due(state: FeedbackStatus) -> NextFeedbackDue | None:
    if state.closed:
        return None
    if state.reminders_sent == 0:
        middle = state.ended_at + (state.closes_at - state.ended_at) / 2
        return NextFeedbackDue(FeedbackDue.REMINDER, middle, "feedback reminder")
    return NextFeedbackDue(FeedbackDue.CLOSES, state.closes_at, "feedback closes")


def fell_due(state: FeedbackStatus, due: NextFeedbackDue) -> list[Notification]:
    if due.event is FeedbackDue.REMINDER:
        state.reminders_sent += 1
        return [
            _notice(state, Notice.FEEDBACK_REMINDER, "feedback-reminder", Audience(role.value), due.at)
            for role in Role
            if not state.answered(role)
        ]
    return close(state, due.at)


def close(state: FeedbackStatus, now: datetime | None = None) -> list[Notification]:
    """The window closes: the coordinator, when named, gets the one summary."""
    state.closed = True
    if state.invitation.coordinator is None:
        return []
    state.summary_sent = True
    return [_notice(state, Notice.FEEDBACK_SUMMARY, "feedback-summary", Audience.COORDINATOR, now)]


def _notice(state: FeedbackStatus, kind: Notice, step: str, to: Audience, issued_at: datetime | None) -> Notification:
    inv = state.invitation
    recipient = inv.coordinator if to is Audience.COORDINATOR else inv.person(Role(to.value))
    assert recipient is not None
    return Notification(
        kind=kind,
        workflow_id=state.workflow_id,
        mentorship_key=state.mentorship_key,
        invited_at=state.invited_at,
        step=step,
        to=to,
        recipient=recipient,
        invitation=inv.model_copy(update={"message": None, "focus_areas": []}),
        at=state.closes_at,
        issued_at=issued_at,
        feedback=list(state.answers) if kind is Notice.FEEDBACK_SUMMARY else [],
    )


def notification_failed(state: FeedbackStatus, notification: Notification, error: str, now: datetime) -> None:
    """A feedback email given up on: kept (the latest few), as the mentorship keeps its own."""
    del state.notification_failures[: -KEEP_LATEST + 1]
    state.notification_failures.append(
        NotificationFailure(
            at=now, step=notification.step, to=notification.to, error=truncate(error, KEEP_CHARACTERS_REASON)
        )
    )
