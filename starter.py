"""Start and drive mentorships from the command line, and the demo. Python services use ``mentorship_client``.

    python starter.py invite '{"mentor": {...}, "mentee": {...}, "initiated_by": "mentee"}'
    python starter.py accept mentorship-ana--ben --by ben
    python starter.py status mentorship-ana--ben
    python starter.py list --stage active --at-risk
    python starter.py limits ana --max-mentees 2 --max-mentors none
    python starter.py person ana
    python starter.py feedback mentorship-ana--ben --by ben --rating 5 --would-continue yes --note "Thank you"
    python starter.py feedback-status mentorship-ana--ben
    python starter.py webhooks                     # the endpoints; DISABLED: it answered 410 Gone
    python starter.py webhooks enable https://hooks.example.com/mentorships --by ops
    python starter.py demo

Every input is validated here, at the edge (by mentorship_client), before anything reaches Temporal; the workflow
validates again. The verbs of the participants' actions are the action table's (workflows/actions.py), with `_`
shown as `-` (`check-in`). Feedback, asked of both once an active mentorship ended, is given and read with
`feedback` and `feedback-status`, by the mentorship's workflow id (its latest run) or the Feedback workflow's.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client, WorkflowExecution, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

import mentorship_client
from infra.process import exit_now
from infra.settings import get_settings
from infra.temporal import connect
from workflows import search_attributes as sa
from workflows.actions import PARTICIPANT_ACTIONS
from workflows.contract import (
    NO_FREE_PLACE,
    AcceptInput,
    CheckInInput,
    FeedbackInput,
    FeedbackStatus,
    Invitation,
    MentorshipStatus,
    PauseInput,
    PersonStatus,
    Role,
    SetLimitsInput,
    Stage,
    explain,
    person_workflow_id,
)

# --- The command line --------------------------------------------------------------------------------------

# Exit codes (shown in --help).
DONE = 0
REFUSED = 1  # refused by the mentorship or the record (the reason is printed), or nothing found
INVALID = 2  # the input does not fit the contract, or the command line is wrong (argparse's own code)
NO_FREE_PLACE_EXIT = 3  # the mentor or the mentee has no free place (the reason is printed)

EXIT_CODES = f"""exit codes:
  {DONE}  done
  {REFUSED}  refused (the reason is printed), or no such mentorship or person record, or no feedback asked
  {INVALID}  invalid input or usage (each field with its reason)
  {NO_FREE_PLACE_EXIT}  no free place: the mentor or the mentee is at their limit (the reason is printed); an
     invitation starts nothing, an acceptance changes nothing and the invitation stays open"""


class UsageError(Exception):
    pass


def _load_json(text: str) -> Any:
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        with open(text[1:], encoding="utf-8") as file:
            text = file.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"not valid JSON: {err}") from None


def _print_status(current: MentorshipStatus, as_json: bool) -> None:
    if as_json:
        print(current.model_dump_json(indent=2))
        return
    print(f"{current.workflow_id}: {current.stage.value}" + (" (at risk)" if current.at_risk else ""))
    print(f"  mentor {current.mentor.name} ({current.mentor.id}), mentee {current.mentee.name} ({current.mentee.id}),")
    print(f"  invited by the {current.initiated_by.value}")
    if current.waiting_for:
        print(f"  waiting for: {current.waiting_for}")
    print(f"  check-ins: {current.check_ins_recorded} done, {current.missed_in_a_row} missed in a row")
    if current.notification_failures:
        last = current.notification_failures[-1]
        print(f"  last failed email: {last.step} to the {last.to.value}: {last.error}")
    for entry in current.timeline[-8:]:
        by = f" by {entry.by}" if entry.by else ""
        detail = f" — {entry.detail}" if entry.detail else ""
        print(f"    {entry.at:%Y-%m-%d %H:%M:%S} {entry.event}{by}{detail}")


def _print_person(record: PersonStatus, as_json: bool) -> None:
    if as_json:
        print(record.model_dump_json(indent=2))
        return
    name = f"{record.name} ({record.person_id})" if record.name else record.person_id
    print(f"{person_workflow_id(record.person_id)}: {name}" + (", at a limit" if record.at_limit else ""))
    print(f"  mentees: {record.open_as_mentor}, {_limit_text(record.max_mentees, record.free_as_mentor)}")
    print(f"  mentors: {record.open_as_mentee}, {_limit_text(record.max_mentors, record.free_as_mentee)}")
    refusals = f"{record.refusals} acceptance{'' if record.refusals == 1 else 's'} refused for want of a place"
    print(
        f"  places: {record.places_taken} taken, {record.places_released} given back, "
        f"{record.places_reclaimed} taken back; {refusals}"
    )
    for place in record.places:
        role = "mentor of" if place.role is Role.MENTOR else "mentee of"
        print(f"    {role} {place.partner_id} since {place.since:%Y-%m-%d %H:%M:%S} ({place.workflow_id})")
    if record.limits_changed_at is not None:
        print(f"  limits changed {record.limits_changed_at:%Y-%m-%d %H:%M:%S}")


def _print_feedback(current: FeedbackStatus, as_json: bool) -> None:
    if as_json:
        print(current.model_dump_json(indent=2))
        return
    window = "closed" if current.closed else f"open until {current.closes_at:%Y-%m-%d %H:%M:%S}"
    print(f"{current.workflow_id}: feedback {window}")
    print(f"  on {current.mentorship_workflow_id}, {current.ended.value} {current.ended_at:%Y-%m-%d %H:%M:%S}")
    for role in Role:
        person = current.invitation.person(role)
        answer = next((a for a in current.answers if a.role is role), None)
        if answer is None:
            text = "no answer" if current.closed else "no answer yet"
        else:
            parts = [f"{answer.rating}/5"]
            if answer.would_continue is not None:
                parts.append("would continue" if answer.would_continue else "would not continue")
            if answer.note:
                parts.append(json.dumps(answer.note, ensure_ascii=False))
            text = ", ".join(parts) + f" ({answer.at:%Y-%m-%d %H:%M:%S})"
        print(f"  {role.value} {person.name} ({person.id}): {text}")
    if current.refused_signals:
        last = current.refused_signals[-1]
        print(f"  last refused: {last.signal} by {last.by}: {last.reason}")


def _feedback_payload(args: argparse.Namespace) -> dict[str, Any]:
    payload: dict[str, Any] = {"by": args.by, "rating": args.rating}
    if args.would_continue is not None:
        payload["would_continue"] = args.would_continue == "yes"
    if args.note is not None:
        payload["note"] = args.note
    return payload


class NotFound(LookupError):
    """No such mentorship (or Feedback workflow)."""


async def _give_feedback(
    client: Client, workflow_id: str, given: FeedbackInput, *, as_signal: bool
) -> tuple[str, FeedbackStatus | None]:
    """Give feedback: the Feedback workflow's id, and its status (None for a signal); FeedbackRefused when that
    workflow has completed (both answered, or the window closed), with the reason it would have given."""
    feedback_id = await _feedback_workflow(client, workflow_id)
    try:
        return feedback_id, await mentorship_client.give_feedback(client, feedback_id, given, as_signal=as_signal)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"no Feedback workflow {feedback_id!r}") from None
        raise


async def _feedback_status(client: Client, feedback_id: str) -> FeedbackStatus:
    try:
        return await mentorship_client.feedback_status(client, feedback_id)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"no Feedback workflow {feedback_id!r}") from None
        raise


async def _feedback_workflow(client: Client, workflow_id: str) -> str:
    """The Feedback workflow of the mentorship's latest run (NoFeedbackAsked when it asked for none)."""
    try:
        return await mentorship_client.feedback_workflow_of(client, workflow_id)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"no mentorship {workflow_id!r}") from None
        raise


def _limit_text(limit: int | None, free: int | None) -> str:
    return "no limit" if limit is None else f"limit {limit} ({free} free)"


_NO_LIMIT_WORDS = ("none", "null")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,9}")


def _limits_payload(args: argparse.Namespace) -> dict[str, Any]:
    """The limits given on the command line: only the flags given; `none` removes a limit. Anything else that is
    not a whole number goes to the model as it is, which refuses it with the reason."""
    payload: dict[str, Any] = {}
    for field in ("max_mentees", "max_mentors"):
        text: str | None = getattr(args, field)
        if text is None:
            continue
        if text.strip().lower() in _NO_LIMIT_WORDS:
            payload[field] = None
        elif _WHOLE_NUMBER.fullmatch(text):
            payload[field] = int(text)
        else:
            payload[field] = text
    return payload


# The verbs of the participants' actions: the action table's names, `_` shown as `-` (`check-in`).
ACTION_VERBS: dict[str, str] = {name.replace("_", "-"): name for name in PARTICIPANT_ACTIONS}

# Feedback is given on the Feedback workflow a mentorship started as it ended, not by an action of the table.
FEEDBACK_VERBS = frozenset({"feedback", "feedback-status"})
FEEDBACK_ID_HELP = "the mentorship's workflow id (its latest run), e.g. mentorship-ana--ben, or its Feedback workflow's"

# The command-line options of the fields an action's input may carry besides `by` (`--name`, and argparse's
# keyword arguments); a field not named here is a plain text option.
_FIELD_OPTIONS: dict[str, dict[str, Any]] = {
    "rating": {"type": int, "help": "1 to 5"},
    "until": {"help": "resume by itself at this ISO 8601 time, e.g. 2026-12-24T09:00:00Z"},
}


def _action_fields(action: str) -> list[str]:
    """The fields of an action's input other than `by`, in the model's order."""
    return [name for name in PARTICIPANT_ACTIONS[action].input.model_fields if name != "by"]


def _action_payload(args: argparse.Namespace, action: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"by": args.by}
    for field in _action_fields(action):
        value = getattr(args, field, None)
        if value is not None:
            payload[field] = value
    return payload


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time like 2026-12-01T09:00:00Z") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone, e.g. 2026-12-01T09:00:00Z")
    return moment


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="starter.py",
        description="Start and drive mentorship workflows.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--profile", help="Temporal environment-configuration profile (default: TEMPORAL_PROFILE)")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("invite", help="invite (either side); JSON inline, @file or - for stdin")
    p.add_argument("invitation", help="the invitation JSON (see README: the contract)")
    p.add_argument("--json", action="store_true", help="print the status as JSON")

    for verb, action in ACTION_VERBS.items():
        p = commands.add_parser(verb, help=f"{verb} (as an update; --signal to fire and forget)")
        p.add_argument("workflow_id", help="e.g. mentorship-ana--ben")
        p.add_argument("--by", required=True, help="id of the participant who acts")
        for field in _action_fields(action):
            p.add_argument(f"--{field.replace('_', '-')}", dest=field, **_FIELD_OPTIONS.get(field, {}))
        p.add_argument("--signal", action="store_true", help="send as a signal instead of an update")
        p.add_argument("--json", action="store_true", help="print the status as JSON")

    p = commands.add_parser("status", help="show a mentorship's status")
    p.add_argument("workflow_id")
    p.add_argument("--json", action="store_true")

    p = commands.add_parser("list", help="find mentorships (visibility query)")
    p.add_argument("--stage", choices=[s.value for s in Stage])
    p.add_argument("--open", action="store_true", help="only invited, active or paused ones")
    p.add_argument("--at-risk", action="store_true")
    p.add_argument("--failed-notifications", action="store_true", help="only those with an undeliverable email")
    p.add_argument("--person", help="participant id, as mentor or mentee")
    p.add_argument("--due-before", type=_parse_time, help="next check-in due before this ISO 8601 time")
    p.add_argument("--query", help="a raw visibility query instead of the filters")

    p = commands.add_parser("limits", help="set a person's limits (only the flags given change; none removes one)")
    p.add_argument("person_id", help="e.g. ana")
    p.add_argument("--max-mentees", metavar="N|none", help="how many people they mentor at once: 0-100, or none")
    p.add_argument("--max-mentors", metavar="N|none", help="how many mentors they have at once: 0-100, or none")
    p.add_argument("--json", action="store_true", help="print the record as JSON")

    p = commands.add_parser("person", help="show a person's record: their limits and the places held")
    p.add_argument("person_id", help="e.g. ana")
    p.add_argument("--json", action="store_true", help="print the record as JSON")

    if FEEDBACK_VERBS & ACTION_VERBS.keys():
        raise RuntimeError(
            f"actions named {sorted(FEEDBACK_VERBS & ACTION_VERBS.keys())} clash with the feedback verbs"
        )
    p = commands.add_parser(
        "feedback",
        help="give feedback once an active mentorship ended, once each (as an update; --signal to fire and forget)",
    )
    p.add_argument("workflow_id", help=FEEDBACK_ID_HELP)
    p.add_argument("--by", required=True, help="id of the participant who gives it")
    p.add_argument("--rating", required=True, type=int, help="how the mentorship went, 1 to 5")
    p.add_argument("--would-continue", choices=("yes", "no"), help="would they do it again together")
    p.add_argument("--note")
    p.add_argument("--signal", action="store_true", help="send as a signal instead of an update")
    p.add_argument("--json", action="store_true", help="print the feedback status as JSON")

    p = commands.add_parser("feedback-status", help="show the feedback on a mentorship that ended")
    p.add_argument("workflow_id", help=FEEDBACK_ID_HELP)
    p.add_argument("--json", action="store_true", help="print the feedback status as JSON")

    p = commands.add_parser(
        "webhooks", help="the webhook endpoints: which are disabled (they answered 410 Gone); enable one again"
    )
    p.add_argument("action", nargs="?", choices=("list", "enable"), default="list")
    p.add_argument("url", nargs="?", help="the endpoint to enable, as configured")
    p.add_argument("--by", default=getpass.getuser(), help="who enables it (recorded; default: your user name)")
    p.add_argument("--json", action="store_true", help="print the records as JSON")

    p = commands.add_parser("demo", help="run a whole mentorship on short timings (needs `make dev` running)")
    p.add_argument("--fast", action="store_true", help="shorter still (for tests)")
    return parser


async def run_cli(argv: list[str], *, client: Client | None = None) -> int:
    args = build_parser().parse_args(argv)
    client = client or await connect(profile=args.profile)
    command = args.command
    try:
        if command == "invite":
            invitation = Invitation.model_validate(_load_json(args.invitation))
            _print_status(await mentorship_client.invite(client, invitation), args.json)
        elif command in ACTION_VERBS:
            action = ACTION_VERBS[command]
            payload = PARTICIPANT_ACTIONS[action].input.model_validate(_action_payload(args, action))
            if args.signal:
                await mentorship_client.send(client, args.workflow_id, action, payload)
                print(f"sent {action} to {args.workflow_id}; `status` shows whether it was taken or refused")
            else:
                _print_status(await mentorship_client.act(client, args.workflow_id, action, payload), args.json)
        elif command == "status":
            _print_status(await mentorship_client.status(client, args.workflow_id), args.json)
        elif command == "list":
            query = args.query or mentorship_client.list_query(
                stage=Stage(args.stage) if args.stage else None,
                at_risk=True if args.at_risk else None,
                failed_notifications=args.failed_notifications,
                person=args.person,
                due_before=args.due_before,
                open_only=args.open,
            )
            print(f"# {query}")
            count = 0
            async for execution in mentorship_client.list_mentorships(client, query):
                count += 1
                print(_list_line(execution))
            print(f"# {count} mentorship(s)")
        elif command == "limits":
            limits = SetLimitsInput.model_validate(_limits_payload(args))
            _print_person(await mentorship_client.set_limits(client, args.person_id, limits), args.json)
        elif command == "person":
            record = await mentorship_client.person_status(client, args.person_id)
            if record is None:
                print(
                    f"error: no record of {args.person_id!r}: no limits set and no mentorship of theirs accepted yet",
                    file=sys.stderr,
                )
                return REFUSED
            _print_person(record, args.json)
        elif command == "feedback":
            given = FeedbackInput.model_validate(_feedback_payload(args))
            feedback_id, answered = await _give_feedback(client, args.workflow_id, given, as_signal=args.signal)
            if answered is None:
                print(f"sent feedback to {feedback_id}; `feedback-status` shows whether it was taken or refused")
            else:
                _print_feedback(answered, args.json)
        elif command == "feedback-status":
            feedback_id = await _feedback_workflow(client, args.workflow_id)
            _print_feedback(await _feedback_status(client, feedback_id), args.json)
        elif command == "webhooks":
            return await _webhooks(client, args)
        elif command == "demo":
            await demo(client, fast=args.fast)
    except ValidationError as err:
        print(f"error: invalid input: {explain(err)}", file=sys.stderr)
        return INVALID
    except mentorship_client.FeedbackRefused as err:
        print(f"refused: {err}", file=sys.stderr)
        return REFUSED
    except (mentorship_client.NoFeedbackAsked, NotFound) as err:
        print(f"error: {err}", file=sys.stderr)
        return REFUSED
    except mentorship_client.NoFreePlace as err:
        # Before anything started: the mentor or the mentee is at their limit.
        print(f"refused: {err}", file=sys.stderr)
        return NO_FREE_PLACE_EXIT
    except (UsageError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return INVALID
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        print(f"refused: {getattr(cause, 'message', None) or cause or err}", file=sys.stderr)
        no_place = isinstance(cause, ApplicationError) and cause.type == NO_FREE_PLACE
        return NO_FREE_PLACE_EXIT if no_place else REFUSED
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            print(f"error: no open mentorship {getattr(args, 'workflow_id', '')!r}: {err.message}", file=sys.stderr)
            return REFUSED
        raise
    return DONE


async def _webhooks(client: Client, args: argparse.Namespace) -> int:
    if args.action == "enable":
        if not args.url:
            print("error: give the endpoint's url: webhooks enable URL", file=sys.stderr)
            return INVALID
        records = [await mentorship_client.enable_webhook_endpoint(client, args.url, args.by)]
    else:
        configured = [endpoint.url for endpoint in get_settings().webhook_endpoints]
        records = await mentorship_client.webhook_endpoints(client, configured)
    if args.json:
        print(json.dumps([record.model_dump(mode="json") for record in records], indent=2))
        return 0
    for record in records:
        if record.disabled:
            since = f"since {record.disabled_at}: {record.reason} (event {record.disabled_by_event})"
            print(f"DISABLED  {record.url}  {since}")
        else:
            again = f"  (enabled again by {record.enabled_by} at {record.enabled_at})" if record.enabled_by else ""
            print(f"enabled   {record.url}{again}")
    if not records:
        print("# no endpoint configured here, and none ever disabled")
    return 0


def _list_line(execution: WorkflowExecution) -> str:
    attributes = execution.typed_search_attributes
    stage = attributes.get(sa.STAGE) or "?"
    due = attributes.get(sa.NEXT_CHECK_IN_AT)
    missed = attributes.get(sa.MISSED_CHECK_INS) or 0
    risk = " AT RISK" if attributes.get(sa.AT_RISK) else ""
    due_text = f" next check-in {due:%Y-%m-%d %H:%M}Z" if due else ""
    return f"{execution.id:<40} {stage:<10}{due_text} missed {missed}{risk}"


# --- The demo ----------------------------------------------------------------------------------------------


@dataclass
class _Demo:
    client: Client
    workflow_id: str
    timeout: timedelta

    async def until(self, what: str, predicate: Callable[[MentorshipStatus], bool]) -> MentorshipStatus:
        print(f"… waiting for {what}")
        deadline = asyncio.get_running_loop().time() + self.timeout.total_seconds()
        while True:
            current = await mentorship_client.status(self.client, self.workflow_id)
            if predicate(current):
                print(f"✓ {what}: stage {current.stage.value}; {current.waiting_for}")
                return current
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{what} did not happen in {self.timeout}; is the worker running (`make dev`)?")
            await asyncio.sleep(0.5)


def demo_invitation(suffix: str, *, fast: bool = False) -> Invitation:
    unit = 1 if fast else 2  # seconds; the whole story takes about 30 units
    return Invitation.model_validate(
        {
            "mentor": {
                "id": f"ana-{suffix}",
                "name": "Ana Ruiz",
                "email": "ana@example.com",
                "time_zone": "Europe/Madrid",
                "locale": "es-ES",
            },
            "mentee": {
                "id": f"ben-{suffix}",
                "name": "Ben Ode",
                "email": "ben@example.com",
                "time_zone": "America/New_York",
                "locale": "en-US",
            },
            "coordinator": {"id": f"cora-{suffix}", "name": "Cora Lind", "email": "cora@example.com"},
            "initiated_by": "mentee",
            "message": "I would value your guidance on leading a team.",
            "focus_areas": ["leadership", "feedback"],
            "remind_after": f"PT{2 * unit}S",
            "invitation_reminders": 1,
            "respond_within": f"PT{20 * unit}S",
            "check_in_every": f"PT{4 * unit}S",
            "check_in_grace": f"PT{2 * unit}S",
            "escalate_after_missed": 2,
            "term": f"PT{22 * unit}S",
            "feedback_within": f"PT{20 * unit}S",
        }
    )


async def demo(client: Client, *, fast: bool = False) -> MentorshipStatus:
    suffix = secrets.token_hex(2)
    invitation = demo_invitation(suffix, fast=fast)
    mentor, mentee = invitation.mentor.id, invitation.mentee.id
    print("Demo: Ben (mentee) invites Ana (mentor); timings are seconds instead of days.")
    current = await asyncio.wait_for(mentorship_client.invite(client, invitation), timeout=30)
    run = _Demo(client, current.workflow_id, timedelta(seconds=60))
    print(f"✓ invited: {current.workflow_id} — open it at http://localhost:8233/namespaces/default/workflows")
    await run.until("the invitation reminder", lambda s: s.invitation_reminders_sent >= 1)
    await mentorship_client.act(client, run.workflow_id, "accept", AcceptInput(by=mentor, note="Happy to help!"))
    await run.until("mutual acceptance", lambda s: s.stage is Stage.ACTIVE)
    await mentorship_client.act(
        client, run.workflow_id, "check_in", CheckInInput(by=mentee, note="Kick-off call", rating=5)
    )
    print("✓ check-in 1 recorded early; now nobody checks in for a while…")
    await run.until("two missed check-ins: at risk, coordinator told", lambda s: s.at_risk)
    await mentorship_client.act(
        client, run.workflow_id, "check_in", CheckInInput(by=mentor, note="Back on track", rating=4)
    )
    await run.until("back on track", lambda s: not s.at_risk)
    until = datetime.now(UTC) + timedelta(seconds=3 if fast else 5)
    await mentorship_client.act(client, run.workflow_id, "pause", PauseInput(by=mentee, reason="Holidays", until=until))
    await run.until("the pause", lambda s: s.stage is Stage.PAUSED)
    await run.until("automatic resume", lambda s: s.stage is Stage.ACTIVE)
    longer = f"PT{4 if fast else 8}S"
    await mentorship_client.act(
        client, run.workflow_id, "propose_change", {"by": mentor, "extend_term_by": longer, "note": "A bit longer?"}
    )
    print(f"✓ Ana proposed a longer term (+{longer}); Ben is asked to agree")
    await mentorship_client.act(client, run.workflow_id, "accept_change", {"by": mentee, "note": "Gladly"})
    print("✓ Ben agreed: the term is longer and Cora, the coordinator, is told")
    await run.until("the end of the term", lambda s: s.stage is Stage.COMPLETED)
    # The workflow's result: its status once every email (the wrap-up too) has gone, which a query taken the moment
    # the term ended may not show yet.
    final: MentorshipStatus = await client.get_workflow_handle(run.workflow_id, result_type=MentorshipStatus).result()
    print(f"✓ the wrap-up sent to both: {final.notifications_sent} emails in all")
    assert final.feedback_workflow_id is not None
    await mentorship_client.give_feedback(
        client, final.feedback_workflow_id, {"by": mentee, "rating": 5, "would_continue": True, "note": "Thank you!"}
    )
    feedback = await mentorship_client.give_feedback(
        client, final.feedback_workflow_id, {"by": mentor, "rating": 5, "note": "A pleasure"}
    )
    assert feedback is not None
    print(
        f"✓ both gave feedback ({final.feedback_workflow_id}); the coordinator's summary is in .data/mail/"
        if feedback.summary_sent
        else "✓ both gave feedback"
    )
    print(f"Done: {final.notifications_sent} emails sent (see .data/mail/), timeline:")
    _print_status(final, as_json=False)
    hooks = final.webhooks
    print(
        f"Events: {final.events_emitted} emitted by the mentorship, {feedback.events_emitted - final.events_emitted} "
        f"by its feedback; {hooks.delivered} delivered when it ended"
        + (f", the rest handed to {hooks.handed_over_to}" if hooks.handed_over_to else "")
        + " (make dev's receiver logs each one as [webhooks] and lists them at GET /webhooks)"
    )
    return final


def main() -> None:
    try:
        code = asyncio.run(run_cli(sys.argv[1:]))
    except KeyboardInterrupt:
        code = 130
    # Everything is said and done here: leave without the interpreter's teardown, which the SDK's Rust runtime
    # can abort (see exit_now).
    exit_now(code)


# The workflow sandbox re-imports modules: nothing may run on import.
if __name__ == "__main__":
    main()


__all__ = [
    "DONE",
    "INVALID",
    "NO_FREE_PLACE_EXIT",
    "REFUSED",
    "build_parser",
    "demo",
    "demo_invitation",
    "main",
    "run_cli",
]
