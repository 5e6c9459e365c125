"""Settings (infra/settings.py): tuning and observability, checked without quoting secrets; and the tests' own
settings, which never read a developer's .env."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import observability, process
from infra.settings import Settings
from tests.support.builders import settings


def test_settings_for_tuning_and_observability(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)
    assert (settings.worker_metrics_port, settings.worker_health_port) == (None, None), "off unless asked for"
    assert settings.worker_max_concurrent_activities == 100 and settings.worker_max_cached_workflows == 500
    monkeypatch.setenv("WORKER_METRICS_PORT", "")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = Settings(_env_file=None)
    assert (settings.worker_metrics_port, settings.log_format, settings.log_level) == (None, "json", "DEBUG")
    # Not a ValueError: pydantic would print every setting, secrets included, in its ValidationError.
    with pytest.raises(Settings.InvalidSetting, match="must differ") as clash:
        Settings(_env_file=None, worker_metrics_port=9000, worker_health_port=9000, smtp_password="hunter2-secret")
    assert "hunter2-secret" not in str(clash.value)
    with pytest.raises(ValueError, match="http/protobuf"):
        Settings(_env_file=None, otel_exporter_otlp_protocol="grpc")
    with pytest.raises(ValueError):
        Settings(_env_file=None, worker_max_concurrent_workflow_tasks=1)
    unset = Settings(_env_file=None)
    assert process.probe(unset.worker_health_host, unset.worker_health_port, observability.READY_PATH) == 2
    assert observability.traces_endpoint("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert process.bind_address("::", 9464) == "[::]:9464"


def test_the_tests_settings_never_read_a_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's .env in the working directory changes nothing for the tests: neither for ``Settings()`` as the
    code under test builds it, nor for the tests' own builder. (The same file does configure the service.)"""
    (tmp_path / ".env").write_text(
        "SMTP_HOST=smtp.dotenv.example\nMAIL_FROM=Dotenv <dotenv@example.org>\nMENTORSHIP_TASK_QUEUE=from-dotenv\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    for name in ("SMTP_HOST", "MAIL_FROM", "MENTORSHIP_TASK_QUEUE"):
        monkeypatch.delenv(name, raising=False)
    read = Settings(_env_file=".env")
    assert (read.smtp_host, read.mail_from, read.mentorship_task_queue) == (
        "smtp.dotenv.example",
        "Dotenv <dotenv@example.org>",
        "from-dotenv",
    ), "the service itself reads the file"
    for ignored in (Settings(), settings()):
        assert ignored.smtp_host == "localhost"
        assert ignored.mail_from == "Mentorships <mentorships@localhost>"
        assert ignored.mentorship_task_queue == "mentorship"
