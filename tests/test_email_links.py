"""Signed action links in emails, from the token to a click in a real browser.

- The token: bound to the mentorship, the recipient, the action (and a check-in's number) and an expiry; any
  changed character, another secret or another format is refused; a rotated-out secret still verifies.
- The emails: invitations and reminders carry accept and decline links for the invitee, check-in reminders a
  check-in link for each participant; nothing else carries one.
- The pages, over real HTTP with the real worker and dev server: a GET changes nothing; the POST acts as the
  recipient; tampered, expired, reused and out-of-date links get a clear page and change nothing.
- Headless Chromium: the invitee opens the link of the email the sink caught, clicks Accept, and the mentorship
  is active.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect
from temporalio.testing import WorkflowEnvironment

from activities.messages import render
from api import links
from config import Settings
from devtools.mailsink import MailSink
from tests.api_env import LINK_SECRET, RunningApi, links_in, running_api, wait_for_email
from tests.conftest import make_notification
from tests.temporal_env import people, wait_mail
from tests.test_ui_browser import STEP_TIMEOUT_MS, browser  # noqa: F401  (the Chromium fixture)
from workflows.contract import Audience, Invitation, MentorshipStatus, Notice, Role, workflow_id_for

SECRET = LINK_SECRET.encode()
PUBLIC = "https://mentorships.example.com"


def link_settings(**overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "mentorship_link_template": None,
        "mentorship_api_public_url": PUBLIC,
        "mentorship_link_secret": LINK_SECRET,
    }
    return Settings(_env_file=None, **(fields | overrides))


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


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
    assert links.verify(token, links.secrets_of(rotated)).a == "decline"
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


# --- The pages, over real HTTP ----------------------------------------------------------------------------


@pytest_asyncio.fixture
async def api(dev_env: WorkflowEnvironment, mail_sink: MailSink) -> AsyncIterator[RunningApi]:
    async with running_api(dev_env.client, mail_sink) as running:
        yield running


async def invite(api: RunningApi, invitation: Invitation) -> MentorshipStatus:
    response = await api.http.post("/mentorships", json=invitation.model_dump(mode="json", exclude_none=True))
    assert response.status_code == 200, response.text
    return MentorshipStatus.model_validate(response.json())


async def status_of(api: RunningApi, workflow_id: str) -> dict[str, Any]:
    """The status, less the email counters (emails of the last change may still be on their way)."""
    response = await api.http.get(f"/mentorships/{workflow_id}")
    assert response.status_code == 200, response.text
    current: dict[str, Any] = response.json()
    return {key: value for key, value in current.items() if not key.startswith("notification")}


def heading(page: httpx.Response) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", page.text, flags=re.S)
    assert match, page.text
    return html.unescape(match.group(1))


async def test_a_link_acts_only_when_its_page_is_posted(api: RunningApi) -> None:
    invitation = people("mentee", message="Could we talk about <leading> teams?")
    workflow_id = (await invite(api, invitation)).workflow_id
    email = await wait_for_email(api.sink, workflow_id, "invitation", "mentor")
    found = links_in(email)
    assert found.keys() == {"Accept", "Decline"}
    assert found["Accept"].startswith(f"{api.base_url}/links/")
    before = await status_of(api, workflow_id)

    async with httpx.AsyncClient(timeout=30) as browser_like:  # no API key: the token is the credential
        # What a mail scanner does: GET both links (twice). Nothing changes.
        for url in (found["Accept"], found["Decline"], found["Accept"]):
            page = await browser_like.get(url)
            assert page.status_code == 200 and '<form method="post">' in page.text
            assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
            assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert heading(await browser_like.get(found["Accept"])) == "Accept Ben Ode's invitation?"
        assert "Could we talk about &lt;leading&gt; teams?" in page.text, "escaped"
        assert await status_of(api, workflow_id) == before

        # A form that does not fit the contract: the page again, with the reason; nothing changes.
        page = await browser_like.post(found["Accept"], data={"note": "x" * 2001})
        assert page.status_code == 422 and "note: must be at most 2000 characters" in page.text
        assert await status_of(api, workflow_id) == before

        done = await browser_like.post(found["Accept"], data={"note": "Gladly"})
        assert done.status_code == 200, done.text
        assert heading(done) == "You accepted: your mentorship with Ben Ode has started"
        after = await status_of(api, workflow_id)
        assert after["stage"] == "active"
        assert after["timeline"][-1] | {"at": None} == {
            "at": None,
            "event": "accepted",
            "by": invitation.mentor.id,
            "detail": "Gladly",
        }

        # Used: both links, GET or POST, say so and change nothing.
        for method, url in (("GET", found["Accept"]), ("POST", found["Accept"]), ("POST", found["Decline"])):
            page = await browser_like.request(method, url)
            assert page.status_code == 409, (method, url, page.text)
            assert heading(page) in ("You have already accepted", "The invitation was already accepted")
            assert "<form" not in page.text
        assert await status_of(api, workflow_id) == after


async def test_tampered_expired_and_out_of_date_links_change_nothing(api: RunningApi) -> None:
    invitation = people("mentor")
    first = await invite(api, invitation)
    workflow_id = first.workflow_id
    accept = links_in(await wait_for_email(api.sink, workflow_id, "invitation", "mentee"))["Accept"]
    before = await status_of(api, workflow_id)
    token = token_of(accept)
    claims = links.verify(token, [SECRET])
    expired = links.sign(claims.model_copy(update={"e": int(datetime.now(UTC).timestamp()) - 60}), SECRET)
    stranger = links.sign(claims.model_copy(update={"p": "mallory"}), SECRET)
    cases = {
        f"{token[:-2]}xy": (400, "This link is not valid"),
        token[: len(token) // 2]: (400, "This link is not valid"),
        links.sign(claims.model_copy(update={"p": invitation.mentor.id}), b"not-our-secret" * 3): (
            400,
            "This link is not valid",
        ),
        stranger: (400, "This link is not valid"),
        expired: (410, "This link has expired"),
        links.sign(claims.model_copy(update={"w": "mentorship-nobody--noone"}), SECRET): (
            404,
            "This mentorship cannot be found",
        ),
    }
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
        for bad, (code, title) in cases.items():
            for method in ("GET", "POST"):
                page = await http.request(method, f"/links/{bad}", data={"note": "hi"} if method == "POST" else None)
                assert (page.status_code, heading(page)) == (code, title), (bad, method, page.text)
                assert "Nothing was changed." in page.text and "<form" not in page.text
        assert await status_of(api, workflow_id) == before

        # An earlier mentorship's link never acts on a later one of the same pair (same workflow id).
        decline = links_in(await wait_for_email(api.sink, workflow_id, "invitation", "mentee"))["Decline"]
        assert (await http.post(decline)).status_code == 200
        assert (await status_of(api, workflow_id))["stage"] == "declined"
        page = await http.post(decline)
        assert (page.status_code, heading(page)) == (409, "You have already declined")
        # Known limit: a link is bound to its mentorship by the invitation time to the second (the mentorship key
        # of the Message-ID), so a re-invitation must start in a later second for this check to hold.
        next_second = first.invited_at.replace(microsecond=0) + timedelta(seconds=1)
        await asyncio.sleep(max(0.0, (next_second - datetime.now(UTC)).total_seconds()))
        second = await invite(api, invitation)
        assert second.invited_at > first.invited_at
        for url in (accept, decline):
            page = await http.post(url)
            assert (page.status_code, heading(page)) == (409, "This link is out of date"), page.text
        assert (await status_of(api, workflow_id))["stage"] == "invited"


async def test_a_check_in_link_records_that_check_in_once(api: RunningApi) -> None:
    # Real time: check-in 1 falls due 6 s after acceptance, and would count as missed 6 s later.
    invitation = people("mentee", check_in_every="PT6S", check_in_grace="PT5S")
    workflow_id = (await invite(api, invitation)).workflow_id
    await api.http.post(f"/mentorships/{workflow_id}/accept", json={"by": invitation.mentor.id})
    email = await wait_for_email(api.sink, workflow_id, "check-in-1-due", "mentee", within=20)
    mentor_email = await wait_for_email(api.sink, workflow_id, "check-in-1-due", "mentor")
    url = links_in(email)["Record the check-in"]
    async with httpx.AsyncClient(timeout=30) as http:
        page = await http.get(url)
        assert heading(page) == "Record check-in 1 with Ana Ruiz", page.text
        page = await http.post(url, data={"note": "Delegation", "rating": "4"})
        assert heading(page) == "Check-in 1 is recorded", page.text
        current = await status_of(api, workflow_id)
        assert [(c["number"], c["by"], c["note"], c["rating"]) for c in current["check_ins"]] == [
            (1, invitation.mentee.id, "Delegation", 4)
        ]
        # Used, by either participant's link: recorded once.
        for used in (url, links_in(mentor_email)["Record the check-in"]):
            page = await http.post(used, data={"note": "again"})
            assert (page.status_code, heading(page)) == (409, "Check-in 1 is already recorded"), page.text
        assert len((await status_of(api, workflow_id))["check_ins"]) == 1
    await api.http.post(f"/mentorships/{workflow_id}/withdraw", json={"by": invitation.mentee.id})


async def test_links_off_without_a_secret(dev_env: WorkflowEnvironment, mail_sink: MailSink) -> None:
    async with running_api(
        dev_env.client, mail_sink, mentorship_api_public_url=None, mentorship_link_secret=None
    ) as api:
        workflow_id = (await invite(api, people("mentee"))).workflow_id
        email = await wait_for_email(api.sink, workflow_id, "invitation", "mentor")
        assert links_in(email) == {}
        token = links.sign(links.LinkClaims(w=workflow_id, k="x", p="ana", a="accept", e=2_000_000_000), SECRET)
        page = await api.http.get(f"/links/{token}")
        assert (page.status_code, heading(page)) == (404, "Email links are not enabled here")


# --- In a real browser ------------------------------------------------------------------------------------


@pytest.mark.timeout(90)
async def test_the_invitee_accepts_from_the_email_in_chromium(
    api: RunningApi,
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    invitation = people("mentee", message="I would value your guidance on leading a team.")
    workflow_id = workflow_id_for(invitation.mentor.id, invitation.mentee.id)
    await invite(api, invitation)
    email = await wait_for_email(api.sink, workflow_id, "invitation", Role.MENTOR.value)
    accept = links_in(email)["Accept"]
    context = await browser.new_context()
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        page = await context.new_page()
        await page.goto(accept)
        await expect(page.get_by_role("heading", level=1)).to_have_text("Accept Ben Ode's invitation?")
        await expect(page.get_by_text("I would value your guidance on leading a team.")).to_be_visible()
        assert (await status_of(api, workflow_id))["stage"] == "invited", "opening the page changes nothing"
        await page.screenshot(path=str(tmp_path / "accept-page.png"), full_page=True)
        # Expired, and tampered with: clear pages, no button.
        claims = links.verify(token_of(accept), [SECRET])
        expired = links.sign(claims.model_copy(update={"e": 1_000_000_000}), SECRET)
        for url, title in (
            (f"{api.base_url}/links/{expired}", "This link has expired"),
            (accept[:-3] + "abc", "This link is not valid"),
        ):
            await page.goto(url)
            await expect(page.get_by_role("heading", level=1)).to_have_text(title)
            await expect(page.get_by_role("button")).to_have_count(0)
        await page.goto(accept)

        await page.get_by_label("A note for Ben Ode (optional)").fill("Happy to help")
        await page.get_by_role("button", name="Accept").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "You accepted: your mentorship with Ben Ode has started"
        )
        await page.screenshot(path=str(tmp_path / "accepted-page.png"), full_page=True)
        current = await status_of(api, workflow_id)
        assert current["stage"] == "active" and current["timeline"][-1]["detail"] == "Happy to help"
        # Both are told, as after any acceptance.
        await wait_mail(api.sink, workflow_id, 4)

        # The same link again (a second click from the email): a clear page, nothing changes.
        await page.goto(accept)
        await expect(page.get_by_role("heading", level=1)).to_have_text("You have already accepted")
        await expect(page.get_by_role("button")).to_have_count(0)
        # Expired and used: "already accepted" says more than "expired".
        await page.goto(f"{api.base_url}/links/{expired}")
        await expect(page.get_by_role("heading", level=1)).to_have_text("You have already accepted")
        decline = links_in(email)["Decline"]
        await page.goto(decline)
        await expect(page.get_by_role("heading", level=1)).to_have_text("The invitation was already accepted")
        assert (await status_of(api, workflow_id))["timeline"] == current["timeline"]
        print(f"\nscreenshots: {tmp_path}")
    finally:
        await context.close()
