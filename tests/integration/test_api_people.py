"""People's limits over HTTP, against the real dev server and the project's worker (uvicorn on loopback).

PUT /people/{person_id}/limits and GET /people/{person_id} as a service uses them; their errors (401 before the
body is read, 422 naming the field, 404 without a record); and what a limit does to the mentorship routes: an
invitation or an acceptance refused for want of a place is 409 with the reason, and nothing changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from devtools.mailsink import MailSink
from tests.support.api import API_KEY, RunningApi, running_api
from tests.support.builders import apart_from_deliveries, new_tag
from workflows.contract import PERSON_WORKFLOW_TYPE, Role, workflow_id_for


@pytest_asyncio.fixture
async def api(dev_env: WorkflowEnvironment, mail_sink: MailSink) -> AsyncIterator[RunningApi]:
    async with running_api(dev_env.client, mail_sink) as running:
        yield running


def person(person_id: str, name: str) -> dict[str, str]:
    return {"id": person_id, "name": name, "email": f"{person_id}@example.com"}


def between(mentor: dict[str, str], mentee: dict[str, str], initiated_by: Role = Role.MENTEE) -> dict[str, Any]:
    return {"mentor": mentor, "mentee": mentee, "initiated_by": initiated_by.value}


async def test_limits_are_set_and_read(api: RunningApi) -> None:
    ana = f"ana-{new_tag()}"
    # No record yet: 404 with the Problem shape.
    response = await api.http.get(f"/people/{ana}")
    assert response.status_code == 404, response.text
    assert response.json() == {
        "detail": f"no record of {ana!r}: no limits set and no mentorship of theirs accepted yet",
        "errors": [],
    }

    response = await api.http.put(f"/people/{ana}/limits", json={"max_mentees": 2})
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["person_id"] == ana
    assert (record["max_mentees"], record["max_mentors"]) == (2, None)
    assert (record["open_as_mentor"], record["free_as_mentor"], record["free_as_mentee"]) == (0, 2, None)
    assert record["at_limit"] is False and record["places"] == [] and record["limits_changed_at"] is not None

    # null removes a limit; 0 is "not taking any now".
    record = (await api.http.put(f"/people/{ana}/limits", json={"max_mentees": 2, "max_mentors": 0})).json()
    assert (record["max_mentees"], record["max_mentors"], record["at_limit"]) == (2, 0, True)
    record = (await api.http.put(f"/people/{ana}/limits", json={"max_mentees": None, "max_mentors": 1})).json()
    assert (record["max_mentees"], record["max_mentors"], record["free_as_mentor"]) == (None, 1, None)

    read = await api.http.get(f"/people/{ana}")
    assert read.status_code == 200 and apart_from_deliveries(read.json()) == apart_from_deliveries(record)
    assert read.headers["Cache-Control"] == "no-store"


async def test_a_limit_left_out_keeps_its_value(api: RunningApi) -> None:
    ana = f"ana-{new_tag()}"
    await api.http.put(f"/people/{ana}/limits", json={"max_mentees": 2, "max_mentors": 1})
    record = (await api.http.put(f"/people/{ana}/limits", json={"max_mentors": 0})).json()
    assert (record["max_mentees"], record["max_mentors"]) == (2, 0)
    record = (await api.http.put(f"/people/{ana}/limits", json={"max_mentees": None})).json()
    assert (record["max_mentees"], record["max_mentors"]) == (None, 0)


@pytest.mark.parametrize(
    ("limits", "field", "reason"),
    [
        ({"max_mentees": -1}, "max_mentees", "Input should be greater than or equal to 0"),
        ({"max_mentees": 101}, "max_mentees", "Input should be less than or equal to 100"),
        ({"max_mentors": 1.5}, "max_mentors", "Input should be a valid integer"),
        ({"max_mentees": "2"}, "max_mentees", "Input should be a valid integer"),
        ({"max_mentees": True}, "max_mentees", "Input should be a valid integer"),
        ({"max_mentees": 2, "max_menteees": 3}, "max_menteees", "Extra inputs are not permitted"),
        ({}, "input", "give max_mentees, max_mentors or both (null removes a limit)"),
        ([2], "input", "Input should be a valid dictionary or object to extract fields from"),
    ],
)
async def test_bad_limits_are_422_naming_the_field_and_change_nothing(
    api: RunningApi, limits: Any, field: str, reason: str
) -> None:
    ana = f"ana-{new_tag()}"
    await api.http.put(f"/people/{ana}/limits", json={"max_mentees": 3})
    response = await api.http.put(f"/people/{ana}/limits", json=limits)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [{"field": field, "reason": reason}]
    assert response.json()["detail"] == f"{field}: {reason}"
    record = (await api.http.get(f"/people/{ana}")).json()
    assert (record["max_mentees"], record["max_mentors"]) == (3, None)
    # Nor does a refused first call start a record.
    fresh = f"fresh-{new_tag()}"
    assert (await api.http.put(f"/people/{fresh}/limits", json=limits)).status_code == 422
    assert (await api.http.get(f"/people/{fresh}")).status_code == 404


@pytest.mark.parametrize("person_id", ["a--b", "-ana", "ana.", "ana b", "ana%0Ab", "x" * 65, "ana@example.com"])
async def test_an_invalid_person_id_is_422_naming_it(api: RunningApi, person_id: str) -> None:
    for method, path, payload in (
        ("PUT", f"/people/{person_id}/limits", {"max_mentees": 1}),
        ("GET", f"/people/{person_id}", None),
    ):
        response = await api.http.request(method, path, json=payload)
        assert response.status_code == 422, (method, path, response.text)
        (error,) = response.json()["errors"]
        assert error["field"] == "person_id", response.text


async def test_people_need_a_key_before_the_body_is_read(api: RunningApi) -> None:
    ana = f"ana-{new_tag()}"
    async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as anonymous:
        for headers in ({}, {"Authorization": "Bearer wrong-key-0123456789"}, {"Authorization": f"Basic {API_KEY}"}):
            for method, path, payload in (
                ("PUT", f"/people/{ana}/limits", {"max_mentees": 1}),
                ("PUT", f"/people/{ana}/limits", {"nonsense": True}),
                ("GET", f"/people/{ana}", None),
                ("GET", "/people/not--valid", None),
            ):
                response = await anonymous.request(method, path, json=payload, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.text)
                assert response.headers["WWW-Authenticate"] == "Bearer"
                assert response.json() == {
                    "detail": "a valid API key is required: 'Authorization: Bearer <key>'",
                    "errors": [],
                }
    # Nothing was set by any of those.
    assert (await api.http.get(f"/people/{ana}")).status_code == 404
    # The key is checked before the body is read: a 100 MB body announced and barely begun gets its 401 at once.
    host, port = api.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        head = f"PUT /people/{ana}/limits HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        writer.write(f"{head}Content-Length: {100 * 1024 * 1024}\r\n\r\n".encode() + b"x" * 1024)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
        assert int(status_line.split()[1]) == 401
    finally:
        writer.close()
    # With a key, hostile bodies are a 4xx Problem, never a 5xx.
    for hostile in (b"[" * 20000 + b"]" * 20000, b'{"max_mentees": ' + b"9" * 5000 + b"}", b"\xff\xfe{}", b"\x00"):
        response = await api.http.put(
            f"/people/{ana}/limits", content=hostile, headers={"Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500 and isinstance(response.json()["detail"], str), response.text


async def test_no_free_place_is_409_with_the_reason_for_invitations_and_acceptances(api: RunningApi) -> None:
    tag = new_tag()
    ana, ben, cem, dee = (
        person(f"ana-{tag}", "Ana Ruiz"),
        person(f"ben-{tag}", "Ben Ode"),
        person(f"cem-{tag}", "Cem Aksoy"),
        person(f"dee-{tag}", "Dee Park"),
    )
    assert (await api.http.put(f"/people/{ana['id']}/limits", json={"max_mentees": 1})).status_code == 200
    with_ben, with_cem = workflow_id_for(ana["id"], ben["id"]), workflow_id_for(ana["id"], cem["id"])
    for mentee in (ben, cem):
        created = await api.http.post("/mentorships", json=between(ana, mentee))
        assert created.status_code == 200 and created.json()["stage"] == "invited", created.text
    accepted = await api.http.post(f"/mentorships/{with_ben}/accept", json={"by": ana["id"]})
    assert accepted.status_code == 200 and accepted.json()["stage"] == "active", accepted.text
    reason = "Ana Ruiz already mentors 1 person, their limit"

    # The acceptance (an action route) is refused with the reason; the invitation stays open.
    refused = await api.http.post(f"/mentorships/{with_cem}/accept", json={"by": ana["id"], "note": "Gladly"})
    assert refused.status_code == 409, refused.text
    assert refused.json() == {"detail": reason, "errors": []}
    current = (await api.http.get(f"/mentorships/{with_cem}")).json()
    assert current["stage"] == "invited" and current["holds_places"] is False
    assert current["timeline"][-1]["event"] == "acceptance refused" and current["timeline"][-1]["detail"] == reason

    # A new invitation is refused before anything starts, from either side...
    for initiated_by in (Role.MENTEE, Role.MENTOR):
        response = await api.http.post("/mentorships", json=between(ana, dee, initiated_by))
        assert response.status_code == 409 and response.json() == {"detail": reason, "errors": []}, response.text
    assert (await api.http.get(f"/mentorships/{workflow_id_for(ana['id'], dee['id'])}")).status_code == 404
    # ... and so is a mutual one (Ana invites Cem back): it would make the mentorship active.
    response = await api.http.post("/mentorships", json=between(ana, cem, Role.MENTOR))
    assert response.status_code == 409 and response.json()["detail"] == reason
    assert (await api.http.get(f"/mentorships/{with_cem}")).json()["stage"] == "invited"

    # The record says why; once her limit is raised, the same acceptance goes through.
    record = (await api.http.get(f"/people/{ana['id']}")).json()
    assert (record["open_as_mentor"], record["free_as_mentor"], record["at_limit"]) == (1, 0, True)
    assert [p["workflow_id"] for p in record["places"]] == [with_ben] and record["refusals"] >= 1
    await api.http.put(f"/people/{ana['id']}/limits", json={"max_mentees": 2})
    accepted = await api.http.post(f"/mentorships/{with_cem}/accept", json={"by": ana["id"]})
    assert accepted.status_code == 200 and accepted.json()["stage"] == "active", accepted.text

    # On the mentee's side: Dee takes one mentor at most.
    await api.http.put(f"/people/{dee['id']}/limits", json={"max_mentors": 1})
    await api.http.post("/mentorships", json=between(ben, dee, Role.MENTEE))
    await api.http.post("/mentorships", json=between(cem, dee, Role.MENTEE))
    first = await api.http.post(f"/mentorships/{workflow_id_for(ben['id'], dee['id'])}/accept", json={"by": ben["id"]})
    assert first.status_code == 200, first.text
    second = await api.http.post(f"/mentorships/{workflow_id_for(cem['id'], dee['id'])}/accept", json={"by": cem["id"]})
    assert second.status_code == 409 and second.json()["detail"] == "Dee Park already has 1 mentor, their limit"


async def test_a_record_that_cannot_be_read_is_409(api: RunningApi, dev_env: WorkflowEnvironment) -> None:
    # A Person workflow started by a caller that is not ours, under a wrong id: it fails at once with the reason.
    odd = f"odd-{new_tag()}"
    handle = await dev_env.client.start_workflow(
        PERSON_WORKFLOW_TYPE, {"person_id": "someone-else"}, id=f"person-{odd}", task_queue=api.task_queue
    )
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    response = await api.http.get(f"/people/{odd}")
    assert response.status_code == 409, response.text
    assert response.json()["detail"].startswith("the person's record cannot be read: a Person workflow's id is")
    # Setting limits starts a record of their own in its place.
    response = await api.http.put(f"/people/{odd}/limits", json={"max_mentees": 1})
    assert response.status_code == 200 and response.json()["max_mentees"] == 1, response.text
    assert (await api.http.get(f"/people/{odd}")).json()["max_mentees"] == 1


async def test_the_schema_documents_the_people_routes(api: RunningApi) -> None:
    schema = (await api.http.get("/openapi.json")).json()
    put = schema["paths"]["/people/{person_id}/limits"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/SetLimitsInput")
    get = schema["paths"]["/people/{person_id}"]["get"]
    for operation, codes in ((put, {"200", "401", "409", "422", "503", "504"}), (get, {"200", "401", "404", "422"})):
        assert codes <= operation["responses"].keys(), operation["responses"].keys()
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/PersonStatus")
        assert operation["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/Problem")
        assert operation["security"] == [{"HTTPBearer": []}]
        (parameter,) = operation["parameters"]
        assert parameter["name"] == "person_id" and parameter["schema"]["maxLength"] == 64
    status = schema["components"]["schemas"]["PersonStatus"]["properties"]
    assert {"open_as_mentor", "open_as_mentee", "free_as_mentor", "free_as_mentee", "at_limit"} <= status.keys()
    limits = schema["components"]["schemas"]["SetLimitsInput"]
    assert limits["additionalProperties"] is False
    assert limits["properties"]["max_mentees"]["anyOf"][0] == {"type": "integer", "minimum": 0, "maximum": 100}
    create = schema["paths"]["/mentorships"]["post"]["responses"]["409"]["description"]
    assert "no free place" in create
