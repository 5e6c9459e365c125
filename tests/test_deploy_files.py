"""The deployment files, checked statically (no container engine here): they must agree with the code.

A compose file that names a service that does not exist, a worker that is not given the variables the code
reads, or a search attribute registered under another name or type only fails on a real host, late.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from workflows.search_attributes import SEARCH_ATTRIBUTE_TYPES

yaml = pytest.importorskip("yaml", reason="PyYAML parses docker-compose.yml: add pyyaml to the dev dependencies")

ROOT = Path(__file__).resolve().parent.parent

# What temporalio.envconfig reads (see temporal_client.connect) and what the worker must be told.
TEMPORAL_ENV = {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_PROFILE", "TEMPORAL_TLS"}
WORKER_NEEDS = {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "SMTP_HOST", "SMTP_PORT", "MAIL_FROM"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict) and found
    return found


def depends_on(service: dict[str, Any]) -> dict[str, str | None]:
    """Dependency name -> condition, for both the list and the mapping form."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw)
    return {name: (spec or {}).get("condition") for name, spec in raw.items()}


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return {item.partition("=")[0]: (item.partition("=")[2] if "=" in item else None) for item in raw}
    return {name: None if value is None else str(value) for name, value in raw.items()}


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command") or ""
    return " ".join(command) if isinstance(command, list) else str(command)


def test_every_dependency_is_a_service(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for dependency in depends_on(service):
            assert dependency in services, f"{name} depends on {dependency!r}, which is not a service"
            # Compose refuses to start a service whose dependency is disabled by an inactive profile.
            if not service.get("profiles"):
                assert not services[dependency].get("profiles"), (
                    f"{name} runs in every profile but depends on {dependency!r}, which does not"
                )


def test_worker_is_given_what_the_code_reads(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    env = environment(worker)
    assert env.keys() >= WORKER_NEEDS, f"worker env lacks {sorted(WORKER_NEEDS - env.keys())}"
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["TEMPORAL_NAMESPACE"] in ("default", "${TEMPORAL_NAMESPACE:-default}")
    # Every other name must be one the code reads: a typo would be silently ignored.
    settings_env = {name.upper() for name in Settings.model_fields}
    unknown = {name for name in env if name not in settings_env and name not in TEMPORAL_ENV}
    assert not unknown, f"worker env names variables no code reads: {sorted(unknown)}"
    assert worker.get("build"), "the worker is built from the Dockerfile"
    assert "temporal-search-attributes" in depends_on(worker), "the worker starts after the attributes exist"


def test_search_attribute_job_registers_exactly_the_project_attributes(
    services: dict[str, dict[str, Any]],
) -> None:
    jobs = {name: s for name, s in services.items() if "search-attribute create" in command_text(s)}
    assert len(jobs) == 1, f"expected one search-attribute job, found {sorted(jobs)}"
    (name, job), *_ = jobs.items()
    assert str(job["image"]).startswith("temporalio/admin-tools:")
    registered = dict(re.findall(r"^\s*create\s+(\w+)\s+(\w+)\s*$", command_text(job), flags=re.MULTILINE))
    assert registered == SEARCH_ATTRIBUTE_TYPES
    assert depends_on(services["worker"])[name] == "service_completed_successfully"


def test_mail_sink_only_in_the_dev_profile(services: dict[str, dict[str, Any]]) -> None:
    mailpit = services["mailpit"]
    assert str(mailpit["image"]).startswith("axllent/mailpit")
    assert mailpit.get("profiles") == ["dev"]


def test_temporal_stack_is_complete(services: dict[str, dict[str, Any]]) -> None:
    assert str(services["temporal"]["image"]).startswith("temporalio/server:")
    assert environment(services["temporal"])["DB"] == "postgres12"
    assert "postgresql" in services
    assert "8080:8080" in [str(port) for port in services["temporal-ui"].get("ports", [])]


def test_dockerfile_runs_the_worker() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    froms = [line.split()[1] for line in lines if line.upper().startswith("FROM ")]
    assert froms == ["python:3.11-slim"]
    cmds = [line[len("CMD") :].strip() for line in lines if line.upper().startswith("CMD ")]
    assert cmds, "the Dockerfile has no CMD"
    # Exec form, so that the worker is PID 1 and gets docker stop's SIGTERM itself.
    assert json.loads(cmds[-1]) == ["python", "worker.py"]


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".data", ".env", ".git"} <= ignored
