"""Builders for contract objects and settings: one invitation builder, one notification builder, one settings
builder.

``invitation`` (and ``invitation_data``, its JSON) is the only way the tests build an invitation: a cast of people
(``ADA_AND_BEN`` by default, ``ANA_AND_BEN`` for the tests on servers), asked by ``initiated_by``, each field
overridable by name; with a ``tag``, every id carries it (``ana-{tag}``) so that tests sharing a server never share
a workflow. ``settings`` builds ``Settings`` from its arguments alone, never from a ``.env``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.settings import Settings
from workflows.contract import Audience, Invitation, Notice, Notification, Person, Role, workflow_id_for

MAIL_FROM = "Mentorships <mentorships@example.org>"

ADA = Person(id="ada", name="Ada Lovelace", email="ada@example.com")
BEN = Person(id="ben.b", name="Ben Okafor", email="ben@example.com")
CLEO = Person(id="cleo", name="Cleo Coordinator", email="cleo@example.com")


@dataclass(frozen=True)
class Cast:
    """Who an invitation is between, and what its invitation says."""

    mentor: Person
    mentee: Person
    coordinator: Person
    message: str
    focus_areas: list[str] = field(default_factory=list)


# Ada mentors Ben, Cleo coordinates: fixed ids, for tests without a server.
ADA_AND_BEN = Cast(
    ADA, BEN, CLEO, "I'd love your help with my first conference talk.", ["public speaking", "career growth"]
)
# Ana mentors Ben, Cora coordinates: with a tag, for tests on a server.
ANA_AND_BEN = Cast(
    Person(id="ana", name="Ana Ruiz", email="ana@example.com"),
    Person(id="ben", name="Ben Ode", email="ben@example.com"),
    Person(id="cora", name="Cora Lind", email="cora@example.com"),
    "I would value your guidance on leading a team.",
    ["leadership"],
)


def new_tag() -> str:
    """A short tag unique to the caller."""
    return uuid.uuid4().hex[:6]


def invitation_data(
    tag: str | None = None,
    initiated_by: str | Role = Role.MENTEE,
    *,
    cast: Cast = ADA_AND_BEN,
    separator: str = "-",
    tag_emails: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """An invitation as JSON: ``cast`` (Ada mentors Ben, Cleo coordinates, by default), asked by ``initiated_by``.

    With ``tag``, every id ends with it (``ana-{tag}``; ``separator`` between), and with ``tag_emails`` every
    address too (``ana-{tag}@example.com``). Any field can be overridden by name (``coordinator=None``: none).
    """

    def person(who: Person) -> dict[str, str]:
        person_id = who.id if tag is None else f"{who.id}{separator}{tag}"
        domain = who.email.rpartition("@")[2]
        email = f"{person_id}@{domain}" if tag_emails and tag is not None else who.email
        return {"id": person_id, "name": who.name, "email": email}

    data: dict[str, Any] = {
        "mentor": person(cast.mentor),
        "mentee": person(cast.mentee),
        "coordinator": person(cast.coordinator),
        "initiated_by": initiated_by.value if isinstance(initiated_by, Role) else initiated_by,
        "message": cast.message,
        "focus_areas": list(cast.focus_areas),
    }
    data.update(overrides)
    return data


def invitation(tag: str | None = None, initiated_by: str | Role = Role.MENTEE, **options: Any) -> Invitation:
    """``invitation_data`` (the same arguments) as the contract's model."""
    return Invitation.model_validate(invitation_data(tag, initiated_by, **options))


def people(initiated_by: str | Role = Role.MENTEE, **overrides: Any) -> Invitation:
    """Ana, Ben and Cora with ids unique to this call: an invitation for a test on a shared server."""
    return invitation(new_tag(), initiated_by, cast=ANA_AND_BEN, **overrides)


def make_notification(kind: Notice = Notice.INVITATION, **overrides: Any) -> Notification:
    """A notification of ``kind``; by default to the invitee, with the recipient matching ``to``."""
    sent_for: Invitation = overrides.pop("invitation", None) or invitation()
    to = Audience(overrides.pop("to", sent_for.invitee.value))
    if "recipient" not in overrides:
        if to is Audience.COORDINATOR:
            assert sent_for.coordinator is not None, "a coordinator notification needs a coordinator"
            overrides["recipient"] = sent_for.coordinator
        else:
            overrides["recipient"] = sent_for.person(Role(to.value))
    fields: dict[str, Any] = {
        "kind": kind,
        "workflow_id": workflow_id_for(sent_for.mentor.id, sent_for.mentee.id),
        "mentorship_key": "mk-7f3a",
        "step": f"{kind.value}.1",
        "to": to,
        "invitation": sent_for,
        "at": datetime(2026, 12, 9, 14, 0, tzinfo=UTC),
    }
    fields.update(overrides)
    return Notification.model_validate(fields)


def settings(**overrides: Any) -> Settings:
    """``Settings`` from ``overrides`` and the process environment (as pydantic-settings reads it), never from a
    ``.env`` file (the plugin makes sure of that for any ``Settings()`` of the tests too)."""
    return Settings(_env_file=None, **overrides)


def apart_from_deliveries(payload: dict[str, Any]) -> dict[str, Any]:
    """A status as JSON without its ``webhooks`` counters, which move as the events go out after an update has
    answered: two reads of the same state compare equal with this."""
    return {**payload, "webhooks": None}
