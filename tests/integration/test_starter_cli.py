"""`starter.py` as a person uses it: the command line against a dev server with the real worker, and the demo."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import mentorship_client
import starter
from devtools.mailsink import MailSink
from tests.support.builders import people
from tests.support.temporal import running_worker
from tests.support.waiting import wait_mail
from workflows.contract import Stage


@pytest_asyncio.fixture
async def cli(dev_env: WorkflowEnvironment, mail_sink: MailSink) -> AsyncIterator[tuple[Client, str, MailSink]]:
    async with running_worker(dev_env.client, mail_sink) as task_queue:
        yield dev_env.client, task_queue, mail_sink


async def test_cli_verbs_and_their_errors(
    cli: tuple[Client, str, MailSink], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, task_queue, sink = cli
    monkeypatch.setenv("MENTORSHIP_TASK_QUEUE", task_queue)
    invitation = people("mentee")
    mentor, mentee = invitation.mentor.id, invitation.mentee.id

    assert await starter.run_cli(["invite", invitation.model_dump_json()], client=client) == 0
    workflow_id = f"mentorship-{mentor}--{mentee}"
    assert f"{workflow_id}: invited" in capsys.readouterr().out

    assert await starter.run_cli(["accept", workflow_id, "--by", mentee], client=client) == 1
    assert "refused: only the invitee" in capsys.readouterr().err

    assert await starter.run_cli(["check-in", workflow_id, "--by", mentor, "--rating", "9"], client=client) == 2
    assert "rating: Input should be less than or equal to 5" in capsys.readouterr().err

    assert await starter.run_cli(["invite", '{"mentor": {"id": "x"}}'], client=client) == 2
    err = capsys.readouterr().err
    assert "mentor.name: Field required" in err and "initiated_by: Field required" in err

    assert await starter.run_cli(["accept", workflow_id, "--by", mentor, "--json"], client=client) == 0
    assert json.loads(capsys.readouterr().out)["stage"] == "active"

    assert (
        await starter.run_cli(["check-in", workflow_id, "--by", mentor, "--note", "hi", "--signal"], client=client) == 0
    )
    capsys.readouterr()
    assert await starter.run_cli(["status", workflow_id], client=client) == 0
    assert "waiting for: check-in" in capsys.readouterr().out

    assert await starter.run_cli(["status", "mentorship-nobody--here"], client=client) == 1
    assert "no open mentorship" in capsys.readouterr().err
    await wait_mail(sink, workflow_id, 4)
    await mentorship_client.act(client, workflow_id, "withdraw", {"by": mentor})


async def test_list_rejects_what_would_inject_into_a_query(cli: tuple[Client, str, MailSink]) -> None:
    client, _, _ = cli
    with pytest.raises(ValueError, match="not a participant id"):
        mentorship_client.list_query(person="ana' OR WorkflowType != '")
    assert await starter.run_cli(["list", "--person", "x' OR 1=1"], client=client) == 2


async def test_the_demo_shows_every_stage(
    dev_env: WorkflowEnvironment, mail_sink: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_worker(dev_env.client, mail_sink) as task_queue:
        monkeypatch.setenv("MENTORSHIP_TASK_QUEUE", task_queue)
        final = await starter.demo(dev_env.client, fast=True)
    assert final.stage is Stage.COMPLETED and final.wrap_up_sent
    events = [e.event for e in final.timeline]
    for expected in (
        "invited",
        "invitation reminder 1 sent",
        "accepted",
        "at risk",
        "back on track",
        "paused",
        "resumed",
        "completed",
    ):
        assert expected in events, expected
    assert len(final.check_ins) == 2 and final.notification_failures == []
    assert final.notifications_sent == len(
        [m for m in mail_sink.messages if m["X-Mentorship-Workflow-Id"] == final.workflow_id]
    )
