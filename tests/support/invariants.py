"""Every invariant of a mentorship's status, as the README states them: what tests/workflow/test_properties.py
checks after every step of every generated story (and tests/unit/test_status_invariants.py checks the checker)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from workflows.contract import MentorshipStatus, Stage
from workflows.durations import parse_duration
from workflows.effects import KEEP_CHECK_INS

ALLOWED = {
    Stage.INVITED: {Stage.ACTIVE, Stage.DECLINED, Stage.EXPIRED, Stage.WITHDRAWN},
    Stage.ACTIVE: {Stage.PAUSED, Stage.WITHDRAWN, Stage.COMPLETED},
    Stage.PAUSED: {Stage.ACTIVE, Stage.WITHDRAWN, Stage.COMPLETED},
}
STAGE_EVENTS = {
    "invited": Stage.INVITED,
    "accepted": Stage.ACTIVE,
    "active": Stage.ACTIVE,
    "paused": Stage.PAUSED,
    "resumed": Stage.ACTIVE,
    "declined": Stage.DECLINED,
    "expired": Stage.EXPIRED,
    "withdrawn": Stage.WITHDRAWN,
    "completed": Stage.COMPLETED,
}
CHECK_IN_EVENT = re.compile(r"check-in (\d+) (recorded|missed)$")
SLACK = timedelta(seconds=1)


def reachable(before: Stage, after: Stage) -> bool:
    seen, todo = {before}, [before]
    while todo:
        for nxt in ALLOWED.get(todo.pop(), set()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return after in seen


def invariants(s: MentorshipStatus, now: datetime | None = None) -> list[str]:
    """Every invariant of a mentorship's status that ``s`` breaks; with ``now``, also that nothing due is waiting
    (for a settled workflow: no pending workflow task or send)."""
    broken: list[str] = []

    def need(ok: bool, what: str) -> None:
        if not ok:
            broken.append(what)

    inv = s.invitation
    initiator, invitee = inv.person(inv.initiated_by).id, inv.person(inv.invitee).id
    participants = {inv.mentor.id, inv.mentee.id}
    closed = not s.stage.is_open
    # Stage-specific fields.
    need((s.ended_at is not None) == closed, "ended_at is set exactly when the mentorship has ended")
    need(
        s.expires_at is not None if s.stage is Stage.INVITED else s.expires_at is None, "expires_at only while invited"
    )
    if s.stage is Stage.INVITED:
        need(s.expires_at == parse_duration(inv.respond_within).after(s.invited_at), "expires_at = invited + window")
    need((s.next_check_in_due is not None) == (s.stage is Stage.ACTIVE), "a check-in is due exactly while active")
    need(s.paused_until is None or s.stage is Stage.PAUSED, "paused_until only while paused")
    was_accepted = any(e.event in ("accepted", "active") for e in s.timeline)
    need((s.accepted_at is not None) == was_accepted, "accepted_at is set exactly when accepted")
    if s.stage in (Stage.ACTIVE, Stage.PAUSED, Stage.COMPLETED):
        need(s.accepted_at is not None, f"{s.stage} without accepted_at")
    if s.stage in (Stage.INVITED, Stage.DECLINED, Stage.EXPIRED):
        need(s.accepted_at is None and not s.check_ins and s.cycle == 1, f"{s.stage} with check-in history")
    if s.accepted_at is not None:
        need(s.accepted_at >= s.invited_at, "accepted before invited")
        expected_term = parse_duration(inv.term).after(s.accepted_at) if inv.term else None
        need(s.term_ends_at == expected_term, "term_ends_at = accepted + term")
    else:
        need(s.term_ends_at is None, "a term end before acceptance")
    if s.ended_at is not None:
        need(s.ended_at >= (s.accepted_at or s.invited_at), "ended before it started")
    if s.stage is Stage.EXPIRED:
        need(s.ended_at == parse_duration(inv.respond_within).after(s.invited_at), "expired at its expiry time")
    need(s.wrap_up_sent == (s.stage is Stage.COMPLETED), "a wrap-up exactly when completed")
    if s.stage is Stage.COMPLETED:
        need(s.ended_at == s.term_ends_at, "completed at the end of its term")
    # Counters.
    need(0 <= s.invitation_reminders_sent <= inv.invitation_reminders, "more reminders than allowed")
    reminders = [e for e in s.timeline if e.event.startswith("invitation reminder ")]
    need(len(reminders) == s.invitation_reminders_sent, "reminders counted as sent")
    numbers = [(int(m[1]), m[2]) for e in s.timeline if (m := CHECK_IN_EVENT.match(e.event))]
    need([n for n, _ in numbers] == list(range(1, s.cycle)), f"check-ins and misses numbered 1..{s.cycle - 1}")
    need([c.number for c in s.check_ins] == [n for n, what in numbers if what == "recorded"], "check-in numbers")
    need(s.missed_total == sum(1 for _, what in numbers if what == "missed"), "missed_total counts the misses")
    need(s.cycle == 1 + s.check_ins_recorded + s.missed_total, "cycle = 1 + check-ins + misses")
    need(len(s.check_ins) == min(s.check_ins_recorded, KEEP_CHECK_INS), "the status keeps the latest check-ins")
    need(0 <= s.missed_in_a_row <= s.missed_total, "0 <= missed_in_a_row <= missed_total")
    trailing = 0
    for _, what in numbers:
        trailing = trailing + 1 if what == "missed" else 0
    need(s.missed_in_a_row == trailing, "missed_in_a_row counts the misses since the last check-in")
    need(s.at_risk == (s.missed_in_a_row >= inv.escalate_after_missed), "at risk exactly after enough misses")
    at_risk_events = sum(1 for e in s.timeline if e.event == "at risk")
    back_events = sum(1 for e in s.timeline if e.event == "back on track")
    need(back_events == at_risk_events - s.at_risk, "every at-risk streak but the current one ended back on track")
    need(not s.cycle_nudged or s.cycle_reminded, "nudged before reminded")
    need(len(s.refused_signals) <= 50 and len(s.notification_failures) <= 50, "kept lists bounded")
    need(s.notifications_sent >= 0 and s.notifications_pending >= 0, "negative counters")
    # The timeline: in order, stages along the README's edges, every act by someone allowed to do it.
    need(all(a.at <= b.at for a, b in zip(s.timeline, s.timeline[1:], strict=False)), "timeline out of order")
    stage: Stage | None = None
    for entry in s.timeline:
        need(entry.by is None or entry.by in participants, f"{entry.event} by {entry.by!r}, not a participant")
        new = STAGE_EVENTS.get(entry.event)
        if new is None:
            if CHECK_IN_EVENT.match(entry.event) and entry.event.endswith("recorded"):
                need(stage is Stage.ACTIVE, f"{entry.event} while {stage}")
            continue
        if stage is None:
            need(new is Stage.INVITED, "the timeline starts with the invitation")
            need(entry.by == initiator, "invited by the initiator")
        else:
            need(new in ALLOWED.get(stage, set()), f"stage moved {stage} -> {new}")
            if entry.event in ("accepted", "declined"):
                need(entry.by == invitee, f"{entry.event} by {entry.by}, not by the invitee")
            if entry.event == "withdrawn" and stage is Stage.INVITED:
                need(entry.by == initiator, "an invitation withdrawn by someone other than its initiator")
            if entry.event == "resumed":
                need(entry.by is not None or entry.detail == "the pause ended", "resumed by nobody")
        stage = new
    need(stage is s.stage, f"the timeline ends in {stage}, the status says {s.stage}")
    for entry in s.timeline:
        if entry.event == "invited back":
            need(entry.by == invitee, "invited back by someone other than the invitee")
    # Nothing due is left waiting (the workflow has settled).
    if now is not None:
        late = now - SLACK
        if s.stage is Stage.INVITED:
            assert s.expires_at is not None
            need(s.expires_at > late, "an invitation past its expiry is still open")
            n = s.invitation_reminders_sent + 1
            at = s.invited_at
            for _ in range(n):
                at = parse_duration(inv.remind_after).after(at)
            if n <= inv.invitation_reminders and at < s.expires_at:
                need(at > late, f"invitation reminder {n} is overdue")
        if s.stage is Stage.ACTIVE and s.next_check_in_due is not None:
            due = s.next_check_in_due
            if not s.cycle_reminded:
                need(due > late, "a check-in reminder is overdue")
            elif not s.cycle_nudged:
                need(parse_duration(inv.check_in_grace).after(due) > late, "a follow-up nudge is overdue")
            else:
                need(parse_duration(inv.check_in_every).after(due) > late, "a missed check-in is not counted")
        if s.stage in (Stage.ACTIVE, Stage.PAUSED) and s.term_ends_at is not None:
            need(s.term_ends_at > late, "the term is over but the mentorship goes on")
        if s.stage is Stage.PAUSED and s.paused_until is not None:
            need(s.paused_until > late, "a pause past its end")
        need(s.notifications_pending == 0, "sends still pending in a settled workflow")
        need(s.webhooks.pending == 0, "events still being delivered in a settled workflow")
    return broken
