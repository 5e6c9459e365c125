"""The README's `temporal` CLI examples, run as written against a real dev server with the real worker (that the
README has them is checked in tests/unit/test_readme.py).

Blocks marked `<!-- cli-example -->` must succeed; blocks marked `<!-- cli-example: refused -->` must be refused.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

import mentorship_client
from devtools.mailsink import MailSink
from infra.settings import Settings
from tests.support.readme import readme_examples
from tests.support.temporal import BIN, dev_server
from tests.support.waiting import wait_mail, wait_status
from worker import build_worker
from workflows.contract import DEFAULT_TASK_QUEUE, Stage


@pytest_asyncio.fixture(scope="module")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of this module's own: the README's examples use fixed ids (ana, ben, cy, dee), whose Person
    records another test on the session's server may have started on another task queue."""
    async with dev_server() as env:
        yield env


async def run(command: str, address: str) -> tuple[int, str]:
    argv = shlex.split(command)
    assert argv[0] == "temporal", command
    env = {**os.environ, "TEMPORAL_ADDRESS": address, "TEMPORAL_NAMESPACE": "default"}
    process = await asyncio.create_subprocess_exec(
        str(BIN / "temporal"),
        *argv[1:],
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, output.decode()


async def test_readme_cli_examples_work_as_written(dev_env: WorkflowEnvironment, mail_sink: MailSink) -> None:
    client = dev_env.client
    address = client.service_client.config.target_host
    settings = Settings(mentorship_task_queue=DEFAULT_TASK_QUEUE, smtp_host=mail_sink.host, smtp_port=mail_sink.port)
    async with build_worker(client, settings):
        for example in readme_examples():
            code, output = await run(example.command, address)
            if example.refused:
                assert code != 0, f"expected a refusal: {example.command}\n{output}"
                assert "only the invitee, 'ana' (the mentor), can accept; 'ben' sent the invitation" in output
            else:
                assert code == 0, f"{example.command}\n{output}"
            if "--name status" in example.command:
                assert re.search(r'"stage":\s*"active"', output), output

        ana_ben = await mentorship_client.status(client, "mentorship-ana--ben")
        assert ana_ben.stage is Stage.WITHDRAWN
        assert [e.event for e in ana_ben.timeline] == [
            "invited",
            "accepted",
            "check-in 1 recorded",
            "paused",
            "resumed",
            "withdrawn",
        ]
        assert [(c.by, c.rating) for c in ana_ben.check_ins] == [("ben", 5)]
        cy_dee = await mentorship_client.status(client, "mentorship-cy--dee")
        assert cy_dee.stage is Stage.ACTIVE and cy_dee.initiated_by.value == "mentee"
        assert cy_dee.invitation.check_in_every == "P7D" and cy_dee.changes_agreed == 1
        # ana/ben: invitation, confirmation, 2 welcomes, pause, resume, withdrawal; cy/dee: 2 + 2 welcomes, the
        # proposal to Cy and its acceptance to Dee.
        await wait_mail(mail_sink, "mentorship-ana--ben", 7)
        await wait_mail(mail_sink, "mentorship-cy--dee", 6)
        await client.get_workflow_handle("mentorship-cy--dee").terminate("test finished")


def python_example() -> str:
    """The README's "From Python" block, as written."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### From Python", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


async def test_readme_python_example_works_as_written(
    dev_env: WorkflowEnvironment, mail_sink: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = dev_env.client
    monkeypatch.setenv("TEMPORAL_ADDRESS", client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "default")
    # The block uses top-level await, as in an async function (or `python -m asyncio`): run it as one.
    source = "async def example(invitation_json):\n" + textwrap.indent(python_example(), "    ") + "    return status\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "README.md (From Python)", "exec"), namespace)
    invitation_json = {
        "mentor": {"id": "ana", "name": "Ana Ruiz", "email": "ana@example.com"},
        "mentee": {"id": "ben", "name": "Ben Ode", "email": "ben@example.com"},
        "initiated_by": "mentee",
    }
    settings = Settings(mentorship_task_queue=DEFAULT_TASK_QUEUE, smtp_host=mail_sink.host, smtp_port=mail_sink.port)
    async with build_worker(client, settings):
        status = await namespace["example"](invitation_json)
        assert status.stage is Stage.ACTIVE
        handle = client.get_workflow_handle(status.workflow_id)
        await wait_status(handle, lambda s: [c.rating for c in s.check_ins] == [4], "the signalled check-in")
        # Ended again, so that the CLI examples (same pair) start afresh whichever test runs first.
        await mentorship_client.act(client, status.workflow_id, "withdraw", {"by": "ana"})
