"""Variant ``passthrough``: the Mentorship unchanged, its module passed through the sandbox (see bench/variants.py)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contract import MentorshipStatus
    from workflows.mentorship import Mentorship


@workflow.defn(name="Mentorship")
class Passthrough(Mentorship):
    """The Mentorship unchanged, but ``workflows/mentorship.py`` imported once per worker rather than once per
    workflow instance: only this small module is executed per instance. The baseline of the other variants."""

    @workflow.init
    def __init__(self, *inputs: Any) -> None:
        super().__init__(*inputs)

    @workflow.run
    async def run(self, *inputs: Any) -> MentorshipStatus:
        return await super().run(*inputs)
