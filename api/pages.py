"""The small HTML pages behind the links in emails: confirm, done, or why not. Pure functions, no I/O.

A page is built as a few neutral parts and rendered once, escaping every string (names, messages and notes are
typed by people). A GET shows a confirmation with a form; only the form's POST acts, because mail scanners and
link previews fetch every GET. Whether a link still applies is read from the mentorship's state
(``refusal_for``): an accept link after the invitation was answered, a check-in link after its check-in was
recorded, or a link to answer a proposed change once that proposal is no longer the open one, says so and changes
nothing. A feedback link reads the mentorship's Feedback workflow instead (``feedback_refusal_for``): once its
recipient has given feedback, or feedback has closed, it says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from infra.links import CHANGE_ACTIONS, LinkClaims
from infra.local_time import moment_for
from workflows.contract import (
    FeedbackInput,
    FeedbackStatus,
    Invitation,
    MentorshipStatus,
    Person,
    Proposal,
    Role,
    Stage,
    invitation_stamp,
)
from workflows.durations import humanize_duration, humanize_every
from workflows.effects import describe_change
from workflows.plan import after
from workflows.text import escape_html

Tone = Literal["ask", "done", "problem"]

# Sent with every page: no caching (a page names people), no referrer (the URL holds the token), no framing
# (a framed form could be clicked unseen), and nothing loaded from anywhere.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@dataclass(frozen=True)
class Field:
    """A form field: a textarea, a 1-5 select, or one of ``options`` (value, label) as radio buttons."""

    kind: Literal["text", "rating", "choice"]
    name: str
    label: str
    value: str = ""
    options: tuple[tuple[str, str], ...] = ()
    required: bool = False


@dataclass(frozen=True)
class Form:
    button: str
    fields: list[Field]
    error: str | None = None


@dataclass(frozen=True)
class Page:
    status_code: int
    title: str
    paragraphs: list[str] = field(default_factory=list)
    quote: tuple[str, str] | None = None
    form: Form | None = None
    tone: Tone = "problem"


_COLORS = {"ask": "#2563eb", "done": "#15803d", "problem": "#b45309"}


def render(page: Page) -> str:
    parts = [f'<h1 style="font-size:22px;color:{_COLORS[page.tone]}">{escape_html(page.title)}</h1>']
    parts += [f"<p>{escape_html(text)}</p>" for text in page.paragraphs]
    if page.quote is not None:
        label, text = page.quote
        body = "<br>".join(escape_html(line) for line in text.splitlines())
        parts.append(
            f"<p>{escape_html(label)}</p>"
            f'<blockquote style="margin:0 0 16px 0;padding:4px 12px;border-left:3px solid #cbd5e1">{body}</blockquote>'
        )
    if page.form is not None:
        parts.append(_render_form(page.form))
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{escape_html(page.title)}</title>\n</head>\n"
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;color:#0f172a;'
        'margin:32px">\n'
        f'<main style="max-width:560px">\n{body}\n'
        '<p style="margin-top:32px;font-size:13px;color:#64748b">Mentorships</p>\n</main>\n</body>\n</html>\n'
    )


def _render_form(form: Form) -> str:
    # No action attribute: the form posts back to the page's own address, which carries the token.
    parts = ['<form method="post">']
    if form.error:
        parts.append(f'<p role="alert" style="color:#b91c1c">{escape_html(form.error)}</p>')
    for item in form.fields:
        if item.kind == "choice":
            parts.append(_render_choice(item))
            continue
        parts.append(f'<p><label for="{escape_html(item.name)}">{escape_html(item.label)}</label><br>')
        if item.kind == "text":
            parts.append(
                f'<textarea id="{escape_html(item.name)}" name="{escape_html(item.name)}" rows="4" cols="50" '
                'maxlength="2000">'
                f"{escape_html(item.value)}</textarea></p>"
            )
        else:
            options = ['<option value="">(no rating)</option>']
            for number in range(5, 0, -1):
                selected = " selected" if item.value == str(number) else ""
                options.append(f'<option value="{number}"{selected}>{number}</option>')
            parts.append(
                f'<select id="{escape_html(item.name)}" name="{escape_html(item.name)}">{"".join(options)}</select></p>'
            )
    parts.append(
        '<p><button type="submit" style="padding:8px 16px;border:0;border-radius:4px;background:#2563eb;'
        f'color:#ffffff;font-size:16px">{escape_html(form.button)}</button></p>'
    )
    parts.append("</form>")
    return "\n".join(parts)


def _render_choice(item: Field) -> str:
    """Radio buttons in a fieldset, its legend the question; the one whose value is ``item.value`` checked."""
    required = " required" if item.required else ""
    radios = []
    for value, label in item.options:
        checked = " checked" if item.value == value else ""
        radios.append(
            '<label style="display:inline-block;margin:0 16px 4px 0;white-space:nowrap">'
            f'<input type="radio" name="{escape_html(item.name)}" value="{escape_html(value)}"{checked}{required}> '
            f"{escape_html(label)}</label>"
        )
    return (
        '<fieldset style="border:0;padding:0;margin:0 0 16px 0">'
        f'<legend style="padding:0;margin-bottom:4px">{escape_html(item.label)}</legend>'
        f"{''.join(radios)}</fieldset>"
    )


# --- Pages that need no mentorship ------------------------------------------------------------------------

NOTHING_CHANGED = "Nothing was changed."
_USED = "This link has already been used; nothing was changed."


def links_disabled() -> Page:
    return Page(404, "Email links are not enabled here", ["This service does not answer links from emails."])


def bad_link() -> Page:
    return Page(
        400,
        "This link is not valid",
        [
            "It may have been cut short or changed on the way, for instance split over two lines by a mail program. "
            "Open it again from the email, or copy the whole address into your browser.",
            NOTHING_CHANGED,
        ],
    )


def not_found() -> Page:
    return Page(404, "This mentorship cannot be found", ["It may have been removed.", NOTHING_CHANGED])


def unavailable(status_code: int = 503) -> Page:
    return Page(
        status_code,
        "The service is not available right now",
        ["Please try again in a few minutes; the link keeps working until it expires.", NOTHING_CHANGED],
    )


def too_large() -> Page:
    return Page(413, "That was too much text", ["Please keep notes under 2,000 characters.", NOTHING_CHANGED])


# --- Whether a link still applies -------------------------------------------------------------------------


def _clock(claims: LinkClaims, invitation: Invitation) -> Callable[[datetime | None], str]:
    """How the link's holder reads a moment: in their time zone and locale (UTC for people without a zone);
    'earlier' for a moment not known."""
    role = invitation.role_of(claims.p)
    reader = None if role is None else invitation.person(role)
    return lambda value: moment_for(reader, value, missing="earlier")


def _person(status: MentorshipStatus, participant_id: str) -> Person | None:
    role = status.invitation.role_of(participant_id)
    return None if role is None else status.invitation.person(role)


def refusal_for(claims: LinkClaims, status: MentorshipStatus, now: datetime) -> Page | None:
    """Why this link cannot act now (used, out of date, expired), as a page; None when it can."""
    when = _clock(claims, status.invitation)
    inv = status.invitation
    if claims.w != status.workflow_id or claims.k != invitation_stamp(status.invited_at):
        return Page(
            409,
            "This link is out of date",
            [
                f"It belongs to an earlier invitation between {inv.mentor.name} and {inv.mentee.name}, which has "
                "ended.",
                NOTHING_CHANGED,
            ],
        )
    if _person(status, claims.p) is None:
        return bad_link()
    if claims.a in ("accept", "decline"):
        if status.stage is not Stage.INVITED:
            return _invitation_answered(claims, status)
    elif claims.a in CHANGE_ACTIONS:
        refusal = _change_not_open(claims, status)
        if refusal is not None:
            return refusal
    else:
        refusal = _check_in_not_open(claims, status)
        if refusal is not None:
            return refusal
    if claims.expires_at <= now:
        return Page(
            410,
            "This link has expired",
            [f"It could be used until {when(claims.expires_at)}.", NOTHING_CHANGED],
        )
    return None


def _invitation_answered(claims: LinkClaims, status: MentorshipStatus) -> Page:
    when = _clock(claims, status.invitation)
    used = _USED
    stage = status.stage
    if status.accepted_at is not None:
        if claims.a == "accept":
            return Page(
                409,
                "You have already accepted",
                [f"The invitation was accepted on {when(status.accepted_at)}; the mentorship is {stage}.", used],
            )
        return Page(
            409,
            "The invitation was already accepted",
            [f"It was accepted on {when(status.accepted_at)}, so it can no longer be declined.", NOTHING_CHANGED],
        )
    if stage is Stage.DECLINED:
        if claims.a == "decline":
            return Page(409, "You have already declined", [f"You declined on {when(status.ended_at)}.", used])
        return Page(
            409, "The invitation was declined", [f"It was declined on {when(status.ended_at)}.", NOTHING_CHANGED]
        )
    if stage is Stage.EXPIRED:
        return Page(
            409,
            "The invitation has expired",
            [f"It expired on {when(status.ended_at)} without an answer.", NOTHING_CHANGED],
        )
    initiator = status.invitation.person(status.invitation.initiated_by)
    return Page(
        409,
        "The invitation was withdrawn",
        [f"{initiator.name} withdrew it on {when(status.ended_at)}.", NOTHING_CHANGED],
    )


def _check_in_not_open(claims: LinkClaims, status: MentorshipStatus) -> Page | None:
    when = _clock(claims, status.invitation)
    number = claims.n
    recorded = next((c for c in status.check_ins if c.number == number), None)
    if recorded is not None:
        who = _person(status, recorded.by)
        by = "You" if recorded.by == claims.p else (who.name if who is not None else recorded.by)
        return Page(
            409,
            f"Check-in {number} is already recorded",
            [f"{by} recorded it on {when(recorded.at)}.", _USED],
        )
    if not status.stage.is_open:
        return Page(409, "The mentorship has ended", [f"It is {status.stage} now.", NOTHING_CHANGED])
    if status.stage is Stage.PAUSED:
        return Page(
            409,
            "The mentorship is paused",
            ["No check-ins are due while it is paused. Resume it first, then record the check-in.", NOTHING_CHANGED],
        )
    if status.stage is not Stage.ACTIVE or number != status.cycle:
        return Page(
            409,
            f"Check-in {number} is no longer open",
            [
                f"It counted as missed; check-in {status.cycle} is the one due now. "
                "The latest reminder email has a link for it.",
                NOTHING_CHANGED,
            ],
        )
    return None


def _change_not_open(claims: LinkClaims, status: MentorshipStatus) -> Page | None:
    """None while the link's proposal is the open one; otherwise what became of it (from the timeline), as a page."""
    when = _clock(claims, status.invitation)
    number = claims.n
    proposal = status.proposal
    if proposal is not None and proposal.number == number:
        return None
    # "change 2 accepted", "... declined", "... withdrawn", "... lapsed" (effects.py); an old one may have been
    # dropped from the timeline, and then the page says less.
    fate = next(
        (
            entry
            for entry in reversed(status.timeline)
            if entry.event.startswith(f"change {number} ") and entry.event != f"change {number} proposed"
        ),
        None,
    )
    outcome = fate.event.removeprefix(f"change {number} ") if fate is not None else None
    if fate is not None and fate.by == claims.p:
        if outcome == "accepted" and claims.a == "accept_change":
            return Page(409, "You have already accepted this change", [f"You accepted it on {when(fate.at)}.", _USED])
        if outcome == "declined" and claims.a == "decline_change":
            return Page(409, "You have already declined this change", [f"You declined it on {when(fate.at)}.", _USED])
    if not status.stage.is_open:
        return Page(
            409,
            "The mentorship has ended",
            [f"It is {status.stage} now, so the proposed change no longer applies.", NOTHING_CHANGED],
        )
    at = when(fate.at if fate is not None else None)
    if outcome == "accepted":
        why = f"It was accepted on {at}, so it can no longer be declined."
    elif outcome == "declined":
        why = f"It was declined on {at}, so it can no longer be accepted."
    elif outcome == "withdrawn":
        who = _person(status, fate.by) if fate is not None and fate.by is not None else None
        why = f"{who.name if who is not None else 'The proposer'} withdrew it on {at}."
    elif outcome == "lapsed":
        why = f"It lapsed on {at} without an answer."
    else:
        why = "It was answered or withdrawn, or it lapsed."
    paragraphs = [why]
    if proposal is not None:
        if proposal.by == claims.p:
            paragraphs.append(f"You proposed another change since, open until {when(proposal.lapses_at)}.")
        else:
            proposer = status.invitation.person(proposal.role)
            paragraphs.append(
                f"{proposer.name} proposed another change since, open until {when(proposal.lapses_at)}; "
                "its email has the links."
            )
    paragraphs.append(NOTHING_CHANGED)
    return Page(409, "This proposed change is no longer open", paragraphs)


# --- Confirmation and outcome -----------------------------------------------------------------------------


def confirmation(claims: LinkClaims, status: MentorshipStatus, *, values: dict[str, str], error: str | None) -> Page:
    """The page a valid link opens: what it will do, a form, and a button that does it."""
    when = _clock(claims, status.invitation)
    inv = status.invitation
    me = _person(status, claims.p)
    assert me is not None
    initiator = inv.person(inv.initiated_by)
    status_code = 200 if error is None else 422
    hello = f"Hi {me.name},"
    if claims.a in ("accept", "decline"):
        if inv.initiated_by is Role.MENTOR:
            ask = f"{initiator.name} would like to be your mentor."
        else:
            ask = f"{initiator.name} would like you to be their mentor."
        paragraphs = [hello, ask]
        if inv.focus_areas:
            paragraphs.append("What they would like to focus on: " + ", ".join(inv.focus_areas) + ".")
        paragraphs.append(f"If you accept, you will check in together {humanize_every(inv.check_in_every)}.")
        if status.expires_at is not None:
            paragraphs.append(f"The invitation is open until {when(status.expires_at)}.")
        quote = ("Their message to you:", inv.message) if inv.message else None
        return _accept_or_decline(
            claims.a == "accept",
            f"{initiator.name}'s invitation",
            initiator,
            buttons=("Accept", "Decline"),
            values=values,
            error=error,
            paragraphs=paragraphs,
            quote=quote,
        )
    if claims.a in CHANGE_ACTIONS:
        return _change_confirmation(claims, status, hello, values, error)
    role = inv.role_of(claims.p)
    assert role is not None
    other = inv.person(role.other)
    paragraphs = [hello]
    if status.next_check_in_due is not None:
        paragraphs.append(f"Check-in {claims.n} with {other.name} is due {when(status.next_check_in_due)}.")
    paragraphs.append("Once you have met, record it here; it tells both of you the next one is on its way.")
    form = Form(
        "Record the check-in",
        [
            Field("text", "note", "What did you talk about? (optional)", values.get("note", "")),
            Field("rating", "rating", "How useful was it, from 1 to 5? (optional)", values.get("rating", "")),
        ],
        error,
    )
    return Page(status_code, f"Record check-in {claims.n} with {other.name}", paragraphs, None, form, "ask")


def _change_confirmation(
    claims: LinkClaims, status: MentorshipStatus, hello: str, values: dict[str, str], error: str | None
) -> Page:
    when = _clock(claims, status.invitation)
    proposal = status.proposal
    assert proposal is not None and proposal.number == claims.n, "refusal_for admits the open proposal only"
    inv = status.invitation
    proposer = inv.person(proposal.role)
    paragraphs = [hello, f"{proposer.name} proposes a change to your mentorship: {describe_change(proposal)}."]
    if proposal.check_in_every is not None:
        paragraphs.append(f"At present you check in {humanize_every(inv.check_in_every)}.")
    if proposal.extend_term_by is not None:
        if status.term_ends_at is not None:
            longer = after(proposal.extend_term_by, status.term_ends_at)
            paragraphs.append(
                f"At present the term ends on {when(status.term_ends_at)}; with the change, on {when(longer)}."
            )
        else:
            paragraphs.append(
                f"The mentorship has no end date yet; it would end {humanize_duration(proposal.extend_term_by)} "
                "after you accept."
            )
    paragraphs.append(f"Nothing changes unless you accept. The proposal is open until {when(proposal.lapses_at)}.")
    quote = (f"A note from {proposer.name}:", proposal.note) if proposal.note else None
    return _accept_or_decline(
        claims.a == "accept_change",
        f"{proposer.name}'s proposed change",
        proposer,
        buttons=("Accept the change", "Decline the change"),
        values=values,
        error=error,
        paragraphs=paragraphs,
        quote=quote,
    )


def _accept_or_decline(
    accepting: bool,
    what: str,
    to: Person,
    *,
    buttons: tuple[str, str],
    values: dict[str, str],
    error: str | None,
    paragraphs: list[str],
    quote: tuple[str, str] | None,
) -> Page:
    """The page that asks to accept ``what`` (with an optional note for ``to``) or decline it (with an optional
    reason); ``buttons`` are the (accept, decline) labels; 422 when what was typed was refused (``error``)."""
    status_code = 200 if error is None else 422
    name, label = ("note", "A note") if accepting else ("reason", "A reason")
    field = Field("text", name, f"{label} for {to.name} (optional)", values.get(name, ""))
    form = Form(buttons[0] if accepting else buttons[1], [field], error)
    title = f"{'Accept' if accepting else 'Decline'} {what}?"
    return Page(status_code, title, paragraphs, quote, form, "ask")


def done(claims: LinkClaims, status: MentorshipStatus, proposal: Proposal | None = None) -> Page:
    """What the link did; ``proposal`` is the proposed change a change link answered (no longer in ``status``)."""
    when = _clock(claims, status.invitation)
    inv = status.invitation
    role = inv.role_of(claims.p)
    assert role is not None
    other = inv.person(role.other)
    if claims.a == "accept":
        due = status.next_check_in_due
        first = f" The first check-in is due {when(due)}." if due is not None else ""
        return Page(
            200,
            f"You accepted: your mentorship with {other.name} has started",
            [f"We have emailed you both.{first}"],
            tone="done",
        )
    if claims.a == "decline":
        return Page(200, f"You declined {other.name}'s invitation", ["We have let them know."], tone="done")
    if claims.a == "accept_change":
        paragraphs = [f"From now on: {describe_change(proposal)}."] if proposal is not None else []
        if proposal is not None and proposal.extend_term_by is not None and status.term_ends_at is not None:
            paragraphs.append(f"The mentorship now runs until {when(status.term_ends_at)}.")
        if status.next_check_in_due is not None:
            paragraphs.append(
                f"Check-ins are {humanize_every(status.invitation.check_in_every)}; the next one is due "
                f"{when(status.next_check_in_due)}."
            )
        paragraphs.append(f"We have let {other.name} know.")
        return Page(200, f"You accepted {other.name}'s proposed change", paragraphs, tone="done")
    if claims.a == "decline_change":
        return Page(
            200,
            f"You declined {other.name}'s proposed change",
            ["Nothing changes. We have let them know."],
            tone="done",
        )
    following = f" The next one is due {when(status.next_check_in_due)}." if status.next_check_in_due else ""
    return Page(200, f"Check-in {claims.n} is recorded", [f"Thank you!{following}"], tone="done")


def refused(reason: str) -> Page:
    return Page(409, "That did not go through", [reason, NOTHING_CHANGED])


def no_free_place(reason: str, claims: LinkClaims, status: MentorshipStatus) -> Page:
    """An acceptance refused because the mentor or the mentee is at their limit: the invitation stays open."""
    when = _clock(claims, status.invitation)
    paragraphs = [f"{reason.rstrip('.')}."]
    if status.expires_at is not None:
        paragraphs.append(
            f"The invitation stays open until {when(status.expires_at)}: this link accepts it once a place is free."
        )
    paragraphs.append(NOTHING_CHANGED)
    return Page(409, "There is no free place right now", paragraphs)


# --- Feedback, once the mentorship ended: the link names its Feedback workflow ---------------------------------

# The form's answers to "would you continue": yes and no; "not sure" (empty) leaves it out.
WOULD_CONTINUE = {"yes": True, "no": False, "": None}


def _feedback_person(invitation: Invitation, participant_id: str) -> tuple[Person, Person] | None:
    """The link's recipient and the other participant; None for anyone else."""
    role = invitation.role_of(participant_id)
    return None if role is None else (invitation.person(role), invitation.person(role.other))


def feedback_refusal_for(claims: LinkClaims, status: FeedbackStatus, now: datetime) -> Page | None:
    """Why this feedback link cannot act now (given already, closed, expired), as a page; None when it can."""
    when = _clock(claims, status.invitation)
    inv = status.invitation
    if claims.w != status.workflow_id or claims.k != invitation_stamp(status.invited_at):
        return Page(
            409,
            "This link is out of date",
            [f"It belongs to another mentorship between {inv.mentor.name} and {inv.mentee.name}.", NOTHING_CHANGED],
        )
    role = inv.role_of(claims.p)
    if role is None:
        return bad_link()
    answer = next((a for a in status.answers if a.role is role), None)
    if answer is not None:
        return Page(
            409,
            "You already gave feedback on this mentorship",
            [f"You gave it on {when(answer.at)}: {answer.rating} out of 5. Thank you!", _USED],
        )
    if status.closed:
        return Page(
            409,
            "Feedback on this mentorship is closed",
            [f"It was open until {when(status.closes_at)}.", NOTHING_CHANGED],
        )
    if claims.expires_at <= now:
        return Page(
            410,
            "This link has expired",
            [f"It could be used until {when(claims.expires_at)}.", NOTHING_CHANGED],
        )
    return None


def feedback_form(claims: LinkClaims, status: FeedbackStatus, *, values: dict[str, str], error: str | None) -> Page:
    """The page a valid feedback link opens: the three questions, and a button that gives the answers."""
    when = _clock(claims, status.invitation)
    found = _feedback_person(status.invitation, claims.p)
    assert found is not None, "feedback_refusal_for admits the participants only"
    me, other = found
    how = "came to the end of its term" if status.ended is Stage.COMPLETED else "ended"
    paragraphs = [
        f"Hi {me.name},",
        f"Your mentorship with {other.name} {how} on {when(status.ended_at)}. Thank you for the time you gave to it!",
        f"You can give your feedback once, until {when(status.closes_at)}.",
    ]
    coordinator = status.invitation.coordinator
    if coordinator is not None:
        paragraphs.append(f"{coordinator.name}, who coordinates the mentorship, gets a summary of both answers.")
    form = Form(
        "Give feedback",
        [
            Field(
                "choice",
                "rating",
                "How did it go, from 1 (not well) to 5 (very well)?",
                values.get("rating", ""),
                options=tuple((str(number), str(number)) for number in range(1, 6)),
                required=True,
            ),
            Field(
                "choice",
                "would_continue",
                f"Would you like to continue with {other.name}?",
                values.get("would_continue", ""),
                options=(("yes", "Yes"), ("no", "No"), ("", "Not sure")),
            ),
            Field("text", "note", "Anything you would like to add? (optional)", values.get("note", "")),
        ],
        error,
    )
    status_code = 200 if error is None else 422
    return Page(status_code, f"How did your mentorship with {other.name} go?", paragraphs, None, form, "ask")


def feedback_given(claims: LinkClaims, status: FeedbackStatus, given: FeedbackInput) -> Page:
    """What the feedback link did."""
    when = _clock(claims, status.invitation)
    found = _feedback_person(status.invitation, claims.p)
    assert found is not None
    _, other = found
    paragraphs = [f"We have recorded your feedback on your mentorship with {other.name}: {given.rating} out of 5."]
    coordinator = status.invitation.coordinator
    if coordinator is not None:
        if status.closed:
            paragraphs.append(f"{coordinator.name} gets a summary of both answers.")
        else:
            paragraphs.append(
                f"{coordinator.name} gets a summary of both answers once {other.name} has answered too, or when "
                f"feedback closes on {when(status.closes_at)}."
            )
    return Page(200, "Thank you for your feedback", paragraphs, tone="done")
