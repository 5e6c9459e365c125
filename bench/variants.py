"""Experimental variants of the Mentorship, to measure a proposed change before anyone makes it in workflows/.

Each variant is registered under the workflow type ``Mentorship`` (on its own task queue) and differs from
``workflows.mentorship.Mentorship`` only as its docstring says. None of them is deployed.

A variant subclasses the Mentorship, whose module is imported here *passed through* the sandbox: unlike the
deployed workflow (whose module the sandbox executes afresh for every workflow instance), a variant's
instances share that module. ``passthrough`` measures exactly that and nothing else; compare the other
variants with it, not with the deployed Mentorship.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contract import MentorshipStatus
    from workflows.mentorship import Mentorship
    from workflows.parts import Refused


@workflow.defn(name="Mentorship")
class Passthrough(Mentorship):
    """The Mentorship unchanged, but its module passed through the sandbox (imported once per worker, not once
    per workflow instance). Only this module (a few lines) is executed per instance."""

    @workflow.init
    def __init__(self, raw: Any) -> None:
        super().__init__(raw)

    @workflow.run
    async def run(self, raw: Any) -> MentorshipStatus:
        return await super().run(raw)


@workflow.defn(name="Mentorship")
class NoSearchAttributes(Passthrough):
    """``passthrough`` that never upserts search attributes (current details are still set): what the
    attributes cost. Not a proposal (operators find mentorships by them): a measurement of their share."""

    @workflow.init
    def __init__(self, raw: Any) -> None:
        super().__init__(raw)

    @workflow.run
    async def run(self, raw: Any) -> MentorshipStatus:
        return await super().run(raw)

    def _publish(self) -> None:
        workflow.set_current_details(self._details())


VARIANTS: dict[str, type[Mentorship]] = {
    "passthrough": Passthrough,
    "no-search-attributes": NoSearchAttributes,
}


@workflow.defn(name="Mentorship")
class Lean(Passthrough):
    """``passthrough`` plus two changes that leave every command (and so every history) as it is:

    1. A sent email no longer wakes the main loop: it changes nothing the loop publishes (search attributes,
       current details), so the pass only recomputed them. (A failed one still does; so does the last send
       while continue-as-new waits for sends to finish.)
    2. An update's input is parsed and judged once: the handler reuses what its validator found, when nothing
       changed in between (today both call ``_check``).
    """

    @workflow.init
    def __init__(self, raw: Any) -> None:
        super().__init__(raw)
        self._judged: tuple[str, Any, int, Any] | None = None

    @workflow.run
    async def run(self, raw: Any) -> MentorshipStatus:
        return await super().run(raw)

    async def _deliver(self, notification: Any) -> None:
        failed = self.s.notifications_failed
        await super()._deliver(notification)
        if self.s.notifications_failed == failed and (self._sending or not self._history_is_long()):
            self._changes -= 1  # undo the wake-up that _deliver's `finally` just asked for

    def _validate(self, action: str, raw: Any) -> None:
        try:
            parsed = self._check(action, raw)
        except Refused as refused:
            raise ValueError(str(refused)) from None
        self._judged = (action, raw, self._changes, parsed)

    def _as_update(self, action: str, raw: Any) -> MentorshipStatus:
        judged, self._judged = self._judged, None
        if judged is not None and judged[0] == action and judged[1] is raw and judged[2] == self._changes:
            self._apply(action, judged[3])
            return self.status()
        return super()._as_update(action, raw)


VARIANTS["lean"] = Lean
