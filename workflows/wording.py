"""What the mentorship says about itself to operators and callers: the waiting-for text, the current details the
Temporal UI shows, and the summaries of its email activities.

Pure: computed from the state alone, so a query, the UI and a unit test read the same words.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta

from workflows.contract import MentorshipStatus, Notice, Notification, Stage
from workflows.durations import humanize_every, parse_duration
from workflows.plan import Due, next_due
from workflows.text import moment

# What the UI shows for each email activity ("email: check-in 3 reminder to the mentor").
EMAIL_LABELS: dict[Notice, str] = {
    Notice.INVITATION: "invitation",
    Notice.INVITATION_SENT: "invitation confirmation",
    Notice.INVITATION_REMINDER: "invitation reminder",
    Notice.MENTORSHIP_STARTED: "mentorship started",
    Notice.INVITATION_DECLINED: "invitation declined",
    Notice.INVITATION_EXPIRED: "invitation expired",
    Notice.INVITATION_WITHDRAWN: "invitation withdrawn",
    Notice.CHECK_IN_DUE: "check-in reminder",
    Notice.CHECK_IN_NUDGE: "check-in follow-up",
    Notice.AT_RISK: "at risk",
    Notice.BACK_ON_TRACK: "back on track",
    Notice.PAUSED: "paused",
    Notice.RESUMED: "resumed",
    Notice.WITHDRAWN: "withdrawn",
    Notice.WRAP_UP: "wrap-up",
    Notice.CHANGE_PROPOSED: "change proposed",
    Notice.CHANGE_ACCEPTED: "change accepted",
    Notice.CHANGE_DECLINED: "change declined",
    Notice.CHANGE_WITHDRAWN: "change withdrawn",
    Notice.CHANGE_LAPSED: "change lapsed",
    Notice.TERM_CHANGED: "term changed",
    Notice.FEEDBACK_REQUEST: "feedback request",
    Notice.FEEDBACK_REMINDER: "feedback reminder",
    Notice.FEEDBACK_SUMMARY: "feedback summary",
}


def shows_seconds(state: MentorshipStatus) -> bool:
    """Seconds only matter for demo timings; days-long cadences read better without them."""
    return parse_duration(state.invitation.check_in_every).approximate() < timedelta(hours=1)


def when(state: MentorshipStatus, value: datetime | None) -> str:
    """A moment of this mentorship, in UTC (said so)."""
    return moment(value, seconds=shows_seconds(state))


def waiting_for(state: MentorshipStatus, say: Callable[[datetime | None], str] | None = None) -> str:
    """What the mentorship waits for now, and for whom ("check-in 3, due ...; next: ... on ..."); its moments in
    UTC, or as ``say`` puts them (the HTTP API's status for one participant: in their zone and locale)."""
    say_moment = say or functools.partial(when, state)
    inv = state.invitation
    due = next_due(state)
    if state.stage is Stage.INVITED:
        invitee = inv.person(inv.invitee)
        text = f"{invitee.name} ({inv.invitee}) to accept or decline, until {say_moment(state.expires_at)}"
        if due is not None and due.event is Due.INVITATION_REMINDER:
            text += f"; {due.summary} on {say_moment(due.at)}"
        return text
    if state.stage is Stage.ACTIVE:
        assert due is not None
        text = f"check-in {state.cycle}, due {say_moment(state.next_check_in_due)}"
        if due.event is not Due.CHECK_IN_DUE:
            text += f"; next: {due.summary} on {say_moment(due.at)}"
        return text + _proposal_waits(state, say_moment)
    if state.stage is Stage.PAUSED:
        return (
            "either party to resume"
            + (f", or the pause to end on {say_moment(state.paused_until)}" if state.paused_until else "")
            + _proposal_waits(state, say_moment)
        )
    return f"nothing: the mentorship ended ({state.stage}) on {say_moment(state.ended_at)}"


def _proposal_waits(state: MentorshipStatus, say_moment: Callable[[datetime | None], str]) -> str:
    proposal = state.proposal
    if proposal is None:
        return ""
    other = state.invitation.person(proposal.role.other)
    return (
        f"; {other.name} ({proposal.role.other}) to accept or decline change {proposal.number}, "
        f"until {say_moment(proposal.lapses_at)}"
    )


def details(state: MentorshipStatus) -> str:
    """The current details the Temporal UI shows for the workflow (Markdown)."""
    inv = state.invitation
    lines = [
        f"**Stage:** {state.stage.value}" + (" — **at risk**" if state.at_risk else ""),
        f"**Waiting for:** {waiting_for(state)}",
        f"**Check-ins:** {state.check_ins_recorded} done, {state.missed_in_a_row} missed in a row, "
        f"{state.missed_total} missed in all",
        f"**Cadence:** {humanize_every(inv.check_in_every)}"
        + (f", term ends {when(state, state.term_ends_at)}" if state.term_ends_at else ""),
    ]
    if state.notification_failures:
        last = state.notification_failures[-1]
        lines.append(
            f"**Last failed notification:** {last.step} to the {last.to.value} at {when(state, last.at)}: {last.error}"
        )
    if state.held_emails:
        held = "; ".join(
            f"{email.step} to the {email.to.value} until {when(state, email.until)}" for email in state.held_emails
        )
        lines.append(f"**Held for quiet hours:** {held}")
    hooks = state.webhooks
    if hooks.given_up:
        lines.append(f"**Webhooks given up on:** {hooks.given_up}; the last: {hooks.last_failure}")
    if hooks.pending > 1:
        # One pending is the usual moment between an event and its delivery; more means a receiver is behind.
        lines.append(f"**Webhooks waiting to go out:** {hooks.pending} events (a receiver is down or slow)")
    if state.refused_signals:
        refusal = state.refused_signals[-1]
        lines.append(f"**Last refused signal:** {refusal.signal} by {refusal.by}: {refusal.reason}")
    return "\n\n".join(lines)


def email_label(notification: Notification) -> str:
    """'check-in 3 reminder': what one email is, for the UI and the timeline."""
    label = EMAIL_LABELS[notification.kind]
    if notification.check_in_number is not None and notification.kind in (Notice.CHECK_IN_DUE, Notice.CHECK_IN_NUDGE):
        label = label.replace("check-in", f"check-in {notification.check_in_number}")
    return label


def email_summary(notification: Notification) -> str:
    """The summary the UI shows for an email activity: 'email: check-in 3 reminder to the mentor'."""
    return f"email: {email_label(notification)} to the {notification.to}"
