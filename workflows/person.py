"""The Person workflow: one durable record per person (id ``person-{id}``), holding their limits and the places
their open mentorships hold. Started on first need by update-with-start (``take_place`` from a mentorship's
acceptance, ``set_limits`` from a client), it never ends; it continues as new to stay small.

Why a workflow: a workflow handles its updates one at a time, so two acceptances racing for a person's last
place are decided one after the other, on the same state, whatever the interleaving of workers and retries.
Nothing reads a database before writing.

The decisions (``workflows/places.py``) are pure; this class orchestrates. Handlers only decide. The main loop
does the I/O: it asks the mentorships whether places are still theirs (an activity) when a refusal might be
wrong, keeps the search attribute ``PersonAvailability`` and the current details up to date, and continues as
new.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    import workflows.outbox as outbox
    import workflows.places as places
    import workflows.rules as rules
    import workflows.search_attributes as sa
    from workflows.contract import (
        FIND_ENDED_PLACES,
        INVALID_INPUT,
        PERSON_WORKFLOW_TYPE,
        TRUSTED,
        FindEndedPlacesInput,
        PersonInput,
        PersonStatus,
        PlaceAnswer,
        PlaceRelease,
        PlaceRequest,
        SetLimitsInput,
        explain,
    )
    from workflows.events import person_event

# Asking the mentorships is cheap and idempotent: retried until it answers.
CHECK_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
CHECK_TIMEOUT = timedelta(minutes=2)
# The check heartbeats once per place it asks about: one cut off by a worker's death is retried after this, not
# after CHECK_TIMEOUT (every refusal of the person waits for it).
CHECK_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# A person's record continues as new well before Temporal would suggest it: it is asked on every acceptance of
# every one of their mentorships, and a short history keeps each of those cheap to replay.
HISTORY_EVENTS_PER_RUN = 2000
# Added after release: histories recorded before it delivered no events.
PATCH_WEBHOOKS = "webhooks"


@workflow.defn(name=PERSON_WORKFLOW_TYPE)
class PersonRecord:
    @workflow.init
    def __init__(self, *inputs: Any) -> None:
        self._invalid: str | None = None
        continued = workflow.info().continued_run_id is not None
        try:
            raw = rules.single_input(inputs, "the person input")
            input = PersonInput.model_validate(raw, context={TRUSTED: True} if continued else None)
        except ValidationError as err:
            self._invalid = f"the person input is not valid: {explain(err)}"
            return
        except rules.Refused as refused:
            self._invalid = str(refused)
            return
        if workflow.info().workflow_id != f"person-{input.person_id}":
            self._invalid = f"a Person workflow's id is person-{{person_id}}; got {workflow.info().workflow_id!r}"
            return
        self._history_event_limit = input.history_event_limit or HISTORY_EVENTS_PER_RUN
        self.state = input.carried or PersonStatus(person_id=input.person_id)
        self._published: list[str] | None = None
        # Bumped by every change, so the main loop wakes up and publishes.
        self._changes = 0
        self._changes_seen = 0
        # Refusals wait for a check of the places that might belong to ended mentorships: requested by a
        # handler, done by the main loop; each check done bumps ``_checks_done``.
        self._check_requested = False
        self._checks_done = 0
        self._webhooks = outbox.EventOutbox(self.state.webhooks, on_change=self._changed)

    def _changed(self) -> None:
        self._changes += 1

    @workflow.run
    async def run(self, *inputs: Any) -> None:
        if self._invalid is not None:
            raise ApplicationError(self._invalid, type=INVALID_INPUT, non_retryable=True)
        while True:
            self._publish()
            self._webhooks.dispatch()
            if self._check_requested:
                await self._check_places()
                continue
            if not self._webhooks.busy and workflow.info().get_current_history_length() >= self._history_event_limit:
                # Between updates, so that no caller waits across the new run.
                await workflow.wait_condition(lambda: workflow.all_handlers_finished() or self._check_requested)
                if not self._check_requested:
                    workflow.continue_as_new(
                        PersonInput(
                            person_id=self.state.person_id,
                            carried=self.state,
                            history_event_limit=self._history_event_limit,
                        )
                    )
                continue
            self._changes_seen = self._changes
            await workflow.wait_condition(lambda: self._changes != self._changes_seen or self._check_requested)

    # --- Query ---------------------------------------------------------------------------------------------

    @workflow.query(name="status")
    def status(self) -> PersonStatus:
        if self._invalid is not None:
            raise ApplicationError(self._invalid, type=INVALID_INPUT)
        return self.state

    # --- Updates (each validated first: a refused one leaves no trace in history) -----------------------------

    @workflow.update(name="set_limits")
    def set_limits(self, *inputs: Any) -> PersonStatus:
        limits = self._parse(SetLimitsInput, "set_limits", inputs)
        if places.set_limits(self.state, limits, workflow.now()):
            if workflow.patched(PATCH_WEBHOOKS):
                state = self.state
                state.events_emitted += 1
                self._webhooks.add(
                    [
                        person_event(
                            person_id=state.person_id,
                            sequence=state.events_emitted,
                            occurred_at=workflow.now(),
                            max_mentees=state.max_mentees,
                            max_mentors=state.max_mentors,
                        )
                    ]
                )
            self._changes += 1
        return self.state

    @set_limits.validator
    def _validate_set_limits(self, *inputs: Any) -> None:
        self._validate(SetLimitsInput, "set_limits", inputs)

    @workflow.update(name="take_place")
    async def take_place(self, *inputs: Any) -> PlaceAnswer:
        request = self._parse(PlaceRequest, "take_place", inputs)
        answer = places.take(self.state, request, workflow.now())
        if not answer.granted and places.worth_checking(self.state, request.role):
            # Maybe a place is held by a mentorship that ended without giving it back: ask, then decide again.
            # Decided again from the state as it is then, so racing requests still never over-grant.
            self.state.refusals -= 1
            checks = self._checks_done
            self._check_requested = True
            await workflow.wait_condition(lambda: self._checks_done > checks)
            answer = places.take(self.state, request, workflow.now())
        self._changes += 1
        return answer

    @take_place.validator
    def _validate_take_place(self, *inputs: Any) -> None:
        self._validate(PlaceRequest, "take_place", inputs)

    @workflow.update(name="release_place")
    def release_place(self, *inputs: Any) -> bool:
        release = self._parse(PlaceRelease, "release_place", inputs)
        released = places.release(self.state, release.key)
        if released:
            self._changes += 1
        return released

    @release_place.validator
    def _validate_release_place(self, *inputs: Any) -> None:
        self._validate(PlaceRelease, "release_place", inputs)

    def _parse(self, model: Any, name: str, inputs: tuple[Any, ...]) -> Any:
        if self._invalid is not None:
            raise ApplicationError(self._invalid, type=INVALID_INPUT)
        return rules.parse_input(name, model, inputs)

    def _validate(self, model: Any, name: str, inputs: tuple[Any, ...]) -> None:
        try:
            self._parse(model, name, inputs)
        except rules.Refused as refused:
            raise ValueError(str(refused)) from None

    # --- The main loop's I/O -----------------------------------------------------------------------------------

    async def _check_places(self) -> None:
        """Ask the mentorships holding places whether they still do; take back the places of those that ended."""
        self._check_requested = False
        held = list(self.state.places)
        ended: list[str] = await workflow.execute_activity(
            FIND_ENDED_PLACES,
            FindEndedPlacesInput(places=held),
            result_type=list[str],
            start_to_close_timeout=CHECK_TIMEOUT,
            heartbeat_timeout=CHECK_HEARTBEAT_TIMEOUT,
            retry_policy=CHECK_RETRY,
            summary=f"Are these {len(held)} places still held?",
        )
        taken_back = places.reclaim(self.state, set(ended))
        for place in taken_back:
            workflow.logger.warning("Took back the place of %s: it ended without giving it back", place.workflow_id)
        self._checks_done += 1
        self._changes += 1

    def _publish(self) -> None:
        values = places.availability(self.state)
        if values != self._published:
            workflow.upsert_search_attributes([sa.PERSON_AVAILABILITY.value_set(values)])
            self._published = values
        state = self.state
        workflow.set_current_details(
            f"**Mentors:** {state.open_as_mentor} of {_limit(state.max_mentees)}\n\n"
            f"**Has mentors:** {state.open_as_mentee} of {_limit(state.max_mentors)}"
        )


def _limit(value: int | None) -> str:
    return "no limit" if value is None else str(value)
