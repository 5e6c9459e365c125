"""Input at the edges of the contract: what a hostile or careless caller sends is refused clearly, or kept in a
form every part can carry."""

from __future__ import annotations

from datetime import UTC, datetime
from email.header import decode_header, make_header
from typing import Any

import pytest
from pydantic import ValidationError

import mentorship_client
from activities.mailer import Mailer
from tests.support import builders
from workflows.contract import MAX_ERRORS_NAMED, CheckInInput, Invitation, Person, explain


def test_integers_are_strict_at_the_edge() -> None:
    for value in ("2", True, 2.5):
        with pytest.raises(ValidationError, match="valid integer"):
            builders.invitation(invitation_reminders=value)
        with pytest.raises(ValidationError, match="valid integer"):
            CheckInInput.model_validate({"by": "ana", "rating": value})
    assert builders.invitation(invitation_reminders=3).invitation_reminders == 3


def test_a_non_ascii_domain_is_kept_in_its_xn_form() -> None:
    for given in ("ana@xn--bcher-kva.example", "ana@bücher.example"):
        assert Person(id="ana", name="Ana", email=given).email == "ana@xn--bcher-kva.example"
    with pytest.raises(ValidationError, match="internationalized local parts"):
        Person(id="ana", name="Ana", email="ánä@example.com")


def test_lone_surrogates_are_refused_in_every_text() -> None:
    data: dict[str, Any] = builders.invitation_data("x")
    for where in ("name",):
        data["mentor"][where] = "Ana \ud800"
    for field, value in (("message", "Hi \udfff"), ("focus_areas", ["talks \ud83d"])):
        with pytest.raises(ValidationError, match="unpaired surrogates"):
            Invitation.model_validate({**builders.invitation_data("x"), field: value})
    with pytest.raises(ValidationError, match="unpaired surrogates; found U\\+D800 at position 4"):
        Invitation.model_validate(data)


def test_a_refusal_names_a_bounded_number_of_errors() -> None:
    data = {**builders.invitation_data("x"), **{f"unknown_{i}": i for i in range(5000)}}
    with pytest.raises(ValidationError) as refused:
        Invitation.model_validate(data)
    reason = explain(refused.value)
    assert reason.count("Extra inputs are not permitted") == MAX_ERRORS_NAMED
    assert reason.endswith(f"and {5000 - MAX_ERRORS_NAMED} more errors") and len(reason) < 2000


def test_due_before_in_any_year_is_a_valid_visibility_query() -> None:
    assert mentorship_client.list_query(due_before=datetime(999, 1, 1, tzinfo=UTC)).endswith(
        "NextCheckInAt < '0999-01-01T00:00:00Z'"
    )


def test_a_long_non_ascii_name_is_folded_into_short_encoded_words() -> None:
    name = "Zoë Ångström-Łukasiewicz " * 4
    invitation = builders.invitation(mentee={"id": "zoe", "name": name.strip(), "email": "zoe@example.org"})
    mailer = Mailer(builders.settings(mail_from="Mentorships <mentorships@example.org>"))
    message = mailer.build_message(builders.make_notification(invitation=invitation, to="mentee"))
    raw = message.as_bytes()
    to_lines = raw.split(b"\nTo: ", 1)[1].split(b"\nSubject:", 1)[0].split(b"\n")
    words = [word for line in to_lines for word in line.split() if word.startswith(b"=?")]
    assert len(words) > 1 and all(len(word) <= 75 for word in words), to_lines
    # Adjacent encoded words join without the folding space between them (RFC 2047, 6.2).
    display, _, address = b" ".join(line.strip() for line in to_lines).decode().rpartition(" ")
    assert str(make_header(decode_header(display))) == name.strip() and address == "<zoe@example.org>"
