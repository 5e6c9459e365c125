"""The text and HTML of every notice (activities/messages.py), without sending anything."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from activities.messages import render
from infra.settings import Settings
from tests.support.builders import make_notification
from tests.support.links import TEMPLATE
from workflows.contract import Audience, Notice, Role
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
    extra = (
        {"actor": Role.MENTOR, "check_in_number": 3, "missed_in_a_row": 2, "text": "Busy <month>", "mutual": True}
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
