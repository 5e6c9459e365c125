"""Schemathesis against the API's own OpenAPI schema: whatever a caller sends, the API never answers 5xx.

The app runs for real (uvicorn on loopback, the project's worker, the session's dev server), so generated
invitations that fit the contract start real mentorships and generated actions reach real workflows. Each
operation gets inputs that fit the schema (positive) and inputs that do not (negative), with a valid API key.
Hypothesis runs in a thread, so that the event loop keeps serving the app and running the worker meanwhile.
Failures are collected (with a curl command to reproduce each) rather than shrunk: shrinking against a live
server would take long, and the first example is readable enough.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from temporalio.testing import WorkflowEnvironment

from devtools.mailsink import MailSink
from tests.support.api import API_KEY, running_api
from tests.support.builders import people

# Per operation and generation mode: about 400 requests in all.
MAX_EXAMPLES = 15


def fuzz_operation(
    operation: Any,
    mode: schemathesis.GenerationMode,
    base_url: str,
    session: requests.Session,
    path_parameters: dict[str, Any] | None = None,
) -> tuple[int, list[str]]:
    """Call one operation with inputs of one generation mode; answer the number of calls and the 5xx ones."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    failures: list[str] = []
    calls = 0
    strategy: st.SearchStrategy[schemathesis.Case[Any]] = operation.as_strategy(
        generation_mode=mode, path_parameters=path_parameters
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def call(case: schemathesis.Case[Any]) -> None:
        nonlocal calls
        calls += 1
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=60)
        if response.status_code >= 500:
            failures.append(
                f"{operation.label} ({mode.value}) -> {response.status_code} {response.text[:300]}\n"
                f"    {case.as_curl_command(headers=headers)}"
            )

    try:
        call()
    except Unsatisfiable:
        pass  # nothing to generate in this mode: e.g. no request to /livez can fail to fit its schema
    return calls, failures


def fuzz(schema: Any, base_url: str, live: dict[str, str]) -> tuple[int, list[str]]:
    """Every operation, both modes, and the ones on a mentorship or a person once more on a live one (``live``: a
    value for each path parameter, as random ids find none); the number of calls and the 5xx answers."""
    session = requests.Session()
    calls, failures, timings = 0, [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            started = time.monotonic()
            made, failed = fuzz_operation(operation, mode, base_url, session)
            calls += made
            failures += failed
            timings.append(f"{operation.label} ({mode.value}): {made} calls in {time.monotonic() - started:.1f}s")
        parameters = {name: value for name, value in live.items() if f"{{{name}}}" in operation.path}
        if parameters:
            started = time.monotonic()
            made, failed = fuzz_operation(
                operation, schemathesis.GenerationMode.POSITIVE, base_url, session, parameters
            )
            calls += made
            failures += failed
            timings.append(f"{operation.label} (on a live one): {made} calls in {time.monotonic() - started:.1f}s")
    print("\n" + "\n".join(timings))
    return calls, failures


@pytest.mark.timeout(240)
# Raised inside schemathesis' own strategies, not ours.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
async def test_no_input_makes_the_api_fail(dev_env: WorkflowEnvironment, mail_sink: MailSink) -> None:
    async with running_api(dev_env.client, mail_sink) as api:
        raw = (await api.http.get("/openapi.json")).json()
        schema = schemathesis.openapi.from_dict(raw)
        invitation = people("mentee").model_dump(mode="json", exclude_none=True)
        workflow_id = (await api.http.post("/mentorships", json=invitation)).json()["workflow_id"]
        person_id = invitation["mentor"]["id"]
        assert (await api.http.put(f"/people/{person_id}/limits", json={"max_mentees": 1})).status_code == 200
        live = {"workflow_id": workflow_id, "person_id": person_id}
        calls, failures = await asyncio.to_thread(fuzz, schema, api.base_url, live)
    operations = sum(len(methods) for methods in raw["paths"].values())
    assert calls >= operations * 2, f"only {calls} calls for {operations} operations"
    assert not failures, f"{len(failures)} of {calls} calls answered 5xx:\n" + "\n".join(failures[:20])
