"""The floor: a hand-written workflow that does what a Mentorship does *as seen from outside* for the
benchmarked scenarios, and nothing else. What it costs is what Temporal itself (server, SDK, sandbox, payload
converter, the email activity) imposes for that work; what a Mentorship costs above it is the business logic.

It does, exactly as a Mentorship does in the scenarios of ``bench/lifecycle.py`` and ``bench/history_cost.py``:

- take the same start input (the ``MentorshipInput`` JSON) and the same updates with the same names and inputs
  (``invite``, ``accept``, ``check_in``, ``withdraw``), and the same ``invite`` update-with-start;
- start, cancel and fire the same durable timers at the same moments: the invitation reminder (every
  ``remind_after``, at most ``invitation_reminders`` before ``respond_within``), then the expiry; after
  acceptance or a check-in, the check-in due ``check_in_every`` later; once due, the follow-up ``check_in_grace``
  later; a check-in cancels the pending timer and starts the next cycle's;
- send the same emails through the real ``send_notification`` activity with the same ``Notification`` payloads
  (same fields and values, so the activity renders and sends the same messages; as slim as the Mentorship's,
  only what differs from the defaults), with the same timeouts and
  retry policy, each beside the main flow; and finish only once every email has been sent.

It does not: validate anything (inputs are read as plain JSON; no update validator, so nothing is refused),
keep a state machine, status, timeline or check-in list (updates answer ``None``, the result is ``None``),
upsert search attributes, set current details, timer or activity summaries, answer the ``status`` query,
count misses or escalate, pause, or continue as new.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.contract import SEND_NOTIFICATION, Invitation, mentorship_key
    from workflows.delivery import EMAIL_ATTEMPT_TIMEOUT, EMAIL_GIVE_UP_AFTER, EMAIL_RETRY
    from workflows.durations import parse_duration

FLOOR_WORKFLOW_TYPE = "MentorshipFloor"
_NOT_INVITATION = ("carried", "history_event_limit")
# The notices that show the invitation's message and focus areas (as the Mentorship's, workflows/effects.py).
_SHOW_THE_INVITATION = ("invitation", "invitation_reminder")


def _other(role: str) -> str:
    return "mentee" if role == "mentor" else "mentor"


@workflow.defn(name=FLOOR_WORKFLOW_TYPE)
class Floor:
    @workflow.init
    def __init__(self, raw: Any) -> None:
        self._invitation: dict[str, Any] = {k: v for k, v in raw.items() if k not in _NOT_INVITATION}
        # The invitation as the Mentorship's emails carry it (``Notification``, workflows/contract.py): only what
        # differs from the defaults, the message and focus areas only where they are shown. Worked out once.
        whole = Invitation.model_validate(self._invitation).model_dump(mode="json", exclude_defaults=True)
        self._for_emails = {
            True: whole,
            False: {k: v for k, v in whole.items() if k not in ("message", "focus_areas")},
        }
        self._workflow_id = workflow.info().workflow_id
        self._invited_at = workflow.now()
        self._key = mentorship_key(self._workflow_id, self._invited_at)
        self._initiator: str = raw["initiated_by"]
        self._expires_at = self._after("respond_within", self._invited_at)
        self._reminders = 0
        self._cycle = 1
        self._due: datetime | None = None
        self._sending = 0
        self._ended = False
        self._timer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @workflow.run
    async def run(self, raw: Any) -> None:
        invitee = _other(self._initiator)
        message = self._invitation.get("message")
        self._email("invitation", "invitation", invitee, actor=self._initiator, at=self._expires_at, text=message)
        self._email("invitation_sent", "invitation-sent", self._initiator, at=self._expires_at)
        self._next_reminder()
        await workflow.wait_condition(lambda: self._ended and self._sending == 0 and workflow.all_handlers_finished())

    # --- Updates: no validator, no answer ------------------------------------------------------------------

    @workflow.update(name="invite")
    def invite(self, raw: Any) -> None:
        """A repeated invitation from the same side (the companion of update-with-start): nothing to do."""

    @workflow.update(name="accept")
    def accept(self, raw: Any) -> None:
        role = self._role(raw["by"])
        self._start_cycle(workflow.now())
        for audience in ("mentor", "mentee"):
            self._email("mentorship_started", "started", audience, actor=role, at=self._due, text=raw.get("note"))

    @workflow.update(name="check_in")
    def check_in(self, raw: Any) -> None:
        self._cycle += 1
        self._start_cycle(workflow.now())

    @workflow.update(name="withdraw")
    def withdraw(self, raw: Any) -> None:
        role = self._role(raw["by"])
        # Like the Mentorship, the pending timer is left to lapse with the workflow (no TimerCanceled event).
        self._ended = True
        self._email("withdrawn", "withdrawn", _other(role), actor=role, text=raw.get("reason"))
        # Feedback is asked of both once an active mentorship ends (the Mentorship's Feedback workflow does it; the
        # floor sends the same two emails itself, with the feedback window as their moment).
        closes = self._after("feedback_within", workflow.now())
        for audience in ("mentor", "mentee"):
            self._email("feedback_request", "feedback-request", audience, at=closes)

    # --- Timers ----------------------------------------------------------------------------------------------

    def _next_reminder(self) -> None:
        n = self._reminders + 1
        at = self._invited_at
        for _ in range(n):
            at = self._after("remind_after", at)
        if n <= self._invitation["invitation_reminders"] and at < self._expires_at:
            self._arm(at, self._on_reminder)
        else:
            self._arm(self._expires_at, self._on_expiry)

    def _on_reminder(self) -> None:
        self._reminders += 1
        invitee = _other(self._initiator)
        step = f"invitation-reminder-{self._reminders}"
        message = self._invitation.get("message")
        self._email("invitation_reminder", step, invitee, actor=self._initiator, at=self._expires_at, text=message)
        self._next_reminder()

    def _on_expiry(self) -> None:
        self._ended = True
        self._email("invitation_expired", "expired", self._initiator)

    def _start_cycle(self, start: datetime) -> None:
        self._due = self._after("check_in_every", start)
        self._arm(self._due, self._on_check_in_due)

    def _on_check_in_due(self) -> None:
        assert self._due is not None
        for audience in ("mentor", "mentee"):
            step = f"check-in-{self._cycle}-due"
            self._email("check_in_due", step, audience, at=self._due, check_in_number=self._cycle, missed_in_a_row=0)
        self._arm(self._after("check_in_grace", self._due), self._on_nudge)

    def _on_nudge(self) -> None:
        assert self._due is not None
        for audience in ("mentor", "mentee"):
            step = f"check-in-{self._cycle}-nudge"
            self._email("check_in_nudge", step, audience, at=self._due, check_in_number=self._cycle)
        # The benchmarked scenarios record every check-in before it is missed: the floor stops here.

    def _arm(self, at: datetime, then: Callable[[], None]) -> None:
        self._cancel_timer()
        self._timer = asyncio.create_task(self._sleep_then(at - workflow.now(), then))

    async def _sleep_then(self, delay: timedelta, then: Callable[[], None]) -> None:
        await workflow.sleep(delay)
        then()

    def _cancel_timer(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer = None

    # --- Emails: the real activity, the same payloads ----------------------------------------------------

    def _email(
        self,
        kind: str,
        step: str,
        to: str,
        *,
        actor: str | None = None,
        at: datetime | None = None,
        text: str | None = None,
        check_in_number: int | None = None,
        missed_in_a_row: int | None = None,
        mutual: bool = False,
    ) -> None:
        notification = {
            "kind": kind,
            "workflow_id": self._workflow_id,
            "mentorship_key": self._key,
            "step": step,
            "to": to,
            "recipient": self._invitation[to],
            "invitation": self._for_emails[kind in _SHOW_THE_INVITATION],
            "actor": actor,
            "at": at,
            "check_in_number": check_in_number,
            "missed_in_a_row": missed_in_a_row,
            "text": text,
            "mutual": mutual,
        }
        # The same bytes as the Mentorship's: what is left at its default is left out.
        notification = {k: v for k, v in notification.items() if v is not None and v is not False}
        self._sending += 1
        task = asyncio.create_task(self._send(notification))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, notification: dict[str, Any]) -> None:
        try:
            await workflow.execute_activity(
                SEND_NOTIFICATION,
                notification,
                start_to_close_timeout=EMAIL_ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=EMAIL_GIVE_UP_AFTER,
                retry_policy=EMAIL_RETRY,
            )
        except ActivityError:
            pass  # the Mentorship records it; the floor has nothing to record it in
        finally:
            self._sending -= 1

    # --- Small steps -----------------------------------------------------------------------------------------

    def _role(self, by: str) -> str:
        return "mentor" if by == self._invitation["mentor"]["id"] else "mentee"

    def _after(self, setting: str, start: datetime) -> datetime:
        return parse_duration(self._invitation[setting]).after(start)
