"""The text and HTML of every notice (activities/messages.py), without sending anything."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from markupsafe import escape

import workflows.effects as effects
import workflows.feedback_rules as feedback_rules
from activities.messages import render
from infra.settings import Settings
from tests.support.builders import invitation, make_notification
from tests.support.links import TEMPLATE, link_settings
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
    PauseInput,
    Proposal,
    ProposeChangeInput,
    Role,
    Stage,
    WithdrawChangeInput,
    feedback_workflow_id,
    mentorship_key,
)
from workflows.feedback_rules import FeedbackDue
from workflows.plan import Due, next_due
from workflows.text import moment


def test_link_values_are_url_quoted() -> None:
    settings = Settings(_env_file=None, mentorship_link_template=TEMPLATE)
    notification = make_notification(Notice.CHECK_IN_DUE, to=Audience.MENTOR, workflow_id="a b/c?d")
    assert "https://app.example.com/m/a%20b%2Fc%3Fd/check_in?as=ada&src=mail" in render(notification, settings).text


_AUDIENCES = {
    Notice.INVITATION: [Audience.MENTOR],
    Notice.INVITATION_SENT: [Audience.MENTEE],
    Notice.INVITATION_REMINDER: [Audience.MENTOR],
    Notice.AT_RISK: [Audience.COORDINATOR],
    Notice.BACK_ON_TRACK: [Audience.COORDINATOR],
}


@pytest.mark.parametrize("kind", list(Notice))
@pytest.mark.parametrize("full", [True, False], ids=["all-fields", "bare"])
def test_every_notice_renders(kind: Notice, full: bool) -> None:
    settings = Settings(_env_file=None, mentorship_link_template=TEMPLATE)
    proposal = Proposal(
        number=2,
        by="ada",
        role=Role.MENTOR,
        extend_term_by="P3M",
        check_in_every="P7D",
        check_in_grace="P2D",
        note="Busy <month>",
        proposed_at=datetime(2026, 12, 1, tzinfo=UTC),
        lapses_at=datetime(2026, 12, 8, tzinfo=UTC),
    )
    extra = (
        {
            "actor": Role.MENTOR,
            "check_in_number": 3,
            "missed_in_a_row": 2,
            "text": "Busy <month>",
            "mutual": True,
            "proposal": proposal,
        }
        if full
        else {"at": None}
    )
    for to in _AUDIENCES.get(kind, [Audience.MENTOR, Audience.MENTEE, Audience.COORDINATOR]):
        rendered = render(make_notification(kind, to=to, **extra), settings)
        assert rendered.subject.strip() and "\n" not in rendered.subject
        assert rendered.text.strip().startswith("Hi ")
        assert rendered.html.strip()
        assert "None" not in rendered.text, rendered.text
        assert "<month>" not in rendered.html


def test_what_the_notices_say() -> None:
    settings = Settings(_env_file=None)
    due = datetime(2026, 12, 9, 14, 0, tzinfo=UTC)

    started = render(make_notification(Notice.MENTORSHIP_STARTED, to=Audience.MENTOR, mutual=True), settings)
    assert "invited each other" in started.text
    assert "every 14 days" in started.text and moment(due) in started.text

    at_risk = render(make_notification(Notice.AT_RISK, to=Audience.COORDINATOR, missed_in_a_row=3), settings)
    assert "3 check-ins in a row" in at_risk.subject and "Hi Cleo Coordinator," in at_risk.text

    paused = render(
        make_notification(Notice.PAUSED, to=Audience.MENTOR, actor=Role.MENTEE, text="Exams until June"), settings
    )
    assert "Ben Okafor paused" in paused.text and "Exams until June" in paused.text
    assert f"until {moment(due)}" in paused.text

    withdrawn = render(
        make_notification(Notice.WITHDRAWN, to=Audience.MENTEE, actor=Role.MENTOR, text="Changing jobs"), settings
    )
    assert "Ada Lovelace has ended" in withdrawn.text and "Changing jobs" in withdrawn.text

    check_in = render(make_notification(Notice.CHECK_IN_DUE, to=Audience.MENTEE, check_in_number=4), settings)
    assert "check-in 4" in check_in.subject and "Ada Lovelace" in check_in.subject


# --- Changes to the terms: the notifications the effects queue, as their readers see them -------------------

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# Ada mentors Ben (who asked); Cleo coordinates. Ada proposes this change:
CHANGE = "the term 3 months longer and check-ins every 7 days (follow-up after 2 days)"


def proposed(**proposal: str | None) -> tuple[MentorshipStatus, Notification]:
    """An active mentorship (every 14 days, for 6 months) in which Ada proposed a change, and the email to Ben."""
    state = effects.new_mentorship("mentorship-ada--ben.b", invitation(term="P6M", check_in_every="P14D"), NOW).state
    effects.accepted(effects.Change(state, NOW), AcceptInput(by="ada"))
    change = effects.Change(state, NOW + timedelta(days=1))
    fields = {"extend_term_by": "P3M", "check_in_every": "P7D", "check_in_grace": "P2D"} | proposal
    effects.change_proposed(
        change, ProposeChangeInput.model_validate({"by": "ada", "note": "It's going <really> well", **fields})
    )
    [told] = change.notifications
    return state, told


def links_of(text: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][a-z ]+): (https://\S+)$", text, flags=re.M))


def test_a_proposed_change_asks_the_other_participant_with_links() -> None:
    state, told = proposed()
    assert state.proposal is not None and (told.kind, told.to) == (Notice.CHANGE_PROPOSED, Audience.MENTEE)
    email = render(told, link_settings())
    assert email.subject == "Ada Lovelace proposes a change to your mentorship"
    assert email.text.startswith("Hi Ben Okafor,\n")
    assert f"Ada Lovelace proposes a change to your mentorship: {CHANGE}." in email.text
    assert "At present you check in every 14 days." in email.text
    assert "A note from Ada Lovelace:\n> It's going <really> well" in email.text
    assert escape("It's going <really> well") in email.html and "<really>" not in email.html
    lapses = moment(state.proposal.lapses_at)
    assert f"Nothing changes unless you accept it. Please answer by {lapses}; the proposal lapses" in email.text
    assert lapses == moment(NOW + timedelta(days=8)), "respond_within defaults to 7 days"
    found = links_of(email.text)
    assert found.keys() == {"Accept the change", "Decline the change"}
    for url in found.values():
        assert f'href="{html.escape(url)}"' in email.html
    # With links into the caller's own app instead: the same two, by action name.
    template = render(told, Settings(_env_file=None, mentorship_link_template=TEMPLATE))
    assert "Accept the change: https://app.example.com/m/mentorship-ada--ben.b/accept_change?as=ben.b" in template.text
    # Without links: the email still says what to do by when.
    bare = render(told, Settings(_env_file=None))
    assert "http" not in bare.text and "href" not in bare.html and lapses in bare.text


def test_an_accepted_change_tells_the_proposer_and_a_longer_term_the_coordinator() -> None:
    state, _ = proposed()
    assert state.term_ends_at is not None
    term_ended = state.term_ends_at
    change = effects.Change(state, NOW + timedelta(days=2))
    effects.change_accepted(change, AcceptChangeInput(by="ben.b", note="Yes, <gladly>"))
    accepted, coordinator = change.notifications
    assert (accepted.kind, accepted.to, coordinator.kind, coordinator.to) == (
        Notice.CHANGE_ACCEPTED,
        Audience.MENTOR,
        Notice.TERM_CHANGED,
        Audience.COORDINATOR,
    )

    email = render(accepted, link_settings())
    assert email.subject == "Ben Okafor accepted your proposed change"
    assert email.text.startswith("Hi Ada Lovelace,\n")
    assert f"Ben Okafor accepted the change you proposed to your mentorship: {CHANGE}." in email.text
    assert "A note from Ben Okafor:\n> Yes, <gladly>" in email.text and "&lt;gladly&gt;" in email.html
    assert state.next_check_in_due == NOW + timedelta(days=9), "a fresh cycle at the new cadence"
    assert f"Check-ins are now every 7 days; the next one is due {moment(state.next_check_in_due)}." in email.text
    assert "/links/" not in email.text

    email = render(coordinator, link_settings())
    assert email.subject == "Ada Lovelace and Ben Okafor changed the terms of their mentorship"
    assert email.text.startswith("Hi Cleo Coordinator,\n")
    assert f"Ada Lovelace (mentor) and Ben Okafor (mentee) agreed to a change: {CHANGE}." in email.text
    assert "Ada Lovelace proposed it and Ben Okafor accepted." in email.text
    assert state.term_ends_at > term_ended
    assert f"The mentorship now runs until {moment(state.term_ends_at)}." in email.text
    assert "They check in every 7 days." in email.text


def test_a_new_cadence_accepted_while_paused_says_none_are_due() -> None:
    state, _ = proposed(extend_term_by=None, check_in_grace=None)
    effects.paused(effects.Change(state, NOW + timedelta(days=2)), PauseInput(by="ben.b"))
    change = effects.Change(state, NOW + timedelta(days=3))
    effects.change_accepted(change, AcceptChangeInput(by="ben.b"))
    [accepted] = change.notifications  # no term change: nothing for the coordinator
    email = render(accepted, Settings(_env_file=None))
    assert "check-ins every 7 days (follow-up after" in email.text and "longer" not in email.text
    assert "Check-ins are now every 7 days; none are due while the mentorship is paused." in email.text
    assert "A note from" not in email.text


def test_a_declined_change_tells_the_proposer_why_and_that_nothing_changes() -> None:
    state, _ = proposed()
    change = effects.Change(state, NOW + timedelta(days=2))
    effects.change_declined(change, DeclineChangeInput(by="ben.b", reason="Exams <soon>"))
    [declined] = change.notifications
    assert (declined.kind, declined.to) == (Notice.CHANGE_DECLINED, Audience.MENTOR)
    email = render(declined, link_settings())
    assert email.subject == "Ben Okafor declined your proposed change"
    assert f"Ben Okafor declined the change you proposed to your mentorship: {CHANGE}." in email.text
    assert "Their reason:\n> Exams <soon>" in email.text and "Exams &lt;soon&gt;" in email.html
    assert "Nothing changes: you keep checking in every 14 days, as before." in email.text


def test_a_withdrawn_change_tells_the_other_participant_their_links_no_longer_apply() -> None:
    state, _ = proposed()
    change = effects.Change(state, NOW + timedelta(days=2))
    effects.change_withdrawn(change, WithdrawChangeInput(by="ada"))
    [withdrawn] = change.notifications
    assert (withdrawn.kind, withdrawn.to) == (Notice.CHANGE_WITHDRAWN, Audience.MENTEE)
    email = render(withdrawn, link_settings())
    assert email.subject == "Ada Lovelace withdrew their proposed change"
    assert email.text.startswith("Hi Ben Okafor,\n")
    assert f"Ada Lovelace withdrew their proposed change to your mentorship: {CHANGE}." in email.text
    assert "the links of the earlier email no longer apply" in email.text and "/links/" not in email.text


def test_a_lapsed_change_tells_the_proposer_when() -> None:
    state, _ = proposed(extend_term_by="P1M", check_in_every=None, check_in_grace=None)
    assert state.proposal is not None
    due = next_due(state)
    assert due is not None and (due.event, due.at) == (Due.CHANGE_LAPSES, state.proposal.lapses_at)
    change = effects.Change(state, due.at)
    effects.fell_due(change, due)
    [lapsed] = change.notifications
    assert (lapsed.kind, lapsed.to) == (Notice.CHANGE_LAPSED, Audience.MENTOR)
    email = render(lapsed, link_settings())
    assert email.subject == "Ben Okafor did not answer your proposed change in time"
    assert email.text.startswith("Hi Ada Lovelace,\n")
    assert (
        f"Your proposed change to your mentorship with Ben Okafor lapsed on {moment(due.at)}: Ben Okafor did not "
        "answer it in time." in email.text
    )
    assert "What you proposed: the term 1 month longer." in email.text


# --- Feedback once an active mentorship ended: the Feedback workflow's emails, as their readers see them ------

ENDED = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def feedback_asked(**options: Any) -> tuple[FeedbackStatus, list[Notification]]:
    """Ada (mentor) and Ben's mentorship, invited at NOW, ended at ENDED: the Feedback workflow's state and asks."""
    key = mentorship_key("mentorship-ada--ben.b", NOW)
    start = FeedbackStart(
        mentorship_workflow_id="mentorship-ada--ben.b",
        mentorship_key=key,
        invited_at=NOW,
        invitation=invitation(**options),
        ended=Stage.WITHDRAWN,
        ended_at=ENDED,
    )
    return feedback_rules.started(feedback_workflow_id(key), start, ENDED)


def test_a_feedback_request_asks_each_participant_with_a_link() -> None:
    state, asks = feedback_asked()
    assert [(n.kind, n.to) for n in asks] == [
        (Notice.FEEDBACK_REQUEST, Audience.MENTOR),
        (Notice.FEEDBACK_REQUEST, Audience.MENTEE),
    ]
    closes = moment(state.closes_at)
    assert closes == moment(ENDED + timedelta(days=14)), "feedback_within defaults to 14 days"
    email = render(asks[1], link_settings())
    assert email.subject == "How did your mentorship with Ada Lovelace go?"
    assert email.text.startswith("Hi Ben Okafor,\n\nYour mentorship with Ada Lovelace has ended. Thank you")
    assert (
        "We would love to hear how it went. Three short questions, a minute at most:\n"
        "  - How did it go, from 1 to 5?\n"
        "  - Would you like to continue with Ada Lovelace?\n"
        "  - Anything you would like to add? (optional)"
    ) in email.text
    assert f"You can give your feedback until {closes}." in email.text
    assert "Cleo Coordinator, who coordinates the mentorship, gets a summary of both answers." in email.text
    found = links_of(email.text)
    assert list(found) == ["Give feedback"]
    assert f'href="{html.escape(found["Give feedback"])}"' in email.html
    # The mentor's asks about Ben; links into the caller's own app name the Feedback workflow.
    template = render(asks[0], Settings(_env_file=None, mentorship_link_template=TEMPLATE))
    assert template.subject == "How did your mentorship with Ben Okafor go?"
    assert f"Give feedback: https://app.example.com/m/{state.workflow_id}/feedback?as=ada&src=mail" in template.text
    # No coordinator: nobody to name; no links configured: the email still says until when.
    _, bare = feedback_asked(coordinator=None)
    email = render(bare[0], Settings(_env_file=None))
    assert "coordinates" not in email.text and "http" not in email.text and closes in email.text


def test_a_feedback_reminder_goes_gently_to_whoever_has_not_answered() -> None:
    state, _ = feedback_asked()
    feedback_rules.given(state, FeedbackInput(by="ada", rating=5), ENDED + timedelta(days=1))
    due = feedback_rules.next_due(state)
    assert due is not None and due.event is FeedbackDue.REMINDER
    [reminder] = feedback_rules.fell_due(state, due)
    assert (reminder.kind, reminder.to) == (Notice.FEEDBACK_REMINDER, Audience.MENTEE)
    email = render(reminder, link_settings())
    assert email.subject == "Reminder: how did your mentorship with Ada Lovelace go?"
    assert "A gentle reminder: we would still love to hear how your mentorship with Ada Lovelace went." in email.text
    assert "a rating from 1 to 5, whether you would like to continue with Ada Lovelace, and a note" in email.text
    assert (
        f"Feedback is open until {moment(state.closes_at)}. If you would rather not answer, there is nothing to do."
        in email.text
    )
    assert list(links_of(email.text)) == ["Give feedback"]


def test_the_feedback_summary_tells_the_coordinator_each_answer_or_none() -> None:
    state, _ = feedback_asked()
    note = "Learned <so> much,\nthank you"
    feedback_rules.given(
        state, FeedbackInput(by="ada", rating=4, would_continue=True, note=note), ENDED + timedelta(days=1)
    )
    feedback_rules.fell_due(state, feedback_rules.NextFeedbackDue(FeedbackDue.REMINDER, ENDED, "reminder"))
    due = feedback_rules.next_due(state)
    assert due is not None and due.event is FeedbackDue.CLOSES
    [summary] = feedback_rules.fell_due(state, due)
    assert (summary.kind, summary.to) == (Notice.FEEDBACK_SUMMARY, Audience.COORDINATOR)
    email = render(summary, link_settings())
    assert email.subject == "Feedback on the mentorship of Ada Lovelace and Ben Okafor"
    assert email.text.startswith("Hi Cleo Coordinator,\n")
    assert (
        "Feedback on the mentorship between Ada Lovelace (mentor) and Ben Okafor (mentee) closed on "
        f"{moment(state.closes_at)}." in email.text
    )
    assert "Ada Lovelace (mentor) rated it 4 out of 5 and would like to continue together." in email.text
    assert "Ada Lovelace's note:\n> Learned <so> much,\n> thank you" in email.text
    assert "Learned &lt;so&gt; much,<br>thank you" in email.html and "<so>" not in email.html
    assert "Ben Okafor (mentee) did not answer." in email.text
    assert "/links/" not in email.text

    # Both answered: the window closes at once, and the summary says so.
    state, _ = feedback_asked()
    feedback_rules.given(state, FeedbackInput(by="ada", rating=2, would_continue=False), ENDED)
    [summary] = feedback_rules.given(state, FeedbackInput(by="ben.b", rating=5), ENDED + timedelta(hours=1))
    email = render(summary, link_settings())
    assert "Both participants of the mentorship between Ada Lovelace (mentor) and Ben Okafor (mentee) have given" in (
        email.text
    )
    assert "Ada Lovelace (mentor) rated it 2 out of 5 and would not continue together." in email.text
    assert "Ben Okafor (mentee) rated it 5 out of 5 and did not say whether they would continue." in email.text
    assert "note:" not in email.text and "did not answer" not in email.text

    # Nobody answered.
    email = render(summary.model_copy(update={"feedback": []}), link_settings())
    assert "Ada Lovelace (mentor) did not answer." in email.text and "Ben Okafor (mentee) did not answer." in email.text
