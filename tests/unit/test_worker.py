"""The worker is built from the settings (worker.build_worker), without a server."""

from __future__ import annotations

from typing import Any, cast

import pytest
from temporalio.client import Client
from temporalio.worker import Interceptor

import worker as worker_module
from infra.settings import Settings


def test_the_worker_is_tuned_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # The options build_worker gives the SDK, captured rather than given to a real Worker (which would stay
    # registered on the shared client's task queue).
    captured: dict[str, Any] = {}

    def capture(client: Any, **options: Any) -> None:
        captured.update(options)

    monkeypatch.setattr(worker_module, "Worker", capture)
    settings = Settings(
        _env_file=None,
        worker_max_concurrent_workflow_tasks=3,
        worker_max_concurrent_activities=4,
        worker_max_cached_workflows=5,
    )
    interceptors = [Interceptor()]
    worker_module.build_worker(cast(Client, None), settings, interceptors=interceptors)
    assert (
        captured["max_concurrent_workflow_tasks"],
        captured["max_concurrent_activities"],
        captured["max_cached_workflows"],
        captured["interceptors"],
    ) == (3, 4, 5, interceptors)
