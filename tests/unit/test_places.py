"""A person's places (workflows/places.py), decided without a server: taking one (idempotent per mentorship key),
the reasons of a refusal, giving one back once, taking back the places of ended mentorships, setting limits, and
the availability operators filter on. Then a hypothesis state machine over random take / release / reclaim /
set_limits sequences across several people: no grant ever puts a person over the limit in force, and the
counters always add up to the places held."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import workflows.places as places
from tests.support import reliability
from workflows.contract import MAX_LIMIT, PersonStatus, PlaceRequest, Role, SetLimitsInput

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def person(*, max_mentees: int | None = None, max_mentors: int | None = None) -> PersonStatus:
    return PersonStatus(person_id="ana", max_mentees=max_mentees, max_mentors=max_mentors)


def request(key: str, role: Role, *, name: str = "Ana Ruiz", partner: str = "ben") -> PlaceRequest:
    return PlaceRequest(key=key, workflow_id=key.split(".")[0], role=role, name=name, partner_id=partner)


def key(number: int) -> str:
    return f"mentorship-ana--p{number}.20261201T090000Z"


def counters_add_up(state: PersonStatus) -> bool:
    return state.places_taken - state.places_released - state.places_reclaimed == len(state.places)


# --- take ----------------------------------------------------------------------------------------------------


def test_a_place_is_granted_while_one_is_free_and_recorded_with_its_mentorship() -> None:
    state = person(max_mentees=2)
    answer = places.take(state, request(key(1), Role.MENTOR, partner="p1"), NOW)
    assert answer.granted and answer.reason is None
    [place] = state.places
    assert (place.key, place.workflow_id, place.role, place.partner_id, place.since) == (
        key(1),
        "mentorship-ana--p1",
        Role.MENTOR,
        "p1",
        NOW,
    )
    assert state.places_taken == 1 and state.refusals == 0
    assert (state.open_as_mentor, state.free_as_mentor, state.open_as_mentee, state.free_as_mentee) == (1, 1, 0, None)
    assert state.name == "Ana Ruiz"


def test_taking_again_with_the_same_key_grants_the_same_place_and_counts_nothing_twice() -> None:
    state = person(max_mentees=1)
    first = places.take(state, request(key(1), Role.MENTOR), NOW)
    again = places.take(state, request(key(1), Role.MENTOR), NOW + timedelta(minutes=5))
    assert first.granted and again.granted
    assert len(state.places) == 1 and state.places[0].since == NOW
    assert state.places_taken == 1 and state.refusals == 0
    # Even at the limit (a retried activity after its first attempt took the last place): still granted.
    assert state.free_as_mentor == 0
    assert places.take(state, request(key(1), Role.MENTOR), NOW).granted
    assert state.places_taken == 1 and len(state.places) == 1


def test_no_limit_grants_every_place() -> None:
    state = person()
    for number in range(50):
        assert places.take(state, request(key(number), Role.MENTOR), NOW).granted
    assert state.open_as_mentor == 50 and state.free_as_mentor is None and not state.at_limit


def test_the_limits_of_the_two_roles_are_separate() -> None:
    state = person(max_mentees=1, max_mentors=1)
    assert places.take(state, request(key(1), Role.MENTOR), NOW).granted
    # Full as a mentor; still free as a mentee.
    assert places.take(state, request(key(2), Role.MENTEE), NOW).granted
    assert not places.take(state, request(key(3), Role.MENTOR), NOW).granted
    assert not places.take(state, request(key(4), Role.MENTEE), NOW).granted
    assert (state.open_as_mentor, state.open_as_mentee, state.refusals) == (1, 1, 2)


@pytest.mark.parametrize(
    ("limits", "held", "role", "reason"),
    [
        ({"max_mentees": 1}, 1, Role.MENTOR, "Ana Ruiz already mentors 1 person, their limit"),
        ({"max_mentees": 2}, 2, Role.MENTOR, "Ana Ruiz already mentors 2 people, their limit"),
        ({"max_mentees": 0}, 0, Role.MENTOR, "Ana Ruiz is not taking on mentees now"),
        ({"max_mentors": 1}, 1, Role.MENTEE, "Ana Ruiz already has 1 mentor, their limit"),
        ({"max_mentors": 3}, 3, Role.MENTEE, "Ana Ruiz already has 3 mentors, their limit"),
        ({"max_mentors": 0}, 0, Role.MENTEE, "Ana Ruiz is not looking for a mentor now"),
    ],
)
def test_a_refusal_says_why_for_a_person_to_read(limits: dict[str, int], held: int, role: Role, reason: str) -> None:
    state = person(max_mentees=limits.get("max_mentees"), max_mentors=limits.get("max_mentors"))
    for number in range(held):
        assert places.take(state, request(key(number), role), NOW).granted
    before = list(state.places)
    answer = places.take(state, request(key(99), role), NOW)
    assert not answer.granted and answer.reason == reason
    assert state.places == before and state.places_taken == held and state.refusals == 1
    assert places.no_free_place(state, role, "Ana Ruiz") == reason


def test_a_refusal_names_the_person_as_the_request_does() -> None:
    state = person(max_mentees=0)
    answer = places.take(state, request(key(1), Role.MENTOR, name="Ana R."), NOW)
    assert answer.reason == "Ana R. is not taking on mentees now" and state.name == "Ana R."
    # Without a name given, the record's name, then the id.
    assert places.no_free_place(state, Role.MENTOR, None) == "Ana R. is not taking on mentees now"
    assert places.no_free_place(person(max_mentees=0), Role.MENTOR, None) == "ana is not taking on mentees now"


def test_a_lowered_limit_ends_nothing_and_stops_new_places_until_enough_are_given_back() -> None:
    state = person(max_mentees=3)
    for number in range(3):
        assert places.take(state, request(key(number), Role.MENTOR), NOW).granted
    assert places.set_limits(state, SetLimitsInput(max_mentees=1), NOW)
    assert len(state.places) == 3 and state.free_as_mentor == 0 and state.at_limit
    answer = places.take(state, request(key(10), Role.MENTOR), NOW)
    assert answer.reason == "Ana Ruiz already mentors 3 people, their limit"
    assert places.release(state, key(0))
    assert not places.take(state, request(key(10), Role.MENTOR), NOW).granted
    assert places.release(state, key(1)) and places.release(state, key(2))
    assert places.take(state, request(key(10), Role.MENTOR), NOW).granted
    assert not places.take(state, request(key(11), Role.MENTOR), NOW).granted
    assert state.open_as_mentor == 1


def test_the_record_stops_growing_at_max_places_whatever_the_limits() -> None:
    state = person()
    for number in range(places.MAX_PLACES):
        assert places.take(state, request(key(number), Role.MENTOR if number % 2 else Role.MENTEE), NOW).granted
    answer = places.take(state, request(key(places.MAX_PLACES), Role.MENTOR), NOW)
    assert not answer.granted and len(state.places) == places.MAX_PLACES and state.refusals == 1
    # A place already held is still granted (idempotent), and one given back makes room.
    assert places.take(state, request(key(1), Role.MENTOR), NOW).granted
    assert places.release(state, key(1))
    assert places.take(state, request(key(places.MAX_PLACES), Role.MENTOR), NOW).granted


def test_a_refusal_at_max_places_does_not_claim_a_limit_the_person_does_not_have() -> None:
    state = person()
    for number in range(places.MAX_PLACES):
        places.take(state, request(key(number), Role.MENTOR if number % 2 else Role.MENTEE), NOW)
    answer = places.take(state, request(key(places.MAX_PLACES), Role.MENTOR), NOW)
    assert not answer.granted and answer.reason is not None
    assert "their limit" not in answer.reason, answer.reason
    assert answer.reason == f"Ana Ruiz already has {places.MAX_PLACES} open mentorships, the most one person can have"


# --- release and reclaim ----------------------------------------------------------------------------------------


def test_a_place_is_given_back_once() -> None:
    state = person(max_mentees=1)
    places.take(state, request(key(1), Role.MENTOR), NOW)
    assert places.release(state, key(1)) is True
    assert places.release(state, key(1)) is False
    assert places.release(state, key(2)) is False
    assert state.places == [] and state.places_released == 1 and counters_add_up(state)
    # The place is free again.
    assert places.take(state, request(key(2), Role.MENTOR), NOW).granted


def test_reclaim_takes_back_only_the_places_of_the_ended_mentorships() -> None:
    state = person()
    for number in range(4):
        places.take(state, request(key(number), Role.MENTOR if number < 2 else Role.MENTEE), NOW)
    taken_back = places.reclaim(state, {key(1), key(2), key(77)})
    assert [p.key for p in taken_back] == [key(1), key(2)]
    assert [p.key for p in state.places] == [key(0), key(3)]
    assert state.places_reclaimed == 2 and counters_add_up(state)
    # Nothing ended: nothing changes; and a place reclaimed and then given back is not counted twice.
    assert places.reclaim(state, set()) == [] and state.places_reclaimed == 2
    assert places.release(state, key(1)) is False
    assert state.places_released == 0 and counters_add_up(state)


def test_worth_checking_only_when_a_place_in_that_role_might_be_stale() -> None:
    state = person(max_mentees=0, max_mentors=1)
    assert not places.worth_checking(state, Role.MENTOR) and not places.worth_checking(state, Role.MENTEE)
    places.take(state, request(key(1), Role.MENTEE), NOW)
    assert places.worth_checking(state, Role.MENTEE) and not places.worth_checking(state, Role.MENTOR)


# --- set_limits -----------------------------------------------------------------------------------------------


def test_set_limits_keeps_the_fields_left_out() -> None:
    state = person(max_mentees=2, max_mentors=1)
    assert places.set_limits(state, SetLimitsInput(max_mentees=5), NOW)
    assert (state.max_mentees, state.max_mentors) == (5, 1)
    assert places.set_limits(state, SetLimitsInput.model_validate({"max_mentors": 3}), NOW)
    assert (state.max_mentees, state.max_mentors) == (5, 3)


def test_set_limits_null_removes_a_limit() -> None:
    state = person(max_mentees=2, max_mentors=1)
    assert places.set_limits(state, SetLimitsInput.model_validate({"max_mentees": None}), NOW)
    assert (state.max_mentees, state.max_mentors) == (None, 1)
    assert places.set_limits(state, SetLimitsInput(max_mentors=None), NOW)
    assert (state.max_mentees, state.max_mentors) == (None, None)


def test_set_limits_says_whether_anything_changed_and_stamps_only_a_change() -> None:
    state = person(max_mentees=2)
    later = NOW + timedelta(days=1)
    assert places.set_limits(state, SetLimitsInput(max_mentees=2), NOW) is False
    assert state.limits_changed_at is None
    assert places.set_limits(state, SetLimitsInput(max_mentees=2, max_mentors=None), NOW) is False
    assert places.set_limits(state, SetLimitsInput(max_mentees=0), NOW) is True
    assert state.limits_changed_at == NOW
    assert places.set_limits(state, SetLimitsInput(max_mentees=0), later) is False
    assert state.limits_changed_at == NOW
    assert places.set_limits(state, SetLimitsInput(max_mentors=MAX_LIMIT), later) is True
    assert state.limits_changed_at == later and (state.max_mentees, state.max_mentors) == (0, MAX_LIMIT)


def test_set_limits_touches_no_place_and_no_counter() -> None:
    state = person()
    places.take(state, request(key(1), Role.MENTOR), NOW)
    before = state.model_copy(deep=True)
    places.set_limits(state, SetLimitsInput(max_mentees=0, max_mentors=0), NOW)
    assert state.places == before.places
    counters = ("places_taken", "places_released", "places_reclaimed", "refusals")
    assert [getattr(state, c) for c in counters] == [getattr(before, c) for c in counters]


# --- availability ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "as_mentor", "as_mentee", "values"),
    [
        ({}, 0, 0, ["takes-mentees", "takes-mentors"]),
        ({}, 7, 7, ["takes-mentees", "takes-mentors"]),
        ({"max_mentees": 2, "max_mentors": 1}, 1, 0, ["takes-mentees", "takes-mentors"]),
        ({"max_mentees": 2}, 2, 0, ["takes-mentors", "at-limit", "at-mentee-limit"]),
        ({"max_mentors": 1}, 0, 1, ["takes-mentees", "at-limit", "at-mentor-limit"]),
        ({"max_mentees": 1, "max_mentors": 1}, 1, 1, ["at-limit", "at-mentee-limit", "at-mentor-limit"]),
        ({"max_mentees": 0, "max_mentors": 0}, 0, 0, ["at-limit", "at-mentee-limit", "at-mentor-limit"]),
        ({"max_mentees": 0}, 0, 3, ["takes-mentors", "at-limit", "at-mentee-limit"]),
    ],
)
def test_availability(limits: dict[str, int], as_mentor: int, as_mentee: int, values: list[str]) -> None:
    state = person()
    for number in range(as_mentor):
        places.take(state, request(key(number), Role.MENTOR), NOW)
    for number in range(as_mentee):
        places.take(state, request(key(100 + number), Role.MENTEE), NOW)
    if limits:
        places.set_limits(state, SetLimitsInput(**limits), NOW)
    assert places.availability(state) == values
    assert state.at_limit == (places.AT_LIMIT in values)


def test_availability_over_a_lowered_limit_is_at_the_limit_with_nothing_free() -> None:
    state = person()
    for number in range(3):
        places.take(state, request(key(number), Role.MENTOR), NOW)
    places.set_limits(state, SetLimitsInput(max_mentees=1), NOW)
    assert state.free_as_mentor == 0
    assert places.availability(state) == ["takes-mentors", "at-limit", "at-mentee-limit"]


# --- Random sequences across several people (hypothesis, stateful) ------------------------------------------------

PEOPLE = ("ana", "ben", "cem", "dee")
PAIRS = [(mentor, mentee) for mentor in PEOPLE for mentee in PEOPLE if mentor != mentee]
# A limit as set_limits takes it: left out (keeps), null (removes), or 0..3 (small, to reach them often).
SMALL = st.one_of(st.none(), st.integers(min_value=0, max_value=3))
LIMIT = st.one_of(st.just("absent"), SMALL)


class PlacesMachine(RuleBasedStateMachine):
    """Several people's records, driven as the activities drive them: a mentorship's acceptance takes a place with
    its mentor and its mentee, both or neither (giving back the one granted when the other refuses); it may be
    retried (same key); an ended mentorship gives both back (maybe twice), or a record takes its places back.
    A model of what should be held is kept beside the records and compared after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.records = {pid: PersonStatus(person_id=pid) for pid in PEOPLE}
        # Key -> (mentor, mentee) of every mentorship that holds its places, as the model sees it; and of those
        # whose acceptance holds the mentor's place while the mentee is still to be asked.
        self.holding: dict[str, tuple[str, str]] = {}
        self.halfway: dict[str, tuple[str, str]] = {}
        self.serial = 0
        self.now = NOW
        self.grants = 0
        self.refusals = 0
        self.steps = 0

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def held(self, pid: str, role: Role) -> set[str]:
        index = 0 if role is Role.MENTOR else 1
        held = {k for k, pair in self.holding.items() if pair[index] == pid}
        return held | {k for k, pair in self.halfway.items() if role is Role.MENTOR and pair[0] == pid}

    def new_key(self, mentor: str, mentee: str) -> str:
        self.serial += 1
        self.steps += 1
        return f"mentorship-{mentor}--{mentee}.{self.serial}"

    def take_one(self, pid: str, k: str, role: Role, partner: str) -> bool:
        """One take_place at ``pid``, checking the limit in force: a new place only when one was free."""
        record = self.records[pid]
        before = record.open_as(role)
        had = places.held(record, k) is not None
        limit = record.limit_as(role)
        answer = places.take(record, request(k, role, name=f"Person {pid}", partner=partner), self.tick())
        after = record.open_as(role)
        if had:
            assert answer.granted and after == before, "a place held already is granted again, counted once"
        elif answer.granted:
            assert after == before + 1
            assert limit is None or after <= limit, f"{pid} granted a place as {role} over their limit {limit}"
        else:
            assert after == before and answer.reason
            assert limit is not None and before >= limit, f"{pid} refused with a free place as {role}"
            assert answer.reason == places.no_free_place(record, role, f"Person {pid}")
        return answer.granted

    @initialize(limits=st.lists(st.tuples(SMALL, SMALL), min_size=len(PEOPLE), max_size=len(PEOPLE)))
    def start_with_limits(self, limits: list[tuple[int | None, int | None]]) -> None:
        for pid, (mentees, mentors) in zip(PEOPLE, limits, strict=True):
            places.set_limits(self.records[pid], SetLimitsInput(max_mentees=mentees, max_mentors=mentors), NOW)

    @rule(pair=st.sampled_from(PAIRS), retry=st.booleans())
    def accept(self, pair: tuple[str, str], retry: bool) -> None:
        """An acceptance (take_places): both or neither; ``retry`` repeats it with the same key (a retried
        activity whose first attempt's answer was lost)."""
        mentor, mentee = pair
        k = self.new_key(mentor, mentee)
        for _attempt in range(2 if retry else 1):
            as_mentor = self.take_one(mentor, k, Role.MENTOR, mentee)
            as_mentee = self.take_one(mentee, k, Role.MENTEE, mentor)
            if not (as_mentor and as_mentee):
                if as_mentor:
                    assert places.release(self.records[mentor], k)
                if as_mentee:
                    assert places.release(self.records[mentee], k)
        if as_mentor and as_mentee:
            self.holding[k] = pair
            self.grants += 1
        else:
            self.refusals += 1

    @rule(pair=st.sampled_from(PAIRS))
    def accept_halfway(self, pair: tuple[str, str]) -> None:
        """An acceptance whose mentor granted a place, the mentee not asked yet (the activity still running, or
        killed and not yet retried): the mentor's place is held meanwhile, and counts against their limit."""
        mentor, mentee = pair
        k = self.new_key(mentor, mentee)
        if self.take_one(mentor, k, Role.MENTOR, mentee):
            self.halfway[k] = pair
        else:
            self.refusals += 1

    @precondition(lambda self: bool(self.halfway))
    @rule(data=st.data(), retry=st.booleans())
    def accept_the_rest(self, data: st.DataObject, retry: bool) -> None:
        """The rest of a halfway acceptance, maybe retried from the start (the mentor asked again: same key)."""
        k = data.draw(st.sampled_from(sorted(self.halfway)))
        mentor, mentee = self.halfway.pop(k)
        if retry:
            assert self.take_one(mentor, k, Role.MENTOR, mentee), "a place held is granted again"
        if self.take_one(mentee, k, Role.MENTEE, mentor):
            self.holding[k] = (mentor, mentee)
            self.grants += 1
        else:
            assert places.release(self.records[mentor], k)
            self.refusals += 1

    @precondition(lambda self: bool(self.holding))
    @rule(data=st.data(), twice=st.booleans())
    def end(self, data: st.DataObject, twice: bool) -> None:
        """A mentorship ends: release_places, maybe retried."""
        k = data.draw(st.sampled_from(sorted(self.holding)))
        mentor, mentee = self.holding.pop(k)
        assert places.release(self.records[mentor], k) and places.release(self.records[mentee], k)
        if twice:
            assert not places.release(self.records[mentor], k) and not places.release(self.records[mentee], k)

    @precondition(lambda self: bool(self.holding))
    @rule(data=st.data())
    def terminated_and_reclaimed(self, data: st.DataObject) -> None:
        """A mentorship ended without giving its places back; each record finds it ended and takes its place back
        (maybe only one of them so far); a release arriving later gives back nothing."""
        k = data.draw(st.sampled_from(sorted(self.holding)))
        mentor, mentee = self.holding.pop(k)
        for pid in (mentor, mentee):
            if data.draw(st.booleans(), label=f"{pid} checks now"):
                assert [p.key for p in places.reclaim(self.records[pid], {k})] == [k]
            else:
                # The release activity got there first after all.
                assert places.release(self.records[pid], k)
        for pid in (mentor, mentee):
            assert not places.release(self.records[pid], k)

    @rule(pid=st.sampled_from(PEOPLE), mentees=LIMIT, mentors=LIMIT)
    def set_limits(self, pid: str, mentees: int | str | None, mentors: int | str | None) -> None:
        given = {
            name: value for name, value in (("max_mentees", mentees), ("max_mentors", mentors)) if value != "absent"
        }
        if not given:
            return
        record = self.records[pid]
        before = (record.max_mentees, record.max_mentors)
        expected = (given.get("max_mentees", before[0]), given.get("max_mentors", before[1]))
        changed = places.set_limits(record, SetLimitsInput.model_validate(given), self.tick())
        assert (record.max_mentees, record.max_mentors) == expected
        assert changed == (expected != before)

    @invariant()
    def records_match_the_model(self) -> None:
        for pid, record in self.records.items():
            for role in Role:
                assert {p.key for p in record.places if p.role is role} == self.held(pid, role), (pid, role)
            keys = [p.key for p in record.places]
            assert len(keys) == len(set(keys)), f"{pid} holds a place twice"
            assert counters_add_up(record), record
            for role in Role:
                free = record.free_as(role)
                limit = record.limit_as(role)
                assert free == (None if limit is None else max(0, limit - record.open_as(role)))
            values = places.availability(record)
            assert (places.TAKES_MENTEES in values) == (record.free_as_mentor != 0)
            assert (places.TAKES_MENTORS in values) == (record.free_as_mentee != 0)
            assert (places.AT_LIMIT in values) == record.at_limit

    def teardown(self) -> None:
        SEEN["grants"] += self.grants
        SEEN["refusals"] += self.refusals
        SEEN["at a limit"] += sum(1 for r in self.records.values() if r.at_limit)
        reliability.report(
            "properties: places (pure)",
            inputs_tried=self.steps,
            inputs_refused=self.refusals,
            note=f"random take/release/reclaim/set_limits over {len(PEOPLE)} people: "
            + ", ".join(f"{what} {count}" for what, count in sorted(SEEN.items())),
        )


SEEN: Counter[str] = Counter()

PlacesMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_random_takes_releases_and_limits_never_exceed_a_limit = PlacesMachine.TestCase
