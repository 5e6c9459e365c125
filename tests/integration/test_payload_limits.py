"""The server refuses a payload larger than the contract allows before it reaches a history, so a burst of huge
signals leaves the mentorship healthy (the dev server is started with the project's payload limits)."""

from __future__ import annotations

import asyncio
import json

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.common import RawValue
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import mentorship_client
from devtools.mailsink import MailSink
from infra.temporal import PAYLOAD_LIMIT_BYTES
from tests.support.builders import people
from tests.support.temporal import running_worker
from tests.support.waiting import wait_status
from workflows.contract import Stage


async def test_a_burst_of_huge_signals_is_refused_by_the_server_and_the_mentorship_goes_on(
    dev_env: WorkflowEnvironment, mail_sink: MailSink
) -> None:
    client = dev_env.client
    async with running_worker(client, mail_sink) as task_queue:
        invitation = people()
        started = await mentorship_client.invite(client, invitation, task_queue=task_queue)
        handle = client.get_workflow_handle(started.workflow_id)
        # 1.9 MB of JSON, sent raw (our client would refuse it first, as every contract-abiding one does).
        huge = json.dumps({"by": invitation.mentor.id, "note": "x" * 1_900_000}).encode()
        assert len(huge) > PAYLOAD_LIMIT_BYTES
        raw = RawValue(Payload(metadata={"encoding": b"json/plain"}, data=huge))

        async def send() -> BaseException | None:
            try:
                await handle.signal("accept", raw)
            except RPCError as err:
                return err
            return None

        outcomes = await asyncio.gather(*(send() for _ in range(30)))
        assert all(isinstance(outcome, RPCError) for outcome in outcomes), outcomes
        assert "size" in str(outcomes[0]).lower(), outcomes[0]
        history = await handle.fetch_history()
        assert not any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED for e in history.events)
        # Healthy: it answers, and the invitee accepts.
        await mentorship_client.send(client, handle.id, "accept", {"by": invitation.mentor.id})
        current = await wait_status(handle, lambda s: s.stage is Stage.ACTIVE, "accepted after the burst")
        assert current.refused_signals == []
        await mentorship_client.act(client, handle.id, "withdraw", {"by": invitation.mentee.id})
