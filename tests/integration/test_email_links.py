"""Signed action links in emails, followed to the API's pages and clicked in a real browser (the token and the links
in the emails, without a server, are in tests/unit/test_links.py).

- The pages, over real HTTP with the real worker and dev server: a GET changes nothing; the POST acts as the
  recipient; tampered, expired, reused and out-of-date links get a clear page and change nothing; an acceptance
  refused for want of a place says why.
- A proposed change to the terms: the other participant accepts or declines it from the email's links, each link
  bound to its own proposal.
- Feedback once a mentorship ended: each participant gives it once from the request's link, on the mentorship's
  Feedback workflow; a form that does not fit comes back with the reason.
- Headless Chromium: the invitee opens the link of the email the sink caught, clicks Accept, and the mentorship
  is active.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect
from temporalio.testing import WorkflowEnvironment

import mentorship_client
from devtools.mailsink import MailSink
from infra import links
from tests.support.api import RunningApi, links_in, running_api, text_part
from tests.support.browser import STEP_TIMEOUT_MS
from tests.support.builders import people
from tests.support.links import SECRET, token_of
from tests.support.waiting import until, wait_for_email, wait_mail
from workflows.contract import Invitation, MentorshipStatus, Role, workflow_id_for

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


async def test_an_accept_link_refused_for_want_of_a_place_says_why(api: RunningApi) -> None:
    """Ana takes one mentee at most; Ben and Cem both invited her. Once she mentors Ben, her link to accept Cem
    says why it cannot, and changes nothing; it works once she has room again."""
    ben_invites = people("mentee")
    ana = ben_invites.mentor
    cem = {"id": f"cem-{ana.id}", "name": "Cem Aksoy", "email": "cem@example.com"}
    cem_invites = people("mentee", mentor=ana.model_dump(), mentee=cem)
    assert (await api.http.put(f"/people/{ana.id}/limits", json={"max_mentees": 1})).status_code == 200
    with_ben = (await invite(api, ben_invites)).workflow_id
    with_cem = (await invite(api, cem_invites)).workflow_id
    accept = links_in(await wait_for_email(api.sink, with_cem, "invitation", "mentor"))["Accept"]
    assert (await api.http.post(f"/mentorships/{with_ben}/accept", json={"by": ana.id})).status_code == 200
    reason = "Ana Ruiz already mentors 1 person, their limit"

    async with httpx.AsyncClient(timeout=30) as browser_like:
        # Opening the link still shows the invitation: it is open, and only the acceptance is refused.
        page = await browser_like.get(accept)
        assert (page.status_code, heading(page)) == (200, "Accept Cem Aksoy's invitation?")
        page = await browser_like.post(accept, data={"note": "Gladly"})
        assert (page.status_code, heading(page)) == (409, "There is no free place right now"), page.text
        assert f"<p>{reason}.</p>" in page.text
        assert "this link accepts it once a place is free" in page.text and "Nothing was changed." in page.text
        assert "<form" not in page.text
        current = await status_of(api, with_cem)
        assert current["stage"] == "invited" and current["timeline"][-1]["detail"] == reason

        # With room again, the same link accepts.
        await api.http.put(f"/people/{ana.id}/limits", json={"max_mentees": 2})
        page = await browser_like.post(accept, data={"note": "Gladly"})
        assert (page.status_code, heading(page)) == (200, "You accepted: your mentorship with Cem Aksoy has started")


async def test_a_proposed_change_is_answered_from_the_email(api: RunningApi, dev_env: WorkflowEnvironment) -> None:
    """Ana (mentor) proposes weekly check-ins and a longer term; Ben accepts from his email. Her next proposal he
    declines from the next email; a link of the first proposal never answers a later one."""
    invitation = people("mentee", check_in_every="P14D", term="P6M")
    ana, ben = invitation.mentor.id, invitation.mentee.id
    workflow_id = (await invite(api, invitation)).workflow_id
    assert (await api.http.post(f"/mentorships/{workflow_id}/accept", json={"by": ana})).status_code == 200
    term_ends_at = (await status_of(api, workflow_id))["term_ends_at"]
    await mentorship_client.act(
        dev_env.client,
        workflow_id,
        "propose_change",
        {"by": ana, "check_in_every": "P7D", "extend_term_by": "P3M", "note": "Weekly, <if> you can?"},
    )
    first = links_in(await wait_for_email(api.sink, workflow_id, "change-1-proposed", "mentee"))
    assert first.keys() == {"Accept the change", "Decline the change"}
    assert first["Accept the change"].startswith(f"{api.base_url}/links/")
    before = await status_of(api, workflow_id)
    assert before["proposal"]["number"] == 1 and before["proposal"]["by"] == ana

    async with httpx.AsyncClient(timeout=30) as browser_like:  # no API key: the token is the credential
        # Opening either link shows the proposal and changes nothing.
        page = await browser_like.get(first["Accept the change"])
        assert (page.status_code, heading(page)) == (200, "Accept Ana Ruiz's proposed change?"), page.text
        assert (
            "Ana Ruiz proposes a change to your mentorship: the term 3 months longer and check-ins every 7 days "
            "(follow-up after 3 days)." in page.text
        )
        assert "At present you check in every 14 days." in page.text
        assert "Weekly, &lt;if&gt; you can?" in page.text, "the note, escaped"
        assert "The proposal is open until " in page.text and '<form method="post">' in page.text
        page = await browser_like.get(first["Decline the change"])
        assert (page.status_code, heading(page)) == (200, "Decline Ana Ruiz's proposed change?")
        assert 'name="reason"' in page.text
        assert await status_of(api, workflow_id) == before

        done = await browser_like.post(first["Accept the change"], data={"note": "Weekly it is"})
        assert (done.status_code, heading(done)) == (200, "You accepted Ana Ruiz's proposed change"), done.text
        after = await status_of(api, workflow_id)
        assert after["proposal"] is None and after["changes_agreed"] == 1
        assert (after["invitation"]["check_in_every"], after["invitation"]["check_in_grace"]) == ("P7D", "P3D")
        assert after["term_ends_at"] > term_ends_at
        assert after["timeline"][-1]["event"] == "change 1 accepted" and after["timeline"][-1]["by"] == ben
        told = text_part(await wait_for_email(api.sink, workflow_id, "change-1-accepted", "mentor"))
        assert "Ben Ode accepted the change you proposed" in told and "> Weekly it is" in told
        assert "Check-ins are now every 7 days" in told
        await wait_for_email(api.sink, workflow_id, "change-1-term", "coordinator")

        # The same links again: a clear page, nothing changes.
        page = await browser_like.post(first["Accept the change"], data={"note": "again"})
        assert (page.status_code, heading(page)) == (409, "You have already accepted this change"), page.text
        page = await browser_like.get(first["Decline the change"])
        assert (page.status_code, heading(page)) == (409, "This proposed change is no longer open")
        assert "so it can no longer be declined" in page.text and "<form" not in page.text
        assert await status_of(api, workflow_id) == after

        # A later proposal: its own email, its own links. Ben declines it, with a reason.
        await mentorship_client.act(
            dev_env.client, workflow_id, "propose_change", {"by": ana, "extend_term_by": "P1M", "respond_within": "P2D"}
        )
        second = links_in(await wait_for_email(api.sink, workflow_id, "change-2-proposed", "mentee"))
        assert second["Decline the change"] != first["Decline the change"]
        # The first proposal's links do not answer the second one.
        for url in first.values():
            page = await browser_like.post(url, data={"reason": "no"})
            assert page.status_code == 409, page.text
            assert heading(page) in ("You have already accepted this change", "This proposed change is no longer open")
        page = await browser_like.get(first["Decline the change"])
        assert "Ana Ruiz proposed another change since, open until " in page.text
        assert (await status_of(api, workflow_id))["proposal"]["number"] == 2

        page = await browser_like.get(second["Decline the change"])
        assert (page.status_code, heading(page)) == (200, "Decline Ana Ruiz's proposed change?")
        assert "the term 1 month longer" in page.text
        done = await browser_like.post(second["Decline the change"], data={"reason": "Let us see how weekly goes"})
        assert (done.status_code, heading(done)) == (200, "You declined Ana Ruiz's proposed change"), done.text
        declined = await status_of(api, workflow_id)
        assert declined["proposal"] is None and declined["changes_agreed"] == 1 and declined["proposals"] == 2
        assert declined["term_ends_at"] == after["term_ends_at"]
        assert declined["timeline"][-1] | {"at": None} == {
            "at": None,
            "event": "change 2 declined",
            "by": ben,
            "detail": "Let us see how weekly goes",
        }
        told = text_part(await wait_for_email(api.sink, workflow_id, "change-2-declined", "mentor"))
        assert "Ben Ode declined the change you proposed" in told and "> Let us see how weekly goes" in told

        # Old links, GET or POST, say the proposal is no longer open and change nothing.
        for method, url in (("GET", second["Accept the change"]), ("POST", first["Decline the change"])):
            page = await browser_like.request(method, url)
            assert (page.status_code, heading(page)) == (409, "This proposed change is no longer open"), page.text
            assert "Nothing was changed." in page.text and "<form" not in page.text
        page = await browser_like.post(second["Decline the change"])
        assert (page.status_code, heading(page)) == (409, "You have already declined this change")
        assert await status_of(api, workflow_id) == declined

        # Withdrawn: the third proposal's link says who withdrew it.
        await mentorship_client.act(
            dev_env.client, workflow_id, "propose_change", {"by": ana, "check_in_every": "P14D"}
        )
        third = links_in(await wait_for_email(api.sink, workflow_id, "change-3-proposed", "mentee"))
        await mentorship_client.act(dev_env.client, workflow_id, "withdraw_change", {"by": ana})
        page = await browser_like.post(third["Accept the change"])
        assert (page.status_code, heading(page)) == (409, "This proposed change is no longer open")
        assert "Ana Ruiz withdrew it on " in page.text

        # A change link without its proposal's number is not one we made.
        claims = links.verify(token_of(third["Accept the change"]), [SECRET])
        unnumbered = links.sign(claims.model_copy(update={"n": None}), SECRET)
        page = await browser_like.get(f"{api.base_url}/links/{unnumbered}")
        assert (page.status_code, heading(page)) == (400, "This link is not valid")
    await api.http.post(f"/mentorships/{workflow_id}/withdraw", json={"by": ben})


async def feedback_email(sink: MailSink, feedback_id: str, step: str, to: str) -> EmailMessage:
    """The email of ``step`` to ``to`` from the Feedback workflow ``feedback_id``, once it arrived.

    Not ``wait_for_email``: a Feedback workflow's id (``feedback-{mentorship key}``) is long enough that the mailer's
    compat32 headers fold ``X-Mentorship-Workflow-Id`` onto a continuation line, and the sink's parser
    (``policy.default``) then reads the value with a leading space."""

    async def arrived() -> EmailMessage | None:
        for message in sink.messages:
            if (
                str(message["X-Mentorship-Workflow-Id"]).strip() == feedback_id
                and str(message["X-Mentorship-Step"]).strip() == step
                and str(message["Message-ID"]).split("@")[0].endswith(f".{to}")
            ):
                return message
        return None

    return await until(arrived, f"the {step} email to the {to} of {feedback_id}", within=15)


async def test_feedback_is_given_once_from_the_request_email(api: RunningApi, dev_env: WorkflowEnvironment) -> None:
    """Ana mentors Ben; Ben withdraws. Each is asked for feedback by email, on the mentorship's Feedback workflow;
    Ana answers from her link (once), Ben from his, and Cora (the coordinator) gets the summary."""
    invitation = people("mentee")
    ana, ben = invitation.mentor.id, invitation.mentee.id
    workflow_id = (await invite(api, invitation)).workflow_id
    assert (await api.http.post(f"/mentorships/{workflow_id}/accept", json={"by": ana})).status_code == 200
    await mentorship_client.act(dev_env.client, workflow_id, "withdraw", {"by": ben, "reason": "Changing teams"})

    async def feedback_started() -> str | None:
        return (await mentorship_client.status(dev_env.client, workflow_id)).feedback_workflow_id

    feedback_id = await until(feedback_started, "the mentorship to start its Feedback workflow", within=15)
    email = await feedback_email(api.sink, feedback_id, "feedback-request", "mentor")
    assert email["Subject"] == "How did your mentorship with Ben Ode go?"
    found = links_in(email)
    assert found.keys() == {"Give feedback"}
    url = found["Give feedback"]
    assert url.startswith(f"{api.base_url}/links/")
    assert links.verify(token_of(url), [SECRET]).w == feedback_id

    async def answers() -> list[tuple[str, str, int, bool | None, str | None]]:
        current = await mentorship_client.feedback_status(dev_env.client, feedback_id)
        return [(a.by, a.role.value, a.rating, a.would_continue, a.note) for a in current.answers]

    async with httpx.AsyncClient(timeout=30) as browser_like:  # no API key: the token is the credential
        # Opening the link shows the form and changes nothing.
        page = await browser_like.get(url)
        assert (page.status_code, heading(page)) == (200, "How did your mentorship with Ben Ode go?"), page.text
        assert '<form method="post">' in page.text and page.headers["Referrer-Policy"] == "no-referrer"
        assert '<input type="radio" name="rating" value="5" required>' in page.text
        assert '<input type="radio" name="would_continue" value="" checked> Not sure' in page.text
        assert 'name="note"' in page.text and "Cora Lind, who coordinates the mentorship" in page.text
        assert await answers() == []

        # A form that does not fit: the form again, with the reason and what was typed; nothing is given.
        for form, reason in (
            ({"rating": "9", "note": "Kept <as typed>"}, "rating: Input should be less than or equal to 5"),
            ({"would_continue": "yes", "note": "Kept <as typed>"}, "rating: choose how it went, from 1 to 5"),
        ):
            page = await browser_like.post(url, data=form)
            assert (page.status_code, heading(page)) == (422, "How did your mentorship with Ben Ode go?"), page.text
            assert f'<p role="alert" style="color:#b91c1c">{reason}</p>' in page.text
            assert "Kept &lt;as typed&gt;</textarea>" in page.text
        assert await answers() == []

        done = await browser_like.post(url, data={"rating": "4", "would_continue": "yes", "note": "Learned <a lot>"})
        assert (done.status_code, heading(done)) == (200, "Thank you for your feedback"), done.text
        assert "We have recorded your feedback on your mentorship with Ben Ode: 4 out of 5." in done.text
        assert await answers() == [(ana, "mentor", 4, True, "Learned <a lot>")]

        # Again, by POST or GET: already given; nothing changes.
        for method in ("POST", "GET"):
            page = await browser_like.request(method, url, data={"rating": "5"} if method == "POST" else None)
            assert (page.status_code, heading(page)) == (409, "You already gave feedback on this mentorship")
            assert "already been used" in page.text and "<form" not in page.text
        assert await answers() == [(ana, "mentor", 4, True, "Learned <a lot>")]

        # Ben answers from his own email; that closes feedback, and Cora gets the summary.
        ben_url = links_in(await feedback_email(api.sink, feedback_id, "feedback-request", "mentee"))["Give feedback"]
        assert ben_url != url
        done = await browser_like.post(ben_url, data={"rating": "3", "would_continue": "no"})
        assert (done.status_code, heading(done)) == (200, "Thank you for your feedback"), done.text
        summary = text_part(await feedback_email(api.sink, feedback_id, "feedback-summary", "coordinator"))
        assert "Ana Ruiz (mentor) rated it 4 out of 5 and would like to continue together." in summary
        assert "> Learned <a lot>" in summary
        assert "Ben Ode (mentee) rated it 3 out of 5 and would not continue together." in summary

        # Once the Feedback workflow has completed, its links still say what happened.
        handle = dev_env.client.get_workflow_handle(feedback_id)
        await handle.result()
        page = await browser_like.post(ben_url, data={"rating": "5"})
        assert (page.status_code, heading(page)) == (409, "You already gave feedback on this mentorship"), page.text
        assert await answers() == [(ana, "mentor", 4, True, "Learned <a lot>"), (ben, "mentee", 3, False, None)]


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
    browser: Browser,
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


@pytest.mark.timeout(90)
async def test_a_person_in_madrid_reads_her_email_in_spanish_and_her_time_in_chromium(
    api: RunningApi, browser: Browser, tmp_path: Path
) -> None:
    """The email as its reader sees it: the HTML part opened in Chromium, in Spanish, with her local time and an
    accept button that works; the welcome then carries a calendar file a calendar program accepts."""
    invitation = people("mentee", message="¿Te apetece ser mi mentora?")
    invitation = invitation.model_copy(
        update={"mentor": invitation.mentor.model_copy(update={"time_zone": "Europe/Madrid", "locale": "es-ES"})}
    )
    workflow_id = (await invite(api, invitation)).workflow_id
    email = await wait_for_email(api.sink, workflow_id, "invitation", Role.MENTOR.value)
    assert email.get_content_charset() in (None, "utf-8")
    html_part = email.get_body(preferencelist=("html",))
    assert html_part is not None
    (tmp_path / "invitation.eml").write_bytes(email.as_bytes())
    context = await browser.new_context()
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        page = await context.new_page()
        await page.set_content(str(html_part.get_content()))
        await expect(page.locator("body")).to_contain_text("Hola, Ana Ruiz")
        await expect(page.locator("body")).to_contain_text("¿Te apetece ser mi mentora?")
        # The deadline in her zone: CET or CEST, as the date falls.
        await expect(page.locator("body")).to_contain_text(re.compile(r"\d{1,2}:\d{2} CES?T"))
        await page.screenshot(path=str(tmp_path / "invitation-es.png"), full_page=True)
        buttons = page.locator("a[href*='/links/']")
        assert await buttons.count() == 2  # accept and decline
        await page.goto(str(await buttons.first.get_attribute("href")))
        await page.get_by_role("button", name="Accept").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "You accepted: your mentorship with Ben Ode has started"
        )
    finally:
        await context.close()
    welcome = await wait_for_email(api.sink, workflow_id, "started", Role.MENTOR.value)
    [attachment] = [part for part in welcome.iter_attachments() if part.get_content_type() == "text/calendar"]
    # Any: icalendar types a component's items as a union of every property type.
    ics = attachment.get_payload(decode=True)
    assert isinstance(ics, bytes)
    calendar: Any = icalendar.Calendar.from_ical(ics)
    [event] = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "REQUEST"
    assert event["DTSTART"].dt.tzinfo is not None and str(event["DTSTART"].params["TZID"]) == "Europe/Madrid"
    assert event["RRULE"]["FREQ"] == ["WEEKLY"] and event["RRULE"]["INTERVAL"] == [2]  # every two weeks
    await api.http.post(f"/mentorships/{workflow_id}/withdraw", json={"by": invitation.mentee.id})
