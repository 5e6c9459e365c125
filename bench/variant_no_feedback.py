"""Variant ``no-feedback``: ``passthrough`` that asks for no feedback when it ends (see bench/variants.py)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contract import MentorshipStatus
    from workflows.mentorship import Mentorship


@workflow.defn(name="Mentorship")
class NoFeedback(Mentorship):
    """An ended mentorship starts no Feedback workflow (as before issue 15): no workflow start, no feedback
    emails. What asking for feedback costs a mentorship. Not a proposal: the feedback is a feature."""

    @workflow.init
    def __init__(self, *inputs: Any) -> None:
        super().__init__(*inputs)

    @workflow.run
    async def run(self, *inputs: Any) -> MentorshipStatus:
        return await super().run(*inputs)

    def _asks_feedback(self) -> bool:
        return False
