"""Soak: a steady stream of mentorships for half an hour, the worker SIGKILLed every few minutes and the mail
server stopped once. Nothing may be lost, stuck or failed, and the worker must not leak.

    make soak                                                               # 30 minutes of load, the defaults (~36 min)
    .venv/bin/python -m bench.soak --minutes 3 --kill-every 1 --no-write   # a smoke run (~5 min)

Not a test (``make test`` never runs it); it prints its figures, writes the ``soak`` section of BENCHMARKS.md
(unless ``--no-write``), prints a row for the README's Reliability table, and exits 1 if any email was lost, any
mentorship is stuck, off its script or failed, any email came that no script sends, or the worker's memory grew
by more than 10 %.

**The world.** One dev server (SQLite in a file, as in ``tests/system/test_faults.py``), the project's mail sink
in a process of its own (``python -m devtools.mailsink``, every message kept as an ``.eml`` file; stopped and
started again on the same port), and one worker process: ``worker.py`` as deployed (``deployed_worker_argv()``,
configured by environment alone). No webhooks are configured.

**The load.** ``--rate`` new mentorships a second (1 by default), started on schedule whether or not earlier
ones are done (open loop), for ``--minutes`` (30). Each is one coroutine playing one of five scripts on timings
of seconds, chosen (as the fault tests' are) so that its emails do not depend on how late a worker gets to a
timer: every timed event is computed from the moment it was due, and no action is sent within minutes of a
timer it could race. The people come from a pool (``--people`` mentors and as many mentees), as people in a
real programme have several mentorships over time: each mentorship takes a pair that has none open, and gives it
back when it is done, so the Person records (which never end) stay ``2 × --people`` and do not fill the
worker's cache. The scripts, in turn, each initiated by the mentor and by the mentee alternately:

- ``term``: the invitee accepts at once; check-ins every 20 s (follow-up after 5 s), none recorded, term 50 s:
  check-in 1 due, nudged, missed (at risk, the coordinator is told), check-in 2 due, nudged, the term ends
  (wrap-up); both give feedback once asked: the coordinator gets the summary. 18 emails.
- ``mutual``: the other side invites too (the mentorship is active), then as ``term``. 18 emails.
- ``withdraw``: the invitee waits for the invitation's reminder (after 20 s), accepts, records three check-ins
  5 s apart (every 5 minutes: none falls due), the mentee withdraws; feedback as above. 9 emails.
- ``expire``: nobody answers: two reminders (15 s apart), expiry at 40 s. 5 emails.
- ``decline``: the invitee waits for the reminder, then declines. 4 emails.

Invitations and queries go through ``mentorship_client`` (``invite``, ``status``, ``feedback_status``); an
update waits for a worker by itself. The actions are the updates ``mentorship_client.act`` and ``give_feedback``
send (same names, same input models), each with an update id of its own: a call that fails for want of a worker
(a query while it is down, a person's record too busy to answer one, a call cut off) is tried again, an update
under the same id, so that the server applies it once (``act`` takes no id: a check-in it sent again after a
timeout could be recorded twice). Those retries are counted in the report.
Each script then waits for its workflows' results and checks them (stage, emails sent, no failure; its
Feedback workflow closed with the summary sent).

**The faults.** Every ``--kill-every`` minutes (4) the worker's process group is SIGKILLed and a new worker
started at once; once, at 40 % of the run (half a kill interval later if a kill falls within a minute of it),
the mail server is stopped for ``--mail-down`` seconds (60) and started again on the same port. The last
stretch of the run (a third of it, at least ``--kill-every``) has no kill: see memory, below.

**Emails.** Each script's emails are known once it is invited: ``(mentorship key, step, recipient role)``, read
from each message's ``Message-ID`` (``<{mentorship key}.{step}.{role}@...>``; the key, not the workflow id,
because a pair's workflow id comes back with its next mentorship). Lost, delivered, duplicated and unexpected
are counted by ``tests/support/faults.py``'s ``tally``, as the fault tests count them: delivery is at least once,
so duplicates are counted, not failed.

**The end.** No new mentorship after ``--minutes``; then, with a deadline (``--drain``, 5 minutes), every script
must finish and every expected email arrive. Stuck: a script not finished by then (its step is named).
Failed: workflows of the run's task queue that visibility shows Failed, TimedOut or Terminated. Open at the end:
Mentorship and Feedback workflows still running (Person records always are).

**Memory.** A worker killed every few minutes never gets old, so "RSS at the end" of the run would compare
workers of different ages. Instead the last stretch runs one worker that is never killed, and its RSS (VmRSS of
its process group, sampled every 2 s; the median of a short window) is compared at two points of its own life
under the same steady load: once warmed up (``--warmup`` minutes after it started, 3 by default: its cache holds
the running mentorships by then), and when the load stops. Growth above 10 % fails the run. A stretch shorter
than twice the warm-up (a smoke run) is too short to tell a leak from warming up: its figures are printed, not
judged. The RSS of every earlier worker at the same age is printed beside it, to show the level does not
creep from one worker to the next either.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesHeaderParser
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError, RPCStatusCode

import bench.common as common
import mentorship_client
from bench.common import (
    DevServer,
    LoadWindow,
    Processes,
    WorkerProcess,
    child_env,
    deployed_worker_argv,
    invitation,
    load_text,
    machine,
    now_text,
    table,
)
from devtools.mailsink import free_port
from devtools.processes import MailSinkProcess
from infra.encryption import CONTRACT_DATA_CONVERTER
from tests.support.faults import MailKey, MailTally, tally
from workflows.contract import (
    FEEDBACK_WORKFLOW_TYPE,
    PERSON_WORKFLOW_TYPE,
    WORKFLOW_TYPE,
    AcceptInput,
    CheckInInput,
    DeclineInput,
    FeedbackInput,
    FeedbackStatus,
    Invitation,
    MentorshipStatus,
    Role,
    Stage,
    WithdrawInput,
    mentorship_key,
    workflow_id_for,
)

SECTION = "soak"
T = TypeVar("T")


# --- The scripts -----------------------------------------------------------------------------------------------


class Kind(StrEnum):
    TERM = "term"
    MUTUAL = "mutual"
    WITHDRAW = "withdraw"
    EXPIRE = "expire"
    DECLINE = "decline"


KINDS = tuple(Kind)
# Timings: the TERM script holds while 2*every + grace < term < 3*every (as tests/system/test_faults.py's).
TERM_TIMINGS: dict[str, Any] = {
    "remind_after": "PT1H",
    "respond_within": "PT2H",
    "check_in_every": "PT20S",
    "check_in_grace": "PT5S",
    "term": "PT50S",
}
# One reminder, then an answer long before the expiry; check-ins recorded long before the first falls due.
ANSWER_TIMINGS: dict[str, Any] = {
    "remind_after": "PT20S",
    "invitation_reminders": 1,
    "respond_within": "PT10M",
    "check_in_every": "PT5M",
}
EXPIRE_TIMINGS: dict[str, Any] = {"remind_after": "PT15S", "invitation_reminders": 2, "respond_within": "PT40S"}
TIMINGS = {
    Kind.TERM: TERM_TIMINGS,
    Kind.MUTUAL: TERM_TIMINGS,
    Kind.WITHDRAW: ANSWER_TIMINGS,
    Kind.EXPIRE: EXPIRE_TIMINGS,
    Kind.DECLINE: ANSWER_TIMINGS,
}
FINAL_STAGE = {
    Kind.TERM: Stage.COMPLETED,
    Kind.MUTUAL: Stage.COMPLETED,
    Kind.WITHDRAW: Stage.WITHDRAWN,
    Kind.EXPIRE: Stage.EXPIRED,
    Kind.DECLINE: Stage.DECLINED,
}
WITHDRAW_CHECK_INS = 3
# Seconds between the withdraw script's actions.
PACE = 5.0
# Steps sent by the Feedback workflow (the rest come from the mentorship's own).
FEEDBACK_STEPS = ("feedback-request", "feedback-summary")
# One attempt of a client call: a query or an update that takes longer is abandoned and tried again (updates
# only once the state shows they were not applied).
ATTEMPT_SECONDS = 120.0


@dataclass
class Story:
    """One mentorship and its script."""

    number: int
    kind: Kind
    invitation: Invitation
    pair: tuple[int, int]
    key: str | None = None
    step: str = "not started"
    updates: int = 0
    done: bool = False
    problem: str | None = None
    started_at: float = 0.0
    ended_at: float = 0.0

    @property
    def workflow_id(self) -> str:
        return workflow_id_for(self.invitation.mentor.id, self.invitation.mentee.id)

    @property
    def initiator(self) -> str:
        return self.invitation.initiated_by.value

    @property
    def invitee(self) -> str:
        return self.invitation.invitee.value

    @property
    def asks_feedback(self) -> bool:
        return self.kind in (Kind.TERM, Kind.MUTUAL, Kind.WITHDRAW)

    def mail(self, step: str, role: str) -> MailKey:
        assert self.key is not None, "invited first"
        return (self.key, step, role)

    @property
    def emails(self) -> set[MailKey]:
        """Exactly the emails this script sends, as (mentorship key, step, recipient role)."""
        if self.key is None:
            return set()
        steps: list[tuple[str, str]] = [("invitation", self.invitee), ("invitation-sent", self.initiator)]
        both = ("mentor", "mentee")
        if self.kind is Kind.EXPIRE:
            steps += [("invitation-reminder-1", self.invitee), ("invitation-reminder-2", self.invitee)]
            steps += [("expired", self.initiator)]
        elif self.kind is Kind.DECLINE:
            steps += [("invitation-reminder-1", self.invitee), ("declined", self.initiator)]
        elif self.kind in (Kind.TERM, Kind.MUTUAL):
            # Check-in 1 due (both), nudged (both), missed: at risk (the coordinator); check-in 2 due at once
            # (both), nudged (both); the term ends before check-in 2 counts as missed: wrap-up (both).
            for step in ("started", "check-in-1-due", "check-in-1-nudge", "check-in-2-due", "check-in-2-nudge"):
                steps += [(step, role) for role in both]
            steps += [("check-in-1-at-risk", "coordinator")] + [("wrap-up", role) for role in both]
        elif self.kind is Kind.WITHDRAW:
            # The mentee withdraws: the mentor is told.
            steps += [("invitation-reminder-1", self.invitee)] + [("started", role) for role in both]
            steps += [("withdrawn", "mentor")]
        if self.asks_feedback:
            steps += [("feedback-request", role) for role in both] + [("feedback-summary", "coordinator")]
        return {self.mail(step, role) for step, role in steps}

    @property
    def mentorship_emails(self) -> int:
        return sum(1 for key in self.emails if key[1] not in FEEDBACK_STEPS)


def make_story(number: int, pair: tuple[int, int], tag: str) -> Story:
    kind = KINDS[number % len(KINDS)]
    initiated_by = Role.MENTOR if (number // len(KINDS)) % 2 == 0 else Role.MENTEE
    mentor, mentee = pair
    inv = invitation(
        tag,
        coordinator=True,
        mentor={"id": f"mentor-{tag}-{mentor}", "name": f"Mentor {mentor}", "email": f"mentor{mentor}@example.com"},
        mentee={"id": f"mentee-{tag}-{mentee}", "name": f"Mentee {mentee}", "email": f"mentee{mentee}@example.com"},
        initiated_by=initiated_by,
        message=f"Soak {kind.value} {number}",
        escalate_after_missed=1,
        **TIMINGS[kind],
    )
    return Story(number, kind, inv, pair)


# --- Emails: the sink's .eml files, read as they come ------------------------------------------------------------


def key_of(message_id: str) -> MailKey | None:
    """``<{mentorship key}.{step}.{role}@domain>`` as (mentorship key, step, role); None for another message."""
    left = "".join(message_id.split()).strip("<>").split("@", 1)[0]
    parts = left.rsplit(".", 2)
    if len(parts) != 3:
        return None
    return parts[0], parts[1], parts[2]


class MailDir:
    """What arrived at the sink, from the ``.eml`` file it writes per message (headers only), indexed as it comes;
    the index survives the sink being stopped and started again."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.counts: Counter[MailKey] = Counter()
        self.files = 0
        self.foreign = 0
        self._seen: set[str] = set()
        self._parser = BytesHeaderParser(policy=policy.default)
        self._arrived = asyncio.Condition()

    def _read_new(self) -> list[MailKey | None]:
        found: list[MailKey | None] = []
        if not self.directory.exists():
            return found
        for entry in os.scandir(self.directory):
            if entry.name in self._seen or not entry.name.endswith(".eml"):
                continue
            with open(entry.path, "rb") as file:
                head = file.read(64 * 1024)
            end = head.find(b"\r\n\r\n")
            if end < 0:
                continue  # still being written: read it next time
            self._seen.add(entry.name)
            headers = self._parser.parsebytes(head[: end + 4])
            found.append(key_of(str(headers.get("Message-ID", ""))))
        return found

    async def scan(self) -> None:
        found = await asyncio.to_thread(self._read_new)
        if not found:
            return
        for key in found:
            self.files += 1
            if key is None:
                self.foreign += 1
            else:
                self.counts[key] += 1
        async with self._arrived:
            self._arrived.notify_all()

    async def follow(self, every: float = 1.0) -> None:
        while True:
            await self.scan()
            await asyncio.sleep(every)

    async def wait(self, keys: set[MailKey]) -> None:
        """Until every one of ``keys`` has arrived at least once (no deadline: the run's drain has it)."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: keys <= self.counts.keys())


# --- Calls that may meet a dead worker --------------------------------------------------------------------------

TRANSIENT_CODES = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    # A query with no worker polling: "no poller seen for task queue recently".
    RPCStatusCode.FAILED_PRECONDITION,
}


def transient(err: BaseException) -> str | None:
    """What a failed call met, if it is worth trying again (no worker, a call cut off); None otherwise."""
    if isinstance(err, WorkflowUpdateRPCTimeoutOrCancelledError):
        return "update RPC timed out"
    if isinstance(err, TimeoutError):
        return f"no answer within {ATTEMPT_SECONDS:.0f} s"
    if isinstance(err, RPCError) and err.status in TRANSIENT_CODES:
        return err.status.name
    return None


@dataclass
class Soak:
    client: Client
    task_queue: str
    mail: MailDir
    retries: Counter[str] = field(default_factory=Counter)

    async def retried(self, call: Callable[[], Awaitable[T]], what: str) -> T:
        """``call`` until it answers; only for calls that may safely be made twice (queries, invitations)."""
        while True:
            try:
                async with asyncio.timeout(ATTEMPT_SECONDS):
                    return await call()
            except (RPCError, TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as err:
                reason = transient(err)
                if reason is None:
                    raise
                self.retries[f"{what}: {reason}"] += 1
            await asyncio.sleep(1)

    async def status(self, story: Story) -> MentorshipStatus:
        return await self.retried(lambda: mentorship_client.status(self.client, story.workflow_id), "status")

    async def update(
        self, story: Story, workflow_id: str, name: str, payload: BaseModel, done: Callable[[], Awaitable[bool]]
    ) -> None:
        """One action, as the update ``mentorship_client.act`` (or ``give_feedback``) sends, with an update id of
        its own: after a transient failure it is tried again under the same id, which the server applies once
        (``act`` takes no id, so an update it sent again after a timeout could be applied twice). A try that finds
        the workflow closed asks ``done`` whether the first one was applied before it closed."""
        story.updates += 1
        update_id = f"soak-{story.number}-{story.updates}-{name}"
        handle = self.client.get_workflow_handle(workflow_id)
        tried = False
        while True:
            try:
                async with asyncio.timeout(ATTEMPT_SECONDS):
                    await handle.execute_update(name, payload, id=update_id)
                return
            except (RPCError, TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as err:
                reason = transient(err)
                if reason is None:
                    if tried and isinstance(err, RPCError) and err.status == RPCStatusCode.NOT_FOUND and await done():
                        return
                    raise
                self.retries[f"{name}: {reason}"] += 1
            tried = True
            await asyncio.sleep(1)

    async def act(
        self, story: Story, action: str, payload: BaseModel, done: Callable[[MentorshipStatus], bool]
    ) -> None:
        story.step = action

        async def applied() -> bool:
            return done(await self.status(story))

        await self.update(story, story.workflow_id, action, payload, applied)

    async def feedback(self, story: Story, feedback_id: str, role: Role) -> None:
        person = story.invitation.person(role)
        given = FeedbackInput(by=person.id, rating=4 if role is Role.MENTOR else 5, would_continue=True)
        story.step = f"feedback by the {role}"

        async def applied() -> bool:
            current = await self.retried(
                lambda: mentorship_client.feedback_status(self.client, feedback_id), "feedback status"
            )
            return current.answered(role)

        await self.update(story, feedback_id, "feedback", given, applied)

    # One script ------------------------------------------------------------------------------------------------

    async def play(self, story: Story) -> None:
        try:
            await self._play(story)
            story.done = True
        except asyncio.CancelledError:
            raise
        except Exception as err:  # recorded and reported: one script's error must not end the run
            story.problem = f"{type(err).__name__} at {story.step}: {err}"
        finally:
            story.ended_at = time.monotonic()

    async def _play(self, story: Story) -> None:
        inv = story.invitation
        invitee = inv.person(inv.invitee)
        story.step = "invite"
        status = await self.retried(
            lambda: mentorship_client.invite(self.client, inv, task_queue=self.task_queue), "invite"
        )
        if status.stage is not Stage.INVITED:
            raise AssertionError(f"invited: {status.stage}")
        story.key = mentorship_key(status.workflow_id, status.invited_at)
        if story.kind is Kind.MUTUAL:
            back = inv.model_copy(update={"initiated_by": inv.invitee})
            story.step = "invite back"
            status = await self.retried(
                lambda: mentorship_client.invite(self.client, back, task_queue=self.task_queue), "invite"
            )
            if status.stage is not Stage.ACTIVE:
                raise AssertionError(f"invited back: {status.stage}")
        elif story.kind is Kind.TERM:
            await self.act(story, "accept", AcceptInput(by=invitee.id, note="Gladly"), _past(Stage.INVITED))
        elif story.kind in (Kind.WITHDRAW, Kind.DECLINE):
            story.step = "waiting for the reminder"
            await self.mail.wait({story.mail("invitation-reminder-1", story.invitee)})
            if story.kind is Kind.DECLINE:
                reason = DeclineInput(by=invitee.id, reason="No time this term")
                await self.act(story, "decline", reason, _past(Stage.INVITED))
            else:
                await self.act(story, "accept", AcceptInput(by=invitee.id), _past(Stage.INVITED))
                for number in range(1, WITHDRAW_CHECK_INS + 1):
                    await asyncio.sleep(PACE)
                    check_in = CheckInInput(by=inv.mentee.id, rating=4, note=f"Meeting {number}")
                    await self.act(story, "check_in", check_in, _recorded(number))
                await asyncio.sleep(PACE)
                withdraw = WithdrawInput(by=inv.mentee.id, reason="Changing teams")
                await self.act(story, "withdraw", withdraw, lambda s: s.stage is Stage.WITHDRAWN)
        story.step = "waiting for the mentorship's end"
        final = await self.client.get_workflow_handle(story.workflow_id, result_type=MentorshipStatus).result()
        self._check(story, final)
        if not story.asks_feedback:
            return
        if final.feedback_workflow_id is None:
            raise AssertionError("no Feedback workflow")
        story.step = "waiting for the feedback requests"
        await self.mail.wait({story.mail("feedback-request", role) for role in ("mentor", "mentee")})
        for role in (Role.MENTOR, Role.MENTEE):
            await self.feedback(story, final.feedback_workflow_id, role)
        story.step = "waiting for the feedback's end"
        handle = self.client.get_workflow_handle(final.feedback_workflow_id, result_type=FeedbackStatus)
        closed = await handle.result()
        if not closed.closed or not closed.summary_sent or len(closed.answers) != 2:
            raise AssertionError(f"feedback: closed {closed.closed}, summary {closed.summary_sent}")
        if closed.notifications_sent != 3 or closed.notification_failures:
            raise AssertionError(f"feedback emails: {closed.notifications_sent} sent, {closed.notification_failures}")

    def _check(self, story: Story, final: MentorshipStatus) -> None:
        """The mentorship's end as its script has it."""
        wrong = []
        if final.stage is not FINAL_STAGE[story.kind]:
            wrong.append(f"stage {final.stage}, expected {FINAL_STAGE[story.kind]}")
        if final.notifications_failed or final.notification_failures:
            wrong.append(f"failed notifications {final.notification_failures}")
        if final.notifications_sent != story.mentorship_emails:
            wrong.append(f"{final.notifications_sent} emails sent, expected {story.mentorship_emails}")
        if story.kind in (Kind.TERM, Kind.MUTUAL) and not (
            final.wrap_up_sent and final.missed_total == 1 and final.at_risk
        ):
            wrong.append(f"wrap-up {final.wrap_up_sent}, missed {final.missed_total}, at risk {final.at_risk}")
        if story.kind is Kind.WITHDRAW and final.check_ins_recorded != WITHDRAW_CHECK_INS:
            wrong.append(f"{final.check_ins_recorded} check-ins")
        if wrong:
            raise AssertionError("; ".join(wrong))


def _past(stage: Stage) -> Callable[[MentorshipStatus], bool]:
    return lambda status: status.stage is not stage


def _recorded(check_ins: int) -> Callable[[MentorshipStatus], bool]:
    return lambda status: status.check_ins_recorded >= check_ins


# --- The run ------------------------------------------------------------------------------------------------------


@dataclass
class Options:
    minutes: float
    rate: float
    kill_every: float
    mail_down: float
    warmup: float
    drain: float
    people: int
    seed: int
    logs: Path | None


@dataclass
class Sample:
    """One reading of the worker's memory."""

    incarnation: int
    age: float
    at: float
    rss_kib: int


@dataclass
class Result:
    options: Options
    task_queue: str = ""
    stories: list[Story] = field(default_factory=list)
    kills: list[float] = field(default_factory=list)
    back_after: list[float] = field(default_factory=list)
    in_flight_at_kills: list[int] = field(default_factory=list)
    mail_down_at: float | None = None
    mail_down_for: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    final_start: float = 0.0
    load_end: float = 0.0
    wall: float = 0.0
    load: LoadWindow = field(default_factory=LoadWindow)
    server_rss_kib: tuple[int, int] = (0, 0)
    figures: MailTally | None = None
    retries: Counter[str] = field(default_factory=Counter)
    failed: dict[str, int] = field(default_factory=dict)
    open_at_end: int = 0
    workflows: dict[str, int] = field(default_factory=dict)
    emails_seen: int = 0
    foreign_emails: int = 0

    # Derived ---------------------------------------------------------------------------------------------------

    @property
    def invited(self) -> list[Story]:
        return [story for story in self.stories if story.key is not None]

    @property
    def completed(self) -> list[Story]:
        return [story for story in self.stories if story.done]

    @property
    def stuck(self) -> list[Story]:
        return [story for story in self.stories if not story.done and story.problem is None]

    @property
    def off_script(self) -> list[Story]:
        return [story for story in self.stories if story.problem is not None]

    def rss(self) -> Memory:
        return Memory.of(self)


@dataclass
class Memory:
    """The worker's RSS at two points of the last worker's life (see the module's docstring)."""

    stretch: float
    warm_age: float
    window: float
    warm_kib: float
    end_kib: float
    judged: bool
    each_at_warm_age: list[float]

    @property
    def growth(self) -> float:
        return (self.end_kib - self.warm_kib) / self.warm_kib if self.warm_kib else 0.0

    @property
    def leaked(self) -> bool:
        return self.judged and self.growth > 0.10

    @classmethod
    def of(cls, result: Result) -> Memory:
        stretch = result.load_end - result.final_start
        judged = stretch >= 2 * result.options.warmup
        warm_age = result.options.warmup if judged else stretch / 2
        window = min(30.0, max(stretch / 4, 2.0))
        last = max((s.incarnation for s in result.samples), default=0)
        final = [s for s in result.samples if s.incarnation == last and s.at <= result.load_end]
        warm = [s.rss_kib for s in final if warm_age <= s.age <= warm_age + window]
        end = [s.rss_kib for s in final if s.at >= result.load_end - window]
        each = []
        for incarnation in range(1, last + 1):
            at_age = [
                s.rss_kib
                for s in result.samples
                if s.incarnation == incarnation and warm_age <= s.age <= warm_age + window
            ]
            if at_age:
                each.append(statistics.median(at_age))
        return cls(
            stretch=stretch,
            warm_age=warm_age,
            window=window,
            warm_kib=statistics.median(warm) if warm else 0.0,
            end_kib=statistics.median(end) if end else 0.0,
            judged=judged and bool(warm) and bool(end),
            each_at_warm_age=each,
        )


def kill_times(options: Options) -> list[float]:
    """Seconds from the start: every ``kill_every`` minutes, none in the last stretch (a third of the run, at least
    ``kill_every``), which one worker runs from its start to its end."""
    if options.kill_every <= 0:
        return []
    total, every = options.minutes * 60, options.kill_every * 60
    stretch = max(every, total / 3)
    times, at = [], every
    while at <= total - stretch + 1e-6:
        times.append(at)
        at += every
    return times


def outage_time(options: Options) -> float:
    """Seconds from the start: at 40 % of the run, or half a kill interval later if a kill falls within a minute
    of that (the effects of two faults at the same moment could not be told apart)."""
    at = 0.4 * options.minutes * 60
    if any(abs(kill - at) < 60 for kill in kill_times(options)):
        at += options.kill_every * 60 / 2
    return at


def quiet_runtime() -> Runtime:
    """The client's runtime, with the Rust core's warnings off: a query it retried (a busy workflow, no worker)
    is logged at every retry, and these are counted in the report instead."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


async def run(options: Options) -> Result:
    result = Result(options)
    rng = random.Random(options.seed)
    tag = uuid.uuid4().hex[:6]
    result.task_queue = task_queue = f"soak-{tag}"
    with tempfile.TemporaryDirectory(prefix="mentorship-soak-") as tmp:
        logs = options.logs or Path(tmp)
        mail_dir = logs / "mail"
        async with Processes() as procs:
            server = DevServer(logs, db_file=logs / "temporal.db")
            await procs.start(server)
            sink = MailSinkProcess(free_port(), directory=mail_dir, env=child_env(), log=logs / "mail-sink.log")
            await procs.start(sink)
            worker = WorkerProcess(
                "worker",
                deployed_worker_argv(),
                logs,
                address=server.address,
                task_queue=task_queue,
                smtp_port=sink.port,
            )
            await procs.start(worker)
            client = await Client.connect(
                server.address, namespace="default", data_converter=CONTRACT_DATA_CONVERTER, runtime=quiet_runtime()
            )
            mail = MailDir(mail_dir)
            soak = Soak(client, task_queue, mail)
            result.retries = soak.retries
            loop = asyncio.get_running_loop()
            started = loop.time()
            worker_started = started
            result.server_rss_kib = (server.rss_kib(), 0)
            result.load = LoadWindow()
            free = {(mentor, mentee) for mentor in range(options.people) for mentee in range(options.people)}
            tasks: set[asyncio.Task[None]] = set()
            total = options.minutes * 60

            def since() -> float:
                return loop.time() - started

            async def sample() -> None:
                while True:
                    with contextlib.suppress(OSError, RuntimeError):
                        if worker.alive:
                            now = loop.time()
                            result.samples.append(
                                Sample(worker.starts, now - worker_started, now - started, worker.rss_kib())
                            )
                    await asyncio.sleep(2)

            async def faults() -> None:
                nonlocal worker_started
                events: list[tuple[float, str]] = [(at, "kill") for at in kill_times(options)]
                if options.mail_down > 0:
                    events.append((outage_time(options), "mail"))
                for at, what in sorted(events):
                    await asyncio.sleep(max(0.0, at - since()))
                    if what == "kill":
                        result.in_flight_at_kills.append(sum(1 for t in tasks if not t.done()))
                        result.kills.append(since())
                        await worker.kill()
                        killed = loop.time()
                        await worker.start()
                        worker_started = loop.time()
                        result.back_after.append(worker_started - killed)
                        result.final_start = since()
                        print(
                            f"  {since():5.0f}s: worker SIGKILLed; a new one polling after "
                            f"{result.back_after[-1]:.1f}s",
                            file=sys.stderr,
                            flush=True,
                        )
                    else:
                        helpers.append(loop.create_task(outage()))

            async def outage() -> None:
                result.mail_down_at = since()
                await sink.stop()
                print(f"  {since():5.0f}s: mail server stopped", file=sys.stderr, flush=True)
                await asyncio.sleep(options.mail_down)
                await sink.start()
                result.mail_down_for = since() - result.mail_down_at
                print(f"  {since():5.0f}s: mail server back on port {sink.port}", file=sys.stderr, flush=True)

            async def progress() -> None:
                while True:
                    await asyncio.sleep(30)
                    done = sum(1 for s in result.stories if s.done)
                    rss = 0
                    with contextlib.suppress(OSError, RuntimeError):
                        rss = worker.rss_kib() if worker.alive else 0
                    print(
                        f"  {since():5.0f}s: {len(result.stories)} started, {done} done, "
                        f"{sum(1 for t in tasks if not t.done())} in flight, {mail.files} emails, worker RSS "
                        f"{rss // 1024} MiB, load {load_text()}",
                        file=sys.stderr,
                        flush=True,
                    )

            async def one(story: Story) -> None:
                story.started_at = loop.time()
                await soak.play(story)
                if story.problem is None:
                    # A pair whose script went wrong may still have its mentorship open: it is not met again.
                    free.add(story.pair)

            helpers = [loop.create_task(coroutine) for coroutine in (mail.follow(), sample(), faults(), progress())]
            try:
                # The load: one new mentorship every 1/rate seconds, on schedule.
                number = 0
                while (at := number / options.rate) < total:
                    await asyncio.sleep(max(0.0, at - since()))
                    while not free:  # noqa: ASYNC110 - freed by the scripts, not by an event worth a Condition
                        await asyncio.sleep(0.1)
                    pair = rng.choice(sorted(free))
                    free.discard(pair)
                    story = make_story(number, pair, tag)
                    result.stories.append(story)
                    task = loop.create_task(one(story))
                    tasks.add(task)
                    number += 1
                await asyncio.sleep(max(0.0, total - since()))
                result.load_end = since()
                print(f"  {since():5.0f}s: load stopped; draining", file=sys.stderr, flush=True)

                # The drain: every script done and every expected email in, with a deadline.
                deadline = loop.time() + options.drain
                pending = {t for t in tasks if not t.done()}
                if pending:
                    await asyncio.wait(pending, timeout=options.drain)
                expected = set().union(*(story.emails for story in result.stories))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(1.0, deadline - loop.time())):
                        await mail.wait(expected)
                await asyncio.sleep(2)
                await mail.scan()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                result.figures = tally(expected, mail.counts)
                result.emails_seen, result.foreign_emails = mail.files, mail.foreign
                result.server_rss_kib = (result.server_rss_kib[0], server.rss_kib())
                await visibility(client, task_queue, result, deadline)
            finally:
                for helper in helpers:
                    helper.cancel()
                await asyncio.gather(*helpers, return_exceptions=True)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            result.wall = since()
            result.load.close()
    return result


async def visibility(client: Client, task_queue: str, result: Result, deadline: float) -> None:
    """Failed and open workflows of the run's task queue, as visibility shows them (waiting a little for it to
    catch up with workflows that closed just now)."""
    base = f"TaskQueue = '{task_queue}'"
    for status in ("Failed", "TimedOut", "Terminated"):
        result.failed[status] = (await client.count_workflows(f"{base} AND ExecutionStatus = '{status}'")).count
    open_query = f"{base} AND ExecutionStatus = 'Running' AND WorkflowType != '{PERSON_WORKFLOW_TYPE}'"
    loop = asyncio.get_running_loop()
    settle = max(deadline, loop.time() + 30)
    while True:
        result.open_at_end = (await client.count_workflows(open_query)).count
        if result.open_at_end == 0 or loop.time() > settle:
            break
        await asyncio.sleep(1)
    for kind in (WORKFLOW_TYPE, FEEDBACK_WORKFLOW_TYPE, PERSON_WORKFLOW_TYPE):
        result.workflows[kind] = (await client.count_workflows(f"{base} AND WorkflowType = '{kind}'")).count


# --- Report ---------------------------------------------------------------------------------------------------


def mib(kib: float) -> str:
    return f"{kib / 1024:.0f}"


def clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def what(result: Result) -> str:
    o = result.options
    kills = f"worker SIGKILL every {o.kill_every:g} min" if result.kills else "no worker kill"
    mail = f"SMTP down {result.mail_down_for:.0f} s once" if result.mail_down_at is not None else "no SMTP outage"
    return f"soak: {o.minutes:g} min at {o.rate:g}/s, {kills}, {mail}"


def failures(result: Result) -> list[str]:
    """Why the run fails; empty when it passes."""
    figures = result.figures
    assert figures is not None
    memory = result.rss()
    reasons = []
    if figures.lost:
        reasons.append(f"{figures.lost} emails lost")
    if figures.unexpected or result.foreign_emails:
        reasons.append(f"{len(figures.unexpected) + result.foreign_emails} emails no script sends")
    if result.stuck:
        reasons.append(f"{len(result.stuck)} mentorships stuck")
    if result.off_script:
        reasons.append(f"{len(result.off_script)} mentorships off their script")
    if sum(result.failed.values()):
        reasons.append(f"{sum(result.failed.values())} workflows failed, timed out or terminated")
    if result.open_at_end:
        reasons.append(f"{result.open_at_end} workflows still open")
    if memory.leaked:
        reasons.append(f"worker RSS grew {memory.growth:+.1%} (more than 10 %)")
    return reasons


def invalid_states(result: Result) -> int:
    return len(result.stuck) + len(result.off_script) + sum(result.failed.values()) + result.open_at_end


def readme_row(result: Result) -> str:
    figures = result.figures
    assert figures is not None
    faults = len(result.kills) + (1 if result.mail_down_at is not None else 0)
    cells = [
        what(result),
        f"{len(result.stories):,}",
        f"{faults:,}",
        f"{figures.expected:,}",
        f"{figures.delivered:,}",
        f"{figures.duplicated:,}",
        f"{figures.lost:,}",
        "",
        "",
        f"{invalid_states(result):,}",
    ]
    return "| " + " | ".join(cells) + " |"


def section(result: Result) -> str:
    o = result.options
    figures = result.figures
    assert figures is not None
    memory = result.rss()
    by_kind = Counter(story.kind.value for story in result.completed)
    kinds = ", ".join(f"{kind.value} {by_kind[kind.value]}" for kind in KINDS)
    back = result.back_after
    kills = (
        f"{len(result.kills)} worker SIGKILLs (at {', '.join(clock(t) for t in result.kills)}; "
        f"{', '.join(str(n) for n in result.in_flight_at_kills)} scripts in flight); a new worker polling "
        f"{min(back):.1f}–{max(back):.1f} s after each"
        if result.kills
        else "no worker kill"
    )
    outage = (
        f"mail server stopped at {clock(result.mail_down_at)} for {result.mail_down_for:.0f} s, back on the same port"
        if result.mail_down_at is not None
        else "no mail outage"
    )
    stuck = ", ".join(f"#{s.number} {s.kind.value} at {s.step}" for s in result.stuck[:5])
    off = "; ".join(f"#{s.number} {s.kind.value}: {s.problem}" for s in result.off_script[:5])
    retries = ", ".join(f"{call} × {n}" for call, n in result.retries.most_common()) or "none"
    verdict = (
        f"{mib(memory.warm_kib)} → {mib(memory.end_kib)} MiB ({memory.growth:+.1%}; "
        + ("judged: ≤ 10 % passes" if memory.judged else "not judged: the stretch is shorter than twice the warm-up")
        + ")"
    )
    rows = [
        ("wall time (load, then drain)", f"{clock(result.wall)} ({clock(result.load_end)} of load)"),
        (
            "mentorships started / finished as scripted",
            f"{len(result.stories):,} / {len(result.completed):,} ({kinds})",
        ),
        ("faults injected", f"{kills}; {outage}"),
        (
            "emails expected / delivered / duplicated / lost",
            f"{figures.expected:,} / {figures.delivered:,} / {figures.duplicated:,} / {figures.lost:,}",
        ),
        (
            "emails no script sends (and messages without a mentorship's Message-ID)",
            f"{len(figures.unexpected):,} ({result.foreign_emails})"
            + (f", e.g. {figures.unexpected[:3]}" if figures.unexpected else ""),
        ),
        ("stuck (not finished after the drain)", f"{len(result.stuck)}" + (f": {stuck}" if stuck else "")),
        (
            "off script (ended otherwise, or an action refused)",
            f"{len(result.off_script)}" + (f": {off}" if off else ""),
        ),
        (
            "failed / timed out / terminated workflows (visibility)",
            " / ".join(str(result.failed.get(s, 0)) for s in ("Failed", "TimedOut", "Terminated")),
        ),
        ("Mentorship and Feedback workflows open at the end", f"{result.open_at_end}"),
        (
            "workflows of the run",
            ", ".join(f"{kind} {count:,}" for kind, count in result.workflows.items()),
        ),
        (
            f"worker RSS, last worker ({clock(memory.stretch)} unkilled): after warm-up (age "
            f"{clock(memory.warm_age)}) → at the end of the load",
            verdict,
        ),
        (
            f"worker RSS of each worker at age {clock(memory.warm_age)} (MiB)",
            ", ".join(mib(kib) for kib in memory.each_at_warm_age) or "-",
        ),
        ("dev server RSS start → end (MiB)", f"{mib(result.server_rss_kib[0])} → {mib(result.server_rss_kib[1])}"),
        ("client calls tried again (no worker, or cut off)", retries),
        ("load average (1 min) start → end", f"{result.load}"),
    ]
    memory_verdict = "no leak seen" if memory.judged else "memory not judged (the run is too short)"
    verdict_line = "; ".join(failures(result)) or f"passed: nothing lost, stuck, off script or failed; {memory_verdict}"
    return f"""## Soak (`python -m bench.soak`)

{now_text()}; {machine()}.

```sh
{command(o)}
```

New mentorships at a steady rate on timings of seconds, each playing one of five scripts (term, mutual, withdraw,
expire, decline; see `bench/soak.py`), the people drawn from a pool of {o.people} mentors and {o.people} mentees; one
dev server (SQLite file), the project's mail sink in its own process, `worker.py` as deployed. The worker's process
group SIGKILLed every {o.kill_every:g} min (none in the last stretch) and a new one started at once; the mail
server stopped once, near 40 % of the run. Then no new mentorships, and up to {o.drain:.0f} s for every script to
finish and every email to arrive. Memory: the last worker, never killed, after warm-up against the end of the load.

{table(("", "figure"), rows)}

Verdict: {verdict_line}.

Row for the README's Reliability table (invalid states: stuck, off script, failed or open at the end):

{readme_row(result)}
"""


def command(o: Options) -> str:
    flags = f"--minutes {o.minutes:g} --rate {o.rate:g} --kill-every {o.kill_every:g} --mail-down {o.mail_down:g}"
    return f"python -m bench.soak {flags} --warmup {o.warmup / 60:g} --drain {o.drain:g} --people {o.people}"


def write(body: str) -> None:
    # bench/common.py's SECTIONS does not name this section: it is added (at the end of the file) for this call.
    if SECTION not in common.SECTIONS:
        common.SECTIONS = (*common.SECTIONS, SECTION)  # type: ignore[assignment]
    common.write_section(SECTION, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="of load (default %(default)s)")
    parser.add_argument("--rate", type=float, default=1.0, help="new mentorships per second (default %(default)s)")
    parser.add_argument(
        "--kill-every", type=float, default=4.0, help="minutes between worker SIGKILLs, 0: none (default %(default)s)"
    )
    parser.add_argument(
        "--mail-down", type=float, default=60.0, help="seconds the mail server is down, 0: never (default %(default)s)"
    )
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="minutes before the last worker's RSS counts (default %(default)s)"
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=300.0,
        help="seconds for everything to finish after the load (default %(default)s)",
    )
    parser.add_argument("--people", type=int, default=30, help="mentors, and as many mentees (default %(default)s)")
    parser.add_argument("--seed", type=int, default=7, help="which pairs meet (default %(default)s)")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs and the mail here (default: a temp dir)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.rate <= 0 or args.people < 2 or args.warmup <= 0 or args.drain <= 0:
        parser.error("--minutes, --rate, --warmup and --drain must be positive, --people at least 2")
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
    options = Options(
        minutes=args.minutes,
        rate=args.rate,
        kill_every=args.kill_every,
        mail_down=args.mail_down,
        warmup=args.warmup * 60,
        drain=args.drain,
        people=args.people,
        seed=args.seed,
        logs=args.logs,
    )
    print(f"load average at start: {load_text()}", file=sys.stderr)
    result = asyncio.run(run(options))
    body = section(result)
    print(body)
    if not args.no_write:
        write(body)
    reasons = failures(result)
    if reasons:
        print("soak FAILED: " + "; ".join(reasons), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
