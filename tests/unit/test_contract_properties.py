"""Property-based tests (hypothesis) over the contract's input models and over rendered messages.

- Any JSON-like value, and any mutation of a valid invitation or action, is either refused with a pydantic
  ValidationError (never another exception) or gives a model that keeps every invariant of the contract.
- Any valid notification renders with all user text escaped in the HTML, and builds a message whose headers are
  exactly the expected ones, addressed to exactly the recipient.

Sequences of actions by arbitrary actors against the real workflow are in tests/workflow/test_properties.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any, TypeVar

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from activities.mailer import Mailer
from activities.messages import render
from infra.settings import Settings
from tests.support import reliability
from tests.support.mail import HEADERS
from workflows.actions import PARTICIPANT_ACTIONS
from workflows.contract import (
    Audience,
    CheckInInput,
    Invitation,
    MentorshipInput,
    Notice,
    Notification,
    Person,
    Role,
    explain,
    workflow_id_for,
)
from workflows.durations import MAX_DURATION, MIN_DURATION, parse_duration

ID = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")

# --- Invariants of the models -----------------------------------------------------------------------------------


def _control(text: str, allowed: str = "") -> bool:
    """Holds a control character (C0, DEL, C1) or a line break Python's str.splitlines knows, other than ``allowed``."""
    return any((ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029") and c not in allowed for c in text) or (
        "\r" in text
    )


def person_invariants(person: Person, where: str) -> list[str]:
    broken = []
    if not (ID.fullmatch(person.id) and len(person.id) <= 64):
        broken.append(f"{where}.id {person.id!r} is not a participant id")
    if (
        not (1 <= len(person.name) <= 120)
        or person.name != person.name.strip()
        or _control(person.name)
        or "=?" in person.name
    ):
        broken.append(f"{where}.name {person.name!r} is empty, too long, padded or has a control character")
    email = str(person.email)
    local, at, domain = email.rpartition("@")
    if (
        not (local and at and "." in domain)
        or any(c.isspace() or _control(c) for c in email)
        or "<" in email
        or not email.isascii()
    ):
        broken.append(f"{where}.email {email!r} is not a plain address")
    return broken


def duration_in_bounds(value: str) -> bool:
    try:
        approximate = parse_duration(value).approximate()
    except ValueError:
        return False
    return MIN_DURATION <= approximate <= MAX_DURATION


def invitation_invariants(invitation: Invitation) -> list[str]:
    broken = person_invariants(invitation.mentor, "mentor") + person_invariants(invitation.mentee, "mentee")
    people = [invitation.mentor.id, invitation.mentee.id]
    if invitation.coordinator is not None:
        broken += person_invariants(invitation.coordinator, "coordinator")
        people.append(invitation.coordinator.id)
    if len(set(people)) != len(people):
        broken.append(f"the same person twice: {people}")
    if invitation.initiated_by not in (Role.MENTOR, Role.MENTEE):
        broken.append(f"initiated_by {invitation.initiated_by!r}")
    if invitation.message is not None and (len(invitation.message) > 2000 or _control(invitation.message, "\n\t")):
        broken.append("message too long or with control characters")
    if len(invitation.focus_areas) > 10 or any(
        not 1 <= len(area) <= 80 or _control(area) or area != area.strip() for area in invitation.focus_areas
    ):
        broken.append(f"focus_areas {invitation.focus_areas!r}")
    durations = {
        "remind_after": invitation.remind_after,
        "respond_within": invitation.respond_within,
        "check_in_every": invitation.check_in_every,
        "check_in_grace": invitation.check_in_grace,
        "term": invitation.term,
    }
    for name, value in durations.items():
        if value is not None and not duration_in_bounds(value):
            broken.append(f"{name} {value!r} is out of PT1S..P10Y")
    if not broken and not (
        parse_duration(invitation.check_in_grace).approximate()
        < parse_duration(invitation.check_in_every).approximate()
    ):
        broken.append("check_in_grace is not shorter than check_in_every")
    if not 0 <= invitation.invitation_reminders <= 10 or not 1 <= invitation.escalate_after_missed <= 52:
        broken.append("invitation_reminders or escalate_after_missed out of range")
    return broken


def action_invariants(action: BaseModel) -> list[str]:
    broken = []
    by = getattr(action, "by", "")
    if not (isinstance(by, str) and ID.fullmatch(by) and len(by) <= 64):
        broken.append(f"by {by!r} is not a participant id")
    for name in ("note", "reason"):
        text = getattr(action, name, None)
        if text is not None and (len(text) > 2000 or _control(text, "\n\t") or text != text.strip()):
            broken.append(f"{name} {text!r} too long, padded or with control characters")
    rating = getattr(action, "rating", None)
    if rating is not None and not (isinstance(rating, int) and 1 <= rating <= 5):
        broken.append(f"rating {rating!r}")
    until = getattr(action, "until", None)
    if until is not None and until.tzinfo is None:
        broken.append("until has no time zone")
    return broken


# --- Strategies for inputs ----------------------------------------------------------------------------------------


TRICKY = [
    "",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "\x00",
    "\x1b[2J",
    "\x7f",
    "<script>alert(1)</script>",
    "Tom & Jerry",
    '"quoted"',
    "O'Brien",
    "ana",
    "Ana Ruiz",
    "a--b",
    "a..b",
    ".a",
    "a.",
    "ana@example.com",
    "Bcc: eve@example.net",
    "= ?utf-8? not an encoded word",
    "\u202eevil",
    "\ufeff",
    "名前",
    "P14D",
    "PT0S",
    "PT1S",
    "P1M",
    "P10Y",
    "P11Y",
    "P3651D",
    "P1Y2M3W4DT5H6M7.5S",
    "mentor",
    "mentee",
    "coordinator",
    "2030-01-01T00:00:00Z",
    "2030-01-01T00:00:00",
    "x" * 65,
    "x" * 121,
    "x" * 2001,
]
texts = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=24),
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), texts)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
ids = st.from_regex(r"[a-z][a-z0-9]{0,6}(?:[._-][a-z0-9]{1,5})?", fullmatch=True)
emails = st.builds(
    "{}@{}".format,
    st.from_regex(r"[a-z0-9]{1,8}(?:\.[a-z0-9]{1,8})?(?:\+[a-z0-9]{1,5})?", fullmatch=True),
    st.sampled_from(["example.com", "mail.example.org", "example.co.uk"]),
)
NAME_CHARACTERS = st.characters(exclude_categories=["Cc", "Cs", "Zl", "Zp"])
names = st.one_of(
    st.sampled_from(
        [
            "<script>alert('x')</script>",
            "Tom & Jerry",
            'Ana "The Boss" Ruiz',
            "O'Brien",
            "Ana = Ruiz?",
            "Ana\u00a0Ruiz",
            "Zoë Ñúñez",
            "名前 テスト",
            "Bcc: eve@example.net",
            "a" * 120,
        ]
    ),
    st.text(NAME_CHARACTERS, min_size=1, max_size=40).map(str.strip).filter(bool),
).filter(lambda name: "=?" not in name)  # refused: an RFC 2047 encoded word in a header
NOTE_CHARACTERS = st.characters(exclude_categories=["Cs", "Cc"], include_characters="\n\t\r")
notes = st.one_of(
    st.sampled_from(["<b>bold</b> & <i>'quoted'</i>", "line 1\r\nBcc: eve@example.net\r\n\r\nX-Injected: yes"]),
    st.text(NOTE_CHARACTERS, max_size=200),
)
durations = st.sampled_from(["PT1S", "PT30S", "PT1H", "P1D", "P3D", "P2W", "P1M", "P6M", "P1Y", "P10Y", "P1DT12H"])


@st.composite
def people(draw: st.DrawFn, person_id: str | None = None) -> dict[str, Any]:
    return {"id": person_id or draw(ids), "name": draw(names), "email": draw(emails)}


@st.composite
def valid_invitations(draw: st.DrawFn) -> dict[str, Any]:
    mentor_id, mentee_id, coordinator_id = draw(st.lists(ids, min_size=3, max_size=3, unique=True))
    data: dict[str, Any] = {
        "mentor": draw(people(mentor_id)),
        "mentee": draw(people(mentee_id)),
        "initiated_by": draw(st.sampled_from(["mentor", "mentee"])),
    }
    if draw(st.booleans()):
        data["coordinator"] = draw(people(coordinator_id))
    if draw(st.booleans()):
        data["message"] = draw(notes)
    if draw(st.booleans()):
        data["focus_areas"] = draw(st.lists(names.filter(lambda n: len(n) <= 80), max_size=3))
    every, grace = draw(st.sampled_from([("P14D", "P3D"), ("P1M", "P1W"), ("PT1H", "PT10M"), ("P2W", "P13D")]))
    data.update(check_in_every=every, check_in_grace=grace)
    for name in ("remind_after", "respond_within", "term"):
        if draw(st.booleans()):
            data[name] = draw(durations)
    # Three people, three addresses: a shared address is refused as one person in two roles.
    addresses = [data[role]["email"].lower() for role in ("mentor", "mentee", "coordinator") if role in data]
    assume(len(set(addresses)) == len(addresses))
    return data


PATHS = [
    "mentor",
    "mentor.id",
    "mentor.name",
    "mentor.email",
    "mentee",
    "mentee.id",
    "mentee.name",
    "mentee.email",
    "coordinator",
    "coordinator.id",
    "coordinator.email",
    "initiated_by",
    "message",
    "focus_areas",
    "remind_after",
    "invitation_reminders",
    "respond_within",
    "check_in_every",
    "check_in_grace",
    "escalate_after_missed",
    "term",
    "history_event_limit",
    "carried",
    "unknown_field",
]


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]], paths: list[str]) -> dict[str, Any]:
    """A valid input with one to three fields replaced by anything, removed, or an extra one added."""
    data = draw(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        how = draw(st.sampled_from(["set", "set", "delete"]))
        if how == "delete":
            target.pop(last, None)
        else:
            target[last] = draw(st.one_of(texts, json_values, st.integers(-5, 60), ids, emails, durations))
    return data


@st.composite
def valid_actions(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    action = draw(st.sampled_from(sorted(PARTICIPANT_ACTIONS)))
    data: dict[str, Any] = {"by": draw(ids)}
    fields = set(PARTICIPANT_ACTIONS[action].input.model_fields) - {"by"}
    for name in fields:
        if draw(st.booleans()):
            if name == "rating":
                data[name] = draw(st.integers(1, 5))
            elif name == "until":
                data[name] = draw(st.datetimes(timezones=st.just(UTC))).isoformat()
            elif name in ("extend_term_by", "check_in_every", "respond_within"):
                data[name] = draw(st.sampled_from(["PT4S", "P1D", "P14D", "P1M", "P3M"]))
            elif name == "check_in_grace":
                continue  # set below, to fit the cadence
            elif name == "number":
                data[name] = draw(st.integers(1, 50))
            else:
                data[name] = draw(notes)
    if action == "propose_change":
        # A proposal proposes something; a grace comes with a cadence it fits.
        if "extend_term_by" not in data and "check_in_every" not in data:
            data["extend_term_by"] = draw(st.sampled_from(["P1M", "P3M"]))
        if "check_in_every" in data and draw(st.booleans()):
            data["check_in_grace"] = "PT1S"
    return action, data


T = TypeVar("T", bound=BaseModel)


def judged(model: type[T], data: Any) -> T | None:
    """Validate: a ValidationError with a readable explanation, or a model; any other exception fails the test."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        assert err.errors(), "a refusal names at least one error"
        for error in err.errors():
            assert error["msg"].strip(), f"an error without a reason: {error}"
        assert explain(err).strip()
        return None


MODEL_SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None)


@MODEL_SETTINGS
@given(data=json_values)
def test_any_json_is_refused_cleanly_or_valid(data: Any) -> None:
    refused = 0
    models: list[type[BaseModel]] = [
        Invitation,
        MentorshipInput,
        Person,
        *(action.input for action in PARTICIPANT_ACTIONS.values()),
    ]
    for model in models:
        result = judged(model, data)
        if result is None:
            refused += 1
        elif isinstance(result, Invitation):
            assert invitation_invariants(result) == []
        elif isinstance(result, Person):
            assert person_invariants(result, "person") == []
        else:
            assert action_invariants(result) == []
    reliability.report("properties: input models", inputs_tried=len(models), inputs_refused=refused)


@MODEL_SETTINGS
@given(data=mutated(valid_invitations(), PATHS))
def test_mutated_invitations_are_refused_cleanly_or_keep_every_invariant(data: dict[str, Any]) -> None:
    invitation = judged(Invitation, data)
    workflow_input = judged(MentorshipInput, data)
    if invitation is not None:
        assert invitation_invariants(invitation) == []
        # What crosses the boundary as JSON comes back the same.
        assert Invitation.model_validate_json(invitation.model_dump_json()) == invitation
    if workflow_input is not None:
        assert invitation_invariants(workflow_input.invitation()) == []
    elif invitation is not None:
        # The workflow's input model adds only `carried` and `history_event_limit` to the invitation.
        assert "carried" in data or "history_event_limit" in data
    reliability.report(
        "properties: input models", inputs_tried=2, inputs_refused=(invitation is None) + (workflow_input is None)
    )


@MODEL_SETTINGS
@given(data=valid_invitations())
def test_valid_invitations_are_accepted_and_round_trip(data: dict[str, Any]) -> None:
    invitation = Invitation.model_validate(data)
    assert invitation_invariants(invitation) == []
    assert Invitation.model_validate(invitation.model_dump(mode="json")) == invitation
    reliability.report("properties: input models", inputs_tried=1)


@MODEL_SETTINGS
@given(
    action=valid_actions(),
    mutation=st.one_of(
        st.none(), st.tuples(st.sampled_from(["by", "note", "reason", "rating", "until", "extra"]), json_values)
    ),
)
def test_mutated_actions_are_refused_cleanly_or_keep_every_invariant(
    action: tuple[str, dict[str, Any]], mutation: tuple[str, Any] | None
) -> None:
    name, data = action
    if mutation is not None:
        data[mutation[0]] = mutation[1]
    parsed = judged(PARTICIPANT_ACTIONS[name].input, data)
    if parsed is not None:
        assert action_invariants(parsed) == []
        assert type(parsed).model_validate_json(parsed.model_dump_json()) == parsed
    elif mutation is None:
        raise AssertionError(f"a valid {name} was refused: {data!r}")
    reliability.report("properties: input models", inputs_tried=1, inputs_refused=parsed is None)


# --- Rendering: user text escaped in HTML, never in headers ------------------------------------------------------

HTML_TAGS = {"html", "head", "meta", "title", "body", "div", "p", "blockquote", "br", "ul", "li", "a"}
HTML_ATTRIBUTES = {"lang", "charset", "style", "href"}
ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot|#x27|#39|#34);)")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@st.composite
def notifications(draw: st.DrawFn) -> Notification:
    data = draw(valid_invitations())
    invitation = Invitation.model_validate(data)
    audiences = [Audience.MENTOR, Audience.MENTEE] + ([Audience.COORDINATOR] if invitation.coordinator else [])
    to = draw(st.sampled_from(audiences))
    recipient = invitation.coordinator if to is Audience.COORDINATOR else invitation.person(Role(to.value))
    assert recipient is not None
    kind = draw(st.sampled_from(list(Notice)))
    return Notification(
        kind=kind,
        workflow_id=workflow_id_for(invitation.mentor.id, invitation.mentee.id),
        mentorship_key=f"{workflow_id_for(invitation.mentor.id, invitation.mentee.id)}.20261125T090000Z",
        step=draw(st.sampled_from(["invitation", "check-in-3-due", "pause-1", "wrap-up", "check-in-2-at-risk"])),
        to=to,
        recipient=recipient,
        invitation=invitation,
        actor=draw(st.sampled_from([None, Role.MENTOR, Role.MENTEE])),
        at=draw(st.none() | st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))),
        check_in_number=draw(st.none() | st.integers(1, 60)),
        missed_in_a_row=draw(st.none() | st.integers(0, 52)),
        text=draw(st.none() | notes.map(lambda n: CheckInInput(by="x", note=n).note)),
        mutual=draw(st.booleans()),
    )


MAILER = Mailer(Settings(_env_file=None, mail_from="Mentorships <mentorships@example.org>"))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(notification=notifications())
def test_rendered_messages_escape_user_text_and_address_only_the_recipient(notification: Notification) -> None:
    rendered = render(notification, MAILER.settings)
    recipient = notification.recipient
    # HTML: only our own tags and attributes; every "&" starts an entity; user text reads back as typed.
    page = _Page()
    page.feed(rendered.html)
    page.close()
    assert {tag for tag, _ in page.tags} <= HTML_TAGS, page.tags
    assert {name for _, attrs in page.tags for name, _ in attrs} <= HTML_ATTRIBUTES
    assert not ENTITY.search(rendered.html), "an unescaped '&'"
    assert f"Hi {recipient.name}," in "".join(page.text)
    assert f"Hi {recipient.name}," in rendered.text
    for user_text in (recipient.name, notification.invitation.mentor.name, notification.text or ""):
        if "<" in user_text:
            assert user_text not in rendered.html, f"unescaped user text {user_text!r} in the HTML"
    # Headers: exactly ours, one line each or folded, no user text breaking out, To is exactly the recipient.
    message = MAILER.build_message(notification, now=datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    raw = message.as_bytes(policy=policy.SMTP)
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = [line.split(":", 1)[0] for line in head.split("\r\n") if line[:1] not in (" ", "\t")]
    assert sorted(names) == sorted(HEADERS), names
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    [to] = parsed["To"].addresses
    assert to.addr_spec == str(recipient.email)
    # The name reads back as typed, but for whitespace: folding a long name into several RFC 2047 encoded words may
    # leave a space between two of them (Python's email package; cosmetic).
    assert "".join(to.display_name.split()) == "".join(recipient.name.split())
    assert parsed["X-Mentorship-Workflow-Id"] == notification.workflow_id
    assert "".join(str(parsed["Subject"]).split()) == "".join(rendered.subject.split())
    plain = parsed.get_body(("plain",))
    assert plain is not None and f"Hi {recipient.name}," in plain.get_content()
    reliability.report("properties: rendering", inputs_tried=1)
