"""The service's own counters, recorded through Temporal's metric meters so that one endpoint serves them with the
SDK's metrics (``WORKER_METRICS_PORT``, see infra/observability.py).

The workflow counts with ``workflow.metric_meter()``, which records nothing while a history is replayed, so a
mentorship counts each invitation, acceptance and missed check-in once, however often a worker replays it. The
email activity counts with ``activity.metric_meter()``, once per attempt. Both meters add ``namespace`` and
``task_queue`` (and ``workflow_type`` or ``activity_type``) to every point.

Labels are a few fixed values each (a notice kind, a role): never an id, a name or an address, which would make a
time series per person and put personal data in the metrics store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from temporalio.common import MetricMeter


@dataclass(frozen=True)
class Counter:
    name: str
    description: str
    unit: str
    labels: tuple[str, ...] = ()

    def add(self, meter: MetricMeter, labels: Mapping[str, str] | None = None, value: int = 1) -> None:
        given = dict(labels or {})
        if set(given) != set(self.labels):
            raise ValueError(f"{self.name} takes labels {self.labels}, got {sorted(given)}")
        meter.create_counter(self.name, self.description, self.unit).add(value, given)


# From the email activity: every attempt counts once.
EMAILS_SENT = Counter(
    "mentorship_emails_sent", "Emails the mail server accepted, by notice kind", "emails", ("notice",)
)
EMAILS_FAILED = Counter(
    "mentorship_emails_failed",
    "Email attempts that failed, by notice kind and failure: transient (retried) or permanent (given up at once)",
    "emails",
    ("notice", "failure"),
)

# From the workflow: each event counts once per mentorship, never again on replay.
INVITATIONS = Counter(
    "mentorship_invitations", "Mentorships started by an invitation, by the inviting side", "mentorships",
    ("initiated_by",),
)  # fmt: skip
ACCEPTANCES = Counter(
    "mentorship_acceptances",
    "Mentorships that became active: accepted by the invitee, or invited from both sides (mutual_invitation)",
    "mentorships",
    ("via",),
)
CHECK_INS_MISSED = Counter("mentorship_check_ins_missed", "Check-ins that fell due and were missed", "check-ins")
NOTIFICATIONS_GIVEN_UP = Counter(
    "mentorship_notifications_given_up",
    "Notifications given up on (a permanent refusal, or retries for 24 h), by notice kind: FailedNotifications",
    "notifications",
    ("notice",),
)
# From the webhook activity (activities/webhooks.py): one point per endpoint per attempt.
WEBHOOK_ATTEMPTS = Counter(
    "mentorship_webhook_attempts",
    "Webhook posts to one endpoint, by event type and result: delivered (2xx), gone (410: disabled), failed "
    "(retried) or skipped (the endpoint is disabled)",
    "posts",
    ("event", "result"),
)
# From the workflows (workflows/outbox.py): an event some endpoint did not take in three days of retries.
WEBHOOK_EVENTS_GIVEN_UP = Counter(
    "mentorship_webhook_events_given_up",
    "Events given up on after three days of retries, by event type",
    "events",
    ("event",),
)

ALL = (
    EMAILS_SENT,
    EMAILS_FAILED,
    INVITATIONS,
    ACCEPTANCES,
    CHECK_INS_MISSED,
    NOTIFICATIONS_GIVEN_UP,
    WEBHOOK_ATTEMPTS,
    WEBHOOK_EVENTS_GIVEN_UP,
)
