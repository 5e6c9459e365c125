"""The mentorship workflow: one durable workflow carries one mentorship from invitation to its end.

This class only orchestrates. What a mentorship *decides* lives in pure modules it imports passed through the
sandbox, each unit-tested without a server:

- ``workflows/actions.py``: the action table (name → input model → rule → effect); the handlers below are
  generated from its rows.
- ``workflows/rules.py``: who may do what at which stage.
- ``workflows/effects.py``: what each action and each timed event changes, and whom it tells.
- ``workflows/plan.py``: what falls due next.
- ``workflows/wording.py``: what the status, the Temporal UI and the activity summaries say.

Handlers only decide: they judge an action (its rule) and apply it (its effect), which changes the state and
queues notifications. The main loop (``run``) sends what is queued, keeps the search attributes and current
details up to date, waits for the next due moment or the next change, and continues as new when the history
grows long. All I/O is in activities. One state object (``MentorshipStatus``) is carried across continue-as-new.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    # `import a.b as c`, not `from a import b`: the latter imports the submodule afresh in every sandbox.
    import workflows.actions as actions
    import workflows.delivery as delivery
    import workflows.effects as effects
    import workflows.handlers as handlers
    import workflows.outbox as outbox
    import workflows.plan as plan
    import workflows.rules as rules
    import workflows.search_attributes as sa
    import workflows.wording as wording
    from workflows.contract import (
        FEEDBACK_WORKFLOW_TYPE,
        INVALID_INPUT,
        NO_FREE_PLACE,
        REFUSED,
        RELEASE_PLACES,
        TAKE_PLACES,
        TRUSTED,
        WORKFLOW_TYPE,
        ActionAnswer,
        FeedbackStart,
        MentorshipInput,
        MentorshipStatus,
        Notification,
        PlaceAnswer,
        ReleasePlacesInput,
        Stage,
        TakePlacesInput,
        explain,
        feedback_workflow_id,
        mentorship_key,
    )

# Changes to the commands a workflow issues, guarded for histories recorded before them
# (see tests/workflow/test_replay.py).
PATCH_FAILED_NOTIFICATIONS_ATTRIBUTE = "failed-notifications-search-attribute"
PATCH_TIMED_EVENTS_FIRST = "timed-events-before-actions"
PATCH_PLACES = "places-taken-on-acceptance"
PATCH_FEEDBACK = "feedback-after-end"
PATCH_WEBHOOKS = "webhooks"

# Taking places asks two people's records (workflows/person.py); retried while they cannot be reached, for up to
# this long, then the acceptance is refused with the reason (and anything taken is given back).
PLACES_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
PLACES_ATTEMPT_TIMEOUT = timedelta(seconds=30)
PLACES_GIVE_UP_AFTER = timedelta(minutes=5)
# Giving places back is retried until it is done: a place never given back would keep a person from new ones
# (their record would also find it, the next time it refuses someone).
RELEASE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))


@dataclass
class _Acceptance:
    """An action that makes the mentorship active, waiting for its places (the main loop takes them); or any
    action that came while one was waiting, queued behind it so that actions apply in the order they came."""

    action: actions.Action[Any]
    inputs: tuple[Any, ...]
    # An update waits for the outcome and reads a refusal as its error; a signal's refusal is recorded.
    from_update: bool
    # None while undecided; "" when applied; else why it was refused.
    refused: str | None = None
    # Whether it was refused for want of a place (error type NoFreePlace) rather than by a rule (Refused).
    for_a_place: bool = False


@workflow.defn(name=WORKFLOW_TYPE)
class Mentorship:
    # Seams for the benchmarks' variants (bench/variants.py), which measure what a part costs by turning it off.
    # Deployed, both are always on: operators find mentorships by their search attributes, and read what each
    # timer and email is by its summary.
    publishes_search_attributes: ClassVar[bool] = True
    summarizes_commands: ClassVar[bool] = True

    # The input is a MentorshipInput, taken as raw JSON and validated here: a client that is not ours (the
    # `temporal` CLI, another language's SDK) may send anything, and a typed parameter would turn a malformed
    # input into a workflow task retried forever instead of a workflow failed with the reason.
    @workflow.init
    def __init__(self, *inputs: Any) -> None:
        self._invalid: str | None = None
        continued = workflow.info().continued_run_id is not None
        try:
            raw = rules.single_input(inputs, "the mentorship input")
            if isinstance(raw, dict) and raw.get("carried") is not None and not continued:
                raise rules.Refused(
                    "the mentorship input is not valid: carried: set by the workflow itself when it continues as "
                    "new; leave it out"
                )
            # What a run carries over was checked when it came in: rules added since must not fail it.
            input = MentorshipInput.model_validate(raw, context={TRUSTED: True} if continued else None)
        except ValidationError as err:
            self._invalid = f"the mentorship input is not valid: {explain(err)}"
            return
        except rules.Refused as refused:
            self._invalid = str(refused)
            return
        self._history_event_limit = input.history_event_limit
        self._outbox: list[Notification] = []
        self._sending = 0
        self._sends: set[asyncio.Task[None]] = set()
        # Bumped by every change, so the main loop wakes up and re-plans.
        self._changes = 0
        self._changes_seen = 0
        # What is already in visibility, so that only changes are upserted. A first run may have been given its
        # initial search attributes in the start request (the client library does); a start without any (an
        # older client, the CLI) has the workflow upsert all of them, as every history recorded before this did.
        self._published: dict[str, Any] = (
            {} if continued else sa.given_at_start(workflow.info().typed_search_attributes)
        )
        self._timer: asyncio.Task[None] | None = None
        self._timer_for: plan.NextDue | None = None
        # Acceptances waiting for their places, taken one at a time by the main loop; and whether places are
        # being taken or given back right now.
        self._acceptances: list[_Acceptance] = []
        self._placing = False
        self._feedback_decided = False
        # Whether this run delivers events (decided once, by its patch: see _events_out).
        self._delivers_events: bool | None = None
        if input.carried is not None:
            self.state = input.carried
        else:
            start = effects.new_mentorship(workflow.info().workflow_id, input.invitation(), workflow.now())
            self.state = start.state
        self._webhooks = outbox.EventOutbox(
            self.state.webhooks, summarize=self.summarizes_commands, on_change=self._changed
        )
        if input.carried is None:
            self._take(start)

    @workflow.run
    async def run(self, *inputs: Any) -> MentorshipStatus:
        if self._invalid is not None:
            # Nothing was sent and nothing is waited for: the caller reads the reason in the failure.
            raise ApplicationError(self._invalid, type=INVALID_INPUT, non_retryable=True)
        while True:
            self._dispatch()
            self._publish()
            if not self.state.stage.is_open:
                if self._asks_feedback():
                    await self._start_feedback()
                    continue
                if self._places_settled():
                    break
                # An acceptance still under way (it will be refused), or the places to give back.
                self._changes_seen = self._changes
                await workflow.wait_condition(lambda: self._changes != self._changes_seen or bool(self._outbox))
                continue
            if self._sending == 0 and not self._webhooks.busy and self._places_settled() and self._history_is_long():
                await workflow.wait_condition(lambda: workflow.all_handlers_finished() or bool(self._acceptances))
                # A handler that ran meanwhile may have queued emails or events: those go out first (its events in
                # this run, so that they keep their order).
                if not self._outbox and not self._webhooks.busy and self.state.stage.is_open and self._places_settled():
                    self._continue_as_new()
                continue
            due = plan.next_due(self.state)
            if due is not None and due.at <= workflow.now():
                self._on_due(due)
                continue
            timer = self._keep_timer(due)
            self._changes_seen = self._changes
            await workflow.wait_condition(self._woken)
            if timer is not None and timer.done() and due is not None:
                # A signal handled in the same task may have moved the plan; act only on what is still due.
                still_due = plan.next_due(self.state)
                if still_due is not None and still_due.event is due.event and still_due.at <= workflow.now():
                    self._on_due(still_due)
        await workflow.wait_condition(lambda: self._sending == 0 and workflow.all_handlers_finished())
        # The pair may start again at once: events still being retried go on in a workflow of their own.
        await self._webhooks.finish(f"webhooks-{mentorship_key(self.state.workflow_id, self.state.invited_at)}")
        self._publish()
        return self.status()

    # --- Queries -----------------------------------------------------------------------------------------

    @workflow.query(name="status")
    def status(self) -> MentorshipStatus:
        if self._invalid is not None:
            raise ApplicationError(self._invalid, type=INVALID_INPUT)
        # A copy: a query must not change the state it reports. It reports the state after the timed events
        # already due, as the next action will find it (the link pages judge by it).
        state, due_emails = self._caught_up_copy()
        # Pending: being sent, queued, or due from the timed events already due but not yet handled.
        pending = self._sending + len(self._outbox) + due_emails
        return state.model_copy(update={"waiting_for": wording.waiting_for(state), "notifications_pending": pending})

    # --- Signals and updates: one pair per row of the action table (workflows/actions.py), each row naming
    # the input model, the rule and the effect. The names and the one-JSON-object inputs are the public contract
    # (README). Generated by workflows/handlers.py; they call _as_signal, _validate and _as_update below.

    invite_signal = handlers.signal(actions.INVITE)  # Invitation
    invite = handlers.update(actions.INVITE)
    accept_signal = handlers.signal(actions.ACCEPT)  # AcceptInput
    accept = handlers.update(actions.ACCEPT)
    decline_signal = handlers.signal(actions.DECLINE)  # DeclineInput
    decline = handlers.update(actions.DECLINE)
    withdraw_signal = handlers.signal(actions.WITHDRAW)  # WithdrawInput
    withdraw = handlers.update(actions.WITHDRAW)
    check_in_signal = handlers.signal(actions.CHECK_IN)  # CheckInInput
    check_in = handlers.update(actions.CHECK_IN)
    pause_signal = handlers.signal(actions.PAUSE)  # PauseInput
    pause = handlers.update(actions.PAUSE)
    resume_signal = handlers.signal(actions.RESUME)  # ResumeInput
    resume = handlers.update(actions.RESUME)
    propose_change_signal = handlers.signal(actions.PROPOSE_CHANGE)  # ProposeChangeInput
    propose_change = handlers.update(actions.PROPOSE_CHANGE)
    accept_change_signal = handlers.signal(actions.ACCEPT_CHANGE)  # AcceptChangeInput
    accept_change = handlers.update(actions.ACCEPT_CHANGE)
    decline_change_signal = handlers.signal(actions.DECLINE_CHANGE)  # DeclineChangeInput
    decline_change = handlers.update(actions.DECLINE_CHANGE)
    withdraw_change_signal = handlers.signal(actions.WITHDRAW_CHANGE)  # WithdrawChangeInput
    withdraw_change = handlers.update(actions.WITHDRAW_CHANGE)

    def _judge(
        self, action: actions.Action[Any], inputs: tuple[Any, ...], state: MentorshipStatus | None = None
    ) -> Any:
        """Parse the input and run the action's rule, changing nothing; raise Refused with the reason."""
        if self._invalid is not None:
            raise rules.Refused(self._invalid)
        parsed = action.parse(inputs)
        action.rule(state or self.state, parsed, workflow.now())
        return parsed

    def _validate(self, action: actions.Action[Any], inputs: tuple[Any, ...]) -> None:
        try:
            # Judged as the handler will judge it: after the timed events already due (a validator must not
            # change the state, so on a copy).
            self._judge(action, inputs, self._caught_up_copy()[0])
        except rules.Refused as refused:
            # A rejected update leaves no trace in history; the caller reads the reason.
            raise ValueError(str(refused)) from None

    async def _as_update(self, action: actions.Action[Any], inputs: tuple[Any, ...]) -> ActionAnswer:
        self._catch_up()
        entries_before = self._entries()
        parsed = self._judge(action, inputs)
        if self._queue_busy() or self._needs_places(action, parsed):
            acceptance = _Acceptance(action, inputs, from_update=True)
            self._acceptances.append(acceptance)
            self._changes += 1
            await workflow.wait_condition(lambda: acceptance.refused is not None)
            if acceptance.refused:
                # The update's error, as a validator's refusal reads: the caller sees the reason.
                raise ApplicationError(acceptance.refused, type=NO_FREE_PLACE if acceptance.for_a_place else REFUSED)
            return self._answer(entries_before)
        self._apply(action, parsed)
        return self._answer(entries_before)

    def _entries(self) -> int:
        """Timeline entries ever recorded (kept or dropped)."""
        return self.state.timeline_entries_dropped + len(self.state.timeline)

    def _answer(self, entries_before: int) -> ActionAnswer:
        """An update's answer (contract 2), which the history keeps: the same size however old the mentorship."""
        return ActionAnswer.of(self.status(), added=max(0, self._entries() - entries_before))

    def _as_signal(self, action: actions.Action[Any], inputs: tuple[Any, ...]) -> None:
        if self._invalid is not None:
            return  # The workflow fails with the reason; there is no state to record a refusal in.
        self._catch_up()
        if self._queue_busy():
            # Judged in its turn, on the state the acceptance before it leaves: a check-in sent right after an
            # accept must not be refused because the accept is still taking its places.
            self._acceptances.append(_Acceptance(action, inputs, from_update=False))
            self._changes += 1
            return
        try:
            parsed = self._judge(action, inputs)
        except rules.Refused as refused:
            raw = inputs[0] if len(inputs) == 1 else None
            effects.signal_refused(self.state, action.name, raw, str(refused), workflow.now())
            workflow.logger.warning("Refused signal %s: %s", action.name, refused)
            self._changes += 1
            return
        if self._needs_places(action, parsed):
            self._acceptances.append(_Acceptance(action, inputs, from_update=False))
            self._changes += 1
            return
        self._apply(action, parsed)

    def _apply(self, action: actions.Action[Any], parsed: Any) -> None:
        change = effects.Change(self.state, workflow.now())
        action.effect(change, parsed)
        self._take(change)

    # --- Places: an acceptance takes a place with both people first (workflows/person.py) ---------------------

    def _needs_places(self, action: actions.Action[Any], parsed: Any) -> bool:
        # Added after release: histories recorded before it activated at once, so it waits for its patch. A
        # mentorship accepted before it holds no places and gives none back (README, "People and their limits").
        return action.activates(self.state, parsed) and workflow.patched(PATCH_PLACES)

    def _queue_busy(self) -> bool:
        """Whether an acceptance is waiting or taking its places: actions that arrive meanwhile queue behind it,
        in the order they came (only under the patch: before it nothing ever queued)."""
        return bool(self._acceptances) or self._placing

    def _places_settled(self) -> bool:
        """No acceptance waiting or under way, and no places held by a mentorship that has ended."""
        return (
            not self._acceptances
            and not self._placing
            and not (self.state.holds_places and not self.state.stage.is_open)
        )

    async def _settle(self, acceptance: _Acceptance) -> None:
        """Take the places an acceptance needs, then apply it; or refuse it with the reason, leaving the
        invitation open. Judged again before and after: the mentorship may have changed while it waited."""
        try:
            self._catch_up()
            try:
                parsed = self._judge(acceptance.action, acceptance.inputs)
            except rules.Refused as refused:
                self._refuse(acceptance, str(refused))
                return
            if not acceptance.action.activates(self.state, parsed):
                # No longer an acceptance (another one made the mentorship active meanwhile): applied as it is.
                self._apply(acceptance.action, parsed)
                acceptance.refused = ""
                return
            key = mentorship_key(self.state.workflow_id, self.state.invited_at)
            inv = self.state.invitation
            try:
                answer: PlaceAnswer = await workflow.execute_activity(
                    TAKE_PLACES,
                    TakePlacesInput(key=key, workflow_id=self.state.workflow_id, mentor=inv.mentor, mentee=inv.mentee),
                    result_type=PlaceAnswer,
                    start_to_close_timeout=PLACES_ATTEMPT_TIMEOUT,
                    schedule_to_close_timeout=PLACES_GIVE_UP_AFTER,
                    retry_policy=PLACES_RETRY,
                    summary=f"Places with {inv.mentor.id} (as mentor) and {inv.mentee.id} (as mentee)"
                    if self.summarizes_commands
                    else None,
                )
            except ActivityError:
                await self._release_places(key)
                self._refuse(acceptance, "the people's records could not be reached to take their places; try again")
                return
            self._catch_up()
            try:
                parsed = self._judge(acceptance.action, acceptance.inputs)
                if not answer.granted:
                    raise rules.Refused(answer.reason or "no free place")
            except rules.Refused as refused:
                if answer.granted:
                    await self._release_places(key)
                self._refuse(acceptance, str(refused), for_a_place=not answer.granted)
                return
            self.state.holds_places = True
            self._apply(acceptance.action, parsed)
            acceptance.refused = ""
        finally:
            self._placing = False
            self._changes += 1

    def _refuse(self, acceptance: _Acceptance, reason: str, *, for_a_place: bool = False) -> None:
        acceptance.refused = reason
        acceptance.for_a_place = for_a_place
        if not acceptance.from_update:
            raw = acceptance.inputs[0] if len(acceptance.inputs) == 1 else None
            effects.signal_refused(self.state, acceptance.action.name, raw, reason, workflow.now())
            workflow.logger.warning("Refused signal %s: %s", acceptance.action.name, reason)
        if for_a_place:
            change = effects.Change(self.state, workflow.now())
            raw = acceptance.inputs[0] if len(acceptance.inputs) == 1 else None
            by = raw.get("by") if isinstance(raw, dict) else None
            effects.acceptance_refused(change, by if isinstance(by, str) else None, reason)
            self._take(change)

    async def _release_places(self, key: str) -> None:
        inv = self.state.invitation
        await workflow.execute_activity(
            RELEASE_PLACES,
            ReleasePlacesInput(key=key, mentor_id=inv.mentor.id, mentee_id=inv.mentee.id),
            start_to_close_timeout=PLACES_ATTEMPT_TIMEOUT,
            retry_policy=RELEASE_RETRY,
            summary=f"Give back the places with {inv.mentor.id} and {inv.mentee.id}"
            if self.summarizes_commands
            else None,
        )

    async def _give_back(self) -> None:
        """The mentorship ended: its places go back to both people."""
        try:
            await self._release_places(mentorship_key(self.state.workflow_id, self.state.invited_at))
            self.state.holds_places = False
        finally:
            self._placing = False
            self._changes += 1

    # --- Feedback: once an active mentorship ended, a Feedback workflow of its own collects it ----------------

    def _asks_feedback(self) -> bool:
        state = self.state
        return (
            not self._feedback_decided
            and state.accepted_at is not None
            and state.stage in (Stage.WITHDRAWN, Stage.COMPLETED)
            and state.feedback_workflow_id is None
        )

    async def _start_feedback(self) -> None:
        self._feedback_decided = True
        # Added after release: histories recorded before it ended without one, so it waits for its patch.
        if not workflow.patched(PATCH_FEEDBACK):
            return
        state = self.state
        key = mentorship_key(state.workflow_id, state.invited_at)
        feedback_id = feedback_workflow_id(key)
        assert state.ended_at is not None
        start = FeedbackStart(
            mentorship_workflow_id=state.workflow_id,
            mentorship_key=key,
            invited_at=state.invited_at,
            invitation=state.invitation,
            ended=state.stage,
            ended_at=state.ended_at,
            events_emitted=state.events_emitted,
        )
        try:
            await self._start_feedback_workflow(feedback_id, start)
        except WorkflowAlreadyStartedError:
            # The key is to the second: a mentorship of the same pair invited within the same second as an earlier
            # one still collecting feedback. This run's id tells them apart.
            feedback_id = f"{feedback_id}-{workflow.info().run_id}"
            await self._start_feedback_workflow(feedback_id, start)
        state.feedback_workflow_id = feedback_id
        self._changes += 1

    async def _start_feedback_workflow(self, feedback_id: str, start: FeedbackStart) -> None:
        await workflow.start_child_workflow(
            FEEDBACK_WORKFLOW_TYPE,
            start,
            id=feedback_id,
            task_queue=workflow.info().task_queue,
            # The pair may start again at once: the feedback outlives this run.
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=f"Feedback on {start.mentorship_workflow_id}" if self.summarizes_commands else None,
        )

    def _on_due(self, due: plan.NextDue) -> None:
        # "Now" is the moment it was due: an invitation expires at its expiry time and a cycle starts when the
        # pause ended, however late the worker got to it.
        change = effects.Change(self.state, due.at)
        effects.fell_due(change, due)
        self._take(change)

    # --- Time first: an action sees the mentorship after every timed event due by the moment it is handled ------
    # The SDK hands a workflow its signals and updates before the timers that fired in the same activation; a
    # worker that was down (or a cache that waited out the sticky queue) delivers both at once. Without this, an
    # accept sent after the invitation expired would still find it open.

    def _catch_up(self) -> None:
        due = plan.next_due(self.state)
        # Added after release: histories recorded before it judged such an action first, so it waits for its patch.
        if due is None or due.at > workflow.now() or not workflow.patched(PATCH_TIMED_EVENTS_FIRST):
            return
        for change in effects.catch_up(self.state, workflow.now()):
            self._take(change)

    def _caught_up_copy(self) -> tuple[MentorshipStatus, int]:
        """The state as ``_catch_up`` would leave it, without changing it (for validators and queries), and how
        many emails those timed events would send."""
        due = plan.next_due(self.state)
        if due is None or due.at > workflow.now():
            return self.state, 0
        state = self.state.model_copy(deep=True)
        changes = effects.catch_up(state, workflow.now())
        return state, sum(len(change.notifications) for change in changes)

    def _take(self, change: effects.Change) -> None:
        """What a decided change asks for: its notifications to the outbox, its events to other services, its
        counters to the metrics."""
        self._outbox.extend(change.notifications)
        if change.events and self._events_out():
            self._webhooks.add(change.events)
        for counter, labels in change.counts:
            counter.add(workflow.metric_meter(), labels)
        if change.changed:
            self._changes += 1

    # --- Timers ------------------------------------------------------------------------------------------

    def _events_out(self) -> bool:
        """Whether this run delivers its events: added after release, so histories recorded before it, which
        deliver none, wait for its patch (asked once, at the first event)."""
        if self._delivers_events is None:
            self._delivers_events = workflow.patched(PATCH_WEBHOOKS)
        return self._delivers_events

    def _woken(self) -> bool:
        """Something to do: a change by a handler or a send, a notification to send, or the timer fired."""
        return (
            self._changes != self._changes_seen
            or bool(self._outbox)
            or (self._timer is not None and self._timer.done())
        )

    def _keep_timer(self, due: plan.NextDue | None) -> asyncio.Task[None] | None:
        """One durable timer for the next due moment, kept while the plan holds: waking up for a sent email or a
        refused signal must not restart it (each restart would cost history events)."""
        if due != self._timer_for or self._timer is None or self._timer.done():
            if self._timer is not None and not self._timer.done():
                self._timer.cancel()
            self._timer_for = due
            if due is None:
                self._timer = None
            else:
                summary = due.summary if self.summarizes_commands else None
                self._timer = asyncio.create_task(workflow.sleep(due.at - workflow.now(), summary=summary))
        return self._timer

    # --- Emails --------------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        # One acceptance at a time: each is judged on the state the one before it left.
        if not self._placing and (self._acceptances or (self.state.holds_places and not self.state.stage.is_open)):
            self._placing = True
            work = self._settle(self._acceptances.pop(0)) if self._acceptances else self._give_back()
            task = asyncio.create_task(work)
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)
        # Events go out one at a time, beside the main loop, never awaited by it (workflows/outbox.py).
        self._webhooks.dispatch()
        while self._outbox:
            notification = self._outbox.pop(0)
            self._sending += 1
            # Sends run beside the main loop so a slow mail server never delays a timer.
            task = asyncio.create_task(self._deliver(notification))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def _deliver(self, notification: Notification) -> None:
        try:
            await delivery.send(
                notification,
                summarize=self.summarizes_commands,
                held_emails=self.state.held_emails,
                on_hold=self._changed,
            )
            self.state.notifications_sent += 1
        except ActivityError as err:
            error = delivery.failure_reason(err)
            change = effects.Change(self.state, workflow.now())
            reason = effects.notification_failed(change, notification, error)
            self._take(change)
            workflow.logger.warning("Notification %s to %s failed: %s", notification.step, notification.to, reason)
        finally:
            self._sending -= 1
            self._changes += 1

    def _changed(self) -> None:
        self._changes += 1

    # --- Operators: search attributes, current details -----------------------------------------------------

    def _publish(self) -> None:
        if self.publishes_search_attributes:
            values = sa.values_of(self.state)
            # Added after release: histories recorded before it have no such upsert, so it waits for its patch.
            if self.state.notifications_failed and workflow.patched(PATCH_FAILED_NOTIFICATIONS_ATTRIBUTE):
                values[sa.FAILED_NOTIFICATIONS.name] = self.state.notifications_failed
            if self.state.webhooks.given_up:
                # Only runs that deliver events give any up: no patch needed.
                values[sa.WEBHOOK_EVENTS_GIVEN_UP.name] = self.state.webhooks.given_up
            updates = sa.updates_between(self._published, values)
            if updates:
                workflow.upsert_search_attributes(updates)
                self._published = values
        workflow.set_current_details(wording.details(self.state))

    # --- Long life -----------------------------------------------------------------------------------------

    def _history_is_long(self) -> bool:
        info = workflow.info()
        if self._history_event_limit is not None:
            return info.get_current_history_length() >= self._history_event_limit
        return info.is_continue_as_new_suggested()

    def _continue_as_new(self) -> None:
        carried = MentorshipInput.model_validate(
            {
                **self.state.invitation.model_dump(),
                "carried": self.state,
                "history_event_limit": self._history_event_limit,
            }
        )
        workflow.continue_as_new(carried)
