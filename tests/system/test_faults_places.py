"""Per-person limits under a worker SIGKILL, against the real thing: the dev server on an SQLite file and worker
processes started as deployed (``python worker.py``), as in tests/system/test_faults.py.

Three mentors take at most two mentees each; twelve mentees invite two of them each (half of the mentees want at
most one mentor), so every mentor has eight invitations and many mentees two. All 24 agreements are sent at once,
by four routes (the ``accept`` update and signal, the other side's ``invite`` update and signal), and the worker
is SIGKILLed in the middle of the burst; a new worker process takes over.

- While it runs, the mentorships are watched (their stage as the server keeps it, and their status queries when
  a worker answers): at no observed moment has a mentor more active or paused mentorships than their limit, nor a
  mentee more mentors than theirs.
- Once every agreement is settled (accepted, or refused with the reason), every Person record holds exactly the
  places of the mentorships that say they hold them (by key, workflow id and role), and the answers the updates
  gave agree with the mentorships' statuses.
- Then every mentorship is withdrawn: each gives its places back, and every Person record shows none open, its
  counters adding up.

A second test kills the worker in the middle of a person's check of its places: the check is retried after its
heartbeat timeout (10 s), so that person's refusals are not stalled for the check's whole 2-minute timeout.

Every wait is on a condition with a deadline. Figures go to ``tests.support.reliability``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

import mentorship_client
from tests.support.builders import new_tag
from tests.support.faults import FaultStack, fault_stack
from tests.support.places import Limits, engaged, engaged_of, over_limits, record_mismatches
from tests.support.reliability import report
from tests.support.waiting import until
from workflows import search_attributes as sa
from workflows.contract import (
    FIND_ENDED_PLACES,
    NO_FREE_PLACE,
    TAKE_PLACES,
    AcceptInput,
    ActionAnswer,
    Invitation,
    MentorshipStatus,
    PersonStatus,
    Role,
    Stage,
    person_workflow_id,
    workflow_id_for,
)

pytestmark = pytest.mark.faults

MENTORS = 3
MENTEES = 12
MAX_MENTEES = 2  # each mentor's limit
# Settling after the kill waits for the take_places attempts the dead worker held: retried once their 30 s
# start-to-close timeout runs out. A person's check of its places cut off by the kill is retried after its
# heartbeat timeout (the second test), and their refusals wait for it.
SETTLE_WITHIN = 210.0
WATCH_EVERY = 0.2
# How long after the first places are asked for the kill waits, at most, for a moment without a check under way.
KILL_WAIT = 3.0


class Route(StrEnum):
    """How the invitee agrees."""

    ACCEPT_UPDATE = "accept update"
    ACCEPT_SIGNAL = "accept signal"
    INVITE_UPDATE = "invite update"  # the other side invites back: agreement by both
    INVITE_SIGNAL = "invite signal"


ACCEPTED = "accepted"
SENT = "sent"


@dataclass(frozen=True)
class Pairing:
    invitation: Invitation
    route: Route

    @property
    def workflow_id(self) -> str:
        return workflow_id_for(self.invitation.mentor.id, self.invitation.mentee.id)

    @property
    def invitee_id(self) -> str:
        return self.invitation.person(self.invitation.invitee).id

    @property
    def back(self) -> Invitation:
        """The invitee's own invitation for the same pair: their agreement."""
        return self.invitation.model_copy(update={"initiated_by": self.invitation.invitee})


def cast(tag: str) -> tuple[dict[str, Limits], list[Pairing]]:
    """The people's limits and the 24 pairings: mentee i with mentors i and i+1 (mod 3); each route and each
    initiating side in turn."""

    def person(role: str, number: int) -> dict[str, str]:
        pid = f"{role}{number}-{tag}"
        return {"id": pid, "name": f"{role.capitalize()} {number}", "email": f"{pid}@example.org"}

    limits: dict[str, Limits] = {person("mentor", m)["id"]: (MAX_MENTEES, None) for m in range(MENTORS)}
    limits |= {person("mentee", e)["id"]: (None, 1 if e % 2 == 0 else None) for e in range(MENTEES)}
    routes = list(Route)
    pairings: list[Pairing] = []
    for e in range(MENTEES):
        for m in (e % MENTORS, (e + 1) % MENTORS):
            k = len(pairings)
            invitation = Invitation.model_validate(
                {
                    "mentor": person("mentor", m),
                    "mentee": person("mentee", e),
                    "initiated_by": Role.MENTEE if (k // len(routes)) % 2 == 0 else Role.MENTOR,
                }
            )
            pairings.append(Pairing(invitation, routes[k % len(routes)]))
    return limits, pairings


async def agree(stack: FaultStack, pairing: Pairing) -> str:
    """The invitee's agreement by its route: ACCEPTED, SENT (a signal: read the outcome later), or the reason of
    the refusal (a place)."""
    client, wid = stack.client, pairing.workflow_id
    try:
        if pairing.route is Route.ACCEPT_UPDATE:
            await mentorship_client.act(client, wid, "accept", AcceptInput(by=pairing.invitee_id))
        elif pairing.route is Route.INVITE_UPDATE:
            # Straight to the workflow (mentorship_client.invite would refuse early, before the race).
            await stack.handle(wid).execute_update("invite", pairing.back, result_type=ActionAnswer)
        elif pairing.route is Route.ACCEPT_SIGNAL:
            await mentorship_client.send(client, wid, "accept", AcceptInput(by=pairing.invitee_id))
            return SENT
        else:
            await stack.handle(wid).signal("invite", pairing.back)
            return SENT
    except WorkflowUpdateFailedError as err:
        assert isinstance(err.cause, ApplicationError) and err.cause.type == NO_FREE_PLACE, repr(err.cause)
        return err.cause.message
    return ACCEPTED


def settled(status: MentorshipStatus) -> bool:
    """Accepted (holding its places), or its acceptance refused (recorded) and holding none."""
    if status.stage is Stage.ACTIVE:
        return status.holds_places
    refused = any(e.event == "acceptance refused" for e in status.timeline) or bool(status.refused_signals)
    return status.stage is Stage.INVITED and refused and not status.holds_places


@dataclass
class Watch:
    """Looks at every mentorship again and again while the burst runs: their stage as the server keeps it (the
    search attribute the workflow sets, readable while no worker runs) and, when a worker answers, their status
    queries, and the limited people's records. Counts its looks and every moment someone was over a limit."""

    stack: FaultStack
    pairings: list[Pairing]
    limits: dict[str, Limits]
    looks: int = 0
    queried: int = 0
    broken: list[str] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            await self.look()
            await asyncio.sleep(WATCH_EVERY)

    async def look(self) -> None:
        described = await asyncio.gather(*(self.stack.handle(p.workflow_id).describe() for p in self.pairings))
        stages = [
            (
                p.invitation.mentor.id,
                p.invitation.mentee.id,
                Stage(d.typed_search_attributes.get(sa.STAGE) or "invited"),
            )
            for p, d in zip(self.pairings, described, strict=True)
        ]
        self.note(engaged_of(stages), "stages")
        try:
            statuses = await asyncio.gather(*(self.status(p.workflow_id) for p in self.pairings))
        except (RPCError, TimeoutError):
            return  # No worker answers now: the stages above still count.
        self.queried += 1
        self.note(engaged(statuses), "statuses")
        # The records too: limits do not change here, so no record may ever hold more places than its limit
        # (places being taken for an invitation count as well).
        limited = [pid for pid, limits in self.limits.items() if limits != (None, None)]
        try:
            records = await asyncio.gather(*(self.record(pid) for pid in limited))
        except (RPCError, TimeoutError):
            return
        held: Counter[tuple[str, Role]] = Counter()
        for record in records:
            for place in record.places:
                held[(record.person_id, place.role)] += 1
        self.note(held, "records")

    async def record(self, person_id: str) -> PersonStatus:
        current: PersonStatus = await person_handle(self.stack, person_id).query(
            "status", result_type=PersonStatus, rpc_timeout=timedelta(seconds=2)
        )
        return current

    async def status(self, workflow_id: str) -> MentorshipStatus:
        current: MentorshipStatus = await self.stack.handle(workflow_id).query(
            "status", result_type=MentorshipStatus, rpc_timeout=timedelta(seconds=2)
        )
        return current

    def note(self, counts: Counter[tuple[str, Role]], source: str) -> None:
        self.looks += 1
        self.broken += [f"look {self.looks} ({source}): {wrong}" for wrong in over_limits(counts, self.limits)]


async def statuses_of(stack: FaultStack, pairings: list[Pairing]) -> list[MentorshipStatus]:
    return list(await asyncio.gather(*(mentorship_client.status(stack.client, p.workflow_id) for p in pairings)))


async def records_of(stack: FaultStack, people: list[str]) -> dict[str, PersonStatus | None]:
    records = await asyncio.gather(*(mentorship_client.person_status(stack.client, pid) for pid in people))
    return dict(zip(people, records, strict=True))


async def in_flight(stack: FaultStack, pairings: list[Pairing]) -> int:
    """Mentorships with something not done yet: a pending activity (places being taken) or a workflow task (an
    agreement not handled yet)."""
    described = await asyncio.gather(*(stack.handle(p.workflow_id).describe() for p in pairings))
    return sum(
        1
        for d in described
        if d.raw_description.pending_activities or d.raw_description.HasField("pending_workflow_task")
    )


async def retried_takes(stack: FaultStack, pairings: list[Pairing]) -> int:
    """take_places activities that needed a second attempt (those the dead worker held), from the histories."""

    async def of(pairing: Pairing) -> int:
        types: dict[int, str] = {}
        count = 0
        async for event in stack.handle(pairing.workflow_id).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                types[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                started = event.activity_task_started_event_attributes
                if started.attempt > 1 and types[started.scheduled_event_id] == TAKE_PLACES:
                    count += 1
        return count

    return sum(await asyncio.gather(*(of(p) for p in pairings)))


async def unsettled(stack: FaultStack, pairings: list[Pairing]) -> str:
    """What is not settled yet, for a failure: each such mentorship's stage and pending activities, and the
    people's records with an activity pending."""
    lines = []
    for pairing in pairings:
        status = await mentorship_client.status(stack.client, pairing.workflow_id)
        if settled(status):
            continue
        described = await stack.handle(pairing.workflow_id).describe()
        pending = [
            (a.activity_type.name, a.attempt, a.last_failure.message)
            for a in described.raw_description.pending_activities
        ]
        lines.append(f"{pairing.workflow_id} ({pairing.route}): {status.stage}, pending {pending}")
    people = {p.invitation.mentor.id for p in pairings} | {p.invitation.mentee.id for p in pairings}
    for pid in sorted(people):
        checks = await pending_checks(stack, pid)
        if checks:
            lines.append(f"person-{pid}: {checks}")
    return "\n".join(lines) + "\n" + stack.logs()


def person_handle(stack: FaultStack, person_id: str) -> WorkflowHandle[Any, Any]:
    return stack.client.get_workflow_handle(person_workflow_id(person_id))


async def pending_checks(stack: FaultStack, person_id: str) -> list[str]:
    """The person's record's pending find_ended_places activities, as (attempt, state, started)."""
    described = await person_handle(stack, person_id).describe()
    return [
        f"{a.activity_type.name} attempt {a.attempt} {PendingActivityState.Name(a.state)} since "
        f"{a.last_started_time.ToDatetime():%H:%M:%S}"
        for a in described.raw_description.pending_activities
        if a.activity_type.name == FIND_ENDED_PLACES
    ]


async def settle(stack: FaultStack, pairings: list[Pairing], within: float) -> list[MentorshipStatus]:
    """Every mentorship's status once every agreement is settled; fail after ``within`` seconds saying what is
    not."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        statuses = await statuses_of(stack, pairings)
        if all(settled(s) for s in statuses):
            return statuses
        if loop.time() > deadline:
            raise AssertionError(f"not settled after {within:.0f}s:\n{await unsettled(stack, pairings)}")
        await asyncio.sleep(0.2)


async def test_a_burst_of_acceptances_with_a_worker_sigkilled_never_exceeds_a_limit(tmp_path: Path) -> None:
    limits, pairings = cast(new_tag())
    people = sorted(limits)
    limited = [pid for pid in people if limits[pid] != (None, None)]
    async with fault_stack(tmp_path) as stack:
        client, queue = stack.client, stack.task_queue
        started = time.monotonic()
        for pid in limited:
            max_mentees, max_mentors = limits[pid]
            given = {"max_mentees": max_mentees} if max_mentees is not None else {"max_mentors": max_mentors}
            await mentorship_client.set_limits(client, pid, given, task_queue=queue)
        gate = asyncio.Semaphore(8)

        async def invite(pairing: Pairing) -> None:
            async with gate:
                current = await mentorship_client.invite(client, pairing.invitation, task_queue=queue)
                assert current.stage is Stage.INVITED, current

        await asyncio.gather(*(invite(p) for p in pairings))

        baseline = {
            pid: (await person_handle(stack, pid).describe()).raw_description.workflow_execution_info.history_length
            for pid in limited
        }
        watch = Watch(stack, pairings, limits)
        watcher = asyncio.create_task(watch.run())
        first = stack.workers[0]
        agreements: list[asyncio.Task[str]] = []
        try:
            # The burst: every agreement at once.
            agreements = [asyncio.create_task(agree(stack, p)) for p in pairings]
            burst_at = time.monotonic()

            # Killed as the first places are asked for (a take_place reached a limited person's record: take_places
            # activities are running), preferably at a moment no person's record is checking its places: a check
            # cut off by the kill holds that person's refusals until it is retried (the second test). Refusals,
            # and so checks, start with the first grants: after KILL_WAIT without such a moment, the kill comes all
            # the same (and settling waits out the stall).
            first_asked: list[float] = []

            async def kill_now() -> bool:
                described = await asyncio.gather(*(person_handle(stack, pid).describe() for pid in limited))
                if not first_asked and any(
                    d.raw_description.HasField("pending_workflow_task")
                    or d.raw_description.workflow_execution_info.history_length > baseline[pid]
                    for pid, d in zip(limited, described, strict=True)
                ):
                    first_asked.append(time.monotonic())
                checking = any(
                    a.activity_type.name == FIND_ENDED_PLACES
                    for d in described
                    for a in d.raw_description.pending_activities
                )
                return bool(first_asked) and (not checking or time.monotonic() - first_asked[0] > KILL_WAIT)

            await until(kill_now, "the first places asked for", 30, every=0.01, explain=stack.logs)
            await first.kill()
            killed_at = time.monotonic()
            pending_at_kill = await in_flight(stack, pairings) + sum(1 for a in agreements if not a.done())
            checks = await asyncio.gather(*(pending_checks(stack, pid) for pid in limited))
            checks_cut_off = sum(1 for check in checks for line in check if "STARTED" in line)
            assert pending_at_kill, "the kill came too late: every agreement was settled"
            second = await stack.start_worker()
            polling_after = time.monotonic() - killed_at

            statuses = await settle(stack, pairings, SETTLE_WITHIN)
            settled_in = time.monotonic() - killed_at
            answers = dict(
                zip(
                    (p.workflow_id for p in pairings),
                    await asyncio.wait_for(asyncio.gather(*agreements), 30),
                    strict=True,
                )
            )
            await watch.look()
        finally:
            watcher.cancel()
            for agreement in agreements:
                agreement.cancel()
        assert watch.broken == [], watch.broken

        # The truth after the burst, from the mentorships themselves.
        assert over_limits(engaged(statuses), limits) == []
        active = [s for s in statuses if s.stage is Stage.ACTIVE]
        refused = [s for s in statuses if s.stage is Stage.INVITED]
        assert all(s.holds_places for s in active) and not any(s.holds_places for s in refused)
        for status in statuses:
            answer = answers[status.workflow_id]
            if answer == ACCEPTED:
                assert status.stage is Stage.ACTIVE, (status.workflow_id, status.timeline)
            elif answer != SENT:
                refusals = [e.detail for e in status.timeline if e.event == "acceptance refused"]
                assert status.stage is Stage.INVITED and refusals == [answer], (answer, status.timeline)
        # Every refusal is for want of a place, and says whose limit.
        for status in refused:
            reasons = [e.detail or "" for e in status.timeline if e.event == "acceptance refused"]
            assert len(reasons) == 1 and "their limit" in reasons[0], status.timeline
        records = await records_of(stack, people)
        assert record_mismatches(records, statuses) == []
        for pid, record in records.items():
            assert record is not None, f"{pid} has no record, though their mentorships asked for places"
            assert (record.max_mentees, record.max_mentors) == limits[pid]
        counts = engaged(statuses)
        at_limit = [pid for pid in people if limits[pid][0] is not None and counts[(pid, Role.MENTOR)] == MAX_MENTEES]
        retried = await retried_takes(stack, pairings)

        # Everything ends: the places go back.
        withdrawn_at = time.monotonic()

        async def end(status: MentorshipStatus) -> MentorshipStatus:
            inv = status.invitation
            by = inv.mentor.id if status.stage is Stage.ACTIVE else inv.person(inv.initiated_by).id
            await mentorship_client.act(client, status.workflow_id, "withdraw", {"by": by})
            final: MentorshipStatus = await asyncio.wait_for(stack.handle(status.workflow_id).result(), 30)
            return final

        finals = await asyncio.gather(*(end(s) for s in statuses))
        assert all(f.stage is Stage.WITHDRAWN and not f.holds_places for f in finals)
        records = await records_of(stack, people)
        assert record_mismatches(records, finals) == []
        for pid, record in records.items():
            assert record is not None and record.places == [], (pid, record)
            assert record.places_taken == record.places_released + record.places_reclaimed
        released_in = time.monotonic() - withdrawn_at
        report(
            "faults: worker SIGKILL mid-burst of acceptances (limits)",
            mentorships=len(pairings),
            faults_injected=1,
            inputs_tried=len(pairings),
            inputs_refused=len(refused),
            invalid_states=len(watch.broken),
            note=f"{len(pairings)} agreements at once for {MENTORS} mentors of limit {MAX_MENTEES}, killed "
            f"{killed_at - burst_at:.1f}s into the burst with {pending_at_kill} unsettled ({checks_cut_off} checks "
            f"cut off); new worker polling {polling_after:.1f}s after; {retried} take_places re-run; settled "
            f"{settled_in:.0f}s after the kill: {len(active)} accepted, {len(refused)} refused, mentors at their "
            f"limit {len(at_limit)}/{MENTORS}; {watch.looks} looks ({watch.queried} by query), none over a limit; "
            f"all places back {released_in:.1f}s after the withdrawals (test {time.monotonic() - started:.0f}s)",
        )
        assert second.alive and not first.alive


# --- A person's check of its places cut off by a worker SIGKILL ---------------------------------------------------

# Mentorships holding a place with Ana: her record's check asks each of them (describe and query, one after the
# other), so it runs long enough to be killed in the middle.
HOLDERS = 40
# With a heartbeat timeout like the email activity's (10 s), a check cut off by a kill is retried about 10 s later,
# and a refusal after the restart answers within some 25 s (the dead worker's sticky queues time out first).
STALL_BOUND = 45.0


class Stalled(AssertionError):
    """A refusal after the restart did not answer within STALL_BOUND."""


async def test_a_check_cut_off_by_a_worker_sigkill_does_not_stall_refusals_for_minutes(tmp_path: Path) -> None:
    tag = new_tag()

    def person(name: str, number: int | None = None) -> dict[str, str]:
        pid = f"{name.lower()}{'' if number is None else number}-{tag}"
        return {"id": pid, "name": name if number is None else f"{name} {number}", "email": f"{pid}@example.org"}

    ana = person("Ana")
    invitations = [
        Invitation.model_validate({"mentor": ana, "mentee": person("Mentee", n), "initiated_by": Role.MENTEE})
        for n in range(HOLDERS + 2)
    ]
    async with fault_stack(tmp_path) as stack:
        client, queue = stack.client, stack.task_queue
        gate = asyncio.Semaphore(10)

        async def invite_and_accept(invitation: Invitation, accept: bool) -> str:
            async with gate:
                current = await mentorship_client.invite(client, invitation, task_queue=queue)
                if accept:
                    current = await mentorship_client.act(client, current.workflow_id, "accept", {"by": ana["id"]})
                    assert current.stage is Stage.ACTIVE
                return current.workflow_id

        # Ana, without a limit, mentors HOLDERS people; then her limit drops to 1 (which ends nothing).
        ids = await asyncio.gather(*(invite_and_accept(inv, n < HOLDERS) for n, inv in enumerate(invitations)))
        await mentorship_client.set_limits(client, ana["id"], {"max_mentees": 1}, task_queue=queue)
        refused_before, refused_after = ids[HOLDERS:]

        async def refusal(workflow_id: str) -> str:
            try:
                await mentorship_client.act(client, workflow_id, "accept", {"by": ana["id"]})
            except WorkflowUpdateFailedError as err:
                assert isinstance(err.cause, ApplicationError) and err.cause.type == NO_FREE_PLACE
                return err.cause.message
            raise AssertionError(f"{workflow_id} was accepted over Ana's limit")

        # A refusal makes her record check the places it holds: killed while that check runs.
        first = asyncio.create_task(refusal(refused_before))
        second: asyncio.Task[str] | None = None
        try:

            async def checking() -> bool:
                return any("STARTED" in check for check in await pending_checks(stack, ana["id"]))

            await until(checking, "Ana's record checking its places", 30, every=0.01, explain=stack.logs)
            await stack.workers[0].kill()
            killed_at = time.monotonic()
            assert await checking(), "the check ended before the kill"
            await stack.start_worker()
            second = asyncio.create_task(refusal(refused_after))
            done, _ = await asyncio.wait({second}, timeout=STALL_BOUND)
            if not done:
                raise Stalled(
                    f"no answer {time.monotonic() - killed_at:.0f}s after the kill; Ana's record still waits for "
                    f"{await pending_checks(stack, ana['id'])}"
                )
            assert second.result() == f"Ana already mentors {HOLDERS} people, their limit"
        finally:
            for task in (first, second):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
