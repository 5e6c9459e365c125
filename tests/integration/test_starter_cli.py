"""`starter.py` as a person uses it: the command line against a dev server with the real worker, and the demo."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import mentorship_client
import starter
from devtools.mailsink import MailSink
from tests.support.builders import apart_from_deliveries, new_tag, people
from tests.support.temporal import running_worker
from tests.support.waiting import until, wait_mail
from workflows.contract import Stage, workflow_id_for


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


async def test_limits_and_a_person_s_record(
    cli: tuple[Client, str, MailSink], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, task_queue, _ = cli
    monkeypatch.setenv("MENTORSHIP_TASK_QUEUE", task_queue)
    ana = f"ana-{new_tag()}"

    assert await starter.run_cli(["person", ana], client=client) == starter.REFUSED == 1
    assert f"error: no record of {ana!r}: no limits set" in capsys.readouterr().err

    assert await starter.run_cli(["limits", ana, "--max-mentees", "2"], client=client) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"person-{ana}: {ana}\n") and "  mentees: 0, limit 2 (2 free)\n" in out
    assert "  mentors: 0, no limit\n" in out

    assert (
        await starter.run_cli(["limits", ana, "--max-mentees", "none", "--max-mentors", "0", "--json"], client=client)
        == 0
    )
    record = json.loads(capsys.readouterr().out)
    assert (record["max_mentees"], record["max_mentors"], record["at_limit"]) == (None, 0, True)

    assert await starter.run_cli(["person", ana, "--json"], client=client) == 0
    assert apart_from_deliveries(json.loads(capsys.readouterr().out)) == apart_from_deliveries(record)
    assert await starter.run_cli(["person", ana], client=client) == 0
    out = capsys.readouterr().out
    assert f"person-{ana}: {ana}, at a limit" in out and "  mentors: 0, limit 0 (0 free)" in out

    # Bad limits and ids: exit 2 with the field and the reason; nothing changes.
    for argv, reason in (
        (["limits", ana], "give max_mentees, max_mentors or both"),
        (["limits", ana, "--max-mentees", "-1"], "max_mentees: Input should be greater than or equal to 0"),
        (["limits", ana, "--max-mentees", "101"], "max_mentees: Input should be less than or equal to 100"),
        (["limits", ana, "--max-mentors", "1.5"], "max_mentors: Input should be a valid integer"),
        (["limits", ana, "--max-mentors", "two"], "max_mentors: Input should be a valid integer"),
        (["limits", "a--b", "--max-mentees", "1"], "person_id: 'a--b' is not a valid id"),
        (["person", "a--b"], "person_id: 'a--b' is not a valid id"),
    ):
        assert await starter.run_cli(argv, client=client) == starter.INVALID == 2, argv
        assert reason in capsys.readouterr().err, argv
    assert await starter.run_cli(["person", ana, "--json"], client=client) == 0
    assert apart_from_deliveries(json.loads(capsys.readouterr().out)) == apart_from_deliveries(record)


async def test_limits_change_only_the_flags_given(
    cli: tuple[Client, str, MailSink], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, task_queue, _ = cli
    monkeypatch.setenv("MENTORSHIP_TASK_QUEUE", task_queue)
    ana = f"ana-{new_tag()}"
    assert await starter.run_cli(["limits", ana, "--max-mentees", "2", "--max-mentors", "1"], client=client) == 0
    capsys.readouterr()
    assert await starter.run_cli(["limits", ana, "--max-mentors", "none", "--json"], client=client) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["max_mentees"], record["max_mentors"]) == (2, None)


async def test_no_free_place_is_refused_with_the_reason_and_its_own_exit_code(
    cli: tuple[Client, str, MailSink], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, task_queue, _ = cli
    monkeypatch.setenv("MENTORSHIP_TASK_QUEUE", task_queue)
    with_ben = people("mentee")
    ana = with_ben.mentor
    cem = {"id": f"cem-{ana.id}", "name": "Cem Aksoy", "email": "cem@example.com"}
    dee = {"id": f"dee-{ana.id}", "name": "Dee Park", "email": "dee@example.com"}
    with_cem = people("mentee", mentor=ana.model_dump(), mentee=cem)
    with_dee = people("mentor", mentor=ana.model_dump(), mentee=dee)
    assert await starter.run_cli(["limits", ana.id, "--max-mentees", "1"], client=client) == 0
    for invitation in (with_ben, with_cem):
        assert await starter.run_cli(["invite", invitation.model_dump_json()], client=client) == 0
    ben_id = workflow_id_for(ana.id, with_ben.mentee.id)
    cem_id = workflow_id_for(ana.id, cem["id"])
    assert await starter.run_cli(["accept", ben_id, "--by", ana.id], client=client) == 0
    capsys.readouterr()
    reason = "Ana Ruiz already mentors 1 person, their limit"

    # Accepting: refused by the mentorship with the reason, exit 3; the invitation stays open.
    assert await starter.run_cli(["accept", cem_id, "--by", ana.id], client=client) == starter.NO_FREE_PLACE_EXIT == 3
    assert capsys.readouterr().err == f"refused: {reason}\n"
    assert (await mentorship_client.status(client, cem_id)).stage is Stage.INVITED
    # Inviting: refused before anything starts, exit 3.
    assert await starter.run_cli(["invite", with_dee.model_dump_json()], client=client) == 3
    assert capsys.readouterr().err == f"refused: {reason}\n"
    assert await starter.run_cli(["status", workflow_id_for(ana.id, dee["id"])], client=client) == 1
    # Other refusals keep exit 1.
    assert await starter.run_cli(["accept", cem_id, "--by", cem["id"]], client=client) == 1
    capsys.readouterr()

    # The record shows why; with room again, the acceptance goes through.
    assert await starter.run_cli(["person", ana.id], client=client) == 0
    out = capsys.readouterr().out
    assert f"person-{ana.id}: Ana Ruiz ({ana.id}), at a limit" in out and "  mentees: 1, limit 1 (0 free)" in out
    assert f"    mentor of {with_ben.mentee.id} since " in out and f"({ben_id})" in out
    assert "1 acceptance refused for want of a place" in out
    assert await starter.run_cli(["limits", ana.id, "--max-mentees", "2"], client=client) == 0
    assert await starter.run_cli(["accept", cem_id, "--by", ana.id], client=client) == 0
    assert f"{cem_id}: active" in capsys.readouterr().out
    for workflow_id in (ben_id, cem_id):
        await mentorship_client.act(client, workflow_id, "withdraw", {"by": ana.id})
    # Both places given back before the worker stops (an activity still giving one back would hold it up).
    await until(lambda: _no_places(client, ana.id), "Ana's places given back", 15)


async def _no_places(client: Client, person_id: str) -> bool:
    record = await mentorship_client.person_status(client, person_id)
    return record is not None and record.places == []


async def test_feedback_once_the_mentorship_ended(
    cli: tuple[Client, str, MailSink], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, task_queue, _ = cli
    monkeypatch.setenv("MENTORSHIP_TASK_QUEUE", task_queue)
    invitation = people("mentee")
    mentor, mentee = invitation.mentor.id, invitation.mentee.id
    workflow_id = workflow_id_for(mentor, mentee)
    assert await starter.run_cli(["invite", invitation.model_dump_json()], client=client) == 0
    assert await starter.run_cli(["accept", workflow_id, "--by", mentor], client=client) == 0
    capsys.readouterr()

    # While it is open no feedback is asked: exit 1 with the reason, to read or to give.
    no_feedback = f"error: {workflow_id} asks for no feedback: feedback is asked once an active mentorship ends"
    assert await starter.run_cli(["feedback-status", workflow_id], client=client) == starter.REFUSED
    assert capsys.readouterr().err == f"{no_feedback} (it is active)\n"
    assert await starter.run_cli(["feedback", workflow_id, "--by", mentee, "--rating", "4"], client=client) == 1
    assert capsys.readouterr().err == f"{no_feedback} (it is active)\n"
    assert await starter.run_cli(["feedback-status", "mentorship-nobody--here"], client=client) == 1
    assert capsys.readouterr().err == "error: no mentorship 'mentorship-nobody--here'\n"
    unknown = "feedback-mentorship-nobody--here.20260101T000000Z"
    assert await starter.run_cli(["feedback", unknown, "--by", "nobody", "--rating", "3"], client=client) == 1
    assert capsys.readouterr().err == f"error: no Feedback workflow {unknown!r}\n"

    assert await starter.run_cli(["withdraw", workflow_id, "--by", mentor, "--reason", "Moving"], client=client) == 0
    capsys.readouterr()
    argv = ["feedback", workflow_id, "--by", mentee, "--rating", "4", "--would-continue", "yes", "--note", "Thanks!"]
    assert await starter.run_cli(argv, client=client) == starter.DONE
    out = capsys.readouterr().out
    feedback_id = (await mentorship_client.status(client, workflow_id)).feedback_workflow_id
    assert feedback_id is not None and out.startswith(f"{feedback_id}: feedback open until "), out
    assert f"\n  on {workflow_id}, withdrawn " in out
    assert f'\n  mentee Ben Ode ({mentee}): 4/5, would continue, "Thanks!" (' in out
    assert f"\n  mentor Ana Ruiz ({mentor}): no answer yet\n" in out

    # Refused: twice (exit 1), a stranger (exit 1), input that does not fit (exit 2); nothing changes.
    assert await starter.run_cli(["feedback", workflow_id, "--by", mentee, "--rating", "5"], client=client) == 1
    assert capsys.readouterr().err == f"refused: {mentee!r} already gave feedback on this mentorship\n"
    assert await starter.run_cli(["feedback", workflow_id, "--by", "mallory", "--rating", "5"], client=client) == 1
    assert capsys.readouterr().err.startswith("refused: 'mallory' is not part of this mentorship (mentor ")
    assert await starter.run_cli(["feedback", workflow_id, "--by", mentor, "--rating", "6"], client=client) == 2
    assert "rating: Input should be less than or equal to 5" in capsys.readouterr().err
    for argv in (
        ["feedback", workflow_id, "--by", mentor, "--rating", "five"],
        ["feedback", workflow_id, "--by", mentor, "--rating", "5", "--would-continue", "maybe"],
        ["feedback", workflow_id, "--by", mentor],
    ):
        with pytest.raises(SystemExit) as exited:
            await starter.run_cli(argv, client=client)
        assert exited.value.code == starter.INVALID, argv
    capsys.readouterr()

    # As a signal: a refused one is recorded; the mentor's answer closes it.
    assert (
        await starter.run_cli(["feedback", workflow_id, "--by", mentee, "--rating", "1", "--signal"], client=client)
        == 0
    )
    assert capsys.readouterr().out.startswith(f"sent feedback to {feedback_id}; ")
    assert (
        await starter.run_cli(["feedback", feedback_id, "--by", mentor, "--rating", "5", "--signal"], client=client)
        == 0
    )
    capsys.readouterr()

    async def closed() -> dict[str, Any] | None:
        assert await starter.run_cli(["feedback-status", workflow_id, "--json"], client=client) == 0
        status: dict[str, Any] = json.loads(capsys.readouterr().out)
        return status if status["closed"] else None

    status = await until(closed, "the feedback closed by the second answer", 15)
    assert [(a["by"], a["role"], a["rating"]) for a in status["answers"]] == [
        (mentee, "mentee", 4),
        (mentor, "mentor", 5),
    ]
    assert [(r["by"], r["reason"]) for r in status["refused_signals"]] == [
        (mentee, f"{mentee!r} already gave feedback on this mentorship")
    ]
    assert await starter.run_cli(["feedback-status", feedback_id], client=client) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{feedback_id}: feedback closed\n") and f"  mentor Ana Ruiz ({mentor}): 5/5 (" in out
    assert f"  last refused: feedback by {mentee}: {mentee!r} already gave feedback" in out
    # After it closed, an answer is refused with the reason, however the Feedback workflow is (running or done).
    assert await starter.run_cli(["feedback", workflow_id, "--by", mentor, "--rating", "3"], client=client) == 1
    assert capsys.readouterr().err == f"refused: {mentor!r} already gave feedback on this mentorship\n"


def test_the_help_names_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        starter.build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert "exit codes:" in out and "  3  no free place" in out and "  2  invalid input" in out
    assert "feedback-status" in out and "no feedback asked" in out


async def test_list_rejects_what_would_inject_into_a_query(cli: tuple[Client, str, MailSink]) -> None:
    client, _, _ = cli
    with pytest.raises(ValueError, match="not a participant id"):
        mentorship_client.list_query(person="ana' OR WorkflowType != '")
    assert await starter.run_cli(["list", "--person", "x' OR 1=1"], client=client) == 2
