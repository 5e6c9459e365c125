"""The API's own models; every other body is a model of the contract (workflows/contract.py), and the errors'
are in ``api.errors``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from workflows.contract import Role, Stage


class MentorshipSummary(BaseModel):
    """One mentorship as the list finds it: the search attributes (ids, stage, dates, counts; no names)."""

    workflow_id: str
    run_id: str
    stage: Stage | None = Field(description="None for a workflow that failed at once on an invalid start input")
    mentor_id: str | None
    mentee_id: str | None
    initiated_by: Role | None
    at_risk: bool
    missed_check_ins: int = Field(description="Missed in a row")
    failed_notifications: int
    next_check_in_at: datetime | None
    started_at: datetime | None
    closed_at: datetime | None


class MentorshipList(BaseModel):
    mentorships: list[MentorshipSummary]
    next_page_token: str | None = Field(description="Pass as page_token for the next page; null on the last one")


class Health(BaseModel):
    status: str
