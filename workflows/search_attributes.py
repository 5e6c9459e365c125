"""Custom search attributes: how operators find mentorships in the Temporal UI.

Only ids, stages, times and counts: search attributes are never encrypted, so no names or email addresses.
Every server the project starts registers these (see ``SEARCH_ATTRIBUTE_TYPES``); an existing cluster needs
the ``temporal operator search-attribute create`` commands listed in the README.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, SearchAttributeUpdate, TypedSearchAttributes

from workflows.contract import Invitation, MentorshipStatus, Stage

STAGE = SearchAttributeKey.for_keyword("MentorshipStage")
MENTOR_ID = SearchAttributeKey.for_keyword("MentorId")
MENTEE_ID = SearchAttributeKey.for_keyword("MenteeId")
INITIATED_BY = SearchAttributeKey.for_keyword("InitiatedBy")
NEXT_CHECK_IN_AT = SearchAttributeKey.for_datetime("NextCheckInAt")
MISSED_CHECK_INS = SearchAttributeKey.for_int("MissedCheckIns")
AT_RISK = SearchAttributeKey.for_bool("AtRisk")
# Set once an email could not be delivered (a 5xx, a refused recipient, a mail server down for a day).
FAILED_NOTIFICATIONS = SearchAttributeKey.for_int("FailedNotifications")

# On Person workflows (workflows/person.py): what a person can take now (workflows/places.py availability), e.g.
# `PersonAvailability = 'takes-mentees'` lists mentors with a free place, `PersonAvailability = 'at-limit'` the
# people at their limit.
PERSON_AVAILABILITY = SearchAttributeKey.for_keyword_list("PersonAvailability")

# Webhooks (workflows/outbox.py, workflows/webhook_endpoint.py): on a mentorship, how many of its events some
# endpoint did not take in three days of retries; on an endpoint's record, whether it answered 410 Gone.
WEBHOOK_EVENTS_GIVEN_UP = SearchAttributeKey.for_int("WebhookEventsGivenUp")
WEBHOOK_ENDPOINT_DISABLED = SearchAttributeKey.for_bool("WebhookEndpointDisabled")

# A mentorship's keys.
ALL_KEYS = (
    STAGE,
    MENTOR_ID,
    MENTEE_ID,
    INITIATED_BY,
    NEXT_CHECK_IN_AT,
    MISSED_CHECK_INS,
    AT_RISK,
    FAILED_NOTIFICATIONS,
    WEBHOOK_EVENTS_GIVEN_UP,
)
# Every key the project registers: a mentorship's and a person's.
REGISTERED_KEYS = (*ALL_KEYS, PERSON_AVAILABILITY, WEBHOOK_ENDPOINT_DISABLED)

# Name -> type as the Temporal CLI spells it (`--search-attribute Name=Type`).
SEARCH_ATTRIBUTE_TYPES: dict[str, str] = {
    "MentorshipStage": "Keyword",
    "MentorId": "Keyword",
    "MenteeId": "Keyword",
    "InitiatedBy": "Keyword",
    "NextCheckInAt": "Datetime",
    "MissedCheckIns": "Int",
    "AtRisk": "Bool",
    "FailedNotifications": "Int",
    "PersonAvailability": "KeywordList",
    "WebhookEventsGivenUp": "Int",
    "WebhookEndpointDisabled": "Bool",
}


def at_invitation(invitation: Invitation) -> TypedSearchAttributes:
    """What a mentorship publishes the moment it is invited, for the start request (``mentorship_client.invite``).

    Given at the start, they are written with the workflow's first visibility record, and the workflow upserts
    only what differs from them: one visibility write (and one history event) fewer per mentorship
    (``bench/``). A start without them (the ``temporal`` CLI, another client) works as well: the workflow then
    upserts them itself.
    """
    return TypedSearchAttributes(
        [
            SearchAttributePair(STAGE, Stage.INVITED.value),
            SearchAttributePair(MENTOR_ID, invitation.mentor.id),
            SearchAttributePair(MENTEE_ID, invitation.mentee.id),
            SearchAttributePair(INITIATED_BY, invitation.initiated_by.value),
            SearchAttributePair(MISSED_CHECK_INS, 0),
            SearchAttributePair(AT_RISK, False),
        ]
    )


def values_of(state: MentorshipStatus) -> dict[str, Any]:
    """What a mentorship publishes (``FailedNotifications`` is added by the workflow behind its patch)."""
    return {
        STAGE.name: state.stage.value,
        MENTOR_ID.name: state.invitation.mentor.id,
        MENTEE_ID.name: state.invitation.mentee.id,
        INITIATED_BY.name: state.invitation.initiated_by.value,
        NEXT_CHECK_IN_AT.name: state.next_check_in_due,
        MISSED_CHECK_INS.name: state.missed_in_a_row,
        AT_RISK.name: state.at_risk,
    }


def updates_between(published: dict[str, Any], values: dict[str, Any]) -> list[SearchAttributeUpdate[Any]]:
    """The upserts that bring visibility from ``published`` to ``values``: only what differs, None unsets."""
    updates: list[SearchAttributeUpdate[Any]] = []
    for key in ALL_KEYS:
        if key.name not in values:
            continue
        value = values[key.name]
        if key.name in published and published[key.name] == value:
            continue
        updates.append(key.value_unset() if value is None else key.value_set(value))
    return updates


def given_at_start(given: TypedSearchAttributes) -> dict[str, Any]:
    """What the start request already published. Absent is as good as unset (a start without NextCheckInAt
    needs no upsert to unset it), unless none at all were given."""
    values: dict[str, Any] = {key.name: given.get(key) for key in ALL_KEYS}
    return values if any(value is not None for value in values.values()) else {}
