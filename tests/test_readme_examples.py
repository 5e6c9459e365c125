"""The README's `temporal` CLI examples, run as written against a real dev server with the real worker.

Blocks marked `<!-- cli-example -->` must succeed; blocks marked `<!-- cli-example: refused -->` must be refused.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

import starter
from config import Settings
from devtools.mailsink import MailSink
from tests.temporal_env import BIN, wait_mail
from worker import build_worker
from workflows.contract import DEFAULT_TASK_QUEUE, Stage

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = re.compile(r"<!-- cli-example(?:: (?P<kind>refused))? -->\n```sh\n(?P<body>.*?)```", re.S)


@dataclass
class Example:
    command: str
    refused: bool


def readme_examples() -> list[Example]:
    examples = []
    for match in MARKER.finditer(README.read_text(encoding="utf-8")):
        body = match.group("body").replace("\\\n", " ")
        for line in body.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                examples.append(Example(line.strip(), refused=match.group("kind") == "refused"))
    return examples


def test_the_readme_has_examples_of_every_action() -> None:
    text = " ".join(e.command for e in readme_examples())
    for name in ("accept", "check_in", "pause", "resume", "withdraw", "invite", "status"):
        assert f"--name {name}" in text or f"--update-name {name}" in text, name
    assert "workflow start --type Mentorship --task-queue mentorship" in text


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

        ana_ben = await starter.status(client, "mentorship-ana--ben")
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
        cy_dee = await starter.status(client, "mentorship-cy--dee")
        assert cy_dee.stage is Stage.ACTIVE and cy_dee.initiated_by.value == "mentee"
        # ana/ben: invitation, confirmation, 2 welcomes, pause, resume, withdrawal; cy/dee: 2 + 2 welcomes.
        await wait_mail(mail_sink, "mentorship-ana--ben", 7)
        await wait_mail(mail_sink, "mentorship-cy--dee", 4)
        await client.get_workflow_handle("mentorship-cy--dee").terminate("test finished")
