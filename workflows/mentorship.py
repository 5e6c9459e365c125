"""The mentorship workflow: one durable workflow carries one mentorship from invitation to its end.

Read it as the story of a mentorship:

1. Someone invites (``__init__``): the invitee is asked, the initiator gets a confirmation.
2. While invited, reminders go to the invitee until the response window closes (``_on_due``). The invitee
   accepts or declines, the initiator may withdraw, and an invitation from the other side counts as acceptance
   by both (``invite``).
3. Once active, a check-in falls due every cadence: both are reminded, nudged after a grace period, and when
   the next one falls due with none recorded the check-in counts as missed. Enough misses in a row put the
   mentorship at risk and tell the coordinator. A recorded check-in starts the next cycle.
4. Either party may pause (optionally until a date) and resume, or withdraw.
5. An optional term ends with a wrap-up asking both for feedback, then the mentorship is completed.

Handlers only decide: they change the state and queue notifications. The main loop (``run``) sends what is
queued, keeps the search attributes and current details up to date, waits for the next due moment or the next
change, and continues as new when the history grows long. All I/O is in activities.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ValidationError

    # `import a.b as c`, not `from a import b`: the latter imports the submodule afresh in every sandbox.
    import workflows.metrics as metrics
    import workflows.search_attributes as sa
    from workflows.contract import (
        ACTION_INPUTS,
        INVALID_INPUT,
        PERMANENT_EMAIL_FAILURE,
        SEND_NOTIFICATION,
        TRUSTED,
        WORKFLOW_TYPE,
        AcceptInput,
        Audience,
        CheckIn,
        CheckInInput,
        DeclineInput,
        Invitation,
        MentorshipInput,
        MentorshipStatus,
        Notice,
        Notification,
        NotificationFailure,
        PauseInput,
        RefusedSignal,
        ResumeInput,
        Role,
        SendReceipt,
        Stage,
        TimelineEntry,
        WithdrawInput,
        explain,
    )
    from workflows.durations import MAX_DURATION, humanize_every, parse_duration
    from workflows.parts import Due, NextDue, Refused, cut, one, signal, update, when

EMAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=[PERMANENT_EMAIL_FAILURE],
)
# How many refused signals and failed notifications the status keeps (the latest ones).
KEEP_LATEST = 50
# How much of a refused signal's actor and reason the status keeps.
KEEP_CHARACTERS_BY = 64
KEEP_CHARACTERS_REASON = 500
# A mail server down for longer than this is recorded as a failed notification; the mentorship goes on.
EMAIL_GIVE_UP_AFTER = timedelta(hours=24)


# Changes to the commands a workflow issues, guarded for histories recorded before them (see tests/test_replay.py).
PATCH_FAILED_NOTIFICATIONS_ATTRIBUTE = "failed-notifications-search-attribute"


# What the UI shows for each email activity ("email: check-in 3 reminder to the mentor").
EMAIL_LABELS: dict[Notice, str] = {
    Notice.INVITATION: "invitation",
    Notice.INVITATION_SENT: "invitation confirmation",
    Notice.INVITATION_REMINDER: "invitation reminder",
    Notice.MENTORSHIP_STARTED: "mentorship started",
    Notice.INVITATION_DECLINED: "invitation declined",
    Notice.INVITATION_EXPIRED: "invitation expired",
    Notice.INVITATION_WITHDRAWN: "invitation withdrawn",
    Notice.CHECK_IN_DUE: "check-in reminder",
    Notice.CHECK_IN_NUDGE: "check-in follow-up",
    Notice.AT_RISK: "at risk",
    Notice.BACK_ON_TRACK: "back on track",
    Notice.PAUSED: "paused",
    Notice.RESUMED: "resumed",
    Notice.WITHDRAWN: "withdrawn",
    Notice.WRAP_UP: "wrap-up",
}


@workflow.defn(name=WORKFLOW_TYPE)
class Mentorship:
    # The input is a MentorshipInput, taken as raw JSON and validated here: a client that is not ours (the
    # `temporal` CLI, another language's SDK) may send anything, and a typed parameter would turn a malformed
    # input into a workflow task retried forever instead of a workflow failed with the reason.
    @workflow.init
    def __init__(self, *inputs: Any) -> None:
        self._invalid: str | None = None
        continued = workflow.info().continued_run_id is not None
        try:
            raw = one(inputs, "the mentorship input")
            if isinstance(raw, dict) and raw.get("carried") is not None and not continued:
                raise Refused(
                    "the mentorship input is not valid: carried: set by the workflow itself when it continues as "
                    "new; leave it out"
                )
            # What a run carries over was checked when it came in: rules added since must not fail it.
            input = MentorshipInput.model_validate(raw, context={TRUSTED: True} if continued else None)
        except ValidationError as err:
            self._invalid = f"the mentorship input is not valid: {explain(err)}"
            return
        except Refused as refused:
            self._invalid = str(refused)
            return
        self._history_event_limit = input.history_event_limit
        self._outbox: list[Notification] = []
        self._sending = 0
        self._tasks: set[asyncio.Task[None]] = set()
        # Bumped by every change, so the main loop wakes up and re-plans.
        self._changes = 0
        self._seen = 0
        # What is already in visibility, so that only changes are upserted. A first run may have been given its
        # initial search attributes in the start request (starter.invite does); a start without any (an older
        # client, the CLI) has the workflow upsert all of them, as every history recorded before this did.
        self._published: dict[str, Any] = {} if continued else _given_at_start()
        # While a timed event is handled, "now" is the moment it was due: an invitation expires at its expiry
        # time and a cycle starts when the pause ended, however late the worker got to it.
        self._event_time: datetime | None = None
        self._timer: asyncio.Task[None] | None = None
        self._timer_for: NextDue | None = None
        if input.carried is not None:
            self.s = input.carried
            return
        now = workflow.now()
        invitation = input.invitation()
        initiator = invitation.person(invitation.initiated_by)
        self.s = MentorshipStatus(
            workflow_id=workflow.info().workflow_id,
            stage=Stage.INVITED,
            invitation=invitation,
            invited_at=now,
            expires_at=self._after(invitation.respond_within, now),
        )
        self._record("invited", by=initiator.id, detail=f"invited by the {invitation.initiated_by}")
        self._notify(
            Notice.INVITATION,
            "invitation",
            invitation.invitee,
            actor=invitation.initiated_by,
            at=self.s.expires_at,
            text=invitation.message,
        )
        self._notify(Notice.INVITATION_SENT, "invitation-sent", invitation.initiated_by, at=self.s.expires_at)
        metrics.INVITATIONS.add(workflow.metric_meter(), {"initiated_by": invitation.initiated_by.value})

    @workflow.run
    async def run(self, *inputs: Any) -> MentorshipStatus:
        if self._invalid is not None:
            # Nothing was sent and nothing is waited for: the caller reads the reason in the failure.
            raise ApplicationError(self._invalid, type=INVALID_INPUT, non_retryable=True)
        while True:
            self._dispatch()
            self._publish()
            if not self.s.stage.is_open:
                break
            if self._sending == 0 and self._history_is_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._outbox and self.s.stage.is_open:
                    self._continue_as_new()
                continue
            due = self._next_due()
            if due is not None and due.at <= workflow.now():
                self._on_due(due)
                continue
            timer = self._keep_timer(due)
            self._seen = self._changes
            await workflow.wait_condition(self._woken)
            if timer is not None and timer.done() and due is not None:
                # A signal handled in the same task may have moved the plan; act only on what is still due.
                again = self._next_due()
                if again is not None and again.event is due.event and again.at <= workflow.now():
                    self._on_due(again)
        await workflow.wait_condition(lambda: self._sending == 0 and workflow.all_handlers_finished())
        self._publish()
        return self.status()

    # --- Queries -----------------------------------------------------------------------------------------

    @workflow.query(name="status")
    def status(self) -> MentorshipStatus:
        if self._invalid is not None:
            raise ApplicationError(self._invalid, type=INVALID_INPUT)
        # A copy: a query must not change the state it reports.
        return self.s.model_copy(update={"waiting_for": self._waiting_for(), "notifications_pending": self._sending})

    # --- Invitations and actions: each both a signal (fire and forget) and an update (validated first, answers
    # the new status). The names and the one-JSON-object inputs are the public contract (README).

    invite_signal = signal("invite")
    invite = update("invite")
    accept_signal = signal("accept")
    accept = update("accept")
    decline_signal = signal("decline")
    decline = update("decline")
    withdraw_signal = signal("withdraw")
    withdraw = update("withdraw")
    check_in_signal = signal("check_in")
    check_in = update("check_in")
    pause_signal = signal("pause")
    pause = update("pause")
    resume_signal = signal("resume")
    resume = update("resume")

    # --- Who may do what, when ---------------------------------------------------------------------------

    def _parse(self, action: str, inputs: tuple[Any, ...]) -> BaseModel:
        model: type[BaseModel] = Invitation if action == "invite" else ACTION_INPUTS[action]
        raw = one(inputs, f"{action} input")
        try:
            return model.model_validate(raw)
        except ValidationError as err:
            raise Refused(f"{action} input is not valid: {explain(err)}") from None

    def _check(self, action: str, inputs: tuple[Any, ...]) -> BaseModel:
        """Parse and judge an action without changing anything; raise Refused with the reason."""
        if self._invalid is not None:
            raise Refused(self._invalid)
        parsed = self._parse(action, inputs)
        inv = self.s.invitation
        stage = self.s.stage
        if isinstance(parsed, Invitation):
            if (parsed.mentor.id, parsed.mentee.id) != (inv.mentor.id, inv.mentee.id):
                raise Refused(
                    f"this mentorship is between mentor {inv.mentor.id!r} and mentee {inv.mentee.id!r}; "
                    f"the invitation names mentor {parsed.mentor.id!r} and mentee {parsed.mentee.id!r}"
                )
            if not stage.is_open:
                raise Refused(f"this mentorship has already ended ({stage}); invite again to start a new one")
            return parsed
        assert isinstance(parsed, AcceptInput | DeclineInput | WithdrawInput | CheckInInput | PauseInput | ResumeInput)
        role = inv.role_of(parsed.by)
        if role is None:
            raise Refused(
                f"{parsed.by!r} is not part of this mentorship (mentor {inv.mentor.id!r}, mentee {inv.mentee.id!r})"
            )
        if not stage.is_open:
            raise Refused(f"the mentorship has already ended ({stage})")
        invitee = inv.invitee
        if action in ("accept", "decline"):
            if stage is not Stage.INVITED:
                raise Refused(f"the invitation was already accepted; the mentorship is {stage}")
            if role is not invitee:
                raise Refused(
                    f"only the invitee, {inv.person(invitee).id!r} (the {invitee}), can {action}; "
                    f"{parsed.by!r} sent the invitation"
                )
        elif action == "withdraw":
            if stage is Stage.INVITED and role is invitee:
                raise Refused(
                    f"only the initiator, {inv.person(inv.initiated_by).id!r}, can withdraw the invitation; "
                    "the invitee can decline it"
                )
        elif action == "check_in":
            if stage is Stage.INVITED:
                raise Refused("check-ins start once the invitation is accepted")
            if stage is Stage.PAUSED:
                raise Refused("the mentorship is paused; resume it before recording a check-in")
        elif action == "pause":
            assert isinstance(parsed, PauseInput)
            if stage is not Stage.ACTIVE:
                raise Refused(
                    "the mentorship is already paused"
                    if stage is Stage.PAUSED
                    else "only an active mentorship can be paused; the invitation is not accepted yet"
                )
            if parsed.until is not None and parsed.until <= workflow.now():
                raise Refused(f"until ({parsed.until.isoformat()}) is not in the future")
            if parsed.until is not None and parsed.until > workflow.now() + MAX_DURATION:
                raise Refused(f"until ({parsed.until.isoformat()}) is more than ten years away")
        elif action == "resume" and stage is not Stage.PAUSED:
            raise Refused(f"the mentorship is not paused (it is {stage})")
        return parsed

    def _validate(self, action: str, inputs: tuple[Any, ...]) -> None:
        try:
            self._check(action, inputs)
        except Refused as refused:
            # A rejected update leaves no trace in history; the caller reads the reason.
            raise ValueError(str(refused)) from None

    def _as_update(self, action: str, inputs: tuple[Any, ...]) -> MentorshipStatus:
        self._apply(action, self._check(action, inputs))
        return self.status()

    def _as_signal(self, action: str, inputs: tuple[Any, ...]) -> None:
        if self._invalid is not None:
            return  # The workflow fails with the reason; there is no state to record a refusal in.
        try:
            parsed = self._check(action, inputs)
        except Refused as refused:
            raw = inputs[0] if len(inputs) == 1 else None
            by = raw.get("by") if isinstance(raw, dict) else None
            # Only the latest few, each cut short: a misbehaving caller must not grow the state without bound
            # (a few signals of a megabyte each would otherwise make continue-as-new fail, wedging the mentorship).
            del self.s.refused_signals[: -KEEP_LATEST + 1]
            self.s.refused_signals.append(
                RefusedSignal(
                    at=workflow.now(),
                    signal=action,
                    by=cut(by, KEEP_CHARACTERS_BY) if isinstance(by, str) else None,
                    reason=cut(str(refused), KEEP_CHARACTERS_REASON),
                )
            )
            workflow.logger.warning("Refused signal %s: %s", action, refused)
            self._changes += 1
            return
        self._apply(action, parsed)

    def _apply(self, action: str, parsed: BaseModel) -> None:
        if isinstance(parsed, Invitation):
            self._on_invitation(parsed)
            return
        assert isinstance(parsed, AcceptInput | DeclineInput | WithdrawInput | CheckInInput | PauseInput | ResumeInput)
        role = self.s.invitation.role_of(parsed.by)
        assert role is not None
        if isinstance(parsed, AcceptInput):
            self._activate(role, mutual=False, note=parsed.note)
        elif isinstance(parsed, DeclineInput):
            self._decline(role, parsed)
        elif isinstance(parsed, WithdrawInput):
            self._withdraw(role, parsed)
        elif isinstance(parsed, CheckInInput):
            self._check_in(role, parsed)
        elif isinstance(parsed, PauseInput):
            self._pause(role, parsed)
        elif isinstance(parsed, ResumeInput):
            self._resume(role, parsed.note)
        self._changes += 1

    # --- The story: what each event does -----------------------------------------------------------------

    def _on_invitation(self, other: Invitation) -> None:
        # The same side inviting again creates nothing and sends nothing; this is also the companion of an
        # update-with-start that just created this workflow.
        if self.s.stage is Stage.INVITED and other.initiated_by is not self.s.invitation.initiated_by:
            self._record(
                "invited back",
                by=other.person(other.initiated_by).id,
                detail=f"the {other.initiated_by} invited too: both have agreed",
            )
            self._activate(other.initiated_by, mutual=True, note=other.message)
            self._changes += 1

    def _activate(self, role: Role, *, mutual: bool, note: str | None) -> None:
        now = workflow.now()
        s = self.s
        s.stage = Stage.ACTIVE
        s.accepted_at = now
        s.expires_at = None
        s.term_ends_at = self._after(s.invitation.term, now) if s.invitation.term else None
        self._start_cycle(now)
        self._record(
            "accepted" if not mutual else "active",
            by=s.invitation.person(role).id,
            detail=note if not mutual else "mutual invitation",
        )
        self._notify_both(
            Notice.MENTORSHIP_STARTED, "started", actor=role, at=s.next_check_in_due, mutual=mutual, text=note
        )
        metrics.ACCEPTANCES.add(workflow.metric_meter(), {"via": "mutual_invitation" if mutual else "accept"})

    def _decline(self, role: Role, action: DeclineInput) -> None:
        self._end(Stage.DECLINED, by=action.by, detail=action.reason)
        self._notify(
            Notice.INVITATION_DECLINED, "declined", self.s.invitation.initiated_by, actor=role, text=action.reason
        )

    def _withdraw(self, role: Role, action: WithdrawInput) -> None:
        was_invited = self.s.stage is Stage.INVITED
        self._end(Stage.WITHDRAWN, by=action.by, detail=action.reason)
        kind = Notice.INVITATION_WITHDRAWN if was_invited else Notice.WITHDRAWN
        self._notify(kind, "withdrawn", role.other, actor=role, text=action.reason)

    def _check_in(self, role: Role, action: CheckInInput) -> None:
        s = self.s
        now = workflow.now()
        number = s.cycle
        s.check_ins.append(CheckIn(number=number, at=now, by=action.by, note=action.note, rating=action.rating))
        self._record(
            f"check-in {number} recorded", by=action.by, detail=f"rating {action.rating}/5" if action.rating else None
        )
        if s.at_risk:
            s.at_risk = False
            self._record("back on track", detail=f"after {s.missed_in_a_row} missed check-ins")
            if s.invitation.coordinator is not None:
                self._notify(
                    Notice.BACK_ON_TRACK,
                    f"check-in-{number}-back-on-track",
                    Audience.COORDINATOR,
                    actor=role,
                    check_in_number=number,
                )
        s.missed_in_a_row = 0
        s.cycle = number + 1
        self._start_cycle(now)

    def _pause(self, role: Role, action: PauseInput) -> None:
        s = self.s
        s.stage = Stage.PAUSED
        s.paused_until = action.until
        s.next_check_in_due = None
        pause_number = sum(1 for entry in s.timeline if entry.event == "paused") + 1
        until = f"until {self._when(action.until)}" if action.until else "until resumed"
        self._record("paused", by=action.by, detail=f"{until}" + (f": {action.reason}" if action.reason else ""))
        self._notify(
            Notice.PAUSED, f"pause-{pause_number}", role.other, actor=role, at=action.until, text=action.reason
        )

    def _resume(self, role: Role | None, note: str | None) -> None:
        """Resume by a participant (``role``) or by the pause's own end (``None``)."""
        s = self.s
        now = self._now()
        s.stage = Stage.ACTIVE
        s.paused_until = None
        # A fresh full cycle after a pause: people get the whole cadence to meet again.
        self._start_cycle(now)
        resume_number = sum(1 for entry in s.timeline if entry.event == "resumed") + 1
        self._record(
            "resumed", by=s.invitation.person(role).id if role else None, detail=note if role else "the pause ended"
        )
        audiences = (role.other,) if role else (Role.MENTOR, Role.MENTEE)
        for audience in audiences:
            self._notify(
                Notice.RESUMED, f"resume-{resume_number}", audience, actor=role, at=s.next_check_in_due, text=note
            )

    def _on_due(self, due: NextDue) -> None:
        self._event_time = due.at
        try:
            self._handle_due(due)
        finally:
            self._event_time = None
        self._changes += 1

    def _handle_due(self, due: NextDue) -> None:
        s = self.s
        inv = s.invitation
        now = self._now()
        if due.event is Due.INVITATION_REMINDER:
            s.invitation_reminders_sent += 1
            n = s.invitation_reminders_sent
            self._record(f"invitation reminder {n} sent")
            self._notify(
                Notice.INVITATION_REMINDER,
                f"invitation-reminder-{n}",
                inv.invitee,
                actor=inv.initiated_by,
                at=s.expires_at,
                text=inv.message,
            )
        elif due.event is Due.INVITATION_EXPIRY:
            self._end(Stage.EXPIRED, detail="no answer in time")
            self._notify(Notice.INVITATION_EXPIRED, "expired", inv.initiated_by)
        elif due.event is Due.CHECK_IN_DUE:
            s.cycle_reminded = True
            self._record(f"check-in {s.cycle} due", detail="both reminded")
            self._notify_both(
                Notice.CHECK_IN_DUE,
                f"check-in-{s.cycle}-due",
                at=s.next_check_in_due,
                check_in_number=s.cycle,
                missed_in_a_row=s.missed_in_a_row,
            )
        elif due.event is Due.CHECK_IN_NUDGE:
            s.cycle_nudged = True
            self._record(f"check-in {s.cycle} follow-up", detail="both nudged")
            self._notify_both(
                Notice.CHECK_IN_NUDGE, f"check-in-{s.cycle}-nudge", at=s.next_check_in_due, check_in_number=s.cycle
            )
        elif due.event is Due.CHECK_IN_MISSED:
            missed = s.cycle
            s.missed_in_a_row += 1
            s.missed_total += 1
            self._record(f"check-in {missed} missed", detail=f"{s.missed_in_a_row} in a row")
            metrics.CHECK_INS_MISSED.add(workflow.metric_meter())
            if s.missed_in_a_row == inv.escalate_after_missed:
                s.at_risk = True
                told = inv.coordinator is not None
                self._record("at risk", detail="coordinator told" if told else "no coordinator named")
                if told:
                    self._notify(
                        Notice.AT_RISK,
                        f"check-in-{missed}-at-risk",
                        Audience.COORDINATOR,
                        check_in_number=missed,
                        missed_in_a_row=s.missed_in_a_row,
                    )
            # The missed one's successor falls due right now; the loop reminds about it straight away.
            assert s.next_check_in_due is not None
            s.cycle = missed + 1
            s.next_check_in_due = self._after(inv.check_in_every, s.next_check_in_due)
            s.cycle_reminded = False
            s.cycle_nudged = False
        elif due.event is Due.PAUSE_ENDS:
            self._resume(None, None)
        elif due.event is Due.TERM_ENDS:
            s.wrap_up_sent = True
            self._end(Stage.COMPLETED, detail="the term ended; wrap-up sent asking both for feedback")
            self._notify_both(Notice.WRAP_UP, "wrap-up", at=now)

    # --- Planning: what comes next, and when -------------------------------------------------------------

    def _next_due(self) -> NextDue | None:
        s = self.s
        inv = s.invitation
        candidates: list[NextDue] = []
        if s.stage is Stage.INVITED:
            assert s.expires_at is not None
            n = s.invitation_reminders_sent + 1
            if n <= inv.invitation_reminders:
                at = s.invited_at
                for _ in range(n):
                    at = self._after(inv.remind_after, at)
                if at < s.expires_at:
                    candidates.append(NextDue(Due.INVITATION_REMINDER, at, f"invitation reminder {n}"))
            candidates.append(NextDue(Due.INVITATION_EXPIRY, s.expires_at, "invitation expires"))
        elif s.stage is Stage.ACTIVE:
            due = s.next_check_in_due
            assert due is not None
            if s.term_ends_at is not None:
                candidates.append(NextDue(Due.TERM_ENDS, s.term_ends_at, "term ends: wrap-up"))
            if not s.cycle_reminded:
                candidates.append(NextDue(Due.CHECK_IN_DUE, due, f"check-in {s.cycle} due"))
            elif not s.cycle_nudged:
                nudge_at = self._after(inv.check_in_grace, due)
                candidates.append(NextDue(Due.CHECK_IN_NUDGE, nudge_at, f"check-in {s.cycle} follow-up"))
            else:
                missed_at = self._after(inv.check_in_every, due)
                candidates.append(NextDue(Due.CHECK_IN_MISSED, missed_at, f"check-in {s.cycle} missed unless recorded"))
        elif s.stage is Stage.PAUSED:
            if s.term_ends_at is not None:
                candidates.append(NextDue(Due.TERM_ENDS, s.term_ends_at, "term ends: wrap-up"))
            if s.paused_until is not None:
                candidates.append(NextDue(Due.PAUSE_ENDS, s.paused_until, "pause ends"))
        # Earliest first; on a tie the order above wins (the term ends before another reminder goes out).
        return min(candidates, key=lambda c: c.at) if candidates else None

    def _woken(self) -> bool:
        """Something to do: a change by a handler or a send, a notification to send, or the timer fired."""
        return self._changes != self._seen or bool(self._outbox) or (self._timer is not None and self._timer.done())

    def _keep_timer(self, due: NextDue | None) -> asyncio.Task[None] | None:
        """One durable timer for the next due moment, kept while the plan holds: waking up for a sent email or a
        refused signal must not restart it (each restart would cost history events)."""
        if due != self._timer_for or self._timer is None or self._timer.done():
            if self._timer is not None and not self._timer.done():
                self._timer.cancel()
            self._timer_for = due
            self._timer = (
                None
                if due is None
                else asyncio.create_task(workflow.sleep(due.at - workflow.now(), summary=due.summary))
            )
        return self._timer

    def _waiting_for(self) -> str:
        s = self.s
        inv = s.invitation
        due = self._next_due()
        if s.stage is Stage.INVITED:
            invitee = inv.person(inv.invitee)
            text = f"{invitee.name} ({inv.invitee}) to accept or decline, until {self._when(s.expires_at)}"
            if due is not None and due.event is Due.INVITATION_REMINDER:
                text += f"; {due.summary} on {self._when(due.at)}"
            return text
        if s.stage is Stage.ACTIVE:
            assert due is not None
            text = f"check-in {s.cycle}, due {self._when(s.next_check_in_due)}"
            if due.event is not Due.CHECK_IN_DUE:
                text += f"; next: {due.summary} on {self._when(due.at)}"
            return text
        if s.stage is Stage.PAUSED:
            return "either party to resume" + (
                f", or the pause to end on {self._when(s.paused_until)}" if s.paused_until else ""
            )
        return f"nothing: the mentorship ended ({s.stage}) on {self._when(s.ended_at)}"

    # --- Small steps ---------------------------------------------------------------------------------------

    def _start_cycle(self, start: datetime) -> None:
        s = self.s
        s.next_check_in_due = self._after(s.invitation.check_in_every, start)
        s.cycle_reminded = False
        s.cycle_nudged = False

    def _end(self, stage: Stage, *, by: str | None = None, detail: str | None = None) -> None:
        s = self.s
        s.stage = stage
        s.ended_at = self._now()
        s.expires_at = None
        s.next_check_in_due = None
        s.paused_until = None
        self._record(str(stage), by=by, detail=detail)

    def _record(self, event: str, *, by: str | None = None, detail: str | None = None) -> None:
        self.s.timeline.append(TimelineEntry(at=self._now(), event=event, by=by, detail=detail))

    def _when(self, moment: datetime | None) -> str:
        # Seconds only matter for demo timings; days-long cadences read better without them.
        short = parse_duration(self.s.invitation.check_in_every).approximate() < timedelta(hours=1)
        return when(moment, seconds=short)

    def _now(self) -> datetime:
        return self._event_time or workflow.now()

    @staticmethod
    def _after(duration: str, start: datetime) -> datetime:
        return parse_duration(duration).after(start)

    def _notify(
        self,
        kind: Notice,
        step: str,
        to: Role | Audience,
        *,
        actor: Role | None = None,
        at: datetime | None = None,
        text: str | None = None,
        check_in_number: int | None = None,
        missed_in_a_row: int | None = None,
        mutual: bool = False,
    ) -> None:
        inv = self.s.invitation
        audience = Audience(str(to))
        if audience is Audience.COORDINATOR:
            assert inv.coordinator is not None
            recipient = inv.coordinator
        else:
            recipient = inv.person(Role(str(to)))
        self._outbox.append(
            Notification(
                kind=kind,
                workflow_id=self.s.workflow_id,
                mentorship_key=self._mentorship_key(),
                step=step,
                to=audience,
                recipient=recipient,
                invitation=inv,
                actor=actor,
                at=at,
                text=text,
                check_in_number=check_in_number,
                missed_in_a_row=missed_in_a_row,
                mutual=mutual,
            )
        )

    def _notify_both(self, kind: Notice, step: str, **details: Any) -> None:
        """The same notice to the mentor and to the mentee, mentor first (the order of the activities)."""
        for role in (Role.MENTOR, Role.MENTEE):
            self._notify(kind, step, role, **details)

    def _mentorship_key(self) -> str:
        # The workflow id is reused by a later mentorship of the same pair; the invitation time tells them apart.
        return f"{self.s.workflow_id}.{self.s.invited_at.strftime('%Y%m%dT%H%M%SZ')}"

    def _dispatch(self) -> None:
        while self._outbox:
            notification = self._outbox.pop(0)
            self._sending += 1
            # Sends run beside the main loop so a slow mail server never delays a timer.
            task = asyncio.create_task(self._deliver(notification))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, notification: Notification) -> None:
        what = EMAIL_LABELS[notification.kind]
        if notification.check_in_number is not None and notification.kind in (
            Notice.CHECK_IN_DUE,
            Notice.CHECK_IN_NUDGE,
        ):
            what = what.replace("check-in", f"check-in {notification.check_in_number}")
        try:
            await workflow.execute_activity(
                SEND_NOTIFICATION,
                notification,
                result_type=SendReceipt,
                start_to_close_timeout=timedelta(minutes=1),
                schedule_to_close_timeout=EMAIL_GIVE_UP_AFTER,
                retry_policy=EMAIL_RETRY,
                summary=f"email: {what} to the {notification.to}",
            )
            self.s.notifications_sent += 1
        except ActivityError as err:
            cause = err.cause
            reason = cut(
                cause.message if isinstance(cause, ApplicationError) else str(cause or err), KEEP_CHARACTERS_REASON
            )
            self.s.notifications_failed += 1
            del self.s.notification_failures[: -KEEP_LATEST + 1]
            self.s.notification_failures.append(
                NotificationFailure(at=workflow.now(), step=notification.step, to=notification.to, error=reason)
            )
            self._record("notification failed", detail=f"{what} to the {notification.to}: {reason}")
            workflow.logger.warning("Notification %s to %s failed: %s", notification.step, notification.to, reason)
            metrics.NOTIFICATIONS_GIVEN_UP.add(workflow.metric_meter(), {"notice": notification.kind.value})
        finally:
            self._sending -= 1
            self._changes += 1

    # --- Operators: search attributes, current details -----------------------------------------------------

    def _publish(self) -> None:
        s = self.s
        values: dict[str, Any] = {
            sa.STAGE.name: s.stage.value,
            sa.MENTOR_ID.name: s.invitation.mentor.id,
            sa.MENTEE_ID.name: s.invitation.mentee.id,
            sa.INITIATED_BY.name: s.invitation.initiated_by.value,
            sa.NEXT_CHECK_IN_AT.name: s.next_check_in_due,
            sa.MISSED_CHECK_INS.name: s.missed_in_a_row,
            sa.AT_RISK.name: s.at_risk,
        }
        # Added after release: histories recorded before it have no such upsert, so it waits for its patch marker.
        if s.notifications_failed and workflow.patched(PATCH_FAILED_NOTIFICATIONS_ATTRIBUTE):
            values[sa.FAILED_NOTIFICATIONS.name] = s.notifications_failed
        updates: list[SearchAttributeUpdate[Any]] = []
        for key in sa.ALL_KEYS:
            if key.name not in values:
                continue
            value = values[key.name]
            if key.name in self._published and self._published[key.name] == value:
                continue
            updates.append(key.value_unset() if value is None else key.value_set(value))
        if updates:
            workflow.upsert_search_attributes(updates)
            self._published = values
        workflow.set_current_details(self._details())

    def _details(self) -> str:
        s = self.s
        inv = s.invitation
        lines = [
            f"**Stage:** {s.stage.value}" + (" — **at risk**" if s.at_risk else ""),
            f"**Waiting for:** {self._waiting_for()}",
            f"**Check-ins:** {len(s.check_ins)} done, {s.missed_in_a_row} missed in a row, "
            f"{s.missed_total} missed in all",
            f"**Cadence:** {humanize_every(inv.check_in_every)}"
            + (f", term ends {self._when(s.term_ends_at)}" if s.term_ends_at else ""),
        ]
        if s.notification_failures:
            last = s.notification_failures[-1]
            lines.append(
                f"**Last failed notification:** {last.step} to the {last.to.value} "
                f"at {self._when(last.at)}: {last.error}"
            )
        if s.refused_signals:
            last_refusal = s.refused_signals[-1]
            lines.append(f"**Last refused signal:** {last_refusal.signal} by {last_refusal.by}: {last_refusal.reason}")
        return "\n\n".join(lines)

    # --- Long life -----------------------------------------------------------------------------------------

    def _history_is_long(self) -> bool:
        info = workflow.info()
        if self._history_event_limit is not None:
            return info.get_current_history_length() >= self._history_event_limit
        return info.is_continue_as_new_suggested()

    def _continue_as_new(self) -> None:
        carried = MentorshipInput.model_validate(
            {**self.s.invitation.model_dump(), "carried": self.s, "history_event_limit": self._history_event_limit}
        )
        workflow.continue_as_new(carried)


def _given_at_start() -> dict[str, Any]:
    given = workflow.info().typed_search_attributes
    values: dict[str, Any] = {key.name: given.get(key) for key in sa.ALL_KEYS}
    # Absent is as good as unset (a start without NextCheckInAt needs no upsert to unset it), unless none at all
    # were given.
    return values if any(value is not None for value in values.values()) else {}
