"""Custom search attributes: how operators find mentorships in the Temporal UI.

Only ids, stages, times and counts: search attributes are never encrypted, so no names or email addresses.
Every server the project starts registers these (see ``SEARCH_ATTRIBUTE_TYPES``); an existing cluster needs
the ``temporal operator search-attribute create`` commands listed in the README.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from workflows.contract import Invitation, Stage

STAGE = SearchAttributeKey.for_keyword("MentorshipStage")
MENTOR_ID = SearchAttributeKey.for_keyword("MentorId")
MENTEE_ID = SearchAttributeKey.for_keyword("MenteeId")
INITIATED_BY = SearchAttributeKey.for_keyword("InitiatedBy")
NEXT_CHECK_IN_AT = SearchAttributeKey.for_datetime("NextCheckInAt")
MISSED_CHECK_INS = SearchAttributeKey.for_int("MissedCheckIns")
AT_RISK = SearchAttributeKey.for_bool("AtRisk")
# Set once an email could not be delivered (a 5xx, a refused recipient, a mail server down for a day).
FAILED_NOTIFICATIONS = SearchAttributeKey.for_int("FailedNotifications")

ALL_KEYS = (
    STAGE,
    MENTOR_ID,
    MENTEE_ID,
    INITIATED_BY,
    NEXT_CHECK_IN_AT,
    MISSED_CHECK_INS,
    AT_RISK,
    FAILED_NOTIFICATIONS,
)

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
}


def at_invitation(invitation: Invitation) -> TypedSearchAttributes:
    """What a mentorship publishes the moment it is invited, for the start request (``starter.invite``).

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
