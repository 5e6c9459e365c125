"""Variant ``no-search-attributes``: ``passthrough`` that never upserts search attributes (see bench/variants.py)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contract import MentorshipStatus
    from workflows.mentorship import Mentorship


@workflow.defn(name="Mentorship")
class NoSearchAttributes(Mentorship):
    """No search attributes (current details are still kept): what the attributes cost. Not a proposal:
    operators find mentorships by them. Turned off through the workflow's own seam
    (``publishes_search_attributes``), so it measures the deployed code."""

    publishes_search_attributes = False

    @workflow.init
    def __init__(self, *inputs: Any) -> None:
        super().__init__(*inputs)

    @workflow.run
    async def run(self, *inputs: Any) -> MentorshipStatus:
        return await super().run(*inputs)
