"""What each notification says, as plain text and as HTML: pure functions, no I/O.

A message is first built as a few neutral blocks (paragraphs, a quoted note, a list, action links) and then
rendered twice, so the text and HTML versions cannot drift apart. Every string that reaches the HTML goes
through ``html.escape``: names, notes and focus areas are typed by people, and escaping everything (not only
the fields known to be user input) means a new notice cannot forget it.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from urllib.parse import quote

from infra.links import LinkAction, link_for
from infra.local_time import moment_for
from infra.settings import Settings
from workflows.contract import Audience, Invitation, Notice, Notification, Person, Role
from workflows.durations import count as _count
from workflows.durations import humanize_duration, humanize_every
from workflows.effects import describe_change
from workflows.text import escape_html

LINK_PLACEHOLDERS = frozenset({"workflow_id", "action", "participant_id"})


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


# --- Small humanizers -----------------------------------------------------------------------------------


# --- Links ----------------------------------------------------------------------------------------------


def check_link_template(template: str) -> None:
    """Raise ValueError if the template names a placeholder we cannot fill (so the worker fails at start)."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"MENTORSHIP_LINK_TEMPLATE is not a valid template: {exc}") from exc
    unknown = fields - LINK_PLACEHOLDERS
    if unknown:
        raise ValueError(
            f"MENTORSHIP_LINK_TEMPLATE uses unknown placeholders {sorted(unknown)}; "
            f"only {{workflow_id}}, {{action}} and {{participant_id}} are filled in"
        )


def action_link(settings: Settings, notification: Notification, action: LinkAction) -> str | None:
    """The link for ``action`` (accept, decline, check_in, accept_change, decline_change, feedback) in this email, if
    links are configured: signed links to this service's HTTP API (MENTORSHIP_API_PUBLIC_URL, infra/links.py), or
    links into the caller's own app (MENTORSHIP_LINK_TEMPLATE); infra.settings.Settings allows one of the two."""
    signed = link_for(settings, notification, action)
    if signed is not None:
        return signed
    template = settings.mentorship_link_template
    if not template:
        return None
    check_link_template(template)
    return template.format(
        workflow_id=quote(notification.workflow_id, safe=""),
        action=quote(action, safe=""),
        participant_id=quote(notification.recipient.id, safe=""),
    )


# --- Blocks ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Paragraph:
    text: str


@dataclass(frozen=True)
class _Quote:
    label: str
    text: str


@dataclass(frozen=True)
class _Bullets:
    label: str
    items: list[str]


@dataclass(frozen=True)
class _Links:
    links: list[tuple[str, str]]


_Block = _Paragraph | _Quote | _Bullets | _Links


@dataclass
class _Draft:
    subject: str
    blocks: list[_Block] = field(default_factory=list)

    def para(self, text: str) -> None:
        self.blocks.append(_Paragraph(text))

    def quote(self, label: str, text: str | None) -> None:
        if text and text.strip():
            self.blocks.append(_Quote(label, text.strip()))

    def bullets(self, label: str, items: list[str]) -> None:
        if items:
            self.blocks.append(_Bullets(label, items))

    def links(self, links: list[tuple[str, str | None]]) -> None:
        present = [(label, url) for label, url in links if url]
        if present:
            self.blocks.append(_Links(present))


_SIGNATURE = "— Mentorships"
_FOOTER = "This is an automatic message about a mentorship you are part of."


def _render_text(greeting: str, draft: _Draft) -> str:
    chunks = [greeting]
    for block in draft.blocks:
        if isinstance(block, _Paragraph):
            chunks.append(block.text)
        elif isinstance(block, _Quote):
            quoted = "\n".join(f"> {line}" if line else ">" for line in block.text.splitlines())
            chunks.append(f"{block.label}\n{quoted}")
        elif isinstance(block, _Bullets):
            chunks.append(block.label + "\n" + "\n".join(f"  - {item}" for item in block.items))
        else:
            chunks.append("\n".join(f"{label}: {url}" for label, url in block.links))
    chunks.append(_SIGNATURE)
    chunks.append(_FOOTER)
    return "\n\n".join(chunks) + "\n"


_P = '<p style="margin:0 0 16px 0">'
_BUTTON = (
    'style="display:inline-block;margin:0 8px 8px 0;padding:8px 16px;border-radius:4px;'
    'background:#2563eb;color:#ffffff;text-decoration:none"'
)


def _render_html(subject: str, greeting: str, draft: _Draft) -> str:
    parts = [f"{_P}{escape_html(greeting)}</p>"]
    for block in draft.blocks:
        if isinstance(block, _Paragraph):
            parts.append(f"{_P}{escape_html(block.text)}</p>")
        elif isinstance(block, _Quote):
            body = "<br>".join(escape_html(line) for line in block.text.splitlines())
            parts.append(
                f"{_P}{escape_html(block.label)}</p>"
                '<blockquote style="margin:0 0 16px 0;padding:4px 12px;border-left:3px solid #cbd5e1;'
                f'color:#334155">{body}</blockquote>'
            )
        elif isinstance(block, _Bullets):
            items = "".join(f"<li>{escape_html(item)}</li>" for item in block.items)
            parts.append(f'{_P}{escape_html(block.label)}</p><ul style="margin:0 0 16px 0">{items}</ul>')
        else:
            buttons = "".join(
                f'<a href="{escape_html(url)}" {_BUTTON}>{escape_html(label)}</a>' for label, url in block.links
            )
            parts.append(f'<p style="margin:0 0 16px 0">{buttons}</p>')
    parts.append(f"{_P}{escape_html(_SIGNATURE)}</p>")
    parts.append(f'<p style="margin:24px 0 0 0;font-size:12px;color:#64748b">{escape_html(_FOOTER)}</p>')
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape_html(subject)}</title>\n</head>\n"
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;color:#0f172a">\n'
        f'<div style="max-width:560px">\n{body}\n</div>\n</body>\n</html>\n'
    )


# --- Who is who -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cast:
    """The people of a notification, seen from its recipient."""

    notification: Notification

    @property
    def invitation(self) -> Invitation:
        return self.notification.invitation

    @property
    def role(self) -> Role | None:
        """The recipient's role; None for the coordinator."""
        to = self.notification.to
        if to is Audience.MENTOR:
            return Role.MENTOR
        if to is Audience.MENTEE:
            return Role.MENTEE
        return None

    @property
    def other(self) -> Person | None:
        role = self.role
        return None if role is None else self.invitation.person(role.other)

    @property
    def initiator(self) -> Person:
        return self.invitation.person(self.invitation.initiated_by)

    @property
    def invitee(self) -> Person:
        return self.invitation.person(self.invitation.invitee)

    @property
    def actor(self) -> Person | None:
        actor = self.notification.actor
        return None if actor is None else self.invitation.person(actor)

    @property
    def recipient_acted(self) -> bool:
        return self.notification.actor is not None and self.notification.actor is self.role

    @property
    def is_initiator(self) -> bool:
        return self.role is self.invitation.initiated_by

    @property
    def pair(self) -> str:
        """'Ben' for a participant ("your mentorship with Ben"), both names for the coordinator."""
        other = self.other
        if other is not None:
            return other.name
        return f"{self.invitation.mentor.name} and {self.invitation.mentee.name}"

    def acted_on(self) -> str:
        """What the actor acted on: "your mentorship" when the other participant did it (their name is already
        in the sentence), otherwise the same as ``the_mentorship()``."""
        if self.other is not None and self.actor is not None and self.actor == self.other:
            return "your mentorship"
        return self.the_mentorship()

    def the_mentorship(self) -> str:
        other = self.other
        if other is not None:
            return f"your mentorship with {other.name}"
        return (
            f"the mentorship between {self.invitation.mentor.name} (mentor) and {self.invitation.mentee.name} (mentee)"
        )


def _when(n: Notification) -> str:
    """The moment the notice is about, as its recipient reads it: in their zone and locale (UTC for nobody's)."""
    return moment_for(n.recipient, n.at)


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _cadence(invitation: Invitation) -> str:
    return humanize_every(invitation.check_in_every)


def _term_sentence(invitation: Invitation) -> str | None:
    if invitation.term is None:
        return None
    return f"The mentorship is planned to run for {humanize_duration(invitation.term)}."


# --- One function per notice ----------------------------------------------------------------------------


def _invitation(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    inviter = cast.initiator
    if n.invitation.initiated_by is Role.MENTOR:
        ask = f"{inviter.name} would like to be your mentor."
        subject = f"{inviter.name} would like to mentor you"
    else:
        ask = f"{inviter.name} would like you to be their mentor."
        subject = f"{inviter.name} would like you to be their mentor"
    draft = _Draft(subject)
    draft.para(ask)
    draft.quote("Their message to you:", n.invitation.message)
    draft.bullets("What they would like to focus on:", n.invitation.focus_areas)
    plan = f"If you accept, you will check in together {_cadence(n.invitation)}."
    term = _term_sentence(n.invitation)
    draft.para(plan if term is None else f"{plan} {term}")
    _answer(draft, n, settings)
    return draft


def _answer(draft: _Draft, n: Notification, settings: Settings) -> None:
    if n.at is not None:
        draft.para(f"Please answer by {_when(n)}; the invitation expires after that.")
    draft.links([("Accept", action_link(settings, n, "accept")), ("Decline", action_link(settings, n, "decline"))])


def _invitation_sent(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    invitee = cast.invitee
    draft = _Draft(f"Your invitation to {invitee.name} is on its way")
    draft.para(f"We have sent your mentorship invitation to {invitee.name}.")
    if n.at is not None:
        draft.para(f"They have until {_when(n)} to answer. We will let you know as soon as they do.")
    else:
        draft.para("We will let you know as soon as they answer.")
    return draft


def _invitation_reminder(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    inviter = cast.initiator
    draft = _Draft(f"Reminder: {inviter.name} is waiting for your answer")
    draft.para(f"{inviter.name} invited you to a mentorship and is looking forward to your answer.")
    draft.quote("Their message to you:", n.invitation.message)
    draft.bullets("What they would like to focus on:", n.invitation.focus_areas)
    _answer(draft, n, settings)
    return draft


def _mentorship_started(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    draft = _Draft(f"{_capitalized(cast.the_mentorship())} has started")
    if cast.role is None:
        draft.para(f"{_capitalized(cast.the_mentorship())} has started.")
    elif n.mutual:
        draft.para(f"You and {cast.pair} invited each other, so your mentorship starts right away.")
    elif cast.is_initiator:
        draft.para(f"{cast.invitee.name} accepted your invitation: your mentorship has started.")
    else:
        draft.para(f"You accepted {cast.initiator.name}'s invitation: your mentorship has started.")
    if not cast.recipient_acted and cast.actor is not None:
        draft.quote(f"A note from {cast.actor.name}:", n.text)
    plan = f"You will check in {_cadence(n.invitation)}"
    draft.para(f"{plan}; the first check-in is due {_when(n)}." if n.at is not None else f"{plan}.")
    term = _term_sentence(n.invitation)
    if term is not None:
        draft.para(term)
    return draft


def _invitation_declined(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    invitee, inviter = cast.invitee, cast.initiator
    if cast.is_initiator:
        draft = _Draft(f"{invitee.name} declined your invitation")
        draft.para(f"{invitee.name} has declined your mentorship invitation.")
        draft.quote("Their reason:", n.text)
        draft.para("Thank you for reaching out. You are welcome to invite someone else.")
    elif cast.role is not None:
        draft = _Draft(f"You declined {inviter.name}'s invitation")
        draft.para(f"You declined {inviter.name}'s mentorship invitation. We have let them know.")
        draft.quote("Your reason:", n.text)
    else:
        draft = _Draft(f"{invitee.name} declined {inviter.name}'s invitation")
        draft.para(f"{invitee.name} declined {inviter.name}'s mentorship invitation.")
        draft.quote("The reason given:", n.text)
    return draft


def _invitation_expired(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    invitee, inviter = cast.invitee, cast.initiator
    when = f" on {_when(n)}" if n.at is not None else ""
    if cast.is_initiator:
        draft = _Draft(f"Your invitation to {invitee.name} has expired")
        draft.para(f"{invitee.name} did not answer your mentorship invitation, and it expired{when}.")
        draft.para("You are welcome to send a new invitation, to them or to someone else.")
    elif cast.role is not None:
        draft = _Draft(f"{inviter.name}'s invitation has expired")
        draft.para(f"{inviter.name}'s mentorship invitation expired{when} without an answer.")
        draft.para(f"If you are still interested, you can get in touch with {inviter.name}.")
    else:
        draft = _Draft(f"{inviter.name}'s invitation to {invitee.name} has expired")
        draft.para(f"{inviter.name}'s mentorship invitation to {invitee.name} expired{when} without an answer.")
    return draft


def _invitation_withdrawn(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    invitee, inviter = cast.invitee, cast.initiator
    # Usually the initiator takes the invitation back; if the invitee withdrew instead, say so.
    by_invitee = n.actor is not None and n.actor is n.invitation.invitee
    if cast.role is None:
        who = invitee.name if by_invitee else inviter.name
        draft = _Draft(f"{inviter.name}'s invitation to {invitee.name} was withdrawn")
        draft.para(f"{who} withdrew {inviter.name}'s mentorship invitation to {invitee.name}.")
        draft.quote("The reason given:", n.text)
    elif cast.recipient_acted:
        draft = _Draft(
            "You withdrew from the invitation" if by_invitee else f"You withdrew your invitation to {invitee.name}"
        )
        if by_invitee:
            draft.para(f"You withdrew from {inviter.name}'s mentorship invitation. We have let them know.")
        else:
            draft.para(f"You withdrew your mentorship invitation to {invitee.name}. We have let them know.")
        draft.quote("Your reason:", n.text)
    elif by_invitee:
        draft = _Draft(f"{invitee.name} withdrew from your invitation")
        draft.para(f"{invitee.name} has withdrawn from your mentorship invitation.")
        draft.quote("Their reason:", n.text)
        draft.para("Thank you for reaching out. You are welcome to invite someone else.")
    else:
        draft = _Draft(f"{inviter.name} withdrew their invitation")
        draft.para(f"{inviter.name} has withdrawn their mentorship invitation; there is nothing you need to do.")
        draft.quote("Their reason:", n.text)
    return draft


def _number(n: Notification) -> str:
    return f"check-in {n.check_in_number}" if n.check_in_number is not None else "your next check-in"


def _check_in_due(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    which = _number(n)
    draft = _Draft(f"Time for {which} with {cast.pair}")
    due = f", due {_when(n)}" if n.at is not None else ""
    draft.para(f"It's time for {which} with {cast.pair}{due}.")
    if n.missed_in_a_row:
        draft.para(
            f"The last {_count(n.missed_in_a_row, 'check-in')} went unrecorded; this is a good moment to catch up."
            if n.missed_in_a_row > 1
            else "The last check-in went unrecorded; this is a good moment to catch up."
        )
    draft.para("Once you have met, one of you records the check-in; it takes a minute.")
    draft.links([("Record the check-in", action_link(settings, n, "check_in"))])
    return draft


def _check_in_nudge(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    which = _number(n)
    draft = _Draft(f"Reminder: {which} with {cast.pair} is waiting")
    due = f" was due {_when(n)} and" if n.at is not None else ""
    draft.para(f"A friendly reminder: {which} with {cast.pair}{due} has not been recorded yet.")
    draft.para("If you have already met, please record it now; if not, now is a good moment to find a time.")
    draft.links([("Record the check-in", action_link(settings, n, "check_in"))])
    return draft


def _at_risk(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    inv = n.invitation
    missed = n.missed_in_a_row if n.missed_in_a_row is not None else inv.escalate_after_missed
    names = f"{inv.mentor.name} and {inv.mentee.name}"
    draft = _Draft(f"{names} have missed {_count(missed, 'check-in')} in a row")
    draft.para(
        f"{inv.mentor.name} (mentor) and {inv.mentee.name} (mentee) have missed "
        f"{_count(missed, 'check-in')} in a row; they agreed to check in {_cadence(inv)}."
    )
    latest = f"The latest one missed is check-in {n.check_in_number}" if n.check_in_number is not None else ""
    if n.at is not None:
        latest = f"{latest}, due {_when(n)}" if latest else f"The last missed one was due {_when(n)}"
    if latest:
        draft.para(f"{latest}.")
    draft.para("A short word from you may help them get back on track.")
    return draft


def _back_on_track(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    inv = n.invitation
    names = f"{inv.mentor.name} and {inv.mentee.name}"
    draft = _Draft(f"{names} are back on track")
    recorded = f"check-in {n.check_in_number}" if n.check_in_number is not None else "a check-in"
    draft.para(
        f"Good news: {inv.mentor.name} (mentor) and {inv.mentee.name} (mentee) recorded {recorded} "
        "after missing some. Nothing more is needed from you."
    )
    return draft


def _paused(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    draft = _Draft(f"{_capitalized(cast.the_mentorship())} is paused")
    if cast.recipient_acted:
        who = "You paused"
    elif cast.actor is not None:
        who = f"{cast.actor.name} paused"
    else:
        who = "We paused"
    until = f" until {_when(n)}" if n.at is not None else ""
    draft.para(f"{who} {cast.acted_on()}{until}.")
    draft.quote("Your reason:" if cast.recipient_acted else "The reason given:", n.text)
    if n.at is not None:
        draft.para("It will resume by itself then. No check-ins are due while it is paused.")
    else:
        draft.para("No check-ins are due while it is paused. Either of you can resume it at any time.")
    return draft


def _resumed(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    draft = _Draft(f"{_capitalized(cast.the_mentorship())} has resumed")
    if cast.recipient_acted:
        draft.para(f"You resumed {cast.the_mentorship()}.")
    elif cast.actor is not None:
        draft.para(f"{cast.actor.name} resumed {cast.acted_on()}.")
    else:
        draft.para(f"{_capitalized(cast.the_mentorship())} has resumed, as planned.")
    if not cast.recipient_acted and cast.actor is not None:
        draft.quote(f"A note from {cast.actor.name}:", n.text)
    if n.at is not None:
        draft.para(f"The next check-in is due {_when(n)}.")
    return draft


def _withdrawn(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    draft = _Draft(f"{_capitalized(cast.the_mentorship())} has ended")
    if cast.recipient_acted:
        draft.para(f"You ended {cast.the_mentorship()}. We have let {cast.pair} know.")
        draft.quote("Your reason:", n.text)
    elif cast.actor is not None:
        draft.para(f"{cast.actor.name} has ended {cast.acted_on()}.")
        draft.quote("Their reason:", n.text)
    else:
        draft.para(f"{_capitalized(cast.the_mentorship())} has ended.")
        draft.quote("The reason given:", n.text)
    if cast.role is not None:
        draft.para("Thank you for the time you gave to it.")
    return draft


def _wrap_up(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    draft = _Draft(f"{_capitalized(cast.the_mentorship())} has come to an end: how did it go?")
    when = f" on {_when(n)}" if n.at is not None else ""
    draft.para(f"The planned term of {cast.the_mentorship()} ended{when}. Thank you for taking part!")
    if cast.role is not None:
        draft.para(
            "We would love to hear how it went: what helped, what you would change, and whether you "
            f"would like to continue with {cast.pair}. Both of you are asked for feedback; a few lines are enough."
        )
    else:
        draft.para("Both participants have been asked for feedback.")
    return draft


# --- Changes to the terms ---------------------------------------------------------------------------------


def _proposer(n: Notification, cast: _Cast) -> Person | None:
    """Who proposed the change: the proposal says; without it, the actor of a proposal or a withdrawal."""
    if n.proposal is not None:
        return n.invitation.person(n.proposal.role)
    if n.kind in (Notice.CHANGE_PROPOSED, Notice.CHANGE_WITHDRAWN):
        return cast.actor
    return None


def _is_recipient(cast: _Cast, person: Person | None) -> bool:
    return person is not None and cast.role is not None and person == cast.invitation.person(cast.role)


def _on(cast: _Cast) -> str:
    """'your mentorship' for a participant (the other one is named in the sentence); both names for the coordinator."""
    return "your mentorship" if cast.role is not None else cast.the_mentorship()


def _the_change(n: Notification) -> str:
    """': the term 3 months longer and check-ins every week', or nothing when the notification does not say."""
    return f": {describe_change(n.proposal)}" if n.proposal is not None else ""


def _change_proposed(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    proposer = _proposer(n, cast)
    if _is_recipient(cast, proposer):
        draft = _Draft("You proposed a change to your mentorship")
        draft.para(f"You proposed a change to {cast.the_mentorship()}{_the_change(n)}.")
        draft.quote("Your note:", n.text)
        if n.at is not None:
            draft.para(f"{cast.pair} has until {_when(n)} to accept or decline it.")
        return draft
    who = proposer.name if proposer is not None else "One of the participants"
    draft = _Draft(f"{who} proposes a change to {_on(cast)}")
    draft.para(f"{who} proposes a change to {_on(cast)}{_the_change(n)}.")
    if n.proposal is not None and n.proposal.check_in_every is not None:
        they = "you" if cast.role is not None else "they"
        draft.para(f"At present {they} check in {_cadence(n.invitation)}.")
    if proposer is not None:
        draft.quote(f"A note from {proposer.name}:", n.text)
    if cast.role is None:
        until = f" It is open until {_when(n)}." if n.at is not None else ""
        draft.para(f"Nothing changes unless the other participant accepts it.{until}")
        return draft
    until = f" Please answer by {_when(n)}; the proposal lapses after that." if n.at is not None else ""
    draft.para(f"Nothing changes unless you accept it.{until}")
    draft.links(
        [
            ("Accept the change", action_link(settings, n, "accept_change")),
            ("Decline the change", action_link(settings, n, "decline_change")),
        ]
    )
    return draft


def _change_answered(n: Notification, cast: _Cast, verb: str) -> _Draft:
    """The start of the email about an accepted or declined change: who answered whose proposal, and what it was."""
    answerer = cast.actor
    if _is_recipient(cast, answerer):
        who = "You"
    else:
        who = answerer.name if answerer is not None else "The other participant"
    proposer = _proposer(n, cast)
    if _is_recipient(cast, proposer):
        draft = _Draft(f"{who} {verb} your proposed change")
        draft.para(f"{who} {verb} the change you proposed to your mentorship{_the_change(n)}.")
    else:
        whose = f"{proposer.name}'s" if proposer is not None else "a"
        draft = _Draft(f"{who} {verb} {whose} proposed change")
        draft.para(f"{who} {verb} {whose} proposed change to {_on(cast)}{_the_change(n)}.")
    return draft


def _change_accepted(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    draft = _change_answered(n, cast, "accepted")
    if cast.actor is not None and not cast.recipient_acted:
        draft.quote(f"A note from {cast.actor.name}:", n.text)
    draft.para("The change applies from now on.")
    if n.proposal is None or n.proposal.check_in_every is not None:
        cadence = f"Check-ins are now {_cadence(n.invitation)}"
        if n.at is not None:
            draft.para(f"{cadence}; the next one is due {_when(n)}.")
        else:
            draft.para(f"{cadence}; none are due while the mentorship is paused.")
    elif n.at is not None:
        draft.para(f"The next check-in is due {_when(n)}.")
    return draft


def _change_declined(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    draft = _change_answered(n, cast, "declined")
    draft.quote("Your reason:" if cast.recipient_acted else "Their reason:", n.text)
    they = "you keep" if cast.role is not None else "they keep"
    draft.para(f"Nothing changes: {they} checking in {_cadence(n.invitation)}, as before.")
    return draft


def _change_withdrawn(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    proposer = _proposer(n, cast)
    if _is_recipient(cast, proposer):
        draft = _Draft("You withdrew your proposed change")
        draft.para(f"You withdrew your proposed change to {cast.the_mentorship()}{_the_change(n)}.")
        draft.para(f"We have let {cast.pair} know. The terms stay as they were.")
        return draft
    who = proposer.name if proposer is not None else "One of the participants"
    draft = _Draft(f"{who} withdrew their proposed change")
    draft.para(f"{who} withdrew their proposed change to {_on(cast)}{_the_change(n)}.")
    if cast.role is not None:
        draft.para(
            "There is nothing you need to do: the terms stay as they were, and the links of the earlier email no "
            "longer apply."
        )
    else:
        draft.para("The terms stay as they were.")
    return draft


def _change_lapsed(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    proposer = _proposer(n, cast)
    when = f" on {_when(n)}" if n.at is not None else ""
    if cast.role is not None and (proposer is None or _is_recipient(cast, proposer)):
        draft = _Draft(f"{cast.pair} did not answer your proposed change in time")
        draft.para(
            f"Your proposed change to {cast.the_mentorship()} lapsed{when}: {cast.pair} did not answer it in time."
        )
        if n.proposal is not None:
            draft.para(f"What you proposed: {describe_change(n.proposal)}.")
        draft.para("The terms stay as they were. You are welcome to talk it over and propose it again.")
        return draft
    whose = f"{proposer.name}'s" if proposer is not None else "A"
    draft = _Draft(f"{_capitalized(whose)} proposed change has lapsed")
    draft.para(f"{_capitalized(whose)} proposed change to {_on(cast)} lapsed{when} without an answer.")
    if n.proposal is not None:
        draft.para(f"What was proposed: {describe_change(n.proposal)}.")
    draft.para("The terms stay as they were.")
    return draft


def _term_changed(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    inv = n.invitation
    names = f"{inv.mentor.name} and {inv.mentee.name}"
    draft = _Draft(f"{names} changed the terms of their mentorship")
    draft.para(f"{inv.mentor.name} (mentor) and {inv.mentee.name} (mentee) agreed to a change{_the_change(n)}.")
    proposer = _proposer(n, cast)
    if proposer is not None and cast.actor is not None and proposer != cast.actor:
        draft.para(f"{proposer.name} proposed it and {cast.actor.name} accepted.")
    if n.at is not None:
        draft.para(f"The mentorship now runs until {_when(n)}.")
    draft.para(f"They check in {_cadence(inv)}. Nothing is needed from you.")
    return draft


# --- Feedback, once an active mentorship ended (the Feedback workflow sends these) ----------------------------


def _feedback_questions(cast: _Cast) -> list[str]:
    return [
        "How did it go, from 1 to 5?",
        f"Would you like to continue with {cast.pair}?",
        "Anything you would like to add? (optional)",
    ]


def _who_sees_feedback(n: Notification) -> str | None:
    coordinator = n.invitation.coordinator
    if coordinator is None:
        return None
    return f"{coordinator.name}, who coordinates the mentorship, gets a summary of both answers."


def _feedback_request(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    if cast.role is None:
        names = f"{n.invitation.mentor.name} and {n.invitation.mentee.name}"
        draft = _Draft(f"{names} are asked for feedback on their mentorship")
        draft.para(f"{_capitalized(cast.the_mentorship())} has ended; both of them are asked how it went.")
        until = f"; feedback closes on {_when(n)}" if n.at is not None else ""
        draft.para(f"You will get a summary of their answers once both have answered{until}.")
        return draft
    draft = _Draft(f"How did {cast.the_mentorship()} go?")
    draft.para(f"{_capitalized(cast.the_mentorship())} has ended. Thank you for the time you gave to it!")
    draft.bullets(
        "We would love to hear how it went. Three short questions, a minute at most:", _feedback_questions(cast)
    )
    if n.at is not None:
        draft.para(f"You can give your feedback until {_when(n)}.")
    seen = _who_sees_feedback(n)
    if seen is not None:
        draft.para(seen)
    draft.links([("Give feedback", action_link(settings, n, "feedback"))])
    return draft


def _feedback_reminder(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    if cast.role is None:
        draft = _Draft(f"Feedback on {cast.the_mentorship()} is still open")
        until = f" until {_when(n)}" if n.at is not None else ""
        draft.para(f"Feedback on {cast.the_mentorship()} is open{until}; not everyone has answered yet.")
        draft.para("You will get a summary once both have answered, or when feedback closes.")
        return draft
    draft = _Draft(f"Reminder: how did {cast.the_mentorship()} go?")
    draft.para(f"A gentle reminder: we would still love to hear how {cast.the_mentorship()} went.")
    draft.para(
        f"A few clicks are enough: a rating from 1 to 5, whether you would like to continue with {cast.pair}, and a "
        "note if you like."
    )
    if n.at is not None:
        draft.para(f"Feedback is open until {_when(n)}. If you would rather not answer, there is nothing to do.")
    else:
        draft.para("If you would rather not answer, there is nothing to do.")
    draft.links([("Give feedback", action_link(settings, n, "feedback"))])
    return draft


def _would_continue(would_continue: bool | None) -> str:
    if would_continue is True:
        return "would like to continue together"
    if would_continue is False:
        return "would not continue together"
    return "did not say whether they would continue"


def _feedback_summary(n: Notification, cast: _Cast, settings: Settings) -> _Draft:
    inv = n.invitation
    names = f"{inv.mentor.name} and {inv.mentee.name}"
    draft = _Draft(f"Feedback on the mentorship of {names}")
    answers = {answer.role: answer for answer in n.feedback}
    if len(answers) == len(Role):
        draft.para(f"Both participants of {cast.the_mentorship()} have given their feedback.")
    else:
        closed = f" on {_when(n)}" if n.at is not None else ""
        draft.para(f"Feedback on {cast.the_mentorship()} closed{closed}.")
    for role in Role:
        person = inv.person(role)
        answer = answers.get(role)
        if answer is None:
            draft.para(f"{person.name} ({role.value}) did not answer.")
            continue
        continues = _would_continue(answer.would_continue)
        draft.para(f"{person.name} ({role.value}) rated it {answer.rating} out of 5 and {continues}.")
        draft.quote(f"{person.name}'s note:", answer.note)
    return draft


_RENDERERS = {
    Notice.INVITATION: _invitation,
    Notice.INVITATION_SENT: _invitation_sent,
    Notice.INVITATION_REMINDER: _invitation_reminder,
    Notice.MENTORSHIP_STARTED: _mentorship_started,
    Notice.INVITATION_DECLINED: _invitation_declined,
    Notice.INVITATION_EXPIRED: _invitation_expired,
    Notice.INVITATION_WITHDRAWN: _invitation_withdrawn,
    Notice.CHECK_IN_DUE: _check_in_due,
    Notice.CHECK_IN_NUDGE: _check_in_nudge,
    Notice.AT_RISK: _at_risk,
    Notice.BACK_ON_TRACK: _back_on_track,
    Notice.PAUSED: _paused,
    Notice.RESUMED: _resumed,
    Notice.WITHDRAWN: _withdrawn,
    Notice.WRAP_UP: _wrap_up,
    Notice.CHANGE_PROPOSED: _change_proposed,
    Notice.CHANGE_ACCEPTED: _change_accepted,
    Notice.CHANGE_DECLINED: _change_declined,
    Notice.CHANGE_WITHDRAWN: _change_withdrawn,
    Notice.CHANGE_LAPSED: _change_lapsed,
    Notice.TERM_CHANGED: _term_changed,
    Notice.FEEDBACK_REQUEST: _feedback_request,
    Notice.FEEDBACK_REMINDER: _feedback_reminder,
    Notice.FEEDBACK_SUMMARY: _feedback_summary,
}


def render(notification: Notification, settings: Settings) -> RenderedMessage:
    """The subject and the text and HTML bodies of one notification."""
    draft = _RENDERERS[notification.kind](notification, _Cast(notification), settings)
    greeting = f"Hi {notification.recipient.name},"
    return RenderedMessage(
        subject=draft.subject,
        text=_render_text(greeting, draft),
        html=_render_html(draft.subject, greeting, draft),
    )
