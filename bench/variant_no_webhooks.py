"""Variant ``no-webhooks``: ``passthrough`` that emits no webhook events (see bench/variants.py)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contract import MentorshipStatus
    from workflows.mentorship import Mentorship


@workflow.defn(name="Mentorship")
class NoWebhooks(Mentorship):
    """Events are neither numbered nor delivered, as before issue 17: no local activity asking whether anyone
    takes them, no delivery. What webhooks cost a mentorship with no endpoint configured."""

    @workflow.init
    def __init__(self, *inputs: Any) -> None:
        super().__init__(*inputs)

    @workflow.run
    async def run(self, *inputs: Any) -> MentorshipStatus:
        return await super().run(*inputs)

    def _events_out(self) -> bool:
        return False
