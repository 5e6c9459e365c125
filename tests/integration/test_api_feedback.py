"""Feedback over HTTP, against the real dev server and the project's worker: `POST` and `GET
/mentorships/{workflow_id}/feedback` once an active mentorship ended, each participant once, the second answer
closing it; and every refusal a caller meets (401, 422 naming the field, 403 for a stranger, 404 for an unknown
mentorship, 409 with the reason: twice, closed, or no feedback asked). One participant answers through the
command line, the other over HTTP: both reach the same Feedback workflow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

import mentorship_client
import starter
from devtools.mailsink import MailSink
from tests.support.api import RunningApi, running_api
from tests.support.builders import apart_from_deliveries, people
from tests.support.waiting import until
from workflows.contract import Invitation, workflow_id_for


@pytest_asyncio.fixture
async def api(dev_env: WorkflowEnvironment, mail_sink: MailSink) -> AsyncIterator[RunningApi]:
    async with running_api(dev_env.client, mail_sink) as running:
        yield running


def body(invitation: Invitation) -> dict[str, Any]:
    return invitation.model_dump(mode="json", exclude_none=True)


async def active(api: RunningApi, invitation: Invitation) -> str:
    """A mentorship invited by the mentee and accepted by the mentor: its workflow id."""
    workflow_id = workflow_id_for(invitation.mentor.id, invitation.mentee.id)
    created = await api.http.post("/mentorships", json=body(invitation))
    assert created.status_code == 200, created.text
    accepted = await api.http.post(f"/mentorships/{workflow_id}/accept", json={"by": invitation.mentor.id})
    assert accepted.status_code == 200 and accepted.json()["stage"] == "active", accepted.text
    return workflow_id


async def test_both_give_feedback_once_the_mentorship_ended(api: RunningApi) -> None:
    invitation = people("mentee")
    mentor, mentee = invitation.mentor.id, invitation.mentee.id
    workflow_id = await active(api, invitation)
    feedback = f"/mentorships/{workflow_id}/feedback"

    # While it is open, no feedback is asked: 409 with the reason, to read or to give.
    for response in (await api.http.get(feedback), await api.http.post(feedback, json={"by": mentee, "rating": 4})):
        assert response.status_code == 409, response.text
        assert response.json()["detail"] == (
            f"{workflow_id} asks for no feedback: feedback is asked once an active mentorship ends (it is active)"
        )

    withdrawn = await api.http.post(f"/mentorships/{workflow_id}/withdraw", json={"by": mentee, "reason": "Moving"})
    assert withdrawn.status_code == 200 and withdrawn.json()["stage"] == "withdrawn", withdrawn.text

    # At once: the route waits the moment it takes the mentorship to start its Feedback workflow.
    given = await api.http.post(
        feedback, json={"by": mentee, "rating": 4, "would_continue": True, "note": "Learned a lot"}
    )
    assert given.status_code == 200, given.text
    status = given.json()
    assert status["mentorship_workflow_id"] == workflow_id and status["ended"] == "withdrawn"
    assert status["workflow_id"].startswith(f"feedback-{workflow_id}.") and status["closed"] is False
    assert [(a["by"], a["role"], a["rating"], a["would_continue"], a["note"]) for a in status["answers"]] == [
        (mentee, "mentee", 4, True, "Learned a lot")
    ]
    read = await api.http.get(feedback)
    assert read.status_code == 200 and apart_from_deliveries(read.json()) == apart_from_deliveries(status)
    assert (await api.http.get(f"/mentorships/{workflow_id}")).json()["feedback_workflow_id"] == status["workflow_id"]

    # Refusals: nothing changes.
    twice = await api.http.post(feedback, json={"by": mentee, "rating": 5})
    assert twice.status_code == 409 and twice.json()["detail"] == f"{mentee!r} already gave feedback on this mentorship"
    stranger = await api.http.post(feedback, json={"by": "mallory", "rating": 5})
    assert stranger.status_code == 403, stranger.text
    assert stranger.json()["detail"].startswith("'mallory' is not part of this mentorship (mentor ")
    for payload, field, reason in (
        ({"by": mentor, "rating": 6}, "rating", "Input should be less than or equal to 5"),
        ({"by": mentor, "rating": 0}, "rating", "Input should be greater than or equal to 1"),
        ({"by": mentor, "rating": "5"}, "rating", "Input should be a valid integer"),
        ({"by": mentor, "rating": 5, "would_continue": "yes"}, "would_continue", "Input should be a valid boolean"),
        ({"by": mentor, "rating": 5, "stars": 5}, "stars", "Extra inputs are not permitted"),
        ({"by": mentor}, "rating", "Field required"),
        ({"by": "a--b", "rating": 5}, "by", None),
    ):
        response = await api.http.post(feedback, json=payload)
        assert response.status_code == 422, (payload, response.text)
        errors = {e["field"]: e["reason"] for e in response.json()["errors"]}
        assert field in errors, (payload, errors)
        assert reason is None or errors[field] == reason, (payload, errors)
    assert apart_from_deliveries((await api.http.get(feedback)).json()) == apart_from_deliveries(status)

    # The second answer closes it; after that, each is refused with the reason.
    closed = await api.http.post(feedback, json={"by": mentor, "rating": 5, "would_continue": False})
    assert closed.status_code == 200, closed.text
    assert closed.json()["closed"] is True
    assert [(a["by"], a["rating"], a["would_continue"]) for a in closed.json()["answers"]] == [
        (mentee, 4, True),
        (mentor, 5, False),
    ]
    again = await api.http.post(feedback, json={"by": mentor, "rating": 1})
    assert again.status_code == 409 and again.json()["detail"] == f"{mentor!r} already gave feedback on this mentorship"
    stranger = await api.http.post(feedback, json={"by": "mallory", "rating": 1})
    assert stranger.status_code == 403 and "'mallory' is not part of this mentorship" in stranger.json()["detail"]
    final = await api.http.get(feedback)
    assert final.status_code == 200 and final.json()["answers"] == closed.json()["answers"]

    # The pair may start again at once; its new mentorship asks for none while it is open.
    again_invited = await api.http.post("/mentorships", json=body(invitation))
    assert again_invited.status_code == 200 and again_invited.json()["stage"] == "invited", again_invited.text
    response = await api.http.get(feedback)
    assert response.status_code == 409 and response.json()["detail"].endswith("(it is invited)")
    await api.http.post(f"/mentorships/{workflow_id}/withdraw", json={"by": mentee})


async def test_no_feedback_without_a_mentorship_that_was_active(api: RunningApi) -> None:
    invitation = people("mentee")
    workflow_id = workflow_id_for(invitation.mentor.id, invitation.mentee.id)
    feedback = f"/mentorships/{workflow_id}/feedback"
    # 404: no such mentorship.
    assert (await api.http.get(feedback)).status_code == 404
    response = await api.http.post(feedback, json={"by": invitation.mentee.id, "rating": 3})
    assert response.status_code == 404 and response.json()["detail"] == f"no mentorship {workflow_id!r}"
    # 422: not a mentorship's id; 401: no key (before the body is looked at).
    assert (await api.http.get("/mentorships/not-a-mentorship/feedback")).status_code == 422
    async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as anonymous:
        for method, payload in (("GET", None), ("POST", {"by": invitation.mentee.id, "rating": 3}), ("POST", {})):
            response = await anonymous.request(method, feedback, json=payload)
            assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer", response.text

    # Declined: it never became active, so no feedback is asked (at once, without waiting).
    assert (await api.http.post("/mentorships", json=body(invitation))).status_code == 200
    declined = await api.http.post(f"/mentorships/{workflow_id}/decline", json={"by": invitation.mentor.id})
    assert declined.status_code == 200 and declined.json()["stage"] == "declined"
    for response in (
        await api.http.get(feedback),
        await api.http.post(feedback, json={"by": invitation.mentee.id, "rating": 3}),
    ):
        assert response.status_code == 409, response.text
        assert response.json()["detail"].endswith("(it is declined)")


async def test_one_answers_over_http_the_other_on_the_command_line(
    api: RunningApi, dev_env: WorkflowEnvironment, capsys: pytest.CaptureFixture[str]
) -> None:
    client = dev_env.client
    invitation = people("mentor")
    mentor, mentee = invitation.mentor.id, invitation.mentee.id
    workflow_id = workflow_id_for(mentor, mentee)
    assert (await api.http.post("/mentorships", json=body(invitation))).status_code == 200
    assert (await api.http.post(f"/mentorships/{workflow_id}/accept", json={"by": mentee})).status_code == 200
    assert (await api.http.post(f"/mentorships/{workflow_id}/withdraw", json={"by": mentor})).status_code == 200

    # The command line, at once after the end: it waits for the Feedback workflow too.
    argv = ["feedback", workflow_id, "--by", mentor, "--rating", "3", "--would-continue", "no", "--json"]
    assert await starter.run_cli(argv, client=client) == starter.DONE
    given = capsys.readouterr().out
    feedback_id = await mentorship_client.feedback_workflow_of(client, workflow_id)
    assert f'"workflow_id": "{feedback_id}"' in given

    http = await api.http.post(f"/mentorships/{workflow_id}/feedback", json={"by": mentee, "rating": 5})
    assert http.status_code == 200 and http.json()["closed"] is True, http.text
    assert [(a["by"], a["rating"], a["would_continue"]) for a in http.json()["answers"]] == [
        (mentor, 3, False),
        (mentee, 5, None),
    ]
    # Both read the same, by the mentorship's id or the Feedback workflow's.
    assert await starter.run_cli(["feedback-status", feedback_id], client=client) == starter.DONE
    out = capsys.readouterr().out
    assert out.startswith(f"{feedback_id}: feedback closed\n"), out
    assert f"  mentor Ana Ruiz ({mentor}): 3/5, would not continue (" in out
    assert f"  mentee Ben Ode ({mentee}): 5/5 (" in out
    assert await starter.run_cli(["feedback", workflow_id, "--by", mentee, "--rating", "2"], client=client) == 1
    assert capsys.readouterr().err == f"refused: {mentee!r} already gave feedback on this mentorship\n"
    # The Feedback workflow completes once its emails have gone (they may still be retried: it is read either way).
    feedback_status = await mentorship_client.feedback_status(client, workflow_id)
    assert feedback_status.closed and len(feedback_status.answers) == 2


async def test_the_schema_documents_the_feedback_routes(api: RunningApi) -> None:
    schema = (await api.http.get("/openapi.json")).json()
    paths = schema["paths"]["/mentorships/{workflow_id}/feedback"]
    post, get = paths["post"], paths["get"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/FeedbackInput")
    for operation, codes in (
        (post, {"200", "401", "403", "404", "409", "422", "503", "504"}),
        (get, {"200", "401", "404", "409", "422", "503", "504"}),
    ):
        assert codes <= operation["responses"].keys(), operation["responses"].keys()
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/FeedbackStatus"
        )
        assert operation["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/Problem")
        assert operation["security"] == [{"HTTPBearer": []}]
        assert operation["summary"] and "once" in operation["description"]
        (parameter,) = operation["parameters"]
        assert parameter["name"] == "workflow_id" and parameter["schema"]["pattern"].startswith("^mentorship-")
    assert post["operationId"] != get["operationId"]
    assert "already gave feedback" in post["responses"]["409"]["description"]
    feedback_input = schema["components"]["schemas"]["FeedbackInput"]
    assert feedback_input["additionalProperties"] is False
    assert set(feedback_input["required"]) == {"by", "rating"}
    assert feedback_input["properties"]["rating"]["minimum"] == 1
    assert feedback_input["properties"]["rating"]["maximum"] == 5
    # The action routes keep theirs: feedback is not an action of the table.
    assert schema["paths"]["/mentorships/{workflow_id}/withdraw"]["post"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]["$ref"].endswith("/MentorshipStatus")


async def test_feedback_when_the_term_completed_and_after_the_window_closed(api: RunningApi) -> None:
    invitation = people("mentee", term="PT2S", check_in_every="P14D", feedback_within="PT3S")
    mentor, mentee = invitation.mentor.id, invitation.mentee.id
    workflow_id = await active(api, invitation)
    feedback = f"/mentorships/{workflow_id}/feedback"

    async def read() -> dict[str, Any] | None:
        response = await api.http.get(feedback)
        return response.json() if response.status_code == 200 else None

    status = await until(read, "the feedback asked at the end of the term", 30)
    assert status["ended"] == "completed" and status["answers"] == []
    assert (await api.http.get(f"/mentorships/{workflow_id}")).json()["stage"] == "completed"
    response = await api.http.post(feedback, json={"by": mentor, "rating": 5, "note": "A pleasure"})
    assert response.status_code == 200 and response.json()["answers"][0]["note"] == "A pleasure", response.text

    async def closed() -> dict[str, Any] | None:
        current = await read()
        return current if current is not None and current["closed"] else None

    await until(closed, "the feedback window to close", 30)
    late = await api.http.post(feedback, json={"by": mentee, "rating": 4})
    assert late.status_code == 409 and late.json()["detail"] == "feedback on this mentorship is closed", late.text
    repeat = await api.http.post(feedback, json={"by": mentor, "rating": 4})
    assert (
        repeat.status_code == 409 and repeat.json()["detail"] == f"{mentor!r} already gave feedback on this mentorship"
    )
