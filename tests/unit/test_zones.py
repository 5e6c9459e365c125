"""Time zones and locales (workflows/zones.py), a moment as a person reads it (infra/local_time.py) and quiet hours
(infra/quiet_hours.py): pure functions, no server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from infra.local_time import local_moment
from infra.quiet_hours import QuietHours, held_until
from tests.support.builders import settings
from workflows.contract import Person
from workflows.zones import check_locale, check_time_zone

NIGHT = QuietHours.parse("21:00-08:00")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- Names ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Europe/Berlin", "Asia/Kolkata", "America/Los_Angeles", "UTC", "Asia/Kathmandu"])
def test_iana_names_are_taken_as_given(name: str) -> None:
    assert check_time_zone(name) == name


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("europe/berlin", "did you mean 'Europe/Berlin'?"),
        ("Europe/Berln", "did you mean 'Europe/Berlin'"),
        ("Asia/Calcuta", "'Asia/Calcutta'"),
        ("Mars/Olympus", "e.g. 'Europe/Berlin'"),
        ("CET ", "did you mean"),
    ],
)
def test_an_unknown_zone_is_refused_with_the_nearest_names(name: str, hint: str) -> None:
    with pytest.raises(ValueError, match="time zone name") as caught:
        check_time_zone(name)
    assert hint in str(caught.value)


@pytest.mark.parametrize(
    ("tag", "canonical"), [("en", "en"), ("en-gb", "en-GB"), ("en_US", "en-US"), ("es-MX", "es-MX")]
)
def test_locales_of_shipped_languages_are_taken_in_canonical_form(tag: str, canonical: str) -> None:
    assert check_locale(tag) == canonical


@pytest.mark.parametrize(
    ("tag", "reason"), [("de", "not written in German yet"), ("xx", "not a language tag"), ("", "not a language tag")]
)
def test_other_locales_are_refused_with_the_reason(tag: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_locale(tag)


def test_a_person_s_zone_and_locale_are_validated_by_the_contract() -> None:
    person = Person(id="ana", name="Ana", email="ana@example.com", time_zone="Asia/Kolkata", locale="en-in")
    assert (person.time_zone, person.locale) == ("Asia/Kolkata", "en-IN")
    with pytest.raises(ValidationError, match="time_zone"):
        Person(id="ana", name="Ana", email="ana@example.com", time_zone="Asia/Kolkatta")
    with pytest.raises(ValidationError, match="locale"):
        Person(id="ana", name="Ana", email="ana@example.com", locale="fr")


# --- How a moment reads ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "locale", "reads"),
    [
        (None, None, "Wed 9 Dec 2026, 13:00 UTC"),
        ("Europe/Berlin", None, "Wed 9 Dec 2026, 14:00 CET"),
        ("Asia/Kathmandu", None, "Wed 9 Dec 2026, 18:45 UTC+05:45"),
        ("Europe/Berlin", "en-GB", "Wed, 9 Dec 2026, 14:00 CET"),
        ("Asia/Kolkata", "en-IN", "Wed, 9 Dec 2026, 6:30\u202fPM IST"),
        ("Europe/Madrid", "es", "mié, 9 dic 2026, 14:00 CET"),
    ],
)
def test_a_moment_reads_in_the_reader_s_zone_and_locale(zone: str | None, locale: str | None, reads: str) -> None:
    got = local_moment(at("2026-12-09T13:00:00+00:00"), zone, locale)
    assert got.replace("\u202f", " ") == reads.replace("\u202f", " ")


def test_summer_time_reads_with_its_own_abbreviation() -> None:
    assert local_moment(at("2026-07-09T13:00:00+00:00"), "Europe/Berlin") == "Thu 9 Jul 2026, 15:00 CEST"


# --- Quiet hours ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("issued", "zone", "until"),
    [
        # 02:00 in Kolkata (UTC+05:30): held to 08:00 there.
        ("2026-12-09T20:30:00+00:00", "Asia/Kolkata", "2026-12-10T02:30:00+00:00"),
        # 21:30 in Los Angeles: held to 08:00 the next morning.
        ("2026-12-10T05:30:00+00:00", "America/Los_Angeles", "2026-12-10T16:00:00+00:00"),
        # 12:30 in Los Angeles: at once.
        ("2026-12-09T20:30:00+00:00", "America/Los_Angeles", None),
        # New York springs forward at 02:00 on 14 March 2027: 08:00 EDT is 12:00 UTC, not 13:00.
        ("2027-03-14T05:30:00+00:00", "America/New_York", "2027-03-14T12:00:00+00:00"),
        # Berlin on 28 March 2027: 07:30 CEST, held to 08:00 CEST (06:00 UTC).
        ("2027-03-28T05:30:00+00:00", "Europe/Berlin", "2027-03-28T06:00:00+00:00"),
        # Berlin falls back on 31 October 2027: 02:30 happens twice; 08:00 CET is 07:00 UTC.
        ("2027-10-31T00:30:00+00:00", "Europe/Berlin", "2027-10-31T07:00:00+00:00"),
        # Nobody's zone: never held.
        ("2026-12-09T02:00:00+00:00", None, None),
    ],
)
def test_an_email_at_night_waits_for_the_reader_s_morning(issued: str, zone: str | None, until: str | None) -> None:
    expected = None if until is None else at(until)
    assert held_until(at(issued), zone, NIGHT) == expected


def test_a_window_within_one_day_and_one_that_ends_inside_a_gap() -> None:
    lunch = QuietHours.parse("12:00-13:30")
    assert held_until(at("2026-12-09T11:15:00+00:00"), "Europe/Berlin", lunch) == at("2026-12-09T12:30:00+00:00")
    assert held_until(at("2026-12-09T12:45:00+00:00"), "Europe/Berlin", lunch) is None
    # 01:00-02:30 on the night Berlin skips from 02:00 to 03:00: 02:30 never happens, the window ends at 03:30 CEST.
    gap = QuietHours.parse("01:00-02:30")
    assert held_until(at("2027-03-28T00:30:00+00:00"), "Europe/Berlin", gap) == at("2027-03-28T01:30:00+00:00")


@pytest.mark.parametrize("window", ["21-08", "21:00", "25:00-08:00", "21:00-21:00", "9pm-8am"])
def test_a_bad_window_is_refused_when_the_worker_starts(window: str) -> None:
    with pytest.raises(ValidationError, match="mentorship_quiet_hours"):
        settings(mentorship_quiet_hours=window)


def test_quiet_hours_are_off_unless_set() -> None:
    assert settings().quiet_hours is None
    assert settings(mentorship_quiet_hours="").quiet_hours is None
    assert str(settings(mentorship_quiet_hours=" 22:30-07:00 ").quiet_hours) == "22:30-07:00"
