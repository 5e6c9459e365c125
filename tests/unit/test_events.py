"""The events other services hear (workflows/events.py), derived by the pure effects beside their timeline entries."""

from __future__ import annotations

import pytest

import workflows.effects as effects
from tests.support.builders import invitation
from tests.support.stories import MENTEE, MENTOR, NOW, WORKFLOW_ID, Story, lifecycle
from workflows.contract import DeclineInput, Role, WithdrawInput, mentorship_key
from workflows.events import EventType, check_filter, matches
from workflows.plan import Due


def test_a_whole_lifecycle_emits_every_type_in_sequence_with_no_gaps() -> None:
    story = lifecycle()

    # Check-ins due, nudged and missed (and a new streak at risk) come and go between the steps: the steps first.
    cycle = {EventType.CHECK_IN_DUE, EventType.CHECK_IN_NUDGED, EventType.CHECK_IN_MISSED}
    types = [t for t in story.types() if t not in cycle]
    assert set(types[20:-2]) <= {"mentorship.at_risk"}
    assert types[:20] + types[-2:] == [
        "mentorship.invited",
        "mentorship.accepted",
        "mentorship.check_in.recorded",
        "mentorship.at_risk",
        "mentorship.check_in.recorded",
        "mentorship.back_on_track",
        "mentorship.paused",
        "mentorship.resumed",
        "mentorship.change.proposed",
        "mentorship.change.declined",
        "mentorship.change.proposed",
        "mentorship.change.accepted",
        "mentorship.change.proposed",
        "mentorship.change.withdrawn",
        "mentorship.change.proposed",
        "mentorship.change.lapsed",
        "mentorship.paused",
        "mentorship.resumed",
        "mentorship.notification.failed",
        "mentorship.change.proposed",
        "mentorship.completed",
        "mentorship.change.lapsed",
    ]
    assert story.types().count("mentorship.check_in.missed") >= 2
    # Each cycle: due, then (past its grace) nudged, then missed or recorded.
    due = [e.data["number"] for e in story.events if e.type is EventType.CHECK_IN_DUE]
    nudged = [e.data["number"] for e in story.events if e.type is EventType.CHECK_IN_NUDGED]
    assert due == sorted(due) and len(due) >= 2 and set(nudged) <= set(due) and nudged
    # One sequence per mentorship, from 1, no gaps; ids unique and derived from it; the state counts them.
    assert [event.sequence for event in story.events] == list(range(1, len(story.events) + 1))
    assert story.state.events_emitted == len(story.events)
    key = mentorship_key(WORKFLOW_ID, NOW)
    assert [event.id for event in story.events] == [f"evt_{key}_{n}" for n in range(1, len(story.events) + 1)]
    assert {event.mentorship_key for event in story.events} == {key}
    assert all(a.occurred_at <= b.occurred_at for a, b in zip(story.events, story.events[1:], strict=False))
    # Timed events have no actor; actions name the participant and their role.
    by_type = {event.type: event for event in story.events}
    assert by_type[EventType.CHECK_IN_MISSED].actor is None and by_type[EventType.COMPLETED].actor is None
    invited = story.events[0]
    assert invited.actor is not None and (invited.actor.id, invited.actor.role) == (MENTEE, Role.MENTEE)
    assert invited.data["mentor_id"] == MENTOR and invited.data["coordinator_id"] == "cleo"
    accepted = story.events[1]
    assert accepted.actor is not None and accepted.actor.role is Role.MENTOR and accepted.data["mutual"] is False
    assert by_type[EventType.CHANGE_LAPSED].data["because"] == "the_mentorship_ended"


def test_every_type_of_the_issue_is_documented() -> None:
    # The issue's twenty, and the timed events and refusals the product had when they landed.
    issue = {
        "mentorship.invited", "mentorship.accepted", "mentorship.declined", "mentorship.expired",
        "mentorship.withdrawn", "mentorship.paused", "mentorship.resumed", "mentorship.check_in.recorded",
        "mentorship.check_in.missed", "mentorship.at_risk", "mentorship.back_on_track",
        "mentorship.change.proposed", "mentorship.change.accepted", "mentorship.change.declined",
        "mentorship.change.withdrawn", "mentorship.change.lapsed", "mentorship.completed",
        "mentorship.feedback.submitted", "mentorship.notification.failed", "person.limits_changed",
    }  # fmt: skip
    assert issue <= {str(t) for t in EventType} and len(EventType) == 24
    assert {str(t).split(".")[0] for t in EventType} == {"mentorship", "person"}


@pytest.mark.parametrize(
    ("act", "expected"),
    [
        (lambda s: s.act(effects.declined, DeclineInput(by=MENTOR, reason="no time")), "mentorship.declined"),
        (lambda s: s.act(effects.withdrawn, WithdrawInput(by=MENTEE)), "mentorship.withdrawn"),
        (lambda s: s.run_to(Due.INVITATION_EXPIRY), "mentorship.expired"),
    ],
)
def test_an_invitation_ends_with_its_event(act: object, expected: str) -> None:
    story = Story()
    act(story)  # type: ignore[operator]
    assert story.types()[0] == "mentorship.invited" and story.types()[-1] == expected
    assert [event.sequence for event in story.events] == list(range(1, len(story.events) + 1))


def test_an_invitation_from_the_other_side_is_a_mutual_acceptance_and_a_repeat_emits_nothing() -> None:
    story = Story()
    change = effects.Change(story.state, NOW)
    effects.invited(change, invitation())
    assert change.events == []
    effects.invited(change, invitation(initiated_by=Role.MENTOR))
    assert [(str(e.type), e.data["mutual"], e.sequence) for e in change.events] == [("mentorship.accepted", True, 2)]


def test_events_carry_ids_and_leave_names_addresses_and_text_out_unless_opted_in() -> None:
    story = Story()
    story.act(effects.declined, DeclineInput(by=MENTOR, reason="Ada has no time until spring"))
    declined = story.events[-1]
    body = declined.for_delivery(personal_data=False).model_dump_json()
    for personal in ("Ada Lovelace", "ada@example.com", "Ben Okafor", "no time until spring"):
        assert personal not in body
    assert '"ada"' in body and "ben.b" in body
    full = declined.for_delivery(personal_data=True)
    assert full.text == "Ada has no time until spring"
    assert full.people is not None and full.people["mentor"].email == "ada@example.com"


def test_filters_take_types_prefixes_and_everything() -> None:
    assert matches(None, EventType.COMPLETED)
    assert matches(["mentorship.change.*"], EventType.CHANGE_LAPSED)
    assert not matches(["mentorship.change.*"], EventType.COMPLETED)
    assert matches(["*"], EventType.PERSON_LIMITS_CHANGED)
    assert matches(["mentorship.completed"], EventType.COMPLETED) and not matches([], EventType.COMPLETED)
    assert check_filter("mentorship.*") == "mentorship.*"
    with pytest.raises(ValueError, match=r"did you mean 'mentorship\.completed'"):
        check_filter("mentorship.complete")
    with pytest.raises(ValueError, match="matches no event type"):
        check_filter("billing.*")
