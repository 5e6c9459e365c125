"""What other services hear: every change to a mentorship as an event with a documented type (issue 17).

Pure and passed through the workflow sandbox: no clock, no I/O. An effect (``workflows/effects.py``) emits events
through ``Change.emit``, beside its timeline entries; each event takes the mentorship's next sequence number
(``MentorshipStatus.events_emitted``), so a receiver can order them and see a gap. Delivery, signed per the Standard
Webhooks specification, is the activity in ``activities/webhooks.py``; its retry policy is below, for the workflow.

What an event carries: ids, stages, numbers, moments, durations; never a name, an address or free text people
wrote. Those ride along in ``people`` and ``text`` and are removed before delivery unless the deployment opts in
(``MENTORSHIP_WEBHOOK_PERSONAL_DATA=true``; ``MentorshipEvent.for_delivery``).
"""

from __future__ import annotations

import difflib
import hashlib
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from temporalio.common import RetryPolicy

from workflows.contract import Audience, Invitation, Role

# The activity that delivers one event to every endpoint whose filter takes it, and its error types.
DELIVER_EVENT = "deliver_event"
# A local activity: how many configured endpoints take an event type. An event nobody takes costs its workflow one
# marker, not a delivery (three events and a workflow task).
COUNT_WEBHOOK_SUBSCRIBERS = "count_webhook_subscribers"
WEBHOOK_DELIVERY_FAILED = "WebhookDeliveryFailed"
# The workflow that takes over the events a workflow could not deliver before it ended (workflows/outbox.py).
WEBHOOK_OUTBOX_WORKFLOW_TYPE = "WebhookOutbox"
# One per endpoint that answered 410 Gone: whether it is disabled (workflows/webhook_endpoint.py).
WEBHOOK_ENDPOINT_WORKFLOW_TYPE = "WebhookEndpoint"


class EventType(StrEnum):
    """Every event type. A type is never renamed or removed; new ones are added (and documented) with each new
    action or timed event."""

    INVITED = "mentorship.invited"
    INVITATION_REMINDED = "mentorship.invitation.reminded"
    ACCEPTED = "mentorship.accepted"
    ACCEPTANCE_REFUSED = "mentorship.acceptance.refused"
    DECLINED = "mentorship.declined"
    EXPIRED = "mentorship.expired"
    WITHDRAWN = "mentorship.withdrawn"
    PAUSED = "mentorship.paused"
    RESUMED = "mentorship.resumed"
    CHECK_IN_DUE = "mentorship.check_in.due"
    CHECK_IN_NUDGED = "mentorship.check_in.nudged"
    CHECK_IN_RECORDED = "mentorship.check_in.recorded"
    CHECK_IN_MISSED = "mentorship.check_in.missed"
    AT_RISK = "mentorship.at_risk"
    BACK_ON_TRACK = "mentorship.back_on_track"
    CHANGE_PROPOSED = "mentorship.change.proposed"
    CHANGE_ACCEPTED = "mentorship.change.accepted"
    CHANGE_DECLINED = "mentorship.change.declined"
    CHANGE_WITHDRAWN = "mentorship.change.withdrawn"
    CHANGE_LAPSED = "mentorship.change.lapsed"
    COMPLETED = "mentorship.completed"
    FEEDBACK_SUBMITTED = "mentorship.feedback.submitted"
    NOTIFICATION_FAILED = "mentorship.notification.failed"
    PERSON_LIMITS_CHANGED = "person.limits_changed"


def nearest_type(value: str) -> str | None:
    near = difflib.get_close_matches(value, [kind.value for kind in EventType], n=1)
    return near[0] if near else None


# --- Endpoint filters: an event type, or a prefix ending in ".*" ("mentorship.change.*"), or "*" ---------------


def check_filter(entry: str) -> str:
    """One entry of an endpoint's event filter, as given; a ValueError naming the reason (and the nearest type)
    when it matches no event type."""
    entry = entry.strip()
    if entry == "*":
        return entry
    if entry.endswith(".*"):
        prefix = entry[:-1]
        if any(kind.startswith(prefix) for kind in EventType):
            return entry
        raise ValueError(f"{entry!r} matches no event type (prefixes: mentorship.*, mentorship.change.*, person.*)")
    if entry in {kind.value for kind in EventType}:
        return entry
    near = nearest_type(entry)
    hint = f"; did you mean {near!r}?" if near else ""
    raise ValueError(f"{entry!r} is not an event type{hint}")


def matches(filters: list[str] | None, kind: EventType | str) -> bool:
    """Whether an endpoint with these filters (None: every event) takes an event of this type."""
    if filters is None:
        return True
    value = str(kind)
    return any(
        entry == "*" or entry == value or (entry.endswith(".*") and value.startswith(entry[:-1])) for entry in filters
    )


# --- The event ------------------------------------------------------------------------------------------


class EventActor(BaseModel):
    """Who did it: a participant by id and role. Timed events (an expiry, a missed check-in) have none."""

    id: str
    role: Role


class EventPerson(BaseModel):
    """A person's name and address: only delivered when the deployment opts in."""

    id: str
    name: str
    email: str


class MentorshipEvent(BaseModel):
    """One event, as delivered (the JSON body of a webhook, and the activity's input)."""

    id: str = Field(
        description="Unique and stable: evt_{mentorship_key}_{sequence} (a person's: evt_{workflow_id}_{sequence}); "
        "the webhook-id header"
    )
    type: EventType
    occurred_at: datetime = Field(description="When it happened (workflow time; a timed event's due time)")
    workflow_id: str = Field(
        description="The mentorship's workflow id (reused by a pair's later mentorships); person-{id} for a "
        "person's events"
    )
    mentorship_key: str | None = Field(
        description="Unique per mentorship: the workflow id and the invitation time; null for a person's events"
    )
    sequence: int = Field(
        ge=1,
        description="1 for a mentorship's (or a person's) first event, then each next one, with no gaps: order "
        "by it and see a gap",
    )
    actor: EventActor | None = Field(default=None, description="Who did it; null for timed events")
    data: dict[str, Any] = Field(
        default_factory=dict, description="What changed, by type: ids, stages, numbers, moments; no personal data"
    )
    people: dict[str, EventPerson] | None = Field(
        default=None,
        description="mentor, mentee and coordinator by role, with names and addresses: only when the deployment "
        "opts in (MENTORSHIP_WEBHOOK_PERSONAL_DATA)",
    )
    text: str | None = Field(
        default=None,
        description="The note or reason a participant wrote (or a failure's reason): only when the deployment opts in",
    )

    def for_delivery(self, personal_data: bool) -> MentorshipEvent:
        """The event as it leaves the service: without names, addresses and free text unless opted in."""
        if personal_data:
            return self
        return self.model_copy(update={"people": None, "text": None})


def event_id(key: str, sequence: int) -> str:
    return f"evt_{key}_{sequence}"


def person_event(
    *, person_id: str, sequence: int, occurred_at: datetime, max_mentees: int | None, max_mentors: int | None
) -> MentorshipEvent:
    """``person.limits_changed``: a person's record (workflows/person.py) numbers its own events."""
    workflow_id = f"person-{person_id}"
    return MentorshipEvent(
        id=event_id(workflow_id, sequence),
        type=EventType.PERSON_LIMITS_CHANGED,
        occurred_at=occurred_at,
        workflow_id=workflow_id,
        mentorship_key=None,
        sequence=sequence,
        data={"person_id": person_id, "max_mentees": max_mentees, "max_mentors": max_mentors},
    )


def people_of(invitation: Invitation) -> dict[str, EventPerson]:
    people = {
        str(role): EventPerson(id=person.id, name=person.name, email=str(person.email))
        for role, person in ((Role.MENTOR, invitation.mentor), (Role.MENTEE, invitation.mentee))
    }
    if invitation.coordinator is not None:
        coordinator = invitation.coordinator
        people[str(Audience.COORDINATOR)] = EventPerson(
            id=coordinator.id, name=coordinator.name, email=str(coordinator.email)
        )
    return people


def build_event(
    *,
    kind: EventType,
    key: str,
    workflow_id: str,
    sequence: int,
    occurred_at: datetime,
    invitation: Invitation,
    actor: Role | None = None,
    data: dict[str, Any] | None = None,
    text: str | None = None,
) -> MentorshipEvent:
    """One event of a mentorship (the Feedback workflow builds its ``feedback.submitted`` with it too, continuing
    the mentorship's sequence)."""
    return MentorshipEvent(
        id=event_id(key, sequence),
        type=kind,
        occurred_at=occurred_at,
        workflow_id=workflow_id,
        mentorship_key=key,
        sequence=sequence,
        actor=EventActor(id=invitation.person(actor).id, role=actor) if actor is not None else None,
        data=dict(data or {}),
        people=people_of(invitation),
        text=text,
    )


# --- What the delivery activity answers, and how the workflow will retry it -----------------------------


class EndpointOutcome(BaseModel):
    url: str
    status: int | None = Field(default=None, description="The HTTP status answered; null when none came")
    error: str | None = None


class DeliveryReport(BaseModel):
    """The activity's answer once nothing is left to retry: who took the event, who is disabled (410 Gone)."""

    event_id: str
    delivered: list[str] = Field(default_factory=list, description="Endpoints that answered 2xx (in any attempt)")
    disabled: list[EndpointOutcome] = Field(
        default_factory=list, description="Endpoints that answered 410 Gone: not retried, to be disabled"
    )
    skipped: list[str] = Field(
        default_factory=list, description="Endpoints disabled (after a 410) and not re-enabled: not posted to"
    )
    not_subscribed: int = Field(default=0, description="Endpoints whose filter does not take this type")
    attempts: int = 1


# Retries with exponential backoff (the activity adds jitter through next_retry_delay, activities/webhooks.py),
# for up to three days; then the event is given up on for that delivery and recorded.
WEBHOOK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
    non_retryable_error_types=[],
)
WEBHOOK_GIVE_UP_AFTER = timedelta(days=3)
# One attempt posts to every endpoint concurrently, each bounded by MENTORSHIP_WEBHOOK_TIMEOUT_SECONDS.
WEBHOOK_ATTEMPT_TIMEOUT = timedelta(minutes=2)
WEBHOOK_HEARTBEAT_TIMEOUT = timedelta(seconds=30)
# Reading the worker's configuration: no I/O.
WEBHOOK_SUBSCRIBERS_TIMEOUT = timedelta(seconds=10)


# --- The workflows around delivery ------------------------------------------------------------------------


class WebhookOutboxInput(BaseModel):
    """The WebhookOutbox workflow's input: the events a workflow ended without delivering, in sequence order."""

    model_config = ConfigDict(extra="forbid")

    events: list[MentorshipEvent]


def endpoint_workflow_id(url: str) -> str:
    """The id of an endpoint's record: from a hash of its URL, which may carry a token in its path or query."""
    return f"webhook-endpoint-{hashlib.sha256(url.encode()).hexdigest()[:16]}"


class DisableEndpointInput(BaseModel):
    """The signal ``disable``: the endpoint answered 410 Gone to this event."""

    model_config = ConfigDict(extra="forbid")

    event_id: str
    reason: str = "410 Gone"


class EnableEndpointInput(BaseModel):
    """The update ``enable``: an operator takes the endpoint back."""

    model_config = ConfigDict(extra="forbid")

    by: str = Field(min_length=1, max_length=200, description="Who re-enabled it (for the record)")


class EndpointStatus(BaseModel):
    """An endpoint's record: the ``status`` query of its WebhookEndpoint workflow."""

    url: str
    disabled: bool = False
    disabled_at: datetime | None = None
    disabled_by_event: str | None = Field(default=None, description="The event the endpoint answered 410 Gone to")
    reason: str | None = None
    times_disabled: int = 0
    enabled_at: datetime | None = None
    enabled_by: str | None = None


class EndpointInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    carried: EndpointStatus | None = None
