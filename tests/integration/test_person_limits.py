"""Per-person limits on the real dev server: acceptances racing for a person's last place, from both sides, with
mutual invitations, early refusals, places given back and places taken back from a terminated mentorship."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

import mentorship_client
import starter
from devtools.mailsink import MailSink
from tests.support.api import running_api
from tests.support.builders import invitation, new_tag
from tests.support.temporal import running_worker
from tests.support.waiting import wait_status
from workflows.contract import NO_FREE_PLACE, Invitation, MentorshipStatus, Role, Stage


@pytest_asyncio.fixture
async def live(dev_env: WorkflowEnvironment, mail_sink: MailSink) -> AsyncIterator[tuple[Client, str]]:
    async with running_worker(dev_env.client, mail_sink) as task_queue:
        yield dev_env.client, task_queue


def person(person_id: str, name: str) -> dict[str, str]:
    return {"id": person_id, "name": name, "email": f"{person_id}@example.com"}


def between(mentor: dict[str, str], mentee: dict[str, str], initiated_by: Role) -> Invitation:
    return invitation(mentor=mentor, mentee=mentee, initiated_by=initiated_by, coordinator=None)


def settled(current: MentorshipStatus) -> bool:
    """Accepted, or its acceptance refused (recorded in the timeline)."""
    return current.stage is Stage.ACTIVE or any(e.event == "acceptance refused" for e in current.timeline)


async def accept(client: Client, workflow_id: str, by: str, as_update: bool) -> str | None:
    """Accept by update (answers the refusal's reason, or None) or by signal (None: read the outcome later)."""
    if not as_update:
        await mentorship_client.send(client, workflow_id, "accept", {"by": by})
        return None
    try:
        await mentorship_client.act(client, workflow_id, "accept", {"by": by})
    except WorkflowUpdateFailedError as err:
        assert isinstance(err.cause, ApplicationError) and err.cause.type == NO_FREE_PLACE
        return err.cause.message
    return None


async def test_a_mentor_with_room_for_two_accepts_ten_at_once(live: tuple[Client, str]) -> None:
    client, task_queue = live
    tag = new_tag()
    ana = person(f"ana-{tag}", "Ana Ruiz")
    await mentorship_client.set_limits(client, ana["id"], {"max_mentees": 2}, task_queue=task_queue)
    mentees = [person(f"mentee{i}-{tag}", f"Mentee {i}") for i in range(10)]
    invited = [
        await mentorship_client.invite(client, between(ana, mentee, Role.MENTEE), task_queue=task_queue)
        for mentee in mentees
    ]
    reasons = await asyncio.gather(
        *(accept(client, current.workflow_id, ana["id"], as_update=i % 2 == 0) for i, current in enumerate(invited))
    )
    finals = [
        await wait_status(client.get_workflow_handle(c.workflow_id), settled, "accepted or refused") for c in invited
    ]
    active = [c for c in finals if c.stage is Stage.ACTIVE]
    assert len(active) == 2
    refused = [c for c in finals if c.stage is Stage.INVITED]
    assert len(refused) == 8
    for current in refused:
        entry = next(e for e in current.timeline if e.event == "acceptance refused")
        assert entry.detail == "Ana Ruiz already mentors 2 people, their limit"
    assert all(r == "Ana Ruiz already mentors 2 people, their limit" for r in reasons if r is not None)
    record = await mentorship_client.person_status(client, ana["id"])
    assert record is not None
    assert record.open_as_mentor == 2 and record.free_as_mentor == 0 and record.at_limit
    assert {p.workflow_id for p in record.places} == {c.workflow_id for c in active}

    # One of the two withdraws: exactly one more acceptance succeeds.
    await mentorship_client.act(client, active[0].workflow_id, "withdraw", {"by": ana["id"]})
    await _wait_person(client, ana["id"], lambda r: r.open_as_mentor == 1)
    outcomes = await asyncio.gather(*(accept(client, c.workflow_id, ana["id"], as_update=True) for c in refused))
    assert sum(1 for outcome in outcomes if outcome is None) == 1
    record = await mentorship_client.person_status(client, ana["id"])
    assert record is not None and record.open_as_mentor == 2 and record.places_released == 1


async def test_a_mentee_with_room_for_one_mentor(live: tuple[Client, str]) -> None:
    client, task_queue = live
    tag = new_tag()
    ben = person(f"ben-{tag}", "Ben Ode")
    await mentorship_client.set_limits(client, ben["id"], {"max_mentors": 1}, task_queue=task_queue)
    mentors = [person(f"mentor{i}-{tag}", f"Mentor {i}") for i in range(4)]
    invited = [
        await mentorship_client.invite(client, between(mentor, ben, Role.MENTOR), task_queue=task_queue)
        for mentor in mentors
    ]
    reasons = await asyncio.gather(*(accept(client, c.workflow_id, ben["id"], as_update=True) for c in invited))
    assert sum(1 for reason in reasons if reason is None) == 1
    assert sorted(r for r in reasons if r is not None) == ["Ben Ode already has 1 mentor, their limit"] * 3
    # Early refusal: a new invitation to or from Ben starts nothing.
    newcomer = person(f"mentor9-{tag}", "Mentor 9")
    with pytest.raises(mentorship_client.NoFreePlace, match="Ben Ode already has 1 mentor, their limit"):
        await mentorship_client.invite(client, between(newcomer, ben, Role.MENTEE), task_queue=task_queue)
    assert await _exists(client, f"mentorship-{newcomer['id']}--{ben['id']}") is False


async def test_a_mutual_invitation_with_a_full_person_is_refused_and_starts_nothing_twice(
    live: tuple[Client, str],
) -> None:
    client, task_queue = live
    tag = new_tag()
    ana, ben, cem = person(f"ana-{tag}", "Ana Ruiz"), person(f"ben-{tag}", "Ben Ode"), person(f"cem-{tag}", "Cem")
    first = await mentorship_client.invite(client, between(ana, ben, Role.MENTEE), task_queue=task_queue)
    second = await mentorship_client.invite(client, between(ana, cem, Role.MENTEE), task_queue=task_queue)
    await mentorship_client.act(client, first.workflow_id, "accept", {"by": ana["id"]})
    await mentorship_client.set_limits(client, ana["id"], {"max_mentees": 1}, task_queue=task_queue)
    # Ana invites Cem back: both agree, but Ana has no free place. The client refuses before anything starts...
    with pytest.raises(mentorship_client.NoFreePlace, match="Ana Ruiz already mentors 1 person, their limit"):
        await mentorship_client.invite(client, between(ana, cem, Role.MENTOR), task_queue=task_queue)
    # ... and the workflow itself refuses the same invitation sent by a caller that skips the check.
    handle = client.get_workflow_handle(second.workflow_id)
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update("invite", between(ana, cem, Role.MENTOR))
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.message == "Ana Ruiz already mentors 1 person, their limit"
    current = await mentorship_client.status(client, second.workflow_id)
    assert current.stage is Stage.INVITED and not current.holds_places
    # Her limit raised, the same mutual invitation makes it active; invited once, started once.
    await mentorship_client.set_limits(client, ana["id"], {"max_mentees": 2}, task_queue=task_queue)
    current = await mentorship_client.invite(client, between(ana, cem, Role.MENTOR), task_queue=task_queue)
    assert current.stage is Stage.ACTIVE and current.holds_places
    runs = [e async for e in client.list_workflows(f"WorkflowId = '{second.workflow_id}'")]
    assert len(runs) == 1


async def test_a_terminated_mentorship_gives_its_place_back_when_it_is_needed(live: tuple[Client, str]) -> None:
    client, task_queue = live
    tag = new_tag()
    ana, ben, cem = person(f"ana-{tag}", "Ana Ruiz"), person(f"ben-{tag}", "Ben Ode"), person(f"cem-{tag}", "Cem")
    await mentorship_client.set_limits(client, ana["id"], {"max_mentees": 1}, task_queue=task_queue)
    first = await mentorship_client.invite(client, between(ana, ben, Role.MENTEE), task_queue=task_queue)
    await mentorship_client.act(client, first.workflow_id, "accept", {"by": ana["id"]})
    # Terminated: it never gives its place back itself.
    await client.get_workflow_handle(first.workflow_id).terminate(reason="test: an operator's mistake")
    # Ana looks full, but her place is free in truth: the invitation goes, and the acceptance takes it back.
    second = await mentorship_client.invite(client, between(ana, cem, Role.MENTOR), task_queue=task_queue)
    current = await mentorship_client.act(client, second.workflow_id, "accept", {"by": cem["id"]})
    assert current.stage is Stage.ACTIVE
    record = await mentorship_client.person_status(client, ana["id"])
    assert record is not None
    assert [p.workflow_id for p in record.places] == [second.workflow_id] and record.places_reclaimed == 1


async def test_ending_gives_both_places_back_once(live: tuple[Client, str]) -> None:
    client, task_queue = live
    tag = new_tag()
    ana, ben = person(f"ana-{tag}", "Ana Ruiz"), person(f"ben-{tag}", "Ben Ode")
    current = await mentorship_client.invite(client, between(ana, ben, Role.MENTEE), task_queue=task_queue)
    current = await mentorship_client.act(client, current.workflow_id, "accept", {"by": ana["id"]})
    assert current.holds_places
    for who, role in ((ana, Role.MENTOR), (ben, Role.MENTEE)):
        record = await mentorship_client.person_status(client, who["id"])
        assert record is not None and record.open_as(role) == 1
    await mentorship_client.act(client, current.workflow_id, "withdraw", {"by": ben["id"]})
    result = MentorshipStatus.model_validate(await client.get_workflow_handle(current.workflow_id).result())
    assert not result.holds_places
    for who in (ana, ben):
        record = await mentorship_client.person_status(client, who["id"])
        assert record is not None and record.places == [] and record.places_released == 1


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        ({"max_mentees": -1}, "max_mentees: Input should be greater than or equal to 0"),
        ({"max_mentees": 101}, "max_mentees: Input should be less than or equal to 100"),
        ({"max_mentees": 1.5}, "max_mentees: Input should be a valid integer"),
        ({"max_mentees": "2"}, "max_mentees: Input should be a valid integer"),
        ({"max_mentees": 2, "max_menteees": 3}, "max_menteees: Extra inputs are not permitted"),
        ({}, "give max_mentees, max_mentors or both"),
    ],
)
async def test_bad_limits_are_refused_and_change_nothing(
    live: tuple[Client, str], limits: dict[str, Any], reason: str
) -> None:
    client, task_queue = live
    ana_id = f"ana-{new_tag()}"
    await mentorship_client.set_limits(client, ana_id, {"max_mentees": 3}, task_queue=task_queue)
    handle = client.get_workflow_handle(f"person-{ana_id}")
    # Once the limits' event is out (its delivery writes to the history when it completes).
    await _wait_person(client, ana_id, lambda record: record.webhooks.pending == 0)
    before = len((await handle.fetch_history()).events)
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update("set_limits", limits)
    assert isinstance(caught.value.cause, ApplicationError) and reason in caught.value.cause.message
    assert len((await handle.fetch_history()).events) == before
    record = await mentorship_client.person_status(client, ana_id)
    assert record is not None and (record.max_mentees, record.max_mentors) == (3, None)


async def _wait_person(client: Client, person_id: str, predicate: Any, within: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        record = await mentorship_client.person_status(client, person_id)
        if record is not None and predicate(record):
            return
        assert loop.time() < deadline, f"{person_id}'s record never got there: {record}"
        await asyncio.sleep(0.1)


async def _exists(client: Client, workflow_id: str) -> bool:
    return bool([e async for e in client.list_workflows(f"WorkflowId = '{workflow_id}'")])


async def test_ten_acceptances_at_once_through_every_door(
    dev_env: WorkflowEnvironment, mail_sink: MailSink, capsys: pytest.CaptureFixture[str]
) -> None:
    """The race of the first test with every way in at once: the Python client (updates and signals), the HTTP
    API and the command line (in process), all acting for Ana, who mentors two people at most."""
    client = dev_env.client
    async with running_api(client, mail_sink) as api:
        tag = new_tag()
        ana = person(f"ana-{tag}", "Ana Ruiz")
        limits = await api.http.put(f"/people/{ana['id']}/limits", json={"max_mentees": 2})
        assert limits.status_code == 200, limits.text
        mentees = [person(f"mentee{i}-{tag}", f"Mentee {i}") for i in range(10)]
        invited = [
            (await mentorship_client.invite(client, between(ana, mentee, Role.MENTEE), task_queue=api.task_queue))
            for mentee in mentees
        ]
        reason = "Ana Ruiz already mentors 2 people, their limit"
        doors = ("update", "signal", "http", "cli")

        async def accept_through(door: str, workflow_id: str) -> str:
            """'accepted', 'refused' (with the reason checked where the door answers one) or 'sent' (a signal)."""
            if door in ("update", "signal"):
                refused = await accept(client, workflow_id, ana["id"], as_update=door == "update")
                if door == "signal":
                    return "sent"
                assert refused in (None, reason)
                return "accepted" if refused is None else "refused"
            if door == "http":
                response = await api.http.post(f"/mentorships/{workflow_id}/accept", json={"by": ana["id"]})
                if response.status_code == 200:
                    return "accepted"
                assert response.status_code == 409 and response.json()["detail"] == reason, response.text
                return "refused"
            code = await starter.run_cli(["accept", workflow_id, "--by", ana["id"]], client=client)
            assert code in (0, starter.NO_FREE_PLACE_EXIT), code
            return "accepted" if code == 0 else "refused"

        def check_cli_output(outcomes: list[tuple[str, str]]) -> None:
            err = capsys.readouterr().err
            refused_by_cli = sum(1 for door, outcome in outcomes if door == "cli" and outcome == "refused")
            assert err.splitlines() == [f"refused: {reason}"] * refused_by_cli

        capsys.readouterr()
        first_doors = [doors[i % len(doors)] for i in range(len(invited))]
        outcomes = await asyncio.gather(
            *(accept_through(door, c.workflow_id) for door, c in zip(first_doors, invited, strict=True))
        )
        check_cli_output(list(zip(first_doors, outcomes, strict=True)))
        finals = [
            await wait_status(client.get_workflow_handle(c.workflow_id), settled, "accepted or refused")
            for c in invited
        ]
        for outcome, final in zip(outcomes, finals, strict=True):
            # What each door answered is what happened.
            if outcome != "sent":
                assert (final.stage is Stage.ACTIVE) == (outcome == "accepted"), (outcome, final.stage)
        active = [c for c in finals if c.stage is Stage.ACTIVE]
        refused = [c for c in finals if c.stage is Stage.INVITED]
        assert len(active) == 2 and len(refused) == 8
        for current in refused:
            assert [e.detail for e in current.timeline if e.event == "acceptance refused"] == [reason]
        record = (await api.http.get(f"/people/{ana['id']}")).json()
        assert (record["open_as_mentor"], record["free_as_mentor"], record["at_limit"]) == (2, 0, True)
        assert {p["workflow_id"] for p in record["places"]} == {c.workflow_id for c in active}

        # One of the two withdraws: exactly one more acceptance succeeds, whichever door it came through.
        withdrawn = await api.http.post(f"/mentorships/{active[0].workflow_id}/withdraw", json={"by": ana["id"]})
        assert withdrawn.status_code == 200, withdrawn.text
        await _wait_person(client, ana["id"], lambda r: r.open_as_mentor == 1)
        refusals_before = {c.workflow_id: _refusals(c) for c in refused}
        second_doors = [doors[i % len(doors)] for i in range(len(refused))]
        outcomes = await asyncio.gather(
            *(accept_through(door, c.workflow_id) for door, c in zip(second_doors, refused, strict=True))
        )
        check_cli_output(list(zip(second_doors, outcomes, strict=True)))

        def answered(current: MentorshipStatus) -> bool:
            return current.stage is Stage.ACTIVE or _refusals(current) > refusals_before[current.workflow_id]

        finals = [
            await wait_status(client.get_workflow_handle(c.workflow_id), answered, "accepted or refused again")
            for c in refused
        ]
        for outcome, final in zip(outcomes, finals, strict=True):
            if outcome != "sent":
                assert (final.stage is Stage.ACTIVE) == (outcome == "accepted"), (outcome, final.stage)
        assert sum(1 for final in finals if final.stage is Stage.ACTIVE) == 1
        assert all(_refusals(f) == 2 for f in finals if f.stage is Stage.INVITED)
        record = (await api.http.get(f"/people/{ana['id']}")).json()
        assert (record["open_as_mentor"], record["free_as_mentor"], record["places_released"]) == (2, 0, 1)
        assert {p["workflow_id"] for p in record["places"]} == {
            active[1].workflow_id,
            *(f.workflow_id for f in finals if f.stage is Stage.ACTIVE),
        }


def _refusals(current: MentorshipStatus) -> int:
    return sum(1 for entry in current.timeline if entry.event == "acceptance refused")
