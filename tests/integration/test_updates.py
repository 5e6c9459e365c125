"""Updates, update-with-start and visibility on the real dev server (the time-skipping server does not move time
while an update waits, and has no visibility store)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

import mentorship_client
from devtools.mailsink import MailSink
from tests.support.builders import people
from tests.support.temporal import running_worker
from tests.support.waiting import status_of, until, wait_mail, wait_status
from workflows import search_attributes as sa
from workflows.contract import (
    WORKFLOW_TYPE,
    ActionAnswer,
    Invitation,
    MentorshipInput,
    Role,
    Stage,
    workflow_id_for,
)


@pytest_asyncio.fixture
async def live(dev_env: WorkflowEnvironment, mail_sink: MailSink) -> AsyncIterator[tuple[Client, str, MailSink]]:
    async with running_worker(dev_env.client, mail_sink) as task_queue:
        yield dev_env.client, task_queue, mail_sink


async def history_length(client: Client, workflow_id: str) -> int:
    return len((await client.get_workflow_handle(workflow_id).fetch_history()).events)


async def refused(client: Client, workflow_id: str, action: str, payload: dict[str, Any]) -> str:
    """Send an update that must be rejected; answer the reason a person reads."""
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await client.get_workflow_handle(workflow_id).execute_update(action, payload)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return cause.message


@pytest.mark.parametrize("initiator", ["mentor", "mentee"])
async def test_updates_answer_the_new_status(live: tuple[Client, str, MailSink], initiator: str) -> None:
    client, task_queue, sink = live
    invitation = people(initiator)
    invitee = invitation.person(invitation.invitee).id
    current = await mentorship_client.invite(client, invitation, task_queue=task_queue)
    assert current.stage is Stage.INVITED and current.initiated_by is Role(initiator)

    current = await mentorship_client.act(client, current.workflow_id, "accept", {"by": invitee, "note": "Yes!"})
    assert current.stage is Stage.ACTIVE
    current = await mentorship_client.act(
        client, current.workflow_id, "check_in", {"by": invitee, "rating": 5, "note": "ok"}
    )
    assert [(c.number, c.rating, c.by) for c in current.check_ins] == [(1, 5, invitee)]
    until = datetime.now(UTC) + timedelta(days=30)
    current = await mentorship_client.act(
        client, current.workflow_id, "pause", {"by": invitee, "until": until.isoformat()}
    )
    assert current.stage is Stage.PAUSED and current.paused_until == until
    current = await mentorship_client.act(client, current.workflow_id, "resume", {"by": invitee})
    assert current.stage is Stage.ACTIVE
    current = await mentorship_client.act(
        client, current.workflow_id, "withdraw", {"by": invitee, "reason": "moving on"}
    )
    assert current.stage is Stage.WITHDRAWN
    # invitation + confirmation, two welcomes, pause and resume notices, withdrawal notice.
    await wait_mail(sink, current.workflow_id, 7)


async def test_refused_updates_give_the_reason_and_leave_no_trace(live: tuple[Client, str, MailSink]) -> None:
    client, task_queue, sink = live
    invitation = people("mentor")
    mentor, mentee = invitation.mentor.id, invitation.mentee.id
    workflow_id = (await mentorship_client.invite(client, invitation, task_queue=task_queue)).workflow_id
    await wait_mail(sink, workflow_id, 2)
    handle = client.get_workflow_handle(workflow_id)
    before = (await status_of(handle), await history_length(client, workflow_id))

    cases_invited: list[tuple[str, dict[str, Any], str]] = [
        (
            "accept",
            {"by": mentor},
            f"only the invitee, '{mentee}' (the mentee), can accept; '{mentor}' sent the invitation",
        ),
        ("decline", {"by": mentor}, "only the invitee"),
        ("accept", {"by": "mallory"}, "'mallory' is not part of this mentorship"),
        ("withdraw", {"by": mentee}, f"only the initiator, '{mentor}', can withdraw the invitation"),
        ("check_in", {"by": mentee}, "check-ins start once the invitation is accepted"),
        ("pause", {"by": mentor}, "only an active mentorship can be paused"),
        ("resume", {"by": mentor}, "the mentorship is not paused (it is invited)"),
        ("check_in", {"by": mentee, "rating": 0}, "rating: Input should be greater than or equal to 1"),
        ("decline", {"by": mentee, "until": "tomorrow"}, "until: Extra inputs are not permitted"),
        ("accept", {"by": "not an id!"}, "by: 'not an id!' is not a valid id"),
    ]
    for action, payload, reason in cases_invited:
        assert reason in await refused(client, workflow_id, action, payload)
    assert (await status_of(handle), await history_length(client, workflow_id)) == before

    await mentorship_client.act(client, workflow_id, "accept", {"by": mentee})
    await mentorship_client.act(client, workflow_id, "pause", {"by": mentee})
    await wait_mail(sink, workflow_id, 5)
    paused = (
        await wait_status(handle, lambda s: s.notifications_sent == 5, "emails delivered"),
        await history_length(client, workflow_id),
    )
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    cases_paused: list[tuple[str, dict[str, Any], str]] = [
        ("accept", {"by": mentee}, "the invitation was already accepted; the mentorship is paused"),
        ("pause", {"by": mentor}, "the mentorship is already paused"),
        ("check_in", {"by": mentor}, "the mentorship is paused; resume it before recording a check-in"),
    ]
    for action, payload, reason in cases_paused:
        assert reason in await refused(client, workflow_id, action, payload)
    assert (await status_of(handle), await history_length(client, workflow_id)) == paused

    await mentorship_client.act(client, workflow_id, "resume", {"by": mentor})
    assert "is not in the future" in await refused(client, workflow_id, "pause", {"by": mentor, "until": past})


async def test_mutual_invitation_through_update_with_start(live: tuple[Client, str, MailSink]) -> None:
    client, task_queue, sink = live
    from_mentor = people("mentor")
    first = await mentorship_client.invite(client, from_mentor, task_queue=task_queue)
    again = await mentorship_client.invite(client, from_mentor, task_queue=task_queue)
    assert again.stage is Stage.INVITED and again.timeline == first.timeline
    from_mentee: Invitation = from_mentor.model_copy(update={"initiated_by": Role.MENTEE})
    both = await mentorship_client.invite(client, from_mentee, task_queue=task_queue)
    assert both.stage is Stage.ACTIVE
    mails = await wait_mail(sink, first.workflow_id, 4)
    assert sorted(mails[2:]) == [("started", "mentee"), ("started", "mentor")]
    # Only one workflow ever existed for the pair.
    count = await client.count_workflows(f"WorkflowId = '{first.workflow_id}'")
    assert count.count == 1


async def test_a_closed_pair_can_start_again(live: tuple[Client, str, MailSink]) -> None:
    client, task_queue, _ = live
    invitation = people("mentee")
    first = await mentorship_client.invite(client, invitation, task_queue=task_queue)
    await mentorship_client.act(client, first.workflow_id, "decline", {"by": invitation.mentor.id})
    await client.get_workflow_handle(first.workflow_id).result()
    second = await mentorship_client.invite(client, invitation, task_queue=task_queue)
    assert second.workflow_id == first.workflow_id
    assert second.stage is Stage.INVITED and second.invited_at > first.invited_at


async def test_updates_keep_working_across_continue_as_new(live: tuple[Client, str, MailSink]) -> None:
    client, task_queue, _ = live
    invitation = people("mentor")
    workflow_id = (
        await mentorship_client.invite(client, invitation, task_queue=task_queue, history_event_limit=50)
    ).workflow_id
    await mentorship_client.act(client, workflow_id, "accept", {"by": invitation.mentee.id})
    for n in range(1, 16):
        current = await mentorship_client.act(
            client, workflow_id, "check_in", {"by": invitation.mentor.id, "note": f"#{n}"}
        )
        assert len(current.check_ins) == n

    async def continued() -> bool | None:
        # A run continues as new once its emails and events are out, right after the last check-in at the latest.
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        return (
            True if history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id else None
        )

    await until(continued, "a continue-as-new", 15)
    final = await mentorship_client.status(client, workflow_id)
    assert [c.note for c in final.check_ins] == [f"#{n}" for n in range(1, 16)]
    assert final.stage is Stage.ACTIVE and [e.event for e in final.timeline][:2] == ["invited", "accepted"]


async def test_undeliverable_email_is_searchable(live: tuple[Client, str, MailSink]) -> None:
    """A refused recipient is recorded, the mentorship goes on, and operators find it by FailedNotifications."""
    client, task_queue, sink = live
    invitation = people("mentor")
    sink.fail_next(1, "550 5.1.1 mailbox unavailable")
    workflow_id = (await mentorship_client.invite(client, invitation, task_queue=task_queue)).workflow_id
    handle = client.get_workflow_handle(workflow_id)
    current = await wait_status(handle, lambda s: s.notifications_failed == 1, "the invitation given up on")
    assert current.stage is Stage.INVITED and "550" in current.notification_failures[0].error
    query = f"{mentorship_client.list_query(failed_notifications=True)} AND TaskQueue = '{task_queue}'"

    async def finds() -> bool:
        return workflow_id in [e.id async for e in mentorship_client.list_mentorships(client, query)]

    await until(finds, f"{query!r} finds {workflow_id}", 30)  # visibility is eventually consistent
    assert (await handle.describe()).typed_search_attributes.get(sa.FAILED_NOTIFICATIONS) == 1
    # The mentorship goes on: the invitee still accepts, and the next emails are delivered.
    current = await mentorship_client.act(client, workflow_id, "accept", {"by": invitation.mentee.id})
    assert current.stage is Stage.ACTIVE
    await wait_status(handle, lambda s: s.notifications_sent == 3, "confirmation and two welcomes delivered")
    await mentorship_client.act(client, workflow_id, "withdraw", {"by": invitation.mentee.id})


async def test_search_attributes_and_list_queries(live: tuple[Client, str, MailSink]) -> None:
    client, task_queue, _ = live
    invitation = people("mentee", escalate_after_missed=1, check_in_every="PT2S", check_in_grace="PT1S")
    workflow_id = (await mentorship_client.invite(client, invitation, task_queue=task_queue)).workflow_id
    await mentorship_client.act(client, workflow_id, "accept", {"by": invitation.mentor.id})
    handle = client.get_workflow_handle(workflow_id)
    await wait_status(handle, lambda s: s.at_risk, "a missed check-in (real time: about 4 s)", within=20)

    queries = {
        "at risk": mentorship_client.list_query(at_risk=True),
        "active": mentorship_client.list_query(stage=Stage.ACTIVE),
        "by mentor": mentorship_client.list_query(person=invitation.mentor.id),
        "by mentee": mentorship_client.list_query(person=invitation.mentee.id, open_only=True),
        "due soon": mentorship_client.list_query(due_before=datetime.now(UTC) + timedelta(days=1)),
    }
    for what, query in queries.items():
        # Narrowed to this module's task queue: the shared dev server holds every other test's mentorships too.
        scoped = f"{query} AND TaskQueue = '{task_queue}'"

        async def finds(scoped: str = scoped) -> bool:
            return workflow_id in [e.id async for e in mentorship_client.list_mentorships(client, scoped)]

        # Visibility is eventually consistent.
        await until(finds, f"{what}: {scoped!r} finds {workflow_id}", 30)
    described = await handle.describe()
    attributes = described.typed_search_attributes
    assert attributes.get(sa.MENTOR_ID) == invitation.mentor.id
    assert attributes.get(sa.INITIATED_BY) == "mentee"
    assert attributes.get(sa.AT_RISK) is True
    assert (attributes.get(sa.MISSED_CHECK_INS) or 0) >= 1
    # Never personal data in search attributes: they are not encrypted.
    flat = repr(described.raw_description.workflow_execution_info.search_attributes)
    assert "@example.com" not in flat and "Ana Ruiz" not in flat
    assert await described.static_summary() == mentorship_client.summary_for(invitation)
    await mentorship_client.act(client, workflow_id, "withdraw", {"by": invitation.mentor.id})


async def upserts(client: Client, workflow_id: str) -> list[set[str]]:
    """The search attributes each upsert in the history set (or unset), in order; the SDK's own
    TemporalChangeVersion (which a `workflow.patched` branch taken records) left out."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    found = [
        set(event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
        - {"TemporalChangeVersion"}
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
    ]
    return [names for names in found if names]


def initial_attributes(invitation: Invitation) -> dict[SearchAttributeKey[Any], Any]:
    return {
        sa.STAGE: "invited",
        sa.MENTOR_ID: invitation.mentor.id,
        sa.MENTEE_ID: invitation.mentee.id,
        sa.INITIATED_BY: invitation.initiated_by.value,
        sa.MISSED_CHECK_INS: 0,
        sa.AT_RISK: False,
        sa.NEXT_CHECK_IN_AT: None,
    }


async def attributes_of(handle: WorkflowHandle[Any, Any]) -> dict[SearchAttributeKey[Any], Any]:
    attributes = (await handle.describe()).typed_search_attributes
    # Set only once something fails (an email, a webhook delivery), and tested where it does.
    rare = (sa.FAILED_NOTIFICATIONS, sa.WEBHOOK_EVENTS_GIVEN_UP)
    return {key: attributes.get(key) for key in sa.ALL_KEYS if key not in rare}


async def test_search_attributes_start_with_the_invitation(live: tuple[Client, str, MailSink]) -> None:
    """mentorship_client.invite gives a new mentorship its search attributes in the start request, so the workflow
    upserts nothing until something changes; a start without them (the CLI, another client) gets them from the
    workflow."""
    client, task_queue, sink = live
    invitation = people("mentee")
    workflow_id = (await mentorship_client.invite(client, invitation, task_queue=task_queue)).workflow_id
    await wait_mail(sink, workflow_id, 2)
    assert await attributes_of(client.get_workflow_handle(workflow_id)) == initial_attributes(invitation)
    assert await upserts(client, workflow_id) == []
    await mentorship_client.act(client, workflow_id, "accept", {"by": invitation.mentor.id})
    # Only what acceptance changed.
    assert await upserts(client, workflow_id) == [{sa.STAGE.name, sa.NEXT_CHECK_IN_AT.name}]
    await mentorship_client.act(client, workflow_id, "withdraw", {"by": invitation.mentor.id})

    other = people("mentor")
    bare: dict[str, Any] = MentorshipInput.model_validate(other.model_dump()).model_dump(mode="json", exclude_none=True)
    handle: WorkflowHandle[Any, Any] = await client.start_workflow(
        WORKFLOW_TYPE, bare, id=workflow_id_for(other.mentor.id, other.mentee.id), task_queue=task_queue
    )
    await wait_mail(sink, handle.id, 2)
    assert await attributes_of(handle) == initial_attributes(other)
    assert len(await upserts(client, handle.id)) == 1
    await mentorship_client.act(client, handle.id, "withdraw", {"by": other.mentor.id})


async def test_an_update_answers_where_the_action_left_the_mentorship_at_a_size_that_does_not_grow(
    live: tuple[Client, str, MailSink],
) -> None:
    """Contract 2: every update's answer (kept in the history) is an ActionAnswer: the status's top-level fields
    callers read, and the timeline entries the action added; the status query answers the whole status."""
    client, task_queue, _ = live
    invitation = people("mentor")
    mentor, mentee = invitation.mentor.id, invitation.mentee.id
    workflow_id = (await mentorship_client.invite(client, invitation, task_queue=task_queue)).workflow_id
    handle = client.get_workflow_handle(workflow_id)
    accepted: ActionAnswer = await handle.execute_update("accept", {"by": mentee}, result_type=ActionAnswer)
    assert accepted.abridged and accepted.contract_version == 2 and accepted.stage is Stage.ACTIVE
    assert [entry.event for entry in accepted.timeline] == ["accepted"]
    assert accepted.next_check_in_due is not None and "check-in 1" in accepted.waiting_for
    sizes = []
    for n in range(1, 31):
        answer = await handle.execute_update("check_in", {"by": mentor, "note": f"note {n:02}"}, result_type=dict)
        sizes.append(len(json.dumps(answer)))
        assert answer["abridged"] is True and answer["stage"] == "active" and answer["workflow_id"] == workflow_id
        assert answer["check_ins_recorded"] == n and answer["cycle"] == n + 1
        assert [e["event"] for e in answer["timeline"]] == [f"check-in {n} recorded"]
        assert "invitation" not in answer and "check_ins" not in answer
    # The same size at the 30th check-in as at the 2nd (to a few bytes: numbers grow a digit), and small.
    assert max(sizes[1:]) - min(sizes[1:]) < 40, sizes
    assert max(sizes) < 1024, sizes
    whole = await mentorship_client.status(client, workflow_id)
    assert not whole.abridged and len(whole.check_ins) == 30 and len(whole.timeline) == 32
