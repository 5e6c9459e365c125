"""The published JSON Schemas (schemas/, from devtools/schemas.py) match the models and describe real payloads,
the webhook events of a whole lifecycle (tests/support/stories.py) among them."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import workflows.effects as effects
from devtools import schemas
from tests.support import builders
from tests.support.stories import every_event
from workflows.actions import ACTIONS
from workflows.event_data import DATA_MODELS
from workflows.events import EventType


@functools.cache
def load(name: str) -> Any:
    schema = json.loads((schemas.FOLDER / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_the_checked_in_schemas_are_up_to_date() -> None:
    assert schemas.stale() == [], "schemas/ is out of date: run `make schemas` and commit the files"


def test_every_action_has_a_schema() -> None:
    for name in ACTIONS:
        load(f"action-{name.replace('_', '-')}.schema.json")


def test_real_payloads_fit_their_schemas() -> None:
    invitation = builders.invitation("x", term="P6M").model_dump(mode="json")
    load("mentorship-start.schema.json").validate({**invitation, "history_event_limit": 500})
    load("action-invite.schema.json").validate(invitation)
    load("action-check-in.schema.json").validate({"by": "ana", "note": "Delegation", "rating": 5})
    status = effects.new_mentorship("mentorship-ada-x--ben.b-x", builders.invitation("x"), datetime.now(UTC)).state
    load("mentorship-status.schema.json").validate(status.model_dump(mode="json"))


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("action-check-in.schema.json", {"by": "ana", "rating": 9}),
        ("action-accept.schema.json", {"by": "ana", "unknown": 1}),
        ("mentorship-start.schema.json", {**builders.invitation_data("x"), "carried": {}}),
    ],
)
def test_what_the_contract_refuses_the_schemas_refuse(name: str, payload: dict[str, object]) -> None:
    assert list(load(name).iter_errors(payload)), payload


# --- The webhook events: one file per type, and event.schema.json for any of them --------------------------

EVENTS = every_event()


def test_every_event_type_has_a_schema_with_its_data_model() -> None:
    generic = json.loads((schemas.FOLDER / "event.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(generic)
    assert len(generic["oneOf"]) == len(EventType)
    for kind in EventType:
        schema = load(schemas.event_file(kind)).schema
        assert schema["properties"]["type"]["const"] == kind.value
        data = schema["properties"]["data"]
        assert set(data["properties"]) == set(data["required"]) == set(DATA_MODELS[kind].model_fields), kind


@pytest.mark.parametrize("personal_data", [False, True])
def test_every_event_of_a_lifecycle_fits_its_types_schema_and_the_generic_one(personal_data: bool) -> None:
    generic = load("event.schema.json")
    for event in EVENTS:
        delivered = json.loads(event.for_delivery(personal_data).model_dump_json())
        load(schemas.event_file(event.type)).validate(delivered)
        generic.validate(delivered)
        # Nothing the effects send is left out of the published schema (which lets receivers ignore new fields).
        documented = load(schemas.event_file(event.type)).schema["properties"]["data"]["properties"]
        assert set(delivered["data"]) == set(documented), event.type


def _invalid(event: dict[str, Any]) -> list[dict[str, Any]]:
    data = event["data"]
    return [
        {**event, "type": "mentorship.completed"},
        {**event, "data": {k: v for k, v in data.items() if k != "rating"}},
        {**event, "data": {**data, "rating": 6}},
        {**event, "actor": None},
        {**event, "mentorship_key": None},
        {k: v for k, v in event.items() if k != "text"},
    ]


def test_what_a_types_schema_refuses() -> None:
    recorded = next(e for e in EVENTS if e.type is EventType.CHECK_IN_RECORDED)
    event = json.loads(recorded.for_delivery(False).model_dump_json())
    for bad in _invalid(event):
        assert list(load(schemas.event_file(EventType.CHECK_IN_RECORDED)).iter_errors(bad)), bad
        assert list(load("event.schema.json").iter_errors(bad)), bad
    missed = json.loads(next(e for e in EVENTS if e.type is EventType.CHECK_IN_MISSED).model_dump_json())
    assert list(load(schemas.event_file(EventType.CHECK_IN_MISSED)).iter_errors({**missed, "actor": event["actor"]}))


def test_a_missing_or_stale_event_schema_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for file in schemas.FOLDER.glob("*.schema.json"):
        (tmp_path / file.name).write_text(file.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(schemas, "FOLDER", tmp_path)
    assert schemas.stale() == []
    (tmp_path / "event-mentorship.paused.schema.json").unlink()
    stale = tmp_path / "event-mentorship.check_in.recorded.schema.json"
    stale.write_text(stale.read_text(encoding="utf-8").replace('"rating"', '"score"'), encoding="utf-8")
    assert schemas.stale() == ["event-mentorship.check_in.recorded.schema.json", "event-mentorship.paused.schema.json"]
