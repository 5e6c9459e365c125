"""The calendar file of the emails that start, move and end a mentorship's check-ins: pure functions, no I/O.

The check-in rhythm is one recurring event (iCalendar, RFC 5545) sent as an iTIP message (RFC 5546), so that a
calendar program adds it, moves it and removes it by itself. Its UID is the mentorship's key
(``{mentorship_key}@mentorships``): the same for every update of one mentorship, another for a later mentorship of
the same pair. Only the mentor and the mentee get it, never the coordinator.

Which notice carries what (a notice not named here carries no calendar):

- ``MENTORSHIP_STARTED``: ``REQUEST``, the series from the first check-in due (``at``) at the cadence.
- ``RESUMED``: ``REQUEST``, the series from the next check-in due (``at``): a pause restarts the cycle.
- ``CHANGE_ACCEPTED`` with a new cadence: ``REQUEST``, the series from the next check-in due at the new cadence; a
  change of the term alone leaves the series as it is (none is sent), and so does a change agreed while paused
  (no check-in is due then; the resume sends the series at the new cadence).
- ``PAUSED`` until a set time: ``REQUEST``, the series moved to where the resume puts it (a full cycle after the
  pause's end); ``PAUSED`` until resumed: ``CANCEL`` (nothing is due until then; the resume sends it again).
- ``WITHDRAWN`` and ``WRAP_UP`` (the term ended): ``CANCEL``, with ``STATUS:CANCELLED``.

An update replaces the whole event (a notification does not carry the series' first start, so an update cannot
keep past occurrences and end the rest). The series is open-ended: the term's end is known when the mentorship
starts but not to later updates (an agreed extension is not in the notice), so the end is the ``CANCEL``.

``SEQUENCE`` is the number of whole seconds from the invitation to the moment the workflow decided to send the
notice (``issued_at``, workflow time): it grows with every update of a mentorship, never goes back, and is the same
on every retry, so a retried email carries the very same file. ``DTSTAMP`` is ``issued_at`` too. A notification
without ``issued_at`` or ``invited_at`` (scheduled before they existed) carries no calendar.

Times are in the recipient's zone (``DTSTART;TZID=...`` with its ``VTIMEZONE``), UTC (``...Z``) for a recipient
without one: the event stays at the same local hour, as people plan. The workflow's due times are counted in UTC
(a fixed number of hours), so across a daylight saving change the event and the due time are an hour apart; and a
check-in recorded off the rhythm restarts the cycle in the workflow, not in the calendar. The calendar is the plan;
the reminder emails say when a check-in is due.

The cadence as a rule: whole weeks ``FREQ=WEEKLY``, whole days ``DAILY``, then ``HOURLY``, ``MINUTELY``,
``SECONDLY`` (legal iCalendar, for demonstrations), whole years ``YEARLY`` and months ``MONTHLY``. A month-based
series from the 29th to the 31st takes the last day of a shorter month rather than skip it
(``BYMONTHDAY=28,...;BYSETPOS=-1``; the workflow, counting each due from the last one, stays on the earlier day after
a short month). A cadence that mixes months with days or time ('P1M15D', or fractions of a second) has no rule
(its length varies with the months): the event is the next check-in alone.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr
from enum import StrEnum
from typing import Any

from icalendar import Calendar, Event, Timezone, vCalAddress, vRecur

from infra.local_time import zone
from workflows.contract import Audience, Notice, Notification, Person, Role
from workflows.durations import humanize_every, parse_duration

FILENAME = "mentorship.ics"
PRODID = "-//mentorship-workflows//check-ins//EN"
# How long the event lasts in a calendar (at most the cadence, for the very short cadences of a demonstration).
EVENT_LENGTH = timedelta(minutes=30)
# The VTIMEZONE covers the years the series can span: a term is at most ten years (and may be extended).
ZONE_YEARS = 11


class Method(StrEnum):
    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


def calendar_method(notification: Notification) -> Method | None:
    """What the notice's calendar file does to the event (see the module's docstring); None: it carries none."""
    n = notification
    if n.to is Audience.COORDINATOR or n.issued_at is None or n.invited_at is None:
        return None
    if n.kind in (Notice.MENTORSHIP_STARTED, Notice.RESUMED):
        return Method.REQUEST if n.at is not None else None
    if n.kind is Notice.CHANGE_ACCEPTED:
        new_cadence = n.proposal is None or n.proposal.check_in_every is not None
        return Method.REQUEST if n.at is not None and new_cadence else None
    if n.kind is Notice.PAUSED:
        return Method.REQUEST if n.at is not None else Method.CANCEL
    if n.kind in (Notice.WITHDRAWN, Notice.WRAP_UP):
        return Method.CANCEL
    return None


def calendar_uid(notification: Notification) -> str:
    return f"{notification.mentorship_key}@mentorships"


def sequence(notification: Notification) -> int:
    """Whole seconds from the invitation to ``issued_at``: grows with every update (see the module's docstring)."""
    assert notification.issued_at is not None and notification.invited_at is not None
    return max(0, int((_aware(notification.issued_at) - _aware(notification.invited_at)).total_seconds()))


def first_due(notification: Notification) -> datetime | None:
    """The series' first check-in: ``at``, or for a pause with an end a full cycle after it (where the resume puts
    the next check-in)."""
    at = notification.at
    if at is None:
        return None
    at = _aware(at)
    if notification.kind is Notice.PAUSED:
        return parse_duration(notification.invitation.check_in_every).after(at)
    return at


def recurrence(check_in_every: str, start: datetime) -> vRecur | None:
    """The cadence as an RRULE from ``start`` (a local time); None for one iCalendar cannot say."""
    duration = parse_duration(check_in_every)
    rule: dict[str, Any]
    if duration.months:
        if duration.exact:
            return None
        if start.day > 28:
            # A month without that day: its last day (Jan 31, Feb 28, Mar 31), not a month without a check-in.
            rule = {"FREQ": "MONTHLY", "INTERVAL": duration.months}
            rule |= {"BYMONTHDAY": list(range(28, start.day + 1)), "BYSETPOS": -1}
        elif duration.months % 12 == 0:
            rule = {"FREQ": "YEARLY", "INTERVAL": duration.months // 12}
        else:
            rule = {"FREQ": "MONTHLY", "INTERVAL": duration.months}
        return vRecur(rule)
    if duration.exact.microseconds:
        return None
    seconds = int(duration.exact.total_seconds())
    for freq, unit in (("WEEKLY", 604800), ("DAILY", 86400), ("HOURLY", 3600), ("MINUTELY", 60), ("SECONDLY", 1)):
        if seconds % unit == 0:
            return vRecur({"FREQ": freq, "INTERVAL": seconds // unit})
    return None  # pragma: no cover - every whole number of seconds is a multiple of one


def calendar_for(notification: Notification, organizer: str) -> bytes | None:
    """The notice's .ics file, or None when it carries none. ``organizer``: who sends it, as in MAIL_FROM ('Name
    <address>'); calendar programs need one."""
    method = calendar_method(notification)
    if method is None:
        return None
    n = notification
    role = Role(n.to.value)
    other = n.invitation.person(role.other)
    assert n.issued_at is not None
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", str(method))
    event = Event()
    event.add("uid", calendar_uid(n))
    event.add("dtstamp", _seconds(_aware(n.issued_at).astimezone(UTC)))
    event.add("sequence", sequence(n))
    event.add("summary", f"Mentorship check-in with {other.name}")
    event.add("organizer", _organizer(organizer))
    for person in (n.invitation.mentor, n.invitation.mentee):
        event.add("attendee", _attendee(person))
    every = n.invitation.check_in_every
    due = first_due(n)
    if method is Method.CANCEL or due is None:
        event.add("status", "CANCELLED")
        why = "has ended" if n.kind in (Notice.WITHDRAWN, Notice.WRAP_UP) else "is paused until one of you resumes it"
        event.add("description", f"Your mentorship with {other.name} {why}: no check-ins are planned.")
    else:
        start = _seconds(due.astimezone(zone(n.recipient.time_zone)))
        event.add("status", "CONFIRMED")
        event.add("dtstart", start)
        event.add("duration", min(EVENT_LENGTH, parse_duration(every).shortest()))
        rule = recurrence(every, start)
        if rule is not None:
            event.add("rrule", rule)
        event.add(
            "description",
            f"Check-ins with {other.name}, {humanize_every(every)}. This event follows the mentorship: "
            "it moves when the mentorship is paused, resumed or its cadence changes, and is removed when it ends.",
        )
        if n.recipient.time_zone is not None:
            calendar.add_component(_vtimezone(n.recipient.time_zone, start.year))
    calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _seconds(value: datetime) -> datetime:
    # iCalendar counts in whole seconds.
    return value.replace(microsecond=0)


@functools.cache
def _vtimezone(tzid: str, year: int) -> Timezone:
    # Built once per zone and year (it takes a few milliseconds); only read afterwards.
    return Timezone.from_tzid(tzid, first_date=date(year, 1, 1), last_date=date(year + ZONE_YEARS, 1, 1))


def _organizer(mail_from: str) -> vCalAddress:
    name, address = parseaddr(mail_from)
    organizer = vCalAddress(f"mailto:{address}")
    if name:
        organizer.params["CN"] = name
    return organizer


def _attendee(person: Person) -> vCalAddress:
    attendee = vCalAddress(f"mailto:{person.email}")
    attendee.params["CN"] = person.name
    attendee.params["ROLE"] = "REQ-PARTICIPANT"
    # The service sends it; nobody reads a reply.
    attendee.params["RSVP"] = "FALSE"
    return attendee
