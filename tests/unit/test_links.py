"""Signed action links (infra/links.py): the token, its signature, rotating secrets, the settings, and the links in
the emails; following them to the API's pages is in tests/integration/test_email_links.py."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import workflows.effects as effects
import workflows.feedback_rules as feedback_rules
from activities.messages import render
from api import pages
from api.routes.links import feedback_input
from infra import links
from infra.settings import Settings
from tests.support.builders import invitation, make_notification
from tests.support.links import LINK_SECRET, PUBLIC, SECRET, link_settings, token_of
from workflows.contract import (
    AcceptChangeInput,
    AcceptInput,
    Audience,
    DeclineChangeInput,
    FeedbackInput,
    FeedbackStart,
    FeedbackStatus,
    MentorshipStatus,
    Notice,
    Notification,
    ProposeChangeInput,
    Stage,
    WithdrawChangeInput,
    WithdrawInput,
    feedback_workflow_id,
    invitation_stamp,
    mentorship_key,
)
from workflows.feedback_rules import FeedbackDue
from workflows.plan import Due, next_due
from workflows.text import moment

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
    for kind in (Notice.FEEDBACK_REQUEST, Notice.FEEDBACK_REMINDER):
        for to in (Audience.MENTOR, Audience.MENTEE):
            rendered = render(make_notification(kind, to=to), settings)
            (url,) = re.findall(r"^Give feedback: (\S+)$", rendered.text, flags=re.M)
            claims = links.verify(token_of(url), [SECRET])
            assert (claims.a, claims.n, claims.p) == ("feedback", None, "ada" if to is Audience.MENTOR else "ben.b")
        assert "/links/" not in render(make_notification(kind, to=Audience.COORDINATOR), settings).text
    for kind in set(Notice) - {
        Notice.INVITATION,
        Notice.INVITATION_REMINDER,
        Notice.CHECK_IN_DUE,
        Notice.CHECK_IN_NUDGE,
        Notice.FEEDBACK_REQUEST,
        Notice.FEEDBACK_REMINDER,
    }:
        to = Audience.COORDINATOR if kind in (Notice.AT_RISK, Notice.BACK_ON_TRACK) else Audience.MENTOR
        assert "/links/" not in render(make_notification(kind, to=to, check_in_number=1), settings).text, kind


# --- Links to answer a proposed change to the terms ---------------------------------------------------------

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _mentorship() -> MentorshipStatus:
    """Ada mentors Ben: active since NOW, every 14 days, for 6 months."""
    state = effects.new_mentorship("mentorship-ada--ben.b", invitation(term="P6M"), NOW).state
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    return state


def _propose(state: MentorshipStatus, at: datetime, by: str = "ada", **fields: str) -> Notification:
    """``by`` proposes a change at ``at``; the email to the other participant."""
    change = effects.Change(state, at)
    effects.change_proposed(change, ProposeChangeInput.model_validate({"by": by, "check_in_every": "P7D"} | fields))
    [told] = change.notifications
    assert told.kind is Notice.CHANGE_PROPOSED
    return told


def _change_links(notification: Notification) -> dict[str, links.LinkClaims]:
    """The links of a change proposal's email, by action, read back from its text."""
    text = render(notification, link_settings()).text
    found = dict(re.findall(r"^(Accept the change|Decline the change): (\S+)$", text, flags=re.M))
    assert found.keys() == {"Accept the change", "Decline the change"}, text
    claims = {label: links.verify(token_of(url), [SECRET]) for label, url in found.items()}
    return {"accept_change": claims["Accept the change"], "decline_change": claims["Decline the change"]}


def _title(page: pages.Page | None) -> tuple[int, str] | None:
    return None if page is None else (page.status_code, page.title)


def test_a_change_link_is_bound_to_the_mentorship_the_recipient_and_the_proposal() -> None:
    state = _mentorship()
    told = _propose(state, NOW + timedelta(days=1), respond_within="P5D")
    assert state.proposal is not None
    found = _change_links(told)
    for action, claims in found.items():
        assert (claims.w, claims.k, claims.p, claims.a, claims.n) == (
            "mentorship-ada--ben.b",
            invitation_stamp(NOW),
            "ben.b",  # the other participant answers; Ada proposed
            action,
            1,
        )
        assert claims.expires_at == state.proposal.lapses_at == NOW + timedelta(days=6), "until the proposal lapses"
    # Links into the caller's app carry no number; a signed link needs one, so without a proposal there is none.
    assert links.claims_for(told.model_copy(update={"proposal": None}), "accept_change") is None
    assert links.link_for(link_settings(), told.model_copy(update={"proposal": None}), "decline_change") is None
    # A lapse moment with a fraction of a second: the link never expires before the proposal lapses.
    odd = told.model_copy(
        update={"proposal": state.proposal.model_copy(update={"lapses_at": NOW.replace(microsecond=5)})}
    )
    rounded = links.claims_for(odd, "accept_change")
    assert rounded is not None and rounded.expires_at == NOW + timedelta(seconds=1)


def test_a_change_link_answers_only_its_own_proposal_while_it_is_open() -> None:
    state = _mentorship()
    first = _change_links(_propose(state, NOW + timedelta(days=1)))
    assert state.proposal is not None
    now = NOW + timedelta(days=2)
    for claims in first.values():
        assert pages.refusal_for(claims, state, now) is None, "open: the page shows the proposal"
    # Past its expiry, before the workflow has let it lapse: expired.
    late = state.proposal.lapses_at + timedelta(seconds=1)
    assert _title(pages.refusal_for(first["accept_change"], state, late)) == (410, "This link has expired")

    # Ada withdraws it and proposes another: the first links never answer the second proposal.
    effects.change_withdrawn(effects.Change(state, now), WithdrawChangeInput(by="ada"))
    second = _change_links(_propose(state, now + timedelta(hours=1), extend_term_by="P1M"))
    assert state.proposal is not None and state.proposal.number == 2
    assert {claims.n for claims in second.values()} == {2}
    for claims in first.values():
        page = pages.refusal_for(claims, state, now + timedelta(hours=2))
        assert page is not None and _title(page) == (409, "This proposed change is no longer open")
        assert page.paragraphs[0] == f"Ada Lovelace withdrew it on {moment(now)}."
        assert page.paragraphs[1].startswith("Ada Lovelace proposed another change since, open until ")
        assert page.paragraphs[1].endswith("; its email has the links.") and page.form is None
        assert page.paragraphs[-1] == pages.NOTHING_CHANGED
    assert pages.refusal_for(second["accept_change"], state, now + timedelta(hours=2)) is None

    # Accepted: that link says so, the other one says it can no longer be declined.
    accepted_at = now + timedelta(hours=3)
    effects.change_accepted(effects.Change(state, accepted_at), AcceptChangeInput(by="ben.b"))
    page = pages.refusal_for(second["accept_change"], state, accepted_at)
    assert page is not None and _title(page) == (409, "You have already accepted this change")
    assert page.paragraphs == [
        f"You accepted it on {moment(accepted_at)}.",
        "This link has already been used; nothing was changed.",
    ]
    page = pages.refusal_for(second["decline_change"], state, accepted_at)
    assert page is not None and _title(page) == (409, "This proposed change is no longer open")
    assert page.paragraphs == [
        f"It was accepted on {moment(accepted_at)}, so it can no longer be declined.",
        pages.NOTHING_CHANGED,
    ]


def test_a_change_link_after_a_decline_a_lapse_or_the_end() -> None:
    state = _mentorship()
    first = _change_links(_propose(state, NOW + timedelta(days=1)))
    declined_at = NOW + timedelta(days=2)
    effects.change_declined(effects.Change(state, declined_at), DeclineChangeInput(by="ben.b", reason="No"))
    page = pages.refusal_for(first["decline_change"], state, declined_at)
    assert page is not None and _title(page) == (409, "You have already declined this change")
    page = pages.refusal_for(first["accept_change"], state, declined_at)
    assert page is not None and page.paragraphs[0] == (
        f"It was declined on {moment(declined_at)}, so it can no longer be accepted."
    )

    # Ben proposes the next one; it lapses unanswered (Ada gets the links this time).
    second = _change_links(_propose(state, declined_at, by="ben.b", respond_within="P1D"))
    assert {claims.p for claims in second.values()} == {"ada"}
    due = next_due(state)
    assert due is not None and due.event is Due.CHANGE_LAPSES
    effects.fell_due(effects.Change(state, due.at), due)
    page = pages.refusal_for(second["accept_change"], state, due.at)
    assert page is not None and _title(page) == (409, "This proposed change is no longer open")
    assert page.paragraphs == [f"It lapsed on {moment(due.at)} without an answer.", pages.NOTHING_CHANGED]

    # The mentorship ends with a proposal open: its links say the mentorship has ended.
    third = _change_links(_propose(state, due.at))
    effects.withdrawn(effects.Change(state, due.at), WithdrawInput(by="ben.b"))
    assert _title(pages.refusal_for(third["accept_change"], state, due.at)) == (409, "The mentorship has ended")


def test_the_change_pages_show_the_proposal_and_the_outcome() -> None:
    state = _mentorship()
    told = _propose(state, NOW + timedelta(days=1), extend_term_by="P3M", note="Let's go <deeper>")
    found = _change_links(told)
    assert state.proposal is not None and state.term_ends_at is not None
    page = pages.confirmation(found["accept_change"], state, values={}, error=None)
    assert (page.status_code, page.title, page.tone) == (200, "Accept Ada Lovelace's proposed change?", "ask")
    assert page.paragraphs == [
        "Hi Ben Okafor,",
        "Ada Lovelace proposes a change to your mentorship: the term 3 months longer and check-ins every 7 days "
        "(follow-up after 3 days).",
        "At present you check in every 14 days.",
        "At present the term ends on Tue 1 Jun 2027, 09:00 UTC; with the change, on Wed 1 Sep 2027, 09:00 UTC.",
        f"Nothing changes unless you accept. The proposal is open until {moment(state.proposal.lapses_at)}.",
    ]
    assert page.quote == ("A note from Ada Lovelace:", "Let's go <deeper>")
    assert page.form is not None and page.form.button == "Accept the change"
    assert [(f.name, f.label) for f in page.form.fields] == [("note", "A note for Ada Lovelace (optional)")]
    rendered = pages.render(page)
    assert "Let&#x27;s go &lt;deeper&gt;" in rendered and "<deeper>" not in rendered

    page = pages.confirmation(found["decline_change"], state, values={"reason": "Busy"}, error="reason: too long")
    assert (page.status_code, page.title) == (422, "Decline Ada Lovelace's proposed change?")
    assert page.form is not None and page.form.button == "Decline the change" and page.form.error == "reason: too long"
    assert [(f.name, f.label, f.value) for f in page.form.fields] == [
        ("reason", "A reason for Ada Lovelace (optional)", "Busy")
    ]

    proposal = state.proposal
    effects.change_accepted(effects.Change(state, NOW + timedelta(days=2)), AcceptChangeInput(by="ben.b"))
    assert state.term_ends_at is not None and state.next_check_in_due is not None
    page = pages.done(found["accept_change"], state, proposal=proposal)
    assert (page.status_code, page.title, page.tone) == (200, "You accepted Ada Lovelace's proposed change", "done")
    assert page.paragraphs == [
        "From now on: the term 3 months longer and check-ins every 7 days (follow-up after 3 days).",
        "The mentorship now runs until Wed 1 Sep 2027, 09:00 UTC.",
        f"Check-ins are every 7 days; the next one is due {moment(state.next_check_in_due)}.",
        "We have let Ada Lovelace know.",
    ]
    page = pages.done(found["decline_change"], state, proposal=proposal)
    assert page.title == "You declined Ada Lovelace's proposed change"


# --- Links to give feedback once the mentorship ended -------------------------------------------------------

ENDED = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
KEY = mentorship_key("mentorship-ada--ben.b", NOW)


def _feedback(**options: Any) -> tuple[FeedbackStatus, dict[str, links.LinkClaims]]:
    """Ada and Ben's mentorship (invited at NOW) ended at ENDED: its Feedback workflow's state, and the claims of the
    link in each participant's request, by participant id."""
    start = FeedbackStart(
        mentorship_workflow_id="mentorship-ada--ben.b",
        mentorship_key=KEY,
        invited_at=NOW,
        invitation=invitation(**options),
        ended=Stage.COMPLETED,
        ended_at=ENDED,
    )
    state, asks = feedback_rules.started(feedback_workflow_id(KEY), start, ENDED)
    found = {}
    for ask in asks:
        (url,) = re.findall(r"^Give feedback: (\S+)$", render(ask, link_settings()).text, flags=re.M)
        found[ask.recipient.id] = links.verify(token_of(url), [SECRET])
    return state, found


def test_a_feedback_link_is_bound_to_the_feedback_workflow_the_mentorship_and_the_recipient() -> None:
    state, found = _feedback()
    assert state.workflow_id == f"feedback-mentorship-ada--ben.b.{invitation_stamp(NOW)}"
    for person, claims in found.items():
        assert (claims.w, claims.k, claims.p, claims.a, claims.n) == (
            state.workflow_id,
            invitation_stamp(NOW),
            person,
            "feedback",
            None,
        )
        assert claims.expires_at == state.closes_at == ENDED + timedelta(days=14), "until feedback closes"
    # The reminder's link is the same link.
    feedback_rules.given(state, FeedbackInput(by="ada", rating=3), ENDED)
    [reminder] = feedback_rules.fell_due(state, feedback_rules.NextFeedbackDue(FeedbackDue.REMINDER, ENDED, "r"))
    assert links.claims_for(reminder, "feedback") == found["ben.b"]
    # Without the moment it closes (not something the workflow sends): feedback_within after now.
    bare = reminder.model_copy(update={"at": None})
    unbounded = links.claims_for(bare, "feedback", now=ENDED)
    assert unbounded is not None and unbounded.expires_at == ENDED + timedelta(days=14)


def test_a_feedback_link_gives_feedback_once_while_it_is_open() -> None:
    state, found = _feedback()
    ada, ben = found["ada"], found["ben.b"]
    now = ENDED + timedelta(days=1)
    assert pages.feedback_refusal_for(ada, state, now) is None
    assert pages.feedback_refusal_for(ben, state, now) is None
    assert _title(pages.feedback_refusal_for(ada, state, state.closes_at)) == (410, "This link has expired")
    # Another mentorship's Feedback workflow, or a link not for a participant: never.
    other = ada.model_copy(update={"w": feedback_workflow_id(mentorship_key("mentorship-ada--ben.b", ENDED))})
    assert _title(pages.feedback_refusal_for(other, state, now)) == (409, "This link is out of date")
    assert _title(pages.feedback_refusal_for(ada.model_copy(update={"k": "x"}), state, now)) == (
        409,
        "This link is out of date",
    )
    assert _title(pages.feedback_refusal_for(ada.model_copy(update={"p": "cleo"}), state, now)) == (
        400,
        "This link is not valid",
    )

    # Ada answers: her link says so (GET or POST), Ben's still opens the form.
    feedback_rules.given(state, FeedbackInput(by="ada", rating=4, note="Good"), now)
    page = pages.feedback_refusal_for(ada, state, now)
    assert page is not None and _title(page) == (409, "You already gave feedback on this mentorship")
    assert page.paragraphs == [
        f"You gave it on {moment(now)}: 4 out of 5. Thank you!",
        "This link has already been used; nothing was changed.",
    ]
    assert page.form is None
    assert pages.feedback_refusal_for(ben, state, now) is None

    # The window closes without Ben: his link says feedback is closed (even past its expiry).
    feedback_rules.close(state)
    page = pages.feedback_refusal_for(ben, state, state.closes_at + timedelta(days=1))
    assert page is not None and _title(page) == (409, "Feedback on this mentorship is closed")
    assert page.paragraphs == [f"It was open until {moment(state.closes_at)}.", pages.NOTHING_CHANGED]


def test_the_feedback_page_asks_three_questions_and_thanks() -> None:
    state, found = _feedback()
    page = pages.feedback_form(found["ben.b"], state, values={}, error=None)
    assert (page.status_code, page.title, page.tone) == (200, "How did your mentorship with Ada Lovelace go?", "ask")
    assert page.paragraphs == [
        "Hi Ben Okafor,",
        f"Your mentorship with Ada Lovelace came to the end of its term on {moment(ENDED)}. Thank you for the time "
        "you gave to it!",
        f"You can give your feedback once, until {moment(state.closes_at)}.",
        "Cleo Coordinator, who coordinates the mentorship, gets a summary of both answers.",
    ]
    assert page.form is not None and page.form.button == "Give feedback" and page.form.error is None
    assert [(f.kind, f.name, f.label, f.value) for f in page.form.fields] == [
        ("choice", "rating", "How did it go, from 1 (not well) to 5 (very well)?", ""),
        ("choice", "would_continue", "Would you like to continue with Ada Lovelace?", ""),
        ("text", "note", "Anything you would like to add? (optional)", ""),
    ]
    rendered = pages.render(page)
    for number in range(1, 6):
        assert f'<input type="radio" name="rating" value="{number}" required> {number}</label>' in rendered
    assert '<input type="radio" name="would_continue" value="yes"> Yes</label>' in rendered
    assert '<input type="radio" name="would_continue" value="" checked> Not sure</label>' in rendered
    assert '<textarea id="note" name="note"' in rendered

    # Sent back with an error: 422, the answers kept, the reason shown.
    values = {"rating": "4", "would_continue": "no", "note": "Too <short>"}
    page = pages.feedback_form(found["ben.b"], state, values=values, error="rating: choose how it went, from 1 to 5")
    assert page.status_code == 422
    rendered = pages.render(page)
    assert '<p role="alert" style="color:#b91c1c">rating: choose how it went, from 1 to 5</p>' in rendered
    assert 'value="4" checked required>' in rendered and 'value="no" checked>' in rendered
    assert "Too &lt;short&gt;</textarea>" in rendered and "<short>" not in rendered

    # Withdrawn, no coordinator: said so, nobody named.
    state, found = _feedback(coordinator=None)
    state.ended = Stage.WITHDRAWN
    page = pages.feedback_form(found["ada"], state, values={}, error=None)
    assert page.paragraphs[1].startswith(f"Your mentorship with Ben Okafor ended on {moment(ENDED)}.")
    assert len(page.paragraphs) == 3

    state, found = _feedback()
    given = FeedbackInput(by="ben.b", rating=5, would_continue=True)
    feedback_rules.given(state, given, ENDED)
    page = pages.feedback_given(found["ben.b"], state, given)
    assert (page.status_code, page.title, page.tone) == (200, "Thank you for your feedback", "done")
    assert page.paragraphs == [
        "We have recorded your feedback on your mentorship with Ada Lovelace: 5 out of 5.",
        "Cleo Coordinator gets a summary of both answers once Ada Lovelace has answered too, or when feedback closes "
        f"on {moment(state.closes_at)}.",
    ]
    feedback_rules.given(state, FeedbackInput(by="ada", rating=3), ENDED)
    assert pages.feedback_given(found["ada"], state, given).paragraphs[1] == (
        "Cleo Coordinator gets a summary of both answers."
    )


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"rating": "4"}, {"by": "ben.b", "rating": 4}),
        (
            {"rating": " 5 ", "would_continue": "yes", "note": "Thanks"},
            {"by": "ben.b", "rating": 5, "would_continue": True, "note": "Thanks"},
        ),
        ({"rating": "1", "would_continue": "no", "note": "  "}, {"by": "ben.b", "rating": 1, "would_continue": False}),
        ({"rating": "3", "would_continue": ""}, {"by": "ben.b", "rating": 3}),
        ({}, "rating: choose how it went, from 1 to 5"),
        ({"rating": "", "note": "no rating"}, "rating: choose how it went, from 1 to 5"),
        ({"rating": "9"}, "rating: Input should be less than or equal to 5"),
        ({"rating": "0"}, "rating: Input should be greater than or equal to 1"),
        ({"rating": "four"}, "rating: Input should be a valid integer"),
        ({"rating": "4", "would_continue": "maybe"}, "would_continue: choose yes, no or not sure"),
        ({"rating": "4", "note": "x" * 2001}, "note: must be at most 2000 characters, got 2001"),
    ],
)
def test_the_feedback_form_reads_as_the_contract(form: dict[str, str], expected: dict[str, object] | str) -> None:
    claims = links.LinkClaims(w="feedback-x", k="k", p="ben.b", a="feedback", e=2_000_000_000)
    given = feedback_input(claims, form)
    if isinstance(expected, str):
        assert given == expected
    else:
        assert isinstance(given, FeedbackInput)
        assert given.model_dump(exclude_unset=True) == expected
