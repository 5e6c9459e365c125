"""The signal and update definitions the Mentorship class is built from, one pair per row of the action table.

Why generated, and why here: every action is both a signal (fire and forget; a refusal is recorded in the status)
and an update (validated first, a refusal leaves no trace in history; answers the new status), and the fourteen
definitions differ only in the action. The sandbox executes ``workflows/mentorship.py`` afresh for every
mentorship a worker starts or replays; this module is passed through, so the definitions (whose decorators
inspect signatures) are built once per worker instead of once per mentorship (about 4 ms of worker CPU each,
``bench/replay_cost.py``). Nothing here holds state or reads the clock.
"""

from __future__ import annotations

import functools
from typing import Any

from temporalio import workflow

from workflows.actions import Action
from workflows.contract import ActionAnswer


# Cached: built once per worker and shared by every Mentorship class the sandbox builds. They only delegate to
# the instance.
@functools.cache
def signal(action: Action[Any]) -> Any:
    """The signal ``action.name``: a refusal changes nothing and is recorded in the status."""

    # `self: Any`: the SDK resolves these hints while the class body is still being built.
    # `*inputs: Any`: JSON of any shape, and any number of inputs (none, two), reaches the handler and is judged
    # there. A typed parameter would make the SDK drop a malformed signal with only a worker log line, and a
    # missing input would raise TypeError in the handler: a workflow task failing forever.
    def handler(self: Any, *inputs: Any) -> None:
        self._as_signal(action, inputs)

    handler.__name__ = f"{action.name}_signal"
    handler.__doc__ = f"Signal {action.name!r}: {action.description} Input: {action.input.__name__}."
    return workflow.signal(name=action.name)(handler)


@functools.cache
def update(action: Action[Any]) -> Any:
    """The update ``action.name``: the validator refuses (leaving no trace in history) what does not fit."""

    async def handler(self: Any, *inputs: Any) -> ActionAnswer:
        answer: ActionAnswer = await self._as_update(action, inputs)
        return answer

    def validator(self: Any, *inputs: Any) -> None:
        self._validate(action, inputs)

    handler.__name__ = action.name
    handler.__doc__ = f"Update {action.name!r}: {action.description} Input: {action.input.__name__}."
    definition = workflow.update(name=action.name)(handler)
    definition.validator(validator)
    return definition
