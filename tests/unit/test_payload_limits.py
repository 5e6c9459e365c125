"""The state at its bounds, written in four-byte characters, fits the payload limit every server is given: a
mentorship can never outgrow what the server accepts (its continue-as-new input, an update's answer)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import workflows.effects as effects
from infra.temporal import PAYLOAD_LIMIT_BYTES, SERVER_DYNAMIC_CONFIG
from tests.support import builders
from workflows.contract import (
    AcceptInput,
    CheckInInput,
    MentorshipInput,
    Notice,
    PauseInput,
    ResumeInput,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WIDE = "😀"  # four bytes in UTF-8, one character to the contract's limits


def test_the_largest_state_fits_the_payload_limit() -> None:
    person = {"name": WIDE * 120}
    invitation = builders.invitation(
        message=WIDE * 2000,
        focus_areas=[WIDE * 80] * 10,
        mentor={**builders.invitation_data("x")["mentor"], **person},
        mentee={**builders.invitation_data("x")["mentee"], **person},
    )
    state = effects.new_mentorship("mentorship-" + "a" * 64 + "--" + "b" * 64, invitation, NOW).state
    effects.accepted(effects.Change(state, NOW), AcceptInput(by=invitation.mentor.id, note=WIDE * 2000))
    at = NOW
    for _ in range(effects.KEEP_CHECK_INS):
        at += timedelta(minutes=1)
        effects.checked_in(effects.Change(state, at), CheckInInput(by=invitation.mentee.id, note=WIDE * 2000, rating=5))
    for _ in range(effects.KEEP_TIMELINE):
        at += timedelta(minutes=1)
        effects.paused(effects.Change(state, at), PauseInput(by=invitation.mentor.id, reason=WIDE * 2000))
        effects.resumed(effects.Change(state, at), ResumeInput(by=invitation.mentee.id, note=WIDE * 2000))
    start = effects.new_mentorship("w", invitation, NOW)
    for i in range(effects.KEEP_LATEST):
        effects.signal_refused(state, "accept", {"by": WIDE * 1000}, WIDE * 1000, at)
        effects.notification_failed(effects.Change(state, at), start.notifications[i % 2], WIDE * 1000)
    assert len(state.check_ins) == effects.KEEP_CHECK_INS and len(state.timeline) == effects.KEEP_TIMELINE
    carried = MentorshipInput.model_validate({**state.invitation.model_dump(), "carried": state})
    for payload in (state.model_dump_json(), carried.model_dump_json()):
        size = len(payload.encode())  # about 1.46 MB of the 1.57 MB allowed
        assert size < PAYLOAD_LIMIT_BYTES, size
    # The notifications carry the invitation and one note: far smaller.
    assert all(len(n.model_dump_json().encode()) < 64 * 1024 for n in start.notifications)
    assert Notice.INVITATION in {n.kind for n in start.notifications}


def test_every_server_gets_the_same_limit() -> None:
    compose = (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text(encoding="utf-8")
    for key, value in SERVER_DYNAMIC_CONFIG.items():
        assert f"{key}:\n        - value: {value}\n" in compose, key
