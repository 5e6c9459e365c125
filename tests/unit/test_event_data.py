"""Each event type's data model (workflows/event_data.py) describes exactly what the effects emit: every event of
the stories (tests/support/stories.py: every type at least once) validates against its type's model, strictly and
with no field left undocumented."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tests.support.stories import every_event
from workflows.event_data import CATALOG, DATA_MODELS, Actor
from workflows.events import EventType, MentorshipEvent

EVENTS = every_event()


def test_every_type_has_a_data_model_and_a_catalog_entry() -> None:
    assert set(DATA_MODELS) == set(EventType) == set(CATALOG)
    assert len(set(DATA_MODELS.values())) == len(EventType), "one model per type"
    for kind, model in DATA_MODELS.items():
        assert model.model_config.get("extra") == "forbid" and model.model_config.get("strict"), kind
        for name, field in model.model_fields.items():
            assert field.description, f"{kind}: data.{name} has no description"
            assert field.is_required(), f"{kind}: data.{name} is always sent, so it is required (null when empty)"


def test_the_stories_produce_every_type() -> None:
    assert {event.type for event in EVENTS} == set(EventType)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: f"{e.sequence}-{e.type}")
def test_every_event_fits_its_types_data_model(event: MentorshipEvent) -> None:
    model = DATA_MODELS[event.type]
    # As a receiver reads it (the delivered JSON), strictly: no extra key, no key missing, no loose type.
    delivered = json.loads(event.for_delivery(personal_data=False).model_dump_json())
    model.model_validate_json(json.dumps(delivered["data"]))
    # And as the effect built it (before JSON).
    model.model_validate(event.data, strict=False)
    # The actor is there exactly when the catalog says.
    has_actor = CATALOG[event.type].has_actor
    if has_actor is Actor.ALWAYS:
        assert event.actor is not None
    elif has_actor is Actor.NEVER:
        assert event.actor is None
    assert (event.mentorship_key is None) == (event.type is EventType.PERSON_LIMITS_CHANGED)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda d: {**d, "mentor_name": "Ada Lovelace"}, "extra_forbidden"),
        (lambda d: {k: v for k, v in d.items() if k != "term"}, "missing"),
        (lambda d: {**d, "initiated_by": "coordinator"}, "enum"),
        (lambda d: {**d, "check_in_every": "fortnightly"}, "value_error"),
    ],
)
def test_a_drift_from_the_model_is_caught(change: object, error: str) -> None:
    invited = next(event for event in EVENTS if event.type is EventType.INVITED)
    data = json.loads(invited.model_dump_json())["data"]
    with pytest.raises(ValidationError) as refused:
        DATA_MODELS[EventType.INVITED].model_validate_json(json.dumps(change(data)))  # type: ignore[operator]
    assert error in {e["type"] for e in refused.value.errors()} or error in str(refused.value)
