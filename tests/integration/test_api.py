"""The HTTP API against the real dev server and the project's worker, over real HTTP (uvicorn on loopback).

A whole mentorship through the API alone, as a service without a Temporal SDK would run it; who may call; and
every kind of error a caller meets: 401 without a key, 422 naming the field, 403 for a stranger, 409 with the
workflow's reason, 404 for an unknown mentorship, 503 when Temporal cannot be reached.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from api.main import ApiConfigError, create_app
from devtools.mailsink import MailSink, free_port
from infra.settings import Settings
from tests.support import ROOT
from tests.support.api import API_KEY, OTHER_API_KEY, RunningApi, running_api
from tests.support.builders import people
from tests.support.waiting import wait_mail
from workflows.actions import PARTICIPANT_ACTIONS
from workflows.contract import Invitation, Role, workflow_id_for


@pytest_asyncio.fixture
async def api(dev_env: WorkflowEnvironment, mail_sink: MailSink) -> AsyncIterator[RunningApi]:
    async with running_api(dev_env.client, mail_sink) as running:
        yield running


def body(invitation: Invitation) -> dict[str, Any]:
    return invitation.model_dump(mode="json", exclude_none=True)


async def listed(api: RunningApi, params: dict[str, str], workflow_id: str, present: bool = True) -> dict[str, Any]:
    """The list answer once the workflow is in it (or not): visibility is eventually consistent."""
    for _ in range(200):
        response = await api.http.get("/mentorships", params=params)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        if (workflow_id in [m["workflow_id"] for m in page["mentorships"]]) == present:
            return page
        await asyncio.sleep(0.1)
    raise AssertionError(f"{params}: {workflow_id} {'never listed' if present else 'still listed'}")


async def test_a_whole_mentorship_over_http(api: RunningApi) -> None:
    invitation = people("mentee", check_in_every="P14D")
    mentor, mentee = invitation.mentor.id, invitation.mentee.id
    workflow_id = workflow_id_for(mentor, mentee)

    created = await api.http.post("/mentorships", json=body(invitation))
    assert created.status_code == 200, created.text
    status = created.json()
    assert (status["workflow_id"], status["stage"], status["initiated_by"]) == (workflow_id, "invited", "mentee")
    assert status["mentor"] == {
        "id": mentor,
        "name": "Ana Ruiz",
        "email": "ana@example.com",
        "time_zone": None,
        "locale": None,
    }

    # A repeated create returns the same mentorship, and changes nothing.
    again = await api.http.post("/mentorships", json=body(invitation))
    assert again.status_code == 200 and again.json()["timeline"] == status["timeline"]
    assert again.json()["invited_at"] == status["invited_at"]

    accepted = await api.http.post(f"/mentorships/{workflow_id}/accept", json={"by": mentor, "note": "Happy to"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["stage"] == "active"
    checked = await api.http.post(f"/mentorships/{workflow_id}/check_in", json={"by": mentee, "rating": 5})
    assert [(c["number"], c["rating"]) for c in checked.json()["check_ins"]] == [(1, 5)]
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    paused = await api.http.post(f"/mentorships/{workflow_id}/pause", json={"by": mentor, "until": until})
    assert paused.json()["stage"] == "paused"
    resumed = await api.http.post(f"/mentorships/{workflow_id}/resume", json={"by": mentee})
    assert resumed.json()["stage"] == "active"

    read = await api.http.get(f"/mentorships/{workflow_id}")
    assert read.status_code == 200 and read.json()["stage"] == "active" and read.json()["cycle"] == 2

    page = await listed(api, {"stage": "active", "person": mentee}, workflow_id)
    (summary,) = [m for m in page["mentorships"] if m["workflow_id"] == workflow_id]
    assert (summary["mentor_id"], summary["mentee_id"], summary["initiated_by"]) == (mentor, mentee, "mentee")
    assert summary["next_check_in_at"] is not None and summary["at_risk"] is False
    await listed(api, {"stage": "invited", "person": mentee}, workflow_id, present=False)

    withdrawn = await api.http.post(f"/mentorships/{workflow_id}/withdraw", json={"by": mentee, "reason": "Moving"})
    assert withdrawn.status_code == 200 and withdrawn.json()["stage"] == "withdrawn"
    # The ended mentorship is still read, and further actions say it has ended.
    assert (await api.http.get(f"/mentorships/{workflow_id}")).json()["stage"] == "withdrawn"
    late = await api.http.post(f"/mentorships/{workflow_id}/check_in", json={"by": mentee})
    assert late.status_code == 409 and late.json()["detail"] == "the mentorship has already ended (withdrawn)"
    # Invitation + confirmation, two welcomes, pause, resume, withdrawal.
    await wait_mail(api.sink, workflow_id, 7)


async def test_either_side_and_a_mutual_invitation(api: RunningApi) -> None:
    from_mentor = people("mentor")
    first = (await api.http.post("/mentorships", json=body(from_mentor))).json()
    assert first["stage"] == "invited"
    from_mentee = from_mentor.model_copy(update={"initiated_by": Role.MENTEE})
    both = await api.http.post("/mentorships", json=body(from_mentee))
    assert both.status_code == 200 and both.json()["stage"] == "active"
    assert both.json()["workflow_id"] == first["workflow_id"]


async def test_without_a_valid_key_there_is_no_access(api: RunningApi) -> None:
    invitation = people("mentee")
    workflow_id = workflow_id_for(invitation.mentor.id, invitation.mentee.id)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as anonymous:
        for headers in ({}, {"Authorization": "Bearer wrong-key-0123456789"}, {"Authorization": f"Basic {API_KEY}"}):
            for method, path, payload in (
                ("POST", "/mentorships", body(invitation)),
                ("GET", f"/mentorships/{workflow_id}", None),
                ("GET", "/mentorships", None),
                ("POST", f"/mentorships/{workflow_id}/accept", {"by": invitation.mentor.id}),
                # Even a body that does not fit gets 401 first: no answer to anyone without a key.
                ("POST", "/mentorships", {"nonsense": True}),
            ):
                response = await anonymous.request(method, path, json=payload, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.text)
                assert response.headers["WWW-Authenticate"] == "Bearer"
                assert "API key" in response.json()["detail"]
        # Nothing was created by any of those.
        assert (await api.http.get(f"/mentorships/{workflow_id}")).status_code == 404
        # Every configured key works; health and the schema need none.
        second = await anonymous.get("/mentorships", headers={"Authorization": f"Bearer {OTHER_API_KEY}"})
        assert second.status_code == 200
        assert (await anonymous.get("/livez")).json() == {"status": "ok"}
        assert (await anonymous.get("/readyz")).json() == {"status": "ok"}
        assert (await anonymous.get("/openapi.json")).status_code == 200


async def test_errors_say_what_and_why(api: RunningApi) -> None:
    invitation = people("mentor")
    mentor, mentee = invitation.mentor.id, invitation.mentee.id
    workflow_id = workflow_id_for(mentor, mentee)

    # 422 with the field and the reason, before anything reaches Temporal.
    bad = body(invitation)
    bad["mentee"]["name"] = "Ben\nBcc: x@evil.example"
    bad["check_in_evry"] = "P1D"
    response = await api.http.post("/mentorships", json=bad)
    assert response.status_code == 422
    errors = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert errors["mentee.name"].startswith("must not contain line breaks or other control characters")
    assert errors["check_in_evry"] == "Extra inputs are not permitted"
    assert "mentee.name: must not contain line breaks" in response.json()["detail"]
    response = await api.http.post("/mentorships", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    response = await api.http.post(f"/mentorships/{workflow_id}/check_in", json={"by": mentee, "rating": 9})
    assert response.status_code == 422 and response.json()["errors"] == [
        {"field": "rating", "reason": "Input should be less than or equal to 5"}
    ]
    assert (await api.http.get("/mentorships/not-a-mentorship")).status_code == 422
    assert (await api.http.get("/mentorships", params={"person": "a--b"})).status_code == 422
    assert (await api.http.get("/mentorships", params={"stage": "dormant"})).status_code == 422
    assert (await api.http.get("/mentorships", params={"page_token": "!!"})).status_code == 422
    far_past = {"due_before": "0001-01-01T00:00:00+05:00"}
    assert (await api.http.get("/mentorships", params=far_past)).status_code == 422

    # 404: no such mentorship, to read or to act on.
    assert (await api.http.get(f"/mentorships/{workflow_id}")).status_code == 404
    response = await api.http.post(f"/mentorships/{workflow_id}/accept", json={"by": mentee})
    assert response.status_code == 404 and response.json()["detail"] == f"no mentorship {workflow_id!r}"

    created = await api.http.post("/mentorships", json=body(invitation))
    before = created.json()
    # 409 with the workflow's own reason; 403 for someone who is not part of it. Nothing changes.
    response = await api.http.post(f"/mentorships/{workflow_id}/accept", json={"by": mentor})
    assert response.status_code == 409
    assert (
        response.json()["detail"]
        == f"only the invitee, '{mentee}' (the mentee), can accept; '{mentor}' sent the invitation"
    )
    response = await api.http.post(f"/mentorships/{workflow_id}/pause", json={"by": mentee})
    assert response.status_code == 409 and "only an active mentorship can be paused" in response.json()["detail"]
    response = await api.http.post(f"/mentorships/{workflow_id}/accept", json={"by": "mallory"})
    assert response.status_code == 403 and "'mallory' is not part of this mentorship" in response.json()["detail"]
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    await api.http.post(f"/mentorships/{workflow_id}/accept", json={"by": mentee})
    response = await api.http.post(f"/mentorships/{workflow_id}/pause", json={"by": mentee, "until": past})
    assert response.status_code == 409 and "is not in the future" in response.json()["detail"]
    after = (await api.http.get(f"/mentorships/{workflow_id}")).json()
    assert after["timeline"][: len(before["timeline"])] == before["timeline"]
    assert [e["event"] for e in after["timeline"]] == ["invited", "accepted"]


async def test_lists_come_a_page_at_a_time(api: RunningApi) -> None:
    tag_invitation = people("mentee")
    mentor = tag_invitation.mentor
    ids = []
    for _ in range(3):
        other = people("mentee", mentor=mentor.model_dump())
        ids.append((await api.http.post("/mentorships", json=body(other))).json()["workflow_id"])
    for workflow_id in ids:
        await listed(api, {"person": mentor.id}, workflow_id)
    seen: list[str] = []
    token = ""
    params = {"person": mentor.id, "page_size": "2"}
    for _ in range(5):
        response = await api.http.get("/mentorships", params=params)
        page = response.json()
        assert len(page["mentorships"]) <= 2
        seen += [m["workflow_id"] for m in page["mentorships"]]
        if page["next_page_token"] is None:
            break
        params["page_token"] = page["next_page_token"]
        token = page["next_page_token"]
    assert sorted(seen) == sorted(ids)
    # A token is good for its own filters only, and cannot be made up.
    wrong = await api.http.get("/mentorships", params={"person": tag_invitation.mentee.id, "page_token": token})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "page_token"
    made_up = await api.http.get(
        "/mentorships", params={"person": mentor.id, "page_token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
    )
    assert made_up.status_code == 422


async def test_the_schema_is_the_contract(api: RunningApi) -> None:
    schema = (await api.http.get("/openapi.json")).json()
    paths = schema["paths"]
    assert paths["/mentorships"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/Invitation"
    )
    for action, model in ((name, a.input) for name, a in PARTICIPANT_ACTIONS.items()):
        operation = paths[f"/mentorships/{{workflow_id}}/{action}"]["post"]
        assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(f"/{model.__name__}")
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/MentorshipStatus"
        )
        assert {"401", "403", "404", "409", "422"} <= operation["responses"].keys()
    assert schema["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "One of the keys in MENTORSHIP_API_KEYS",
    }
    assert paths["/mentorships/{workflow_id}"]["get"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in paths["/livez"]["get"]


async def test_temporal_unreachable_is_503(mail_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("TEMPORAL_PROFILE", raising=False)
    keys = Settings(_env_file=None, mentorship_api_keys=API_KEY).mentorship_api_keys
    settings = mail_settings.model_copy(update={"mentorship_api_keys": keys, "mentorship_api_timeout_seconds": 3.0})
    transport = httpx.ASGITransport(app=create_app(settings))
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as http:
        response = await http.get("/mentorships/mentorship-ana--ben")
        assert response.status_code == 503, response.text
        assert response.json()["detail"].startswith("Temporal cannot be reached")
        assert (await http.get("/readyz")).status_code == 503
        assert (await http.get("/livez")).status_code == 200


def test_no_keys_no_api(mail_settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ApiConfigError, match="MENTORSHIP_API_KEYS is not set"):
        create_app(mail_settings.model_copy(update={"mentorship_api_keys": None}))
    # In an empty folder, so that no .env is read.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENTORSHIP_")} | {"PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "api"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "MENTORSHIP_API_KEYS is not set: the API refuses to start" in result.stderr
    # A short key is refused without being quoted.
    env["MENTORSHIP_API_KEYS"] = "short-key"
    result = subprocess.run(
        [sys.executable, "-m", "api"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2 and "at least 16" in result.stderr and "short-key" not in result.stderr


async def test_each_participant_reads_the_times_in_their_own_zone(api: RunningApi) -> None:
    """A person's time_zone and locale: validated with a suggestion; the status read for one participant says its
    moments in their zone and locale, read by nobody in particular in UTC."""
    invitation = people("mentee")
    data = body(invitation)
    data["mentor"]["time_zone"] = "Asia/Calcuta"
    refused = await api.http.post("/mentorships", json=data)
    assert refused.status_code == 422, refused.text
    assert "'Asia/Calcuta' is not an IANA time zone name; did you mean 'Asia/Calcutta'" in refused.text
    data["mentor"].update(time_zone="Asia/Kolkata", locale="en-IN")
    data["mentee"].update(time_zone="America/Los_Angeles", locale="de")
    refused = await api.http.post("/mentorships", json=data)
    assert refused.status_code == 422 and "emails are not written in German yet" in refused.text, refused.text
    data["mentee"]["locale"] = "en-US"
    created = await api.http.post("/mentorships", json=data)
    assert created.status_code == 200, created.text
    assert created.json()["mentor"]["time_zone"] == "Asia/Kolkata"
    workflow_id = created.json()["workflow_id"]

    def waiting_for(response: Any) -> str:
        assert response.status_code == 200, response.text
        text: str = response.json()["waiting_for"]
        return text

    assert waiting_for(await api.http.get(f"/mentorships/{workflow_id}")).endswith(" UTC")
    for_mentor = waiting_for(await api.http.get(f"/mentorships/{workflow_id}", params={"reader": invitation.mentor.id}))
    assert for_mentor.startswith("Ana Ruiz (mentor) to accept or decline, until ") and for_mentor.endswith(" IST")
    for_mentee = waiting_for(await api.http.get(f"/mentorships/{workflow_id}", params={"reader": invitation.mentee.id}))
    assert for_mentee.endswith((" PST", " PDT")), for_mentee
    stranger = await api.http.get(f"/mentorships/{workflow_id}", params={"reader": "mallory"})
    assert stranger.status_code == 400 and "'mallory' is not the mentor or the mentee" in stranger.text
    await api.http.post(f"/mentorships/{workflow_id}/withdraw", json={"by": invitation.mentee.id})
