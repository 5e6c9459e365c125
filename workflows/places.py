"""A person's places: who may take one, and what giving one back or taking one back does. Pure decisions over a
``PersonStatus``, unit-tested without a server; the Person workflow (``workflows/person.py``) orchestrates them.

A mentorship holds a place with each of its two people from its acceptance until it ends: with the mentor as
mentor (counted against ``max_mentees``) and with the mentee as mentee (counted against ``max_mentors``). An
open invitation holds none. A place is keyed by the mentorship's key, so taking it again (a retried activity, a
replayed acceptance) grants the same place and counts nothing twice, and giving it back twice gives back one.
"""

from __future__ import annotations

from datetime import datetime

from workflows.contract import PersonStatus, Place, PlaceAnswer, PlaceRequest, Role, SetLimitsInput

# How many places the record keeps at most, whatever the limits: a person without limits who never ends a
# mentorship must not grow the state without bound (each place is about 200 bytes).
MAX_PLACES = 1000


def held(state: PersonStatus, key: str) -> Place | None:
    return next((place for place in state.places if place.key == key), None)


def no_free_place(state: PersonStatus, role: Role, name: str | None) -> str:
    """Why a person has no free place in ``role``, for a person to read."""
    who = name or state.name or state.person_id
    limit = state.limit_as(role)
    if role is Role.MENTOR:
        if limit == 0:
            return f"{who} is not taking on mentees now"
        count = state.open_as(role)
        return f"{who} already mentors {count} {'person' if count == 1 else 'people'}, their limit"
    if limit == 0:
        return f"{who} is not looking for a mentor now"
    count = state.open_as(role)
    return f"{who} already has {count} {'mentor' if count == 1 else 'mentors'}, their limit"


def take(state: PersonStatus, request: PlaceRequest, now: datetime) -> PlaceAnswer:
    """A place for ``request``'s mentorship, if there is a free one (or it holds one already)."""
    state.name = request.name
    if held(state, request.key) is not None:
        return PlaceAnswer(granted=True)
    free = state.free_as(request.role)
    if free is not None and free <= 0:
        state.refusals += 1
        return PlaceAnswer(granted=False, reason=no_free_place(state, request.role, request.name))
    if len(state.places) >= MAX_PLACES:
        state.refusals += 1
        reason = f"{request.name} already has {len(state.places)} open mentorships, the most one person can have"
        return PlaceAnswer(granted=False, reason=reason)
    state.places.append(
        Place(
            key=request.key,
            workflow_id=request.workflow_id,
            role=request.role,
            partner_id=request.partner_id,
            since=now,
        )
    )
    state.places_taken += 1
    return PlaceAnswer(granted=True)


def release(state: PersonStatus, key: str) -> bool:
    """Give back the place of the mentorship ``key``; False if it holds none (given back already)."""
    place = held(state, key)
    if place is None:
        return False
    state.places.remove(place)
    state.places_released += 1
    return True


def reclaim(state: PersonStatus, keys: set[str]) -> list[Place]:
    """Take back the places of mentorships found ended without giving them back (a terminated workflow)."""
    taken_back = [place for place in state.places if place.key in keys]
    state.places = [place for place in state.places if place.key not in keys]
    state.places_reclaimed += len(taken_back)
    return taken_back


def set_limits(state: PersonStatus, limits: SetLimitsInput, now: datetime) -> bool:
    """Apply the limits given (a field left out keeps its value); whether anything changed. Lowering a limit
    below what is open ends nothing: it only stops new places until enough are given back."""
    before = (state.max_mentees, state.max_mentors)
    if "max_mentees" in limits.model_fields_set:
        state.max_mentees = limits.max_mentees
    if "max_mentors" in limits.model_fields_set:
        state.max_mentors = limits.max_mentors
    changed = (state.max_mentees, state.max_mentors) != before
    if changed:
        state.limits_changed_at = now
    return changed


def worth_checking(state: PersonStatus, role: Role) -> bool:
    """Whether a refusal in ``role`` might be wrong: a place in that role might belong to a mentorship that
    ended without giving it back. Only then is it worth asking the mentorships (an activity)."""
    return any(place.role is role for place in state.places)


# Availability as operators filter it (the ``PersonAvailability`` search attribute, a keyword list).
TAKES_MENTEES = "takes-mentees"
TAKES_MENTORS = "takes-mentors"
AT_LIMIT = "at-limit"
AT_MENTEE_LIMIT = "at-mentee-limit"
AT_MENTOR_LIMIT = "at-mentor-limit"


def availability(state: PersonStatus) -> list[str]:
    """``takes-mentees`` (a free place as mentor), ``takes-mentors``, and ``at-limit`` with the limit(s) reached:
    ``at-mentee-limit`` (mentors as many as they take), ``at-mentor-limit``."""
    values: list[str] = []
    as_mentor, as_mentee = state.free_as(Role.MENTOR), state.free_as(Role.MENTEE)
    if as_mentor is None or as_mentor > 0:
        values.append(TAKES_MENTEES)
    if as_mentee is None or as_mentee > 0:
        values.append(TAKES_MENTORS)
    if as_mentor == 0 or as_mentee == 0:
        values.append(AT_LIMIT)
    if as_mentor == 0:
        values.append(AT_MENTEE_LIMIT)
    if as_mentee == 0:
        values.append(AT_MENTOR_LIMIT)
    return values
