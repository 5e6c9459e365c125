"""`make dev` with the HTTP API, as a new user would try it: the README's curl walk-through, as written, and an
invitee accepting from the email the local mail sink kept.

Runs ``python -m devtools.dev`` on free ports (MENTORSHIP_API_PORT too) and a temporary data folder. The README
blocks marked ``<!-- api-example -->`` must succeed, those marked ``<!-- api-example: refused -->`` must be
refused; ``<!-- api-example: setup -->`` is the preamble of every block. The README's address
(http://localhost:8000) is replaced by the test's port, nothing else. API_README=path reads another file (to
try a draft of the section).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest

from devtools.dev import DEV_API_KEY
from tests.support.api import links_in
from tests.support.dev_stack import DevStack, running_dev_stack, wait_until_up
from tests.support.readme import API_README, README_ADDRESS, api_examples


@pytest.fixture
async def api_stack(tmp_path: Path) -> AsyncIterator[tuple[DevStack, int]]:
    async with running_dev_stack(tmp_path) as stack:
        yield stack, stack.api_port


async def bash(script: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "/bin/bash",
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, output.decode()


async def invitation_email(mail_dir: Path, workflow_id: str) -> EmailMessage:
    """The invitation as the sink kept it: `{time}_{Message-ID}.eml`, the Message-ID naming the step."""
    for _ in range(200):
        found = await asyncio.to_thread(lambda: sorted(mail_dir.glob(f"*_{workflow_id}.*.invitation.*.eml")))
        if found:
            message = BytesParser(policy=policy.default).parsebytes(found[0].read_bytes())
            assert isinstance(message, EmailMessage)
            return message
        await asyncio.sleep(0.1)
    raise AssertionError(f"no invitation email for {workflow_id} in {mail_dir}")


@pytest.mark.timeout(240)
async def test_curl_alone_runs_a_whole_mentorship_on_make_dev(api_stack: tuple[DevStack, int]) -> None:
    stack, api_port = api_stack
    await wait_until_up(stack)
    address = f"http://localhost:{api_port}"
    # The banner is printed line by line after its first line (what wait_until_up waits for) arrived.
    for _ in range(100):
        if f"HTTP API        {address}" in stack.output:
            break
        await asyncio.sleep(0.05)
    assert f"HTTP API        {address}" in stack.output and DEV_API_KEY in stack.output, stack.output

    setup, blocks = api_examples()
    assert blocks, f"{API_README} has no api-example blocks"
    setup = setup.replace(README_ADDRESS, address)
    for body, refused in blocks:
        # One command at a time, so that a failure names it; every one after the setup, as a reader would.
        for command in body.replace("\\\n", " ").splitlines():
            if not command.strip() or command.lstrip().startswith("#"):
                continue
            code, output = await bash(f"set -euo pipefail\n{setup}\n{command.replace(README_ADDRESS, address)}")
            if refused:
                assert code != 0, f"expected a refusal: {command}\n{output}"
                assert '"detail":"only the invitee' in output, output
            else:
                assert code == 0, f"{command}\n{output}\n--- make dev:\n{stack.output[-3000:]}"
            if re.search(r'"\$API/mentorships/[^/"]+" ', command):
                assert '"stage":"active"' in output, output
            if command.rstrip().endswith('"Changing teams"}\''):
                assert '"stage":"withdrawn"' in output, output

    # An invitee accepts from the email the sink kept in .data/mail: the link points to this API.
    async with httpx.AsyncClient(timeout=30) as http:
        invitation = {
            "mentor": {"id": "ines", "name": "Ines Roth", "email": "ines@example.com"},
            "mentee": {"id": "jon", "name": "Jon Park", "email": "jon@example.com"},
            "initiated_by": "mentor",
        }
        created = await http.post(
            f"{address}/mentorships", json=invitation, headers={"Authorization": f"Bearer {DEV_API_KEY}"}
        )
        assert created.status_code == 200, created.text
        workflow_id = created.json()["workflow_id"]
        email = await invitation_email(stack.data_dir / "mail", workflow_id)
        accept = links_in(email)["Accept"]
        assert accept.startswith(f"{address}/links/"), accept
        page = await http.get(accept)
        assert page.status_code == 200 and "Accept Ines Roth&#x27;s invitation?" in page.text
        done = await http.post(accept, data={"note": ""})
        assert done.status_code == 200 and "your mentorship with Ines Roth has started" in done.text
        read = await http.get(
            f"{address}/mentorships/{workflow_id}", headers={"Authorization": f"Bearer {DEV_API_KEY}"}
        )
        assert read.json()["stage"] == "active"
    assert (stack.data_dir / "link-secret").stat().st_mode & 0o077 == 0, "the dev link secret is private"
