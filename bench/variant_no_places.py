"""Variant ``no-places``: ``passthrough`` whose acceptances take no places in people's records, and whose ends
give none back (see bench/variants.py)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import workflows.actions as actions
    from workflows.contract import MentorshipStatus
    from workflows.mentorship import Mentorship


@workflow.defn(name="Mentorship")
class NoPlaces(Mentorship):
    """An acceptance applied at once, as before per-person limits (issue 14): no ``take_places`` activity, no
    ``release_places`` at the end, no Person record touched. What taking and giving back places costs a
    mentorship. Not a proposal: without it limits cannot hold."""

    @workflow.init
    def __init__(self, *inputs: Any) -> None:
        super().__init__(*inputs)

    @workflow.run
    async def run(self, *inputs: Any) -> MentorshipStatus:
        return await super().run(*inputs)

    def _needs_places(self, action: actions.Action[Any], parsed: Any) -> bool:
        return False
