"""The contract as JSON Schema files, for services in any language: generated from the pydantic models and
checked in under ``schemas/`` (a unit test fails when they are out of date).

    python -m devtools.schemas          # write them
    python -m devtools.schemas --check  # exit 1, naming the stale files, when they differ

One file per payload: the start input, every action's input (signal and update alike, from the action table)
and the status (the ``status`` query's answer, every update's answer and the workflow's result); a person's
``set_limits`` input and their record (the Person workflow's ``status`` query); the ``feedback`` input and the
Feedback workflow's status; and the webhook events: one file per event type (``event-<type>.schema.json``: the
whole event as delivered, ``type`` fixed, ``data`` that type's model from ``workflows/event_data.py``) and
``event.schema.json``, any one of them (``oneOf``, told apart by ``type``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from workflows.actions import ACTIONS
from workflows.contract import (
    ActionAnswer,
    FeedbackInput,
    FeedbackStatus,
    MentorshipInput,
    MentorshipStatus,
    PersonStatus,
    SetLimitsInput,
)
from workflows.event_data import CATALOG, Actor
from workflows.events import EventType, MentorshipEvent

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "schemas"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _schema(model: type[BaseModel], file: str, title: str, *, mode: str = "validation") -> dict[str, Any]:
    schema = model.model_json_schema(mode="serialization" if mode == "serialization" else "validation")
    return {"$schema": DRAFT, "$id": f"schemas/{file}", **schema, "title": title}


def _prune(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop the definitions nothing refers to any more."""
    defs = schema.get("$defs", {})
    used: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] not in used:
                used.add(ref[8:])
                walk(defs.get(ref[8:]))
            for key, value in node.items():
                if key != "$defs":
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    if defs:
        schema["$defs"] = {name: body for name, body in defs.items() if name in used}
        if not schema["$defs"]:
            del schema["$defs"]
    return schema


def schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema."""
    start = _schema(MentorshipInput, "mentorship-start.schema.json", "MentorshipStart")
    # `carried` is the workflow's own, across continue-as-new: not for callers.
    start["properties"].pop("carried")
    files = {"mentorship-start.schema.json": _prune(start)}
    for name, action in ACTIONS.items():
        file = f"action-{name.replace('_', '-')}.schema.json"
        title = "".join(part.capitalize() for part in name.split("_")) + "Input"
        files[file] = _schema(action.input, file, title)
    files["mentorship-status.schema.json"] = _schema(
        MentorshipStatus, "mentorship-status.schema.json", "MentorshipStatus", mode="serialization"
    )
    files["action-answer.schema.json"] = _schema(
        ActionAnswer, "action-answer.schema.json", "ActionAnswer", mode="serialization"
    )
    files["person-set-limits.schema.json"] = _schema(SetLimitsInput, "person-set-limits.schema.json", "SetLimitsInput")
    files["person-status.schema.json"] = _schema(
        PersonStatus, "person-status.schema.json", "PersonStatus", mode="serialization"
    )
    files["feedback.schema.json"] = _schema(FeedbackInput, "feedback.schema.json", "FeedbackInput")
    files["feedback-status.schema.json"] = _schema(
        FeedbackStatus, "feedback-status.schema.json", "FeedbackStatus", mode="serialization"
    )
    files.update(event_schemas())
    return files


def event_file(kind: EventType) -> str:
    return f"event-{kind.value}.schema.json"


def _merge_defs(into: dict[str, Any], defs: dict[str, Any]) -> None:
    for name, body in defs.items():
        assert into.setdefault(name, body) == body, f"two different definitions named {name}"


def _event(kind: EventType, defs: dict[str, Any]) -> dict[str, Any]:
    """The envelope (``MentorshipEvent``) of one type, as delivered: ``type`` fixed, ``data`` its model, ``actor``
    and ``mentorship_key`` as the type has them. Shared definitions go to ``defs``."""
    doc = CATALOG[kind]
    envelope = MentorshipEvent.model_json_schema(mode="serialization")
    _merge_defs(defs, envelope.pop("$defs"))
    data = doc.data.model_json_schema(mode="serialization")
    _merge_defs(defs, data.pop("$defs", {}))
    # Fields may be added to a type later (never renamed or removed): a receiver ignores those it does not know.
    data.pop("additionalProperties", None)
    properties = envelope["properties"]
    properties["type"] = {"const": kind.value, "description": doc.when}
    properties["data"] = {**data, "description": properties["data"]["description"]}
    actor = properties["actor"]
    actor.pop("default", None)
    if doc.has_actor is Actor.ALWAYS:
        properties["actor"] = {"$ref": "#/$defs/EventActor", "description": f"The participant: {doc.actor}"}
    elif doc.has_actor is Actor.NEVER:
        properties["actor"] = {"type": "null", "description": "None: this type has no actor"}
    else:
        actor["description"] = f"The participant: {doc.actor}"
    key = properties["mentorship_key"]
    key.pop("anyOf")
    key["type"] = "null" if kind is EventType.PERSON_LIMITS_CHANGED else "string"
    for optional in ("people", "text"):
        properties[optional].pop("default", None)
    title = "".join(part.capitalize() for part in kind.value.replace("_", ".").split(".")) + "Event"
    return {
        **envelope,
        "title": title,
        "description": f"{kind.value}: {doc.when}. Every field is always present (null when empty).",
        "required": list(properties),
    }


def event_schemas() -> dict[str, dict[str, Any]]:
    """One file per event type, and ``event.schema.json``: any of them."""
    files: dict[str, dict[str, Any]] = {}
    every: dict[str, Any] = {}
    for kind in EventType:
        defs: dict[str, Any] = {}
        event = _event(kind, defs)
        file = event_file(kind)
        files[file] = _prune({"$schema": DRAFT, "$id": f"schemas/{file}", **event, "$defs": defs})
        _merge_defs(every, {event["title"]: event, **defs})
    one_of = [{"$ref": f"#/$defs/{_event(kind, {})['title']}"} for kind in EventType]
    files["event.schema.json"] = _prune(
        {
            "$schema": DRAFT,
            "$id": "schemas/event.schema.json",
            "title": "MentorshipEvent",
            "description": "One webhook event, of any type (told apart by type; one file per type beside this one). "
            + (MentorshipEvent.__doc__ or ""),
            "oneOf": one_of,
            "$defs": every,
        }
    )
    return files


def text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def stale() -> list[str]:
    """The files that differ from what the models say (or are missing, or are left over)."""
    wanted = schemas()
    present = {path.name for path in FOLDER.glob("*.schema.json")}
    differing = [
        name
        for name, schema in wanted.items()
        if not (FOLDER / name).exists() or (FOLDER / name).read_text(encoding="utf-8") != text(schema)
    ]
    return sorted(differing + sorted(present - set(wanted)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.schemas", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when a file is out of date")
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale()
        if out_of_date:
            print(f"out of date: {', '.join(out_of_date)}; run `make schemas`", file=sys.stderr)
            return 1
        return 0
    FOLDER.mkdir(exist_ok=True)
    wanted = schemas()
    for leftover in {path.name for path in FOLDER.glob("*.schema.json")} - set(wanted):
        (FOLDER / leftover).unlink()
    for name, schema in wanted.items():
        (FOLDER / name).write_text(text(schema), encoding="utf-8")
    print(f"wrote {len(wanted)} schemas to {FOLDER.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
