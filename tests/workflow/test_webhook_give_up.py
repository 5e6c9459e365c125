"""An event no receiver took in three days of retries, on the time-skipping server (the days pass in seconds):
given up on and counted (status, search attribute, current details), and the mentorship goes on meanwhile."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from temporalio.api.enums.v1 import EventType as HistoryEventType

import mentorship_client
from devtools.mailsink import MailSink, free_port
from tests.support.builders import people
from tests.support.temporal import running_worker, time_skipping_server
from tests.support.waiting import terminate_when_idle, wait_mail, wait_status
from workflows.contract import Stage, mentorship_key

SECRET = "whsec_" + base64.b64encode(b"nobody-listens-on-this-port-32b!").decode()


async def test_an_event_nobody_takes_for_three_days_is_given_up_on_and_counted(mail_sink: MailSink) -> None:
    nobody = f"http://127.0.0.1:{free_port('127.0.0.1')}/webhooks"  # a port nothing listens on
    endpoints = json.dumps([{"url": nobody, "secrets": [SECRET]}])
    # A server of its own: three days of retries must not share a clock with other tests.
    async with (
        time_skipping_server() as env,
        running_worker(env.client, mail_sink, mentorship_webhook_endpoints=endpoints) as task_queue,
    ):
        client = env.client
        invitation = people("mentee", respond_within="P10D", remind_after="P2D")
        workflow_id = (await mentorship_client.invite(client, invitation, task_queue=task_queue)).workflow_id
        handle = client.get_workflow_handle(workflow_id)
        await wait_mail(mail_sink, workflow_id, 2)
        # Two days on: the invitation is reminded (its email goes) while the first event is still being retried.
        await env.sleep(timedelta(days=2, hours=1))
        await wait_mail(mail_sink, workflow_id, 3)
        current = await wait_status(handle, lambda s: s.webhooks.pending == 2, "two events owed")
        assert current.webhooks.given_up == 0 and current.stage is Stage.INVITED
        # Past three days: the invitation's event is given up on, then the reminder's after its own three days.
        await env.sleep(timedelta(days=3))
        current = await wait_status(handle, lambda s: s.webhooks.given_up >= 1, "the first event given up on")
        assert current.webhooks.last_failure is not None
        key = mentorship_key(current.workflow_id, current.invited_at)
        assert current.webhooks.last_failure.startswith(f"evt_{key}_1 (mentorship.invited)")
        assert "could not post" in current.webhooks.last_failure and current.stage is Stage.INVITED
        history = await handle.fetch_history()
        upserted = [
            event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            for event in history.events
            if event.event_type == HistoryEventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
        ]
        assert any("WebhookEventsGivenUp" in fields for fields in upserted)
        await mentorship_client.act(client, workflow_id, "withdraw", {"by": invitation.mentee.id})
        await terminate_when_idle(client, workflow_id)
