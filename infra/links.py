"""Signed action links in emails: who may do what to which mentorship, until when, sealed with a server secret.

A link is ``{MENTORSHIP_API_PUBLIC_URL}/links/{token}``; the token is ``{claims}.{signature}``, both base64url
without padding. The claims (compact JSON) bind the link to

- the mentorship: its workflow id and the invitation time, so a link from an earlier mentorship of the same pair
  (the workflow id is reused) never acts on a later one. A ``feedback`` link names the mentorship's Feedback
  workflow instead (``feedback-{mentorship key}``, one per mentorship, so never reused) and the same invitation
  time, which that workflow's status repeats;
- the recipient: the participant the email went to, who is the one who acts (``by``);
- the action: ``accept``, ``decline`` or ``check_in``, and for a check-in its number; or ``accept_change`` or
  ``decline_change``, and the number of the proposed change, so that a link for one proposal never answers another;
  or ``feedback``, once the mentorship ended;
- an expiry: the invitation's expiry for accept and decline; for a check-in, the moment it would count as missed;
  for a proposed change, the moment it lapses; for feedback, the moment feedback closes.

The signature is HMAC-SHA256 over a fixed label and the encoded claims, with the first of the configured secrets;
every configured secret is accepted, so a secret can be rotated without breaking the links already sent.

Whether a link was used is not stored anywhere: it is read from the mentorship's state. An accept link is spent
once the invitation is no longer open; a check-in link once its check-in is no longer the one due; a change link
once its proposal is no longer the open one (answered, withdrawn, lapsed); a feedback link once its recipient has
given feedback, or feedback on the mentorship has closed (read from the Feedback workflow's status). This module
is pure (no I/O, no FastAPI): the worker's email activity imports it to write the links into the emails, and the
API's link pages (``api/routes/links.py``) to verify them. The configured secrets are ``Settings.link_secrets``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workflows.contract import Notification, invitation_stamp
from workflows.durations import parse_duration

if TYPE_CHECKING:
    from infra.settings import Settings

LinkAction = Literal["accept", "decline", "check_in", "accept_change", "decline_change", "feedback"]
LINK_ACTIONS: tuple[LinkAction, ...] = (
    "accept",
    "decline",
    "check_in",
    "accept_change",
    "decline_change",
    "feedback",
)
# The actions bound to a number: a check-in's, or a proposed change's.
NUMBERED_ACTIONS: frozenset[LinkAction] = frozenset({"check_in", "accept_change", "decline_change"})
CHANGE_ACTIONS: frozenset[LinkAction] = frozenset({"accept_change", "decline_change"})
# The action whose link names a Feedback workflow (``w``), not the mentorship's.
FEEDBACK_ACTION: LinkAction = "feedback"
# Where the pages live, under the API's public address.
LINK_PATH = "/links"
# Far longer than any token we make (about 250 characters); anything longer is refused before any work.
MAX_TOKEN_LENGTH = 1024
# Domain separation: a signature made for something else with the same secret never verifies as a link.
_LABEL = b"mentorship-action-link/v1\n"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class BadLink(Exception):
    """A token that is malformed, or whose signature does not match: tampered with, cut short, or forged."""


class LinkClaims(BaseModel):
    """What a link says. Short names: the token travels in a URL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = Field(default=1, description="format version")
    w: str = Field(description="workflow id (a feedback link: the Feedback workflow's)")
    k: str = Field(description="invitation time of the mentorship, as in its mentorship key")
    p: str = Field(description="participant id of the recipient, who acts")
    a: LinkAction = Field(description="the action")
    n: int | None = Field(
        default=None, description="check-in number (check_in), or the proposed change's number (accept_change, ...)"
    )
    e: int = Field(description="expiry, Unix seconds")

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.e, UTC)


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    if not _BASE64URL.fullmatch(text):
        raise BadLink("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise BadLink("not base64url") from None
    # One spelling per token: a changed last character that decodes to the same bytes is still a changed link.
    if _encode(raw) != text:
        raise BadLink("not canonical base64url")
    return raw


def _signature(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, _LABEL + payload.encode("ascii"), hashlib.sha256).digest()


def sign(claims: LinkClaims, secret: bytes) -> str:
    body = json.dumps(claims.model_dump(exclude_none=True), separators=(",", ":"), sort_keys=True)
    payload = _encode(body.encode("utf-8"))
    return f"{payload}.{_encode(_signature(secret, payload))}"


def verify(token: str, secrets: list[bytes]) -> LinkClaims:
    """The claims of a token signed with one of ``secrets``; raise BadLink otherwise. Expiry is not checked here."""
    if not secrets:
        raise BadLink("links are not enabled")
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise BadLink("malformed")
    payload, signature = token.split(".")
    given = _decode(signature)
    _decode(payload)  # the alphabet, before any HMAC work
    # Every secret is tried (no early exit), each comparison in constant time.
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(_signature(secret, payload), given)
    if not matched:
        raise BadLink("signature mismatch")
    try:
        return LinkClaims.model_validate_json(_decode(payload), strict=True)
    except ValidationError:
        # Signed by us, so this is a format we no longer read.
        raise BadLink("unreadable claims") from None


def _stamp_of(notification: Notification) -> str:
    """The mentorship a link belongs to: its invitation time, to the second."""
    if notification.invited_at is not None:
        return invitation_stamp(notification.invited_at)
    # A notification scheduled before it carried ``invited_at``: its key ends with the same stamp.
    prefix = f"{notification.workflow_id}."
    key = notification.mentorship_key
    return key[len(prefix) :] if key.startswith(prefix) else key


def expiry_for(notification: Notification, action: LinkAction, now: datetime | None = None) -> datetime:
    """Accept and decline: when the invitation expires. A check-in: when it would count as missed. A proposed
    change: when it lapses. Feedback: when feedback closes (the notification's ``at``)."""
    invitation = notification.invitation
    if action in CHANGE_ACTIONS and notification.proposal is not None:
        return notification.proposal.lapses_at
    start = notification.at or now or datetime.now(UTC)
    if action == FEEDBACK_ACTION:
        return notification.at or parse_duration(invitation.feedback_within).after(start)
    if action == "check_in":
        return parse_duration(invitation.check_in_every).after(start)
    if notification.at is not None:
        return notification.at
    return parse_duration(invitation.respond_within).after(start)


def claims_for(notification: Notification, action: LinkAction, now: datetime | None = None) -> LinkClaims | None:
    if action == "check_in":
        number = notification.check_in_number  # a check-in link is bound to its number
    elif action in CHANGE_ACTIONS:
        number = notification.proposal.number if notification.proposal is not None else None  # and to its proposal
    else:
        number = None
    if action in NUMBERED_ACTIONS and number is None:
        return None
    expiry = expiry_for(notification, action, now)
    return LinkClaims(
        w=notification.workflow_id,
        k=_stamp_of(notification),
        p=notification.recipient.id,
        a=action,
        n=number,
        # Rounded up: the link never expires before what it stands for.
        e=int(expiry.timestamp()) + (1 if expiry.timestamp() % 1 else 0),
    )


def link_for(settings: Settings, notification: Notification, action: LinkAction) -> str | None:
    """The signed link for ``action`` in this notification's email, or None when links are off."""
    secrets = settings.link_secrets
    base = settings.mentorship_api_public_url
    if not secrets or not base:
        return None
    claims = claims_for(notification, action)
    if claims is None:
        return None
    return f"{base.rstrip('/')}{LINK_PATH}/{sign(claims, secrets[0])}"
