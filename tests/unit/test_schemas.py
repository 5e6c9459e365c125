"""The published JSON Schemas (schemas/, from devtools/schemas.py) match the models and describe real payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import workflows.effects as effects
from devtools import schemas
from tests.support import builders
from workflows.actions import ACTIONS


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
