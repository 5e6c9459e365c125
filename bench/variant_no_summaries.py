"""Variant ``no-summaries``: ``passthrough`` whose timers and email activities carry no summary (see
bench/variants.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contract import SEND_NOTIFICATION, MentorshipStatus, Notification, SendReceipt
    from workflows.mentorship import EMAIL_GIVE_UP_AFTER, EMAIL_RETRY, Mentorship
    from workflows.parts import NextDue


@workflow.defn(name="Mentorship")
class NoSummaries(Mentorship):
    """Timers and activities without the summaries the UI shows for them: what the summaries cost (each is a
    payload the SDK converts and visits on every workflow task that issues it). Not a proposal. Its email
    delivery omits the failure branch of the Mentorship's: the benchmarks' mail sink accepts everything."""

    @workflow.init
    def __init__(self, *inputs: Any) -> None:
        super().__init__(*inputs)

    @workflow.run
    async def run(self, *inputs: Any) -> MentorshipStatus:
        return await super().run(*inputs)

    def _keep_timer(self, due: NextDue | None) -> asyncio.Task[None] | None:
        if due != self._timer_for or self._timer is None or self._timer.done():
            if self._timer is not None and not self._timer.done():
                self._timer.cancel()
            self._timer_for = due
            self._timer = None if due is None else asyncio.create_task(workflow.sleep(due.at - workflow.now()))
        return self._timer

    async def _deliver(self, notification: Notification) -> None:
        try:
            await workflow.execute_activity(
                SEND_NOTIFICATION,
                notification,
                result_type=SendReceipt,
                start_to_close_timeout=timedelta(minutes=1),
                schedule_to_close_timeout=EMAIL_GIVE_UP_AFTER,
                retry_policy=EMAIL_RETRY,
            )
            self.s.notifications_sent += 1
        finally:
            self._sending -= 1
            self._changes += 1
