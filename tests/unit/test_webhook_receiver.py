"""The local webhook receiver's own parts (devtools/webhook_receiver.py): where its secrets come from (a file or the
environment, so that none need be in `ps`), checked and never quoted; the one line it logs per event; what
``GET /webhooks`` lists."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import workflows.effects as effects
from devtools.webhook_receiver import SECRET_ENV, Delivery, SecretError, WebhookReceiver, describe, load_secrets, main
from tests.support.builders import invitation


def secret(fill: int) -> str:
    return "whsec_" + base64.b64encode(bytes([fill]) * 32).decode()


ONE, TWO, THREE = secret(1), secret(2), secret(3)


def test_secrets_from_a_file_the_environment_and_the_arguments_in_that_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "webhook-secret"
    path.write_text(f"{ONE}\n\n{TWO}\n")
    assert load_secrets(files=[path], env={}) == [ONE, TWO]
    assert load_secrets(env={SECRET_ENV: f" {TWO}, {THREE} "}) == [TWO, THREE]
    # All sources together; a secret given twice counts once.
    assert load_secrets([ONE], files=[path], env={SECRET_ENV: THREE}) == [ONE, TWO, THREE]
    # The environment is the process's by default.
    monkeypatch.setenv(SECRET_ENV, THREE)
    assert load_secrets() == [THREE]


@pytest.mark.parametrize(
    ("files", "env", "given", "reason"),
    [
        ([], {}, [], "no secret: give --secret-file PATH, set WEBHOOK_RECEIVER_SECRET, or give --secret"),
        (["missing"], {}, [], "cannot read the secret file"),
        (["empty"], {}, [], "holds no secret"),
        ([], {SECRET_ENV: "whsec_not-base64!"}, [], "WEBHOOK_RECEIVER_SECRET: secret 1 is not valid base64"),
        ([], {}, [ONE, "hunter2-hunter2"], "--secret: secret 2 must start with 'whsec_'"),
        ([], {}, ["whsec_" + base64.b64encode(b"short").decode()], "decodes to 5 bytes"),
    ],
)
def test_a_missing_or_malformed_secret_is_refused_saying_where_it_came_from(
    tmp_path: Path, files: list[str], env: dict[str, str], given: list[str], reason: str
) -> None:
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SecretError, match=reason) as caught:
        load_secrets(given, files=[tmp_path / name for name in files], env=env)
    assert "hunter2" not in str(caught.value)


def test_the_command_line_stops_at_once_without_a_usable_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(["--port", "0"])
    assert stopped.value.code == 2
    assert "no secret: give --secret-file PATH" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--port", "0", "--secret-file", str(tmp_path / "nowhere")])
    assert "cannot read the secret file" in capsys.readouterr().err


def test_each_event_is_one_readable_line_sequence_type_workflow_actor_id() -> None:
    invited = effects.new_mentorship("mentorship-ada--ben", invitation(), datetime.now(UTC)).events[0]
    event = invited.model_dump(mode="json")
    assert event["actor"] is not None
    assert describe(event) == (
        f"#1 mentorship.invited workflow=mentorship-ada--ben actor={event['actor']['role']}:{event['actor']['id']} "
        f"id={invited.id}"
    )
    timed = {**event, "type": "mentorship.expired", "sequence": 4, "actor": None, "id": "evt_k_4"}
    assert describe(timed) == "#4 mentorship.expired workflow=mentorship-ada--ben actor=- id=evt_k_4"
    # Whatever arrives (a sender of another version), a line is written.
    assert describe({}) == "#None None workflow=None actor=- id=None"


def test_the_listing_is_oldest_first_and_narrows_by_workflow_and_type() -> None:
    def delivered(workflow_id: str, sequence: int, kind: str) -> Delivery:
        event: dict[str, Any] = {"id": f"evt_{workflow_id}_{sequence}", "type": kind, "workflow_id": workflow_id}
        return Delivery(event, str(event["id"]), "0", "v1,x")

    receiver = WebhookReceiver(secrets=[ONE])
    receiver.received = [
        delivered("a", 1, "mentorship.invited"),
        delivered("b", 1, "mentorship.invited"),
        delivered("a", 2, "mentorship.accepted"),
    ]
    assert [event["id"] for event in receiver.listing()] == ["evt_a_1", "evt_b_1", "evt_a_2"]
    assert [event["id"] for event in receiver.listing("a")] == ["evt_a_1", "evt_a_2"]
    assert [event["id"] for event in receiver.listing(kind="mentorship.invited")] == ["evt_a_1", "evt_b_1"]
    assert receiver.listing("c") == []
