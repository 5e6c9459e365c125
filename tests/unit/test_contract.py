"""The contract's models refuse bad input with an error that names the field and the reason (layer (a) of the
bad-input tests; the other layers are in tests/integration/test_bad_input.py, the cases in
tests/support/bad_input.py)."""

from __future__ import annotations

import uuid
from email import policy

import pytest
from pydantic import ValidationError

from activities.mailer import Mailer
from infra.settings import Settings
from tests.support import builders, reliability
from tests.support.bad_input import BAD_ACTIONS, BAD_INVITATIONS, BadAction, BadInvitation, invitation_data, refusal
from tests.support.builders import make_notification
from tests.support.mail import HEADERS, headers_of
from workflows.contract import (
    TRUSTED,
    AcceptInput,
    Audience,
    CheckInInput,
    Invitation,
    MentorshipInput,
    Notice,
    Person,
    explain,
)


@pytest.mark.parametrize("case", BAD_INVITATIONS, ids=str)
def test_models_name_the_field_and_the_reason(case: BadInvitation) -> None:
    tag = uuid.uuid4().hex[:6]
    # The starter validates with Invitation, the workflow its input with MentorshipInput: both say the same.
    for model in (Invitation, MentorshipInput):
        err = refusal(model, case.data(tag))
        assert len(err.errors()) == 1, f"one thing is wrong, one error: {explain(err)}"
        assert case.said(explain(err), tag), explain(err)
    reliability.report("bad input: models", inputs_tried=2, inputs_refused=2)


@pytest.mark.parametrize("case", BAD_ACTIONS, ids=str)
def test_action_models_name_the_field_and_the_reason(case: BadAction) -> None:
    err = refusal(case.model, case.payload)
    assert len(err.errors()) == 1, explain(err)
    assert explain(err).startswith(f"{case.loc}: ") and case.reason in explain(err), explain(err)
    reliability.report("bad input: models", inputs_tried=1, inputs_refused=1)


def test_free_text_keeps_line_breaks_and_tabs_normalised() -> None:
    note = CheckInInput.model_validate({"by": "ben", "note": "  one\r\ntwo\rthree\n\tfour  "}).note
    assert note == "one\ntwo\nthree\n\tfour"
    message = Invitation.model_validate({**invitation_data("x"), "message": "Hi Ana,\r\n\r\nBen"}).message
    assert message == "Hi Ana,\n\nBen"
    reliability.report("bad input: models", inputs_tried=2)


def test_free_text_length_errors_speak_of_characters() -> None:
    err = refusal(AcceptInput, {"by": "ben", "note": "n" * 2001})
    assert explain(err) == "note: must be at most 2000 characters, got 2001"
    assert AcceptInput.model_validate({"by": "ben", "note": "n" * 2000 + "  "}).note == "n" * 2000


@pytest.mark.parametrize("where", ["mentor.id", "mentee.id", "coordinator.id"])
def test_ids_with_a_trailing_line_feed_are_refused(where: str) -> None:
    tag = uuid.uuid4().hex[:6]
    data = invitation_data(tag)
    person, _ = where.split(".")
    data[person]["id"] += "\n"
    err = refusal(Invitation, data)
    assert explain(err).startswith(f"{where}: "), explain(err)


def test_durations_just_past_ten_years_are_refused() -> None:
    err = refusal(Invitation, {**invitation_data("x"), "term": "P10Y40D"})
    assert "must be at most P10Y" in explain(err)


# Characters a person may type that Python's email package treats as line breaks (str.splitlines) or that are
# control characters outside the C0 range, and an address it cannot put in a To header.
UNMAILABLE = [
    pytest.param("name", "Ana\x85Bcc: eve@example.net", id="NEL (U+0085, a C1 control) in a name"),
    pytest.param("name", "Ana\u2028Ruiz", id="LINE SEPARATOR (U+2028) in a name"),
    pytest.param("name", "Ana\u2029Ruiz", id="PARAGRAPH SEPARATOR (U+2029) in a name"),
    pytest.param("email", "ánä@example.com", id="non-ASCII local part in an address"),
]


@pytest.mark.parametrize(("field", "value"), UNMAILABLE)
def test_every_person_the_contract_accepts_can_be_mailed(field: str, value: str) -> None:
    person = {"id": "ana", "name": "Ana Ruiz", "email": "ana@example.com", field: value}
    try:
        mentor = Person.model_validate(person)
    except ValidationError:
        return  # refused at the edge: fine
    invitation = builders.invitation(mentor=mentor)
    mailer = Mailer(Settings(_env_file=None, mail_from="Mentorships <mentorships@example.org>"))
    for kind in (Notice.INVITATION_SENT, Notice.INVITATION, Notice.CHECK_IN_DUE):
        for to in (Audience.MENTOR, Audience.MENTEE):
            message = mailer.build_message(make_notification(kind, invitation=invitation, to=to))
            assert set(headers_of(message.as_bytes(policy=policy.SMTP))) == HEADERS


def test_state_carried_across_continue_as_new_is_not_judged_by_newer_rules() -> None:
    """A mentorship that started under older, looser rules must survive continue-as-new after a deploy: what it
    carries was checked when it came in. Only the workflow itself sets `carried` (see the test above)."""
    data = invitation_data("old")
    data["mentor"]["name"] = "Ana\x85Ruiz"  # accepted before C1 controls were refused
    data["term"] = "P10Y40D"  # accepted before durations were bounded on the calendar
    err = refusal(MentorshipInput, data)
    assert "mentor.name" in explain(err) and "term" in explain(err)
    carried = MentorshipInput.model_validate(data, context={TRUSTED: True})
    assert carried.mentor.name == "Ana\x85Ruiz" and carried.term == "P10Y40D"
