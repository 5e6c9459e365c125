"""Shared fixtures: a live local SMTP sink, settings pointing at it, and builders for contract objects."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from config import Settings
from devtools.mailsink import MailSink
from tests import reliability
from workflows.contract import Audience, Invitation, Notice, Notification, Person, Role, workflow_id_for

# The suite's clients use the plain pydantic converter: a developer's shell or .env must not switch encryption
# on for the workers the tests build (tests/test_encryption.py builds its encrypting ones explicitly).
os.environ["MENTORSHIP_ENCRYPTION_KEYS"] = ""

ADA = Person(id="ada", name="Ada Lovelace", email="ada@example.com")
BEN = Person(id="ben.b", name="Ben Okafor", email="ben@example.com")
CLEO = Person(id="cleo", name="Cleo Coordinator", email="cleo@example.com")


def make_invitation(**overrides: Any) -> Invitation:
    """Ada mentors Ben; Ben asked. Override any field by name."""
    fields: dict[str, Any] = {
        "mentor": ADA,
        "mentee": BEN,
        "initiated_by": Role.MENTEE,
        "message": "I'd love your help with my first conference talk.",
        "focus_areas": ["public speaking", "career growth"],
        "coordinator": CLEO,
    }
    fields.update(overrides)
    return Invitation.model_validate(fields)


def make_notification(kind: Notice = Notice.INVITATION, **overrides: Any) -> Notification:
    """A notification of ``kind``; by default to the invitee, with the recipient matching ``to``."""
    invitation: Invitation = overrides.pop("invitation", None) or make_invitation()
    to = Audience(overrides.pop("to", invitation.invitee.value))
    if "recipient" not in overrides:
        if to is Audience.COORDINATOR:
            assert invitation.coordinator is not None, "a coordinator notification needs a coordinator"
            overrides["recipient"] = invitation.coordinator
        else:
            overrides["recipient"] = invitation.person(Role(to.value))
    fields: dict[str, Any] = {
        "kind": kind,
        "workflow_id": workflow_id_for(invitation.mentor.id, invitation.mentee.id),
        "mentorship_key": "mk-7f3a",
        "step": f"{kind.value}.1",
        "to": to,
        "invitation": invitation,
        "at": datetime(2026, 12, 9, 14, 0, tzinfo=UTC),
    }
    fields.update(overrides)
    return Notification.model_validate(fields)


@pytest.fixture
async def mail_sink() -> AsyncIterator[MailSink]:
    """A real SMTP server on a free loopback port, fresh for each test."""
    async with MailSink(port=0) as sink:
        yield sink


@pytest.fixture
def mail_settings(mail_sink: MailSink) -> Settings:
    """Settings that send to ``mail_sink``, ignoring any .env or SMTP_* in the environment."""
    return Settings(
        _env_file=None,
        smtp_host=mail_sink.host,
        smtp_port=mail_sink.port,
        smtp_username=None,
        smtp_password=None,
        smtp_tls=False,
        smtp_starttls=False,
        smtp_timeout_seconds=5.0,
        mail_from="Mentorships <mentorships@example.org>",
        mail_message_id_domain=None,
        mentorship_link_template=None,
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the reliability figures (README, "Reliability") and keep them in .data/reliability.json."""
    lines = reliability.table()
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)
        reliability.write()
        terminalreporter.write_line(f"(also written to {reliability.REPORT_FILE.relative_to(reliability.ROOT)})")


# Real Temporal servers (time-skipping test server, dev server), shared by the whole session.
from tests.temporal_env import dev_env, time_env  # noqa: E402, F401
