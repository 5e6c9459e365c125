"""The calendar file of the emails that start, move and end the check-ins (activities/calendar.py), read back the
way a calendar program reads it: parsed with ``icalendar``, its recurrence expanded with ``dateutil`` (the rule
engine ``icalendar`` itself depends on)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr  # type: ignore[import-untyped]
from icalendar import Calendar, Component, Event

import workflows.effects as effects
from activities.calendar import calendar_for
from activities.mailer import Mailer
from tests.support.builders import MAIL_FROM, invitation, make_notification, settings
from workflows.contract import (
    AcceptChangeInput,
    AcceptInput,
    Audience,
    Invitation,
    MentorshipStatus,
    Notice,
    Notification,
    PauseInput,
    ProposeChangeInput,
    ResumeInput,
    Role,
    WithdrawInput,
    mentorship_key,
)
from workflows.durations import parse_duration

WORKFLOW_ID = "mentorship-ada--ben.b"
INVITED = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ACCEPTED = datetime(2026, 11, 27, 17, 30, tzinfo=UTC)
# Ada mentors from Los Angeles (daylight saving time), Ben is in Kolkata (none, and a half-hour offset).
ZONES = {Role.MENTOR: "America/Los_Angeles", Role.MENTEE: "Asia/Kolkata"}


def people(**options: Any) -> Invitation:
    return invitation(
        mentor={"id": "ada", "name": "Ada Lovelace", "email": "ada@example.com", "time_zone": ZONES[Role.MENTOR]},
        mentee={"id": "ben.b", "name": "Ben Okafor", "email": "ben@example.com", "time_zone": ZONES[Role.MENTEE]},
        **options,
    )


def start(every: str = "P14D", **options: Any) -> tuple[MentorshipStatus, list[Notification]]:
    """Ben invited Ada (at INVITED), Ada accepted (at ACCEPTED): the state and the two started emails."""
    state = effects.new_mentorship(WORKFLOW_ID, people(check_in_every=every, **options), INVITED).state
    change = effects.Change(state, ACCEPTED)
    effects.accepted(change, AcceptInput(by="ada"))
    return state, change.notifications


def ics(notification: Notification) -> bytes:
    data = calendar_for(notification, MAIL_FROM)
    assert data is not None, f"{notification.kind} to the {notification.to} carries no calendar"
    return data


def read(data: bytes) -> tuple[Calendar, Event]:
    """The calendar and its one event, checked against the rules every calendar program relies on."""
    lines = data.split(b"\r\n")
    assert lines[-1] == b"" and b"\n" not in data.replace(b"\r\n", b""), "CRLF line ends"
    assert all(len(line) <= 75 for line in lines), "lines folded at 75 octets"
    calendar = Calendar.from_ical(data)
    assert prop(calendar, "VERSION") == "2.0" and prop(calendar, "PRODID")
    [event] = calendar.walk("VEVENT")
    assert isinstance(event, Event)
    assert event.organizer == "mailto:mentorships@example.org"
    assert event.organizer is not None and event.organizer.params["CN"] == "Mentorships"
    assert sorted(str(a) for a in event.attendees) == ["mailto:ada@example.com", "mailto:ben@example.com"]
    return calendar, event


def method(calendar: Calendar) -> str:
    return str(prop(calendar, "METHOD"))


def prop(component: Component, name: str) -> Any:
    """A property as icalendar parsed it (its value types are a union no test needs spelled out)."""
    return component[name]


def rrule_of(event: Event) -> str:
    [rule] = event.rrules
    return str(rule.to_ical().decode())


def starts(event: Event) -> datetime:
    start = event.start
    assert isinstance(start, datetime)
    return start


def occurrences(event: Event, count: int) -> list[datetime]:
    """The first ``count`` occurrences, as a calendar program expands the event's RRULE from its DTSTART."""
    expanded = iter(rrulestr(rrule_of(event), dtstart=starts(event)))
    return [next(expanded) for _ in range(count)]


def workflow_dues(first: datetime, every: str, count: int) -> list[datetime]:
    """The check-ins the workflow makes due when none is recorded early: each a cadence after the last."""
    dues = [first]
    while len(dues) < count:
        dues.append(parse_duration(every).after(dues[-1]))
    return dues


# --- The start ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("every", "rule"),
    [
        ("P14D", "FREQ=WEEKLY;INTERVAL=2"),
        ("P2W", "FREQ=WEEKLY;INTERVAL=2"),
        ("P1D", "FREQ=DAILY;INTERVAL=1"),
        ("P10D", "FREQ=DAILY;INTERVAL=10"),
        ("PT6H", "FREQ=HOURLY;INTERVAL=6"),
        ("PT90M", "FREQ=MINUTELY;INTERVAL=90"),
        ("PT4S", "FREQ=SECONDLY;INTERVAL=4"),
        ("P1M", "FREQ=MONTHLY;INTERVAL=1"),
        ("P3M", "FREQ=MONTHLY;INTERVAL=3"),
        ("P1Y", "FREQ=YEARLY;INTERVAL=1"),
    ],
)
def test_the_started_email_carries_the_rhythm_in_each_recipients_zone(every: str, rule: str) -> None:
    state, started = start(every)
    due = state.next_check_in_due
    assert due is not None and [n.to for n in started] == [Audience.MENTOR, Audience.MENTEE]
    for notification in started:
        calendar, event = read(ics(notification))
        assert method(calendar) == "REQUEST"
        assert event.uid == f"{mentorship_key(WORKFLOW_ID, INVITED)}@mentorships"
        assert rrule_of(event) == rule
        assert prop(event, "STATUS") == "CONFIRMED"
        tz = ZONES[Role(notification.to.value)]
        assert prop(event, "DTSTART").params["TZID"] == tz
        [vtimezone] = calendar.walk("VTIMEZONE")
        assert prop(vtimezone, "TZID") == tz
        # The first check-in due, at its local hour: 09:30 in Los Angeles (PST), 23:00 in Kolkata (IST).
        assert starts(event) == due
        local = due.astimezone(ZoneInfo(tz))
        assert (starts(event).hour, starts(event).minute) == (local.hour, local.minute)
        assert prop(event, "DTSTART").to_ical().decode() == local.strftime("%Y%m%dT%H%M%S")
        assert event.duration == min(timedelta(minutes=30), parse_duration(every).shortest())
        assert prop(event, "SUMMARY") == (
            "Mentorship check-in with " + ("Ben Okafor" if tz == ZONES[Role.MENTOR] else "Ada Lovelace")
        )
        # Sent when Ada accepted: the stamp, and the sequence counted from the invitation.
        assert prop(event, "DTSTAMP").dt == ACCEPTED
        assert event.sequence == int((ACCEPTED - INVITED).total_seconds())
        # A calendar program's occurrences are the workflow's due times (none recorded early). Kolkata keeps one
        # offset all year; Los Angeles keeps the local hour across daylight saving (see the module's docstring).
        dues = workflow_dues(due, every, 4)
        shown = occurrences(event, 4)
        for occurrence, workflow_due in zip(shown, dues, strict=True):
            if occurrence.utcoffset() == shown[0].utcoffset():
                assert occurrence == workflow_due
            else:
                # Across a daylight saving change (Los Angeles, in months): the same local hour, an hour off in UTC.
                assert tz == "America/Los_Angeles" and parse_duration(every).months
                assert abs(occurrence - workflow_due) == timedelta(hours=1)
                assert (occurrence.hour, occurrence.minute) == (local.hour, local.minute)


def test_the_same_hour_in_los_angeles_across_daylight_saving() -> None:
    _, [to_ada, _] = start("P7D")
    _, event = read(ics(to_ada))
    # 09:30 PST in December, 09:30 PDT from 14 March 2027: one hour earlier in UTC.
    shown = occurrences(event, 20)
    assert {(o.hour, o.minute) for o in shown} == {(9, 30)}
    assert {o.utcoffset() for o in shown} == {timedelta(hours=-8), timedelta(hours=-7)}


def test_without_a_zone_the_event_is_in_utc() -> None:
    notification = make_notification(
        Notice.MENTORSHIP_STARTED,
        to=Audience.MENTOR,
        invited_at=INVITED,
        issued_at=ACCEPTED,
        at=datetime(2026, 12, 11, 17, 30, 12, 345678, tzinfo=UTC),
    )
    assert notification.recipient.time_zone is None
    calendar, event = read(ics(notification))
    assert calendar.walk("VTIMEZONE") == []
    assert prop(event, "DTSTART").to_ical().decode() == "20261211T173012Z", "in UTC, to the second"
    assert "TZID" not in prop(event, "DTSTART").params
    assert occurrences(event, 2) == [
        datetime(2026, 12, 11, 17, 30, 12, tzinfo=UTC),
        datetime(2026, 12, 25, 17, 30, 12, tzinfo=UTC),
    ]


def test_a_monthly_rhythm_from_the_31st_takes_the_last_day_of_shorter_months() -> None:
    notification = make_notification(
        Notice.MENTORSHIP_STARTED,
        to=Audience.MENTEE,
        invitation=invitation(check_in_every="P1M"),
        invited_at=INVITED,
        issued_at=ACCEPTED,
        at=datetime(2027, 1, 31, 10, 0, tzinfo=UTC),
    )
    _, event = read(ics(notification))
    assert [o.date().isoformat() for o in occurrences(event, 4)] == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
        "2027-04-30",
    ]
    leap_day = notification.model_copy(
        update={"invitation": invitation(check_in_every="P1Y"), "at": datetime(2028, 2, 29, 10, 0, tzinfo=UTC)}
    )
    _, event = read(ics(leap_day))
    assert [o.date().isoformat() for o in occurrences(event, 5)] == [
        "2028-02-29",
        "2029-02-28",
        "2030-02-28",
        "2031-02-28",
        "2032-02-29",
    ]


def test_a_cadence_no_rule_can_say_is_the_next_check_in_alone() -> None:
    state, [to_ada, _] = start("P1M15D")
    _, event = read(ics(to_ada))
    assert "RRULE" not in event and starts(event) == state.next_check_in_due


def test_the_same_notice_gives_the_same_file_every_time() -> None:
    """A retried email (or one held for quiet hours) carries the very same file."""
    _, [to_ada, _] = start()
    assert ics(to_ada) == ics(to_ada.model_copy())


def test_names_read_back_as_typed() -> None:
    name = 'Zoë "Z" O\'Neil; Ph.D., ^caret'
    notification = make_notification(
        Notice.MENTORSHIP_STARTED,
        to=Audience.MENTOR,
        invitation=invitation(mentee={"id": "zoe", "name": name, "email": "ben@example.com"}),
        invited_at=INVITED,
        issued_at=ACCEPTED,
    )
    _, event = read(ics(notification))
    assert prop(event, "SUMMARY") == f"Mentorship check-in with {name}"
    cn = {str(a): a.params["CN"] for a in event.attendees}
    assert cn == {"mailto:ada@example.com": "Ada Lovelace", "mailto:ben@example.com": name}


# --- Who gets one, and for which notices --------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Notice))
def test_the_coordinator_never_gets_a_calendar(kind: Notice) -> None:
    notification = make_notification(kind, to=Audience.COORDINATOR, invited_at=INVITED, issued_at=ACCEPTED)
    assert calendar_for(notification, MAIL_FROM) is None


def test_only_the_notices_that_move_the_rhythm_carry_one() -> None:
    carrying = {Notice.MENTORSHIP_STARTED, Notice.RESUMED, Notice.CHANGE_ACCEPTED, Notice.PAUSED}
    carrying |= {Notice.WITHDRAWN, Notice.WRAP_UP}
    for kind in Notice:
        notification = make_notification(kind, to=Audience.MENTEE, invited_at=INVITED, issued_at=ACCEPTED)
        assert (calendar_for(notification, MAIL_FROM) is not None) == (kind in carrying), kind
        # Scheduled before the notices said when they were decided: no sequence to give, no calendar.
        assert calendar_for(notification.model_copy(update={"issued_at": None}), MAIL_FROM) is None
        assert calendar_for(notification.model_copy(update={"invited_at": None}), MAIL_FROM) is None


def test_a_change_of_the_term_alone_or_while_paused_sends_none() -> None:
    state, _ = start(term="P6M")
    effects.change_proposed(
        effects.Change(state, ACCEPTED + timedelta(days=1)), ProposeChangeInput(by="ada", extend_term_by="P1M")
    )
    change = effects.Change(state, ACCEPTED + timedelta(days=2))
    effects.change_accepted(change, AcceptChangeInput(by="ben.b"))
    accepted = [n for n in change.notifications if n.kind is Notice.CHANGE_ACCEPTED]
    assert accepted and all(calendar_for(n, MAIL_FROM) is None for n in accepted)

    effects.paused(effects.Change(state, ACCEPTED + timedelta(days=3)), PauseInput(by="ada"))
    effects.change_proposed(
        effects.Change(state, ACCEPTED + timedelta(days=4)), ProposeChangeInput(by="ada", check_in_every="P7D")
    )
    change = effects.Change(state, ACCEPTED + timedelta(days=5))
    effects.change_accepted(change, AcceptChangeInput(by="ben.b"))
    [accepted_while_paused] = change.notifications
    assert accepted_while_paused.at is None and calendar_for(accepted_while_paused, MAIL_FROM) is None


# --- Updates: the same UID, a higher SEQUENCE --------------------------------------------------------------------


def test_pauses_resumes_a_new_cadence_and_the_end_update_one_event() -> None:
    state, started = start("P14D")
    sent: list[tuple[Notice, Audience, bytes]] = [(n.kind, n.to, ics(n)) for n in started]

    def step(at: datetime, apply: Callable[[effects.Change], None]) -> list[Notification]:
        change = effects.Change(state, at)
        apply(change)
        for n in change.notifications:
            data = calendar_for(n, MAIL_FROM)
            if data is not None:
                sent.append((n.kind, n.to, data))
        return change.notifications

    # Ben pauses for a week: Ada's event moves to a full cycle after the pause's end.
    until = ACCEPTED + timedelta(days=10)
    [paused] = step(ACCEPTED + timedelta(days=3), lambda c: effects.paused(c, PauseInput(by="ben.b", until=until)))
    _, moved = read(ics(paused))
    assert paused.to is Audience.MENTOR and starts(moved) == until + timedelta(days=14)
    assert rrule_of(moved) == "FREQ=WEEKLY;INTERVAL=2"
    # The pause ends by itself: both are told, with the series Ada's calendar already shows.
    [[to_ada, to_ben]] = [c.notifications for c in effects.catch_up(state, until)]
    for n in (to_ada, to_ben):
        sent.append((n.kind, n.to, ics(n)))
    assert to_ada.kind is Notice.RESUMED and starts(read(ics(to_ada))[1]) == starts(moved) == state.next_check_in_due

    # Ada proposes weekly check-ins, Ben agrees: Ada's event follows the new cadence from the next check-in.
    step(
        until + timedelta(days=1),
        lambda c: effects.change_proposed(c, ProposeChangeInput(by="ada", check_in_every="P7D")),
    )
    [accepted] = step(until + timedelta(days=2), lambda c: effects.change_accepted(c, AcceptChangeInput(by="ben.b")))
    _, weekly = read(ics(accepted))
    assert accepted.to is Audience.MENTOR
    assert rrule_of(weekly) == "FREQ=WEEKLY;INTERVAL=1"
    assert starts(weekly) == state.next_check_in_due == until + timedelta(days=9)

    # Ada pauses with no end: Ben's event is cancelled; she resumes: it comes back from the next check-in.
    [paused] = step(until + timedelta(days=3), lambda c: effects.paused(c, PauseInput(by="ada")))
    assert paused.to is Audience.MENTEE and method(read(ics(paused))[0]) == "CANCEL"
    [resumed] = step(until + timedelta(days=4), lambda c: effects.resumed(c, ResumeInput(by="ada")))
    _, back = read(ics(resumed))
    assert starts(back) == until + timedelta(days=11) and prop(back, "STATUS") == "CONFIRMED"

    # Ben ends it: Ada's event is cancelled.
    [withdrawn] = step(until + timedelta(days=5), lambda c: effects.withdrawn(c, WithdrawInput(by="ben.b")))
    calendar, ended = read(ics(withdrawn))
    assert method(calendar) == "CANCEL" and prop(ended, "STATUS") == "CANCELLED" and "DTSTART" not in ended

    assert [(kind, to, method(read(data)[0])) for kind, to, data in sent] == [
        (Notice.MENTORSHIP_STARTED, Audience.MENTOR, "REQUEST"),
        (Notice.MENTORSHIP_STARTED, Audience.MENTEE, "REQUEST"),
        (Notice.PAUSED, Audience.MENTOR, "REQUEST"),
        (Notice.RESUMED, Audience.MENTOR, "REQUEST"),
        (Notice.RESUMED, Audience.MENTEE, "REQUEST"),
        (Notice.CHANGE_ACCEPTED, Audience.MENTOR, "REQUEST"),
        (Notice.PAUSED, Audience.MENTEE, "CANCEL"),
        (Notice.RESUMED, Audience.MENTEE, "REQUEST"),
        (Notice.WITHDRAWN, Audience.MENTOR, "CANCEL"),
    ]
    events = [read(data)[1] for _, _, data in sent]
    assert {e.uid for e in events} == {f"{mentorship_key(WORKFLOW_ID, INVITED)}@mentorships"}
    for audience in (Audience.MENTOR, Audience.MENTEE):
        # What each calendar receives, in order: every update higher than the one before.
        sequences = [read(data)[1].sequence for _, to, data in sent if to is audience]
        assert sequences == sorted(set(sequences)), sequences


def test_the_end_of_the_term_cancels_the_event() -> None:
    state, started = start("P7D", term="P1M")
    assert state.term_ends_at is not None
    wrap_up = [
        n for c in effects.catch_up(state, state.term_ends_at) for n in c.notifications if n.kind is Notice.WRAP_UP
    ]
    assert [n.to for n in wrap_up] == [Audience.MENTOR, Audience.MENTEE]
    for first, last in zip(started, wrap_up, strict=True):
        _, opened = read(ics(first))
        calendar, closed = read(ics(last))
        assert method(calendar) == "CANCEL" and prop(closed, "STATUS") == "CANCELLED"
        assert closed.uid == opened.uid and closed.sequence > opened.sequence


def test_a_later_mentorship_of_the_same_pair_is_another_event() -> None:
    _, [first, _] = start()
    later = first.model_copy(
        update={
            "mentorship_key": mentorship_key(WORKFLOW_ID, INVITED + timedelta(days=90)),
            "invited_at": INVITED + timedelta(days=90),
            "issued_at": ACCEPTED + timedelta(days=90),
        }
    )
    assert read(ics(first))[1].uid != read(ics(later))[1].uid


# --- In the email ---------------------------------------------------------------------------------------------


def parsed(notification: Notification) -> EmailMessage:
    message = Mailer(settings(mail_from=MAIL_FROM)).build_message(notification, now=ACCEPTED)
    result = BytesParser(policy=policy.default).parsebytes(message.as_bytes(policy=policy.SMTP))
    assert isinstance(result, EmailMessage)
    return result


@pytest.mark.parametrize(("kind", "expected"), [(Notice.MENTORSHIP_STARTED, "REQUEST"), (Notice.WITHDRAWN, "CANCEL")])
def test_the_email_carries_the_file_beside_its_text_and_html(kind: Notice, expected: str) -> None:
    notification = make_notification(
        kind, to=Audience.MENTEE, actor=Role.MENTOR, invited_at=INVITED, issued_at=ACCEPTED
    )
    message = parsed(notification)
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert isinstance(alternative, EmailMessage) and isinstance(attachment, EmailMessage)
    assert alternative.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in alternative.iter_parts()] == ["text/plain", "text/html"]
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and plain.get_content().startswith("Hi Ben Okafor,")
    assert rich is not None and "Ben Okafor" in rich.get_content()
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == expected
    assert attachment.get_filename() == "mentorship.ics" and attachment.get_content_disposition() == "attachment"
    data = attachment.get_payload(decode=True)
    assert data == ics(notification)
    assert method(read(data)[0]) == expected
    # The headers are on the whole message, once.
    assert message["Subject"] and message["Message-ID"] and alternative["Subject"] is None


def test_an_email_without_a_calendar_is_the_alternative_alone() -> None:
    message = parsed(make_notification(Notice.CHECK_IN_DUE, to=Audience.MENTEE, invited_at=INVITED, issued_at=ACCEPTED))
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
