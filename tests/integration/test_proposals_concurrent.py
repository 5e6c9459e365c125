"""Proposals from both sides at the same moment, on the real dev server: exactly one is open, the other is
refused with the reason, whatever the interleaving."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

import mentorship_client
from devtools.mailsink import MailSink
from tests.support.builders import people
from tests.support.temporal import running_worker
from workflows.contract import Role


@pytest_asyncio.fixture
async def live(dev_env: WorkflowEnvironment, mail_sink: MailSink) -> AsyncIterator[tuple[Client, str]]:
    async with running_worker(dev_env.client, mail_sink) as task_queue:
        yield dev_env.client, task_queue


async def test_both_propose_at_once_and_one_proposal_is_open(live: tuple[Client, str]) -> None:
    client, task_queue = live
    for _ in range(5):
        invitation = people("mentee")
        current = await mentorship_client.invite(client, invitation, task_queue=task_queue)
        await mentorship_client.act(client, current.workflow_id, "accept", {"by": invitation.mentor.id})

        async def propose(workflow_id: str, by: str) -> str | None:
            try:
                await mentorship_client.act(client, workflow_id, "propose_change", {"by": by, "extend_term_by": "P1M"})
            except WorkflowUpdateFailedError as err:
                assert isinstance(err.cause, ApplicationError)
                return err.cause.message
            return None

        outcomes = await asyncio.gather(
            propose(current.workflow_id, invitation.mentor.id), propose(current.workflow_id, invitation.mentee.id)
        )
        assert sorted(outcome is None for outcome in outcomes) == [False, True], outcomes
        refusal = next(outcome for outcome in outcomes if outcome is not None)
        assert "already proposed a change" in refusal
        status = await mentorship_client.status(client, current.workflow_id)
        assert status.proposal is not None and status.proposals == 1
        winner = Role.MENTOR if outcomes[0] is None else Role.MENTEE
        assert status.proposal.role is winner
        # The loser can answer it: the proposal waits for them.
        await mentorship_client.act(
            client, current.workflow_id, "decline_change", {"by": invitation.person(winner.other).id}
        )
        await mentorship_client.act(client, current.workflow_id, "withdraw", {"by": invitation.mentor.id})
