"""Signed action links (infra/links.py): the token, its signature, rotating secrets, the settings, and the links in
the emails; following them to the API's pages is in tests/integration/test_email_links.py."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from activities.messages import render
from infra import links
from infra.settings import Settings
from tests.support.builders import make_notification
from tests.support.links import LINK_SECRET, PUBLIC, SECRET, link_settings, token_of
from workflows.contract import Audience, Notice

# --- The token ------------------------------------------------------------------------------------------------


def test_a_token_says_who_may_do_what_until_when() -> None:
    notification = make_notification(Notice.INVITATION)  # to Ada, the invitee; Ben asked
    url = links.link_for(link_settings(), notification, "accept")
    assert url is not None and url.startswith(f"{PUBLIC}/links/")
    token = token_of(url)
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token), "URL-safe, nothing to escape"
    claims = links.verify(token, [SECRET])
    assert (claims.w, claims.k, claims.p, claims.a, claims.n) == (
        "mentorship-ada--ben.b",
        "mk-7f3a",
        "ada",
        "accept",
        None,
    )
    assert claims.expires_at == notification.at, "accept and decline: until the invitation expires"

    due = make_notification(Notice.CHECK_IN_DUE, to=Audience.MENTEE, check_in_number=3)
    check_in = links.verify(token_of(links.link_for(link_settings(), due, "check_in") or ""), [SECRET])
    assert (check_in.p, check_in.a, check_in.n) == ("ben.b", "check_in", 3)
    assert due.at is not None and check_in.expires_at == due.at + timedelta(days=14), "until it counts as missed"


def test_a_changed_token_is_refused() -> None:
    token = token_of(links.link_for(link_settings(), make_notification(Notice.INVITATION), "accept") or "")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for position, char in enumerate(token):
        if char == ".":
            continue
        changed = token[:position] + alphabet[(alphabet.index(char) + 1) % len(alphabet)] + token[position + 1 :]
        with pytest.raises(links.BadLink):
            links.verify(changed, [SECRET])
    payload, signature = token.split(".")
    for bad in (token[:-1], f"{payload}.", f".{signature}", f"{token}.x", token + "=", "", "x" * 5000, "é.é"):
        with pytest.raises(links.BadLink):
            links.verify(bad, [SECRET])
    with pytest.raises(links.BadLink):
        links.verify(token, [b"another-secret-of-at-least-32-characters"])
    # A forged token with claims of one's own choosing needs the secret.
    forged = links.sign(links.verify(token, [SECRET]).model_copy(update={"p": "mallory"}), b"guessed" * 6)
    with pytest.raises(links.BadLink):
        links.verify(forged, [SECRET])


def test_secrets_rotate() -> None:
    old = link_settings()
    token = token_of(links.link_for(old, make_notification(Notice.INVITATION), "decline") or "")
    new_secret = "a-new-secret-0123456789abcdefghijklmnop"
    rotated = link_settings(mentorship_link_secret=f"{new_secret},{LINK_SECRET}")
    assert links.verify(token, rotated.link_secrets).a == "decline"
    fresh = token_of(links.link_for(rotated, make_notification(Notice.INVITATION), "decline") or "")
    assert links.verify(fresh, [new_secret.encode()]).a == "decline", "the first secret signs"


def test_settings_for_links_are_checked() -> None:
    with pytest.raises(Settings.InvalidSetting, match="set MENTORSHIP_LINK_SECRET too"):
        Settings(_env_file=None, mentorship_api_public_url=PUBLIC, mentorship_link_secret=None)
    with pytest.raises(Settings.InvalidSetting, match="not both"):
        link_settings(mentorship_link_template="https://app.example.com/{workflow_id}/{action}")
    with pytest.raises(Settings.InvalidSetting, match="at least 32 characters") as caught:
        link_settings(mentorship_link_secret="too-short-a-secret")
    assert "too-short-a-secret" not in str(caught.value)
    assert link_settings(mentorship_api_public_url=f"{PUBLIC}/").mentorship_api_public_url == PUBLIC


# --- The emails -------------------------------------------------------------------------------------------


def test_invitation_and_check_in_emails_carry_signed_links() -> None:
    settings = link_settings()
    for kind in (Notice.INVITATION, Notice.INVITATION_REMINDER):
        rendered = render(make_notification(kind), settings)
        found = dict(re.findall(r"^(Accept|Decline): (\S+)$", rendered.text, flags=re.M))
        assert set(found) == {"Accept", "Decline"}, rendered.text
        assert links.verify(token_of(found["Accept"]), [SECRET]).a == "accept"
        assert links.verify(token_of(found["Decline"]), [SECRET]).a == "decline"
        assert f'href="{html.escape(found["Accept"])}"' in rendered.html
    for kind in (Notice.CHECK_IN_DUE, Notice.CHECK_IN_NUDGE):
        for to in (Audience.MENTOR, Audience.MENTEE):
            rendered = render(make_notification(kind, to=to, check_in_number=2), settings)
            (url,) = re.findall(r"^Record the check-in: (\S+)$", rendered.text, flags=re.M)
            claims = links.verify(token_of(url), [SECRET])
            assert (claims.a, claims.n, claims.p) == ("check_in", 2, "ada" if to is Audience.MENTOR else "ben.b")
    for kind in set(Notice) - {
        Notice.INVITATION,
        Notice.INVITATION_REMINDER,
        Notice.CHECK_IN_DUE,
        Notice.CHECK_IN_NUDGE,
    }:
        to = Audience.COORDINATOR if kind in (Notice.AT_RISK, Notice.BACK_ON_TRACK) else Audience.MENTOR
        assert "/links/" not in render(make_notification(kind, to=to, check_in_number=1), settings).text, kind
