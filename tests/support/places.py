"""People's places as the mentorships themselves tell them, for the tests of per-person limits on servers: what
every Person record should hold (derived from the mentorships' statuses), how many mentorships each person has
open in each role, and who is over a limit.

The truth is the mentorships' own: a mentorship that says it holds places (``holds_places``) holds one with its
mentor (as mentor) and one with its mentee (as mentee), under its key (``mentorship_key``); nothing else holds one.
A Person record (``person-{id}``) is right when its places are exactly those.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from workflows.contract import (
    MentorshipStatus,
    PersonStatus,
    PlaceAnswer,
    Role,
    Stage,
    mentorship_key,
    person_workflow_id,
)

# (key, workflow id, role): one place, as a record holds it and as a mentorship holds it.
PlaceId = tuple[str, str, Role]
# A person's limits: (max_mentees, max_mentors); None is no limit.
Limits = tuple[int | None, int | None]

ENGAGED = (Stage.ACTIVE, Stage.PAUSED)


def truth(statuses: Iterable[MentorshipStatus]) -> dict[str, set[PlaceId]]:
    """Person id -> the places their mentorships say they hold."""
    held: dict[str, set[PlaceId]] = {}
    for status in statuses:
        if not status.holds_places:
            continue
        key = mentorship_key(status.workflow_id, status.invited_at)
        held.setdefault(status.mentor.id, set()).add((key, status.workflow_id, Role.MENTOR))
        held.setdefault(status.mentee.id, set()).add((key, status.workflow_id, Role.MENTEE))
    return held


def recorded(record: PersonStatus | None) -> set[PlaceId]:
    return set() if record is None else {(p.key, p.workflow_id, p.role) for p in record.places}


def record_mismatches(records: Mapping[str, PersonStatus | None], statuses: Iterable[MentorshipStatus]) -> list[str]:
    """Why the records of ``records``' people differ from the truth the mentorships tell (empty: they agree):
    places missing or extra, a place held twice, counters that do not add up to the places held."""
    expected = truth(statuses)
    wrong: list[str] = []
    for person_id, record in sorted(records.items()):
        want = expected.get(person_id, set())
        got = recorded(record)
        if got != want:
            wrong.append(f"{person_id}: missing {sorted(want - got)}, extra {sorted(got - want)}")
        if record is None:
            continue
        if len(record.places) != len(got):
            wrong.append(f"{person_id}: a place held twice: {[p.key for p in record.places]}")
        balance = record.places_taken - record.places_released - record.places_reclaimed
        if balance != len(record.places):
            wrong.append(
                f"{person_id}: taken {record.places_taken} - released {record.places_released} - reclaimed "
                f"{record.places_reclaimed} != {len(record.places)} places held"
            )
    return wrong


def engaged(statuses: Iterable[MentorshipStatus]) -> Counter[tuple[str, Role]]:
    """(person id, role) -> how many of their mentorships are active or paused."""
    return engaged_of((status.mentor.id, status.mentee.id, status.stage) for status in statuses)


def engaged_of(stages: Iterable[tuple[str, str, Stage]]) -> Counter[tuple[str, Role]]:
    """The same from (mentor id, mentee id, stage) of each mentorship (e.g. its search attributes)."""
    counts: Counter[tuple[str, Role]] = Counter()
    for mentor_id, mentee_id, stage in stages:
        if stage in ENGAGED:
            counts[(mentor_id, Role.MENTOR)] += 1
            counts[(mentee_id, Role.MENTEE)] += 1
    return counts


def limit_in(limits: Limits, role: Role) -> int | None:
    return limits[0] if role is Role.MENTOR else limits[1]


def over_limits(counts: Counter[tuple[str, Role]], limits: Mapping[str, Limits]) -> list[str]:
    """Who has more mentorships active or paused in a role than their limit allows."""
    return [
        f"{person_id} has {count} open as {role.value}, limit {limit_in(limits[person_id], role)}"
        for (person_id, role), count in sorted(counts.items())
        if person_id in limits and (limit := limit_in(limits[person_id], role)) is not None and count > limit
    ]


# --- Every grant, in a record's own order ------------------------------------------------------------------------


async def grants_over_limits(client: Client, person_id: str) -> list[str]:
    """Replay a person's record from its history (its updates, in the order it completed them) and say every place
    granted while the person already held as many places in that role as the limit then in force: empty when each
    grant came with a place free. A limit lowered below what is open ends nothing, so this is the invariant: not
    the count now against the limit now, but each grant against the limit at its moment.

    The record also takes back places of mentorships that ended without giving them back (a check, not an
    update): the keys taken back are known afterwards (a release that found nothing, or a place gone from the
    record with no release), and are not counted against later grants."""
    handle = client.get_workflow_handle(person_workflow_id(person_id))
    converter = client.data_converter
    steps: list[tuple[str, Any, Any]] = []
    requests: dict[str, tuple[str, Any]] = {}
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            accepted = event.workflow_execution_update_accepted_event_attributes.accepted_request
            [given] = await converter.decode(accepted.input.args.payloads, [dict])
            requests[accepted.meta.update_id] = (accepted.input.name, given)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            completed = event.workflow_execution_update_completed_event_attributes
            if not completed.outcome.HasField("success"):
                continue
            name, given = requests[completed.meta.update_id]
            hint = {"take_place": PlaceAnswer, "release_place": bool, "set_limits": PersonStatus}[name]
            [answer] = await converter.decode(completed.outcome.success.payloads, [hint])
            steps.append((name, given, answer))
    record = await handle.query("status", result_type=PersonStatus)
    final = {place.key for place in record.places}

    def replay(taken_back: set[str]) -> tuple[dict[str, Role], set[str], list[str]]:
        limits: dict[Role, int | None] = {Role.MENTOR: None, Role.MENTEE: None}
        held: dict[str, Role] = {}
        released_none: set[str] = set()
        wrong: list[str] = []
        for name, given, answer in steps:
            if name == "set_limits":
                if "max_mentees" in given:
                    limits[Role.MENTOR] = given["max_mentees"]
                if "max_mentors" in given:
                    limits[Role.MENTEE] = given["max_mentors"]
            elif name == "take_place" and answer.granted and given["key"] not in held:
                role = Role(given["role"])
                count = sum(1 for key, r in held.items() if r is role and key not in taken_back)
                limit = limits[role]
                if limit is not None and count >= limit:
                    wrong.append(
                        f"{person_id}: {given['key']} granted as {role.value} with {count} held, limit {limit}"
                    )
                held[given["key"]] = role
            elif name == "release_place":
                key = given["key"]
                if answer:
                    if held.pop(key, None) is None:
                        wrong.append(f"{person_id}: released {key}, which the replay does not hold")
                elif key in held:
                    released_none.add(key)
                    del held[key]
        return held, released_none, wrong

    held, released_none, _ = replay(set())
    taken_back = released_none | (set(held) - final)
    held, _, wrong = replay(taken_back)
    if set(held) - taken_back != final:
        wrong.append(f"{person_id}: the replay holds {sorted(set(held) - taken_back)}, the record {sorted(final)}")
    if len(taken_back) != record.places_reclaimed:
        wrong.append(
            f"{person_id}: {len(taken_back)} places taken back by the replay, {record.places_reclaimed} counted"
        )
    return wrong
