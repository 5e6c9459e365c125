"""What each notification says: its facts, computed here (pure, no I/O), worded by the templates.

``facts`` turns a notification into the values its templates read: who is who seen from the recipient, the moment
the notice is about in the recipient's zone and locale, durations as parts to be worded, the action links. Every
word the reader sees is in ``activities/templates/`` (activities/templating.py), in the recipient's language.

The HTML part is autoescaped: names, notes and focus areas are typed by people, and escaping everything (not only
the fields known to be user input) means a new notice cannot forget it. The text and HTML parts are the same body
template rendered twice (with ``_blocks.txt`` and with ``_blocks.html``), so they cannot drift apart.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from activities.templating import RenderedMessage, Templates, load_templates, problem
from infra.links import LINK_ACTIONS, LinkAction, link_for
from infra.local_time import moment_for
from infra.settings import Settings
from workflows.contract import (
    Audience,
    Invitation,
    Notice,
    Notification,
    ParticipantFeedback,
    Person,
    Proposal,
    Role,
)
from workflows.durations import duration_units

__all__ = ["RenderedMessage", "action_link", "check_link_template", "facts", "prepare", "render"]

LINK_PLACEHOLDERS = frozenset({"workflow_id", "action", "participant_id"})


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


class Links:
    """The action links of one email, each computed (and signed) only when a template asks for it:
    ``links.accept``, ``links.check_in``; None when links are not configured."""

    def __init__(self, link: Callable[[LinkAction], str | None]) -> None:
        self._link = link
        self._found: dict[str, str | None] = {}

    def __getattr__(self, action: str) -> str | None:
        if action.startswith("_") or action not in LINK_ACTIONS:
            raise AttributeError(f"no link for {action!r}; the actions are {', '.join(LINK_ACTIONS)}")
        if action not in self._found:
            self._found[action] = self._link(action)
        return self._found[action]


# --- Facts ----------------------------------------------------------------------------------------------


def _role(to: Audience) -> Role | None:
    """The recipient's role; None for the coordinator."""
    if to is Audience.MENTOR:
        return Role.MENTOR
    if to is Audience.MENTEE:
        return Role.MENTEE
    return None


def _stripped(text: str | None) -> str | None:
    """A note as quoted: without surrounding blank space; None when there is nothing to quote."""
    return text.strip() if text and text.strip() else None


def _proposer(n: Notification, actor: Person | None) -> Person | None:
    """Who proposed the change: the proposal says; without it, the actor of a proposal or a withdrawal."""
    if n.proposal is not None:
        return n.invitation.person(n.proposal.role)
    if n.kind in (Notice.CHANGE_PROPOSED, Notice.CHANGE_WITHDRAWN):
        return actor
    return None


def _proposal(proposal: Proposal | None) -> dict[str, Any] | None:
    if proposal is None:
        return None
    return {
        "extend_term_by": None if proposal.extend_term_by is None else duration_units(proposal.extend_term_by),
        "check_in_every": None if proposal.check_in_every is None else duration_units(proposal.check_in_every),
        "check_in_grace": None if not proposal.check_in_grace else duration_units(proposal.check_in_grace),
    }


def _answers(invitation: Invitation, feedback: list[ParticipantFeedback]) -> list[dict[str, Any]]:
    given = {answer.role: answer for answer in feedback}
    answers = []
    for role in Role:
        answer = given.get(role)
        answers.append(
            {
                "role": role.value,
                "person": invitation.person(role),
                "answered": answer is not None,
                "rating": None if answer is None else answer.rating,
                "would_continue": None if answer is None else answer.would_continue,
                "note": None if answer is None else _stripped(answer.note),
            }
        )
    return answers


def facts(n: Notification, link: Callable[[LinkAction], str | None]) -> dict[str, Any]:
    """What the templates of ``n``'s notice read (README, "Templates and translations", lists them)."""
    inv = n.invitation
    role = _role(n.to)
    other = None if role is None else inv.person(role.other)
    actor = None if n.actor is None else inv.person(n.actor)
    proposer = _proposer(n, actor)
    recipient_person = None if role is None else inv.person(role)
    return {
        "kind": n.kind.value,
        "recipient": n.recipient,
        # "mentor" or "mentee"; None for the coordinator.
        "role": None if role is None else role.value,
        "mentor": inv.mentor,
        "mentee": inv.mentee,
        "coordinator": inv.coordinator,
        # The other participant; None for the coordinator.
        "other": other,
        "initiator": inv.person(inv.initiated_by),
        "invitee": inv.person(inv.invitee),
        "initiated_by": inv.initiated_by.value,
        "is_initiator": role is inv.initiated_by,
        # Who did what the notice reports, if anyone; whether that was the recipient, or the other participant.
        "actor": actor,
        "recipient_acted": n.actor is not None and n.actor is role,
        "actor_is_other": actor is not None and other is not None and actor == other,
        # An invitation withdrawn by its invitee rather than by whoever sent it.
        "by_invitee": n.actor is not None and n.actor is inv.invitee,
        "mutual": n.mutual,
        # The moment the notice is about (due, expiry, end of a pause...), as the recipient reads it; None if none.
        "when": None if n.at is None else moment_for(n.recipient, n.at),
        "note": _stripped(n.text),
        "message": _stripped(inv.message),
        "focus_areas": list(inv.focus_areas),
        # Durations as [(unit, number), ...]: worded by _phrases.jinja's duration() and every().
        "check_in_every": duration_units(inv.check_in_every),
        "term": None if inv.term is None else duration_units(inv.term),
        "check_in_number": n.check_in_number,
        "missed_in_a_row": n.missed_in_a_row,
        # Missed in a row for the coordinator's warning: as counted, or the threshold that triggered it.
        "missed": n.missed_in_a_row if n.missed_in_a_row is not None else inv.escalate_after_missed,
        "proposal": _proposal(n.proposal),
        "proposer": proposer,
        "proposer_is_recipient": proposer is not None and proposer == recipient_person,
        "feedback": _answers(inv, n.feedback),
        "all_answered": len({answer.role for answer in n.feedback}) == len(Role),
        "links": Links(link),
    }


# --- Rendering ------------------------------------------------------------------------------------------


def render(notification: Notification, settings: Settings, templates: Templates | None = None) -> RenderedMessage:
    """The subject and the text and HTML bodies of one notification, in its recipient's language."""
    if templates is None:
        templates = prepare(settings.mentorship_templates_dir)
    language = templates.language(notification.recipient.locale)
    return language.render(
        notification.kind, facts(notification, functools.partial(action_link, settings, notification))
    )


def prepare(override_dir: str | Path | None = None) -> Templates:
    """The templates (shipped, with the overrides in ``override_dir``), compiled and tried on sample notices in every
    language: a TemplateProblem, naming the file and line, for any that cannot be used. Once per folder and process
    (a failure is not kept: the next call tries again)."""
    return _prepared(None if override_dir is None else str(Path(override_dir).resolve()))


@functools.lru_cache(maxsize=8)
def _prepared(override_dir: str | None) -> Templates:
    templates = load_templates(override_dir)
    for language in templates.languages.values():
        for notification in sample_notifications():
            sample = facts(notification, lambda action: f"https://mentorships.example.org/{action}")
            try:
                language.render(notification.kind, sample)
            except Exception as exc:
                raise problem(
                    exc,
                    f" (rendering a sample {notification.kind.value} to the {notification.to.value} in "
                    f"{language.code!r})",
                ) from exc
    return templates


def sample_notifications() -> list[Notification]:
    """Every notice to each of its possible readers, with every field set and with as few as possible."""
    mentor = Person(id="sample-mentor", name="Ada Lovelace", email="ada@example.org")
    mentee = Person(id="sample-mentee", name="Ben Okafor", email="ben@example.org")
    coordinator = Person(id="sample-coordinator", name="Cleo Coordinator", email="cleo@example.org")
    at = datetime(2026, 12, 9, 14, 0, tzinfo=UTC)
    full_invitation = Invitation(
        mentor=mentor,
        mentee=mentee,
        coordinator=coordinator,
        initiated_by=Role.MENTEE,
        message="A message\nin two lines",
        focus_areas=["public speaking"],
        term="P6M",
    )
    bare_invitation = Invitation(mentor=mentor, mentee=mentee, coordinator=coordinator, initiated_by=Role.MENTOR)
    proposal = Proposal(
        number=1,
        by=mentor.id,
        role=Role.MENTOR,
        extend_term_by="P3M",
        check_in_every="P7D",
        check_in_grace="P2D",
        proposed_at=at,
        lapses_at=at,
    )
    feedback = [
        ParticipantFeedback(by=mentor.id, role=Role.MENTOR, rating=4, would_continue=True, note="Thanks", at=at)
    ]
    samples = []
    for kind in Notice:
        for to in Audience:
            recipient = {Audience.MENTOR: mentor, Audience.MENTEE: mentee, Audience.COORDINATOR: coordinator}[to]
            common = {"kind": kind, "workflow_id": "sample", "mentorship_key": "sample", "step": "sample", "to": to}
            samples.append(
                Notification(
                    **common,
                    recipient=recipient,
                    invitation=full_invitation,
                    actor=Role.MENTOR,
                    at=at,
                    check_in_number=3,
                    missed_in_a_row=2,
                    text="A note",
                    mutual=True,
                    proposal=proposal,
                    feedback=feedback,
                )
            )
            samples.append(Notification(**common, recipient=recipient, invitation=bare_invitation))
    return samples
