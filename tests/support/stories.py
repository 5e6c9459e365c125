"""Mentorships driven through the pure effects (``workflows/effects.py``), collecting the events they emit: the
lifecycle the event tests check, the stories that end an invitation, and ``every_event``, one or more events of
every type (the data models, the published schemas and the README's event catalog are checked against them).

Fixed ids and moments, so that the events (and the README's examples made of them) are the same on every run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import workflows.effects as effects
from tests.support.builders import invitation
from workflows.contract import (
    AcceptChangeInput,
    AcceptInput,
    CheckInInput,
    DeclineChangeInput,
    DeclineInput,
    MentorshipStatus,
    Notification,
    PauseInput,
    ProposeChangeInput,
    ResumeInput,
    Role,
    WithdrawChangeInput,
    WithdrawInput,
    feedback_workflow_id,
    mentorship_key,
)
from workflows.events import EventType, MentorshipEvent, build_event, person_event
from workflows.plan import Due, next_due

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MENTOR, MENTEE = "ada", "ben.b"
WORKFLOW_ID = "mentorship-ada--ben.b"
DAY = 24 * 60
FAILURE = "mail server refused ada@example.com: 550 no such user"


class Story:
    """A mentorship driven through the pure effects, collecting every event (and every notification)."""

    def __init__(self, **fields: Any) -> None:
        start = effects.new_mentorship(WORKFLOW_ID, invitation(**fields), NOW)
        self.state: MentorshipStatus = start.state
        self.now = NOW
        self.events: list[MentorshipEvent] = list(start.events)
        self.notifications: list[Notification] = list(start.notifications)

    def _take(self, change: effects.Change) -> None:
        self.events += change.events
        self.notifications += change.notifications

    def act(self, effect: Any, action: Any, minutes: int = 1) -> None:
        self.now += timedelta(minutes=minutes)
        self.until(self.now)
        change = effects.Change(self.state, self.now)
        effect(change, action)
        self._take(change)

    def until(self, moment: datetime) -> None:
        for change in effects.catch_up(self.state, moment):
            self._take(change)

    def run_to(self, event: Due) -> None:
        """Every timed event up to and including the next one of this kind."""
        while True:
            due = next_due(self.state)
            assert due is not None
            change = effects.Change(self.state, due.at)
            effects.fell_due(change, due)
            self._take(change)
            self.now = due.at
            if due.event is event:
                return

    def fail_last_notification(self, error: str = FAILURE) -> None:
        """The latest email given up on (``effects.notification_failed``), as the workflow records it."""
        change = effects.Change(self.state, self.now)
        effects.notification_failed(change, self.notifications[-1], error)
        self._take(change)

    def feedback(
        self, by: Role, rating: int, would_continue: bool | None, note: str | None, days: int = 2
    ) -> MentorshipEvent:
        """``mentorship.feedback.submitted`` as the Feedback workflow builds it: continuing the mentorship's
        sequence, the participant as the actor, their note as the text."""
        self.now += timedelta(days=days)
        state = self.state
        key = mentorship_key(state.workflow_id, state.invited_at)
        state.events_emitted += 1
        event = build_event(
            kind=EventType.FEEDBACK_SUBMITTED,
            key=key,
            workflow_id=state.workflow_id,
            sequence=state.events_emitted,
            occurred_at=self.now,
            invitation=state.invitation,
            actor=by,
            data={
                "feedback_workflow_id": feedback_workflow_id(key),
                "rating": rating,
                "would_continue": would_continue,
            },
            text=note,
        )
        self.events.append(event)
        return event

    def types(self) -> list[str]:
        return [str(event.type) for event in self.events]


def lifecycle() -> Story:
    """A whole mentorship: accepted, check-ins recorded and missed, at risk and back on track, paused and resumed
    (by a participant and by the pause's end), a change of terms proposed, declined, accepted, withdrawn and
    lapsed, an email given up on, the term's end with a proposal still open, and both participants' feedback."""
    story = Story(check_in_every="P14D", escalate_after_missed=2, term="P6M")
    story.act(effects.accepted, AcceptInput(by=MENTOR, note="Happy to"), minutes=DAY + 150)
    story.act(effects.checked_in, CheckInInput(by=MENTEE, rating=4, note="Talk outline"), minutes=13 * DAY)
    story.run_to(Due.CHECK_IN_MISSED)
    story.run_to(Due.CHECK_IN_MISSED)
    story.act(effects.checked_in, CheckInInput(by=MENTOR))
    story.act(effects.paused, PauseInput(by=MENTEE, reason="travelling"))
    story.act(effects.resumed, ResumeInput(by=MENTOR))
    story.act(effects.change_proposed, ProposeChangeInput(by=MENTEE, extend_term_by="P1M"))
    story.act(effects.change_declined, DeclineChangeInput(by=MENTOR))
    story.act(effects.change_proposed, ProposeChangeInput(by=MENTEE, check_in_every="P7D"))
    story.act(effects.change_accepted, AcceptChangeInput(by=MENTOR))
    story.act(effects.change_proposed, ProposeChangeInput(by=MENTOR, extend_term_by="P1M"))
    story.act(effects.change_withdrawn, WithdrawChangeInput(by=MENTOR))
    story.act(effects.change_proposed, ProposeChangeInput(by=MENTOR, extend_term_by="P1M", respond_within="P1D"))
    story.run_to(Due.CHANGE_LAPSES)
    story.act(effects.paused, PauseInput(by=MENTOR, until=story.now + timedelta(days=3)))
    story.run_to(Due.PAUSE_ENDS)
    story.fail_last_notification()
    story.act(effects.change_proposed, ProposeChangeInput(by=MENTEE, check_in_every="P21D", respond_within="P1Y"))
    story.run_to(Due.TERM_ENDS)
    return story


def declined() -> Story:
    """An acceptance refused for want of a place (Ada is at her limit), then the invitation declined."""
    story = Story()
    story.act(_refused, "ada is at her limit as mentor (1 of 1)", minutes=60 * 2)
    story.act(effects.declined, DeclineInput(by=MENTOR, reason="no time until spring"), minutes=60 * 26)
    return story


def _refused(change: effects.Change, reason: str) -> None:
    effects.acceptance_refused(change, MENTOR, reason)


def expired() -> Story:
    story = Story()
    story.run_to(Due.INVITATION_EXPIRY)
    return story


def withdrawn() -> Story:
    """Accepted, then ended by the mentee."""
    story = Story()
    story.act(effects.accepted, AcceptInput(by=MENTOR), minutes=60 * 5)
    story.act(effects.withdrawn, WithdrawInput(by=MENTEE, reason="changed teams"), minutes=60 * 24 * 20)
    return story


def limits_changed() -> MentorshipEvent:
    """``person.limits_changed`` as the Person workflow builds it (``person_event``)."""
    return person_event(
        person_id=MENTOR, sequence=3, occurred_at=NOW - timedelta(days=2), max_mentees=3, max_mentors=None
    )


def every_event() -> list[MentorshipEvent]:
    """Every event of the stories: every type at least once (the whole lifecycle with feedback, the ways an
    invitation ends, a person's limits)."""
    whole = lifecycle()
    whole.feedback(Role.MENTEE, 5, True, "Thank you, Ada: the talk went well")
    whole.feedback(Role.MENTOR, 4, None, None, days=1)
    events = [*whole.events]
    for story in (declined(), expired(), withdrawn()):
        events += story.events
    return [*events, limits_changed()]


def example_of_each_type() -> dict[EventType, MentorshipEvent]:
    """The first event of each type in ``every_event``, in the order of ``EventType``."""
    first: dict[EventType, MentorshipEvent] = {}
    for event in every_event():
        first.setdefault(event.type, event)
    return {kind: first[kind] for kind in EventType}
