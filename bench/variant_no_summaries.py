"""Variant ``no-summaries``: ``passthrough`` whose timers and email activities carry no summary (see
bench/variants.py)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contract import MentorshipStatus
    from workflows.mentorship import Mentorship


@workflow.defn(name="Mentorship")
class NoSummaries(Mentorship):
    """Timers and activities without the summaries the UI shows for them: what the summaries cost (each is a
    payload the SDK converts and visits on every workflow task that issues it). Not a proposal. Turned off
    through the workflow's own seam (``summarizes_commands``), so it measures the deployed code."""

    summarizes_commands = False

    @workflow.init
    def __init__(self, *inputs: Any) -> None:
        super().__init__(*inputs)

    @workflow.run
    async def run(self, *inputs: Any) -> MentorshipStatus:
        return await super().run(*inputs)
