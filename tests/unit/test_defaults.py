"""Defaults that fit what was given (workflows/durations.py, applied by the contract)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.support import builders
from workflows.contract import explain
from workflows.durations import default_grace, default_remind_after, iso_seconds, parse_duration


@pytest.mark.parametrize(
    ("every", "grace"),
    [("PT4S", "PT1S"), ("PT2S", "PT1S"), ("P1D", "PT6H"), ("P3D", "PT18H"), ("P4D", "P3D"), ("P1M", "P3D")],
)
def test_a_cadence_alone_gets_a_grace_that_fits(every: str, grace: str) -> None:
    assert builders.invitation(check_in_every=every).check_in_grace == grace == default_grace(every)
    assert parse_duration(grace).longest() < parse_duration(every).shortest()


@pytest.mark.parametrize(
    ("window", "reminders", "every"),
    [("PT1M", 2, "PT20S"), ("PT10S", 2, "PT3S"), ("P7D", 2, "P3D"), ("P6D", 2, "P2D"), ("P14D", 0, "P3D")],
)
def test_a_response_window_alone_gets_reminders_that_fit(window: str, reminders: int, every: str) -> None:
    invitation = builders.invitation(respond_within=window, invitation_reminders=reminders)
    assert invitation.remind_after == every == default_remind_after(window, reminders)
    if reminders:
        assert parse_duration(every).longest() * reminders < parse_duration(window).shortest()


def test_explicit_values_that_do_not_fit_are_still_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        builders.invitation(check_in_every="P1D", check_in_grace="P3D")
    assert "check_in_grace (P3D) must be shorter than check_in_every (P1D)" in explain(refused.value)
    with pytest.raises(ValidationError) as too_short:
        builders.invitation(check_in_every="PT1S")
    assert "check_in_every (PT1S) is too short" in explain(too_short.value)


def test_seconds_read_as_compact_iso_durations() -> None:
    assert [iso_seconds(n) for n in (1, 60, 21600, 90061, 86400)] == ["PT1S", "PT1M", "PT6H", "P1DT1H1M1S", "P1D"]
