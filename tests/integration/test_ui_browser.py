"""Operators see every mentorship's progress in the Temporal UI: checked in a real browser.

A real dev server (the session's ``dev_env``, started with its Web UI), the project's own worker, one active
mentorship and one still invited. Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; no
browser is ever downloaded) opens the workflow list filtered by stage, finds the active mentorship and not the
invited one, opens it, and reads its static summary and its current details on the "User Metadata" tab.

How the Web UI (2.54, bundled with the Temporal CLI) is addressed:

- It listens on the dev server's gRPC port + 1000: ``WorkflowEnvironment.start_local(ui=True)`` without a
  ``ui_port`` makes sdk-core pass ``--ui-port <grpc port + 1000>`` to ``temporal server start-dev``.
- ``/namespaces/default/workflows?query=<visibility query, percent-encoded>``: the UI sends the text as is to
  the server's list API and shows it as filter chips. Its own filter builder writes the same parameter, e.g.
  ``?query=%60ExecutionStatus%60%3D%22Running%22`` for `` `ExecutionStatus`="Running" ``.
- Clicking a workflow id opens ``/namespaces/default/workflows/<id>/<run id>/timeline``. The static summary,
  the static details and the current details are on the ``user-metadata`` tab, each rendered from markdown in
  an iframe: ``#user-metadata-summary``, ``#user-metadata-details``, ``#user-metadata-current-details``.

Screenshots of the list and of the workflow page are kept in the test's ``tmp_path`` (paths printed; run with
``-s`` to see them).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from playwright.async_api import Browser, Page, expect
from temporalio.testing import WorkflowEnvironment

import mentorship_client
from devtools.mailsink import MailSink
from tests.support.browser import ui_page
from tests.support.builders import people
from tests.support.temporal import running_worker
from tests.support.waiting import wait_status
from workflows.contract import Invitation, Stage, workflow_id_for

# How long the list may lag behind the workflow: visibility is eventually consistent.
VISIBILITY_DEADLINE_S = 20.0


def ui_url(env: WorkflowEnvironment) -> str:
    """The dev server's Web UI: sdk-core starts it on the gRPC port + 1000 when no ui_port is given."""
    host, port = env.client.service_client.config.target_host.rsplit(":", 1)
    return f"http://{host}:{int(port) + 1000}"


def list_url(base: str, query: str) -> str:
    # quote (not quote_plus): spaces as %20, as the UI itself writes its links.
    return f"{base}/namespaces/default/workflows?{urlencode({'query': query}, quote_via=quote)}"


async def open_list_until_listed(page: Page, url: str, workflow_id: str) -> None:
    """Open the filtered list, reloading until the workflow's row is there (the index may lag a little)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + VISIBILITY_DEADLINE_S
    row_link = page.get_by_role("link", name=workflow_id, exact=True)
    await page.goto(url)
    while True:
        try:
            await expect(row_link).to_be_visible(timeout=2_000)
            return
        except AssertionError:
            if loop.time() > deadline:
                raise AssertionError(f"{workflow_id} never appeared in the list at {url}") from None
            await page.reload()


async def invited_and_accepted(env: WorkflowEnvironment, task_queue: str) -> tuple[Invitation, str]:
    invitation = people("mentee")
    await mentorship_client.invite(env.client, invitation, task_queue=task_queue)
    workflow_id = workflow_id_for(invitation.mentor.id, invitation.mentee.id)
    await mentorship_client.send(env.client, workflow_id, "accept", {"by": invitation.person(invitation.invitee).id})
    await wait_status(env.client.get_workflow_handle(workflow_id), lambda s: s.stage is Stage.ACTIVE, "active")
    return invitation, workflow_id


async def wait_indexed(env: WorkflowEnvironment, workflow_id: str, stage: Stage) -> None:
    """Wait until the server's index holds the workflow at this stage, so that its absence from another
    stage's list in the browser means the filter left it out, not that the index had not caught up."""
    query = f"WorkflowId = '{workflow_id}' AND MentorshipStage = '{stage.value}'"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + VISIBILITY_DEADLINE_S
    while (await env.client.count_workflows(query)).count != 1:
        if loop.time() > deadline:
            raise AssertionError(f"{workflow_id} was never indexed as {stage.value}")
        await asyncio.sleep(0.1)


@pytest.mark.timeout(60)
async def test_operator_finds_active_mentorship_and_reads_its_progress(
    dev_env: WorkflowEnvironment, mail_sink: MailSink, browser: Browser, tmp_path: Path
) -> None:
    async with running_worker(dev_env.client, mail_sink) as task_queue:
        invitation, active_id = await invited_and_accepted(dev_env, task_queue)
        still_invited = people("mentee")
        await mentorship_client.invite(dev_env.client, still_invited, task_queue=task_queue)
        invited_id = workflow_id_for(still_invited.mentor.id, still_invited.mentee.id)
        await wait_indexed(dev_env, invited_id, Stage.INVITED)

        base = ui_url(dev_env)
        async with ui_page(browser, base) as page:
            # The query operators are told to paste (README, `starter.py list --stage active`).
            query = mentorship_client.list_query(stage=Stage.ACTIVE)
            assert "MentorshipStage = 'active'" in query
            await open_list_until_listed(page, list_url(base, query), active_id)
            await expect(page.get_by_role("link", name=invited_id, exact=True)).to_have_count(0)
            list_shot = tmp_path / "workflow-list-active.png"
            await page.screenshot(path=str(list_shot), full_page=True)
            print(f"\nlist page screenshot: {list_shot}")

            await page.get_by_role("link", name=active_id, exact=True).click()
            await expect(page).to_have_url(re.compile(rf"/namespaces/default/workflows/{re.escape(active_id)}/"))
            await expect(page.get_by_role("heading", name=active_id)).to_be_visible()
            await page.get_by_role("tab", name="User Metadata").click()
            await expect(page).to_have_url(re.compile(r"/user-metadata$"))

            # Each block is markdown rendered in its own iframe; read the text as the operator sees it.
            summary = page.frame_locator("#user-metadata-summary").locator("body")
            await expect(summary).to_contain_text(mentorship_client.summary_for(invitation))
            current = page.frame_locator("#user-metadata-current-details").locator("body")
            await expect(current).to_contain_text(re.compile(r"Stage:\s*active"))
            await expect(current).to_contain_text(re.compile(r"Waiting for:\s*check-in 1, due "))
            workflow_shot = tmp_path / "workflow-page-user-metadata.png"
            await page.screenshot(path=str(workflow_shot), full_page=True)
            print(f"workflow page screenshot: {workflow_shot}")


@pytest.mark.timeout(60)
async def test_operator_answers_which_are_at_risk_and_what_each_waits_for(
    dev_env: WorkflowEnvironment, mail_sink: MailSink, browser: Browser, tmp_path: Path
) -> None:
    """The README's question, answered from the UI alone: filter by AtRisk, open one, read what it waits for."""
    async with running_worker(dev_env.client, mail_sink) as task_queue:
        # Real time on the dev server: a 2-second cadence misses its first check-in about 4 s after acceptance.
        invitation = people("mentor", check_in_every="PT2S", check_in_grace="PT1S", escalate_after_missed=1)
        await mentorship_client.invite(dev_env.client, invitation, task_queue=task_queue)
        workflow_id = workflow_id_for(invitation.mentor.id, invitation.mentee.id)
        await mentorship_client.send(dev_env.client, workflow_id, "accept", {"by": invitation.mentee.id})
        handle = dev_env.client.get_workflow_handle(workflow_id)
        await wait_status(handle, lambda s: s.at_risk, "at risk", within=20)
        # Freeze it there: a long pause keeps the page's text stable while the browser reads it.
        await mentorship_client.act(
            dev_env.client, workflow_id, "pause", {"by": invitation.mentor.id, "reason": "reading"}
        )
        _, active_id = await invited_and_accepted(dev_env, task_queue)  # active, not at risk: must not be listed
        await wait_indexed(dev_env, active_id, Stage.ACTIVE)

        base = ui_url(dev_env)
        async with ui_page(browser, base) as page:
            query = mentorship_client.list_query(at_risk=True)
            assert query == "WorkflowType = 'Mentorship' AND AtRisk = true"  # as the README lists it
            await open_list_until_listed(page, list_url(base, query), workflow_id)
            await expect(page.get_by_role("link", name=active_id, exact=True)).to_have_count(0)
            await page.screenshot(path=str(tmp_path / "workflow-list-at-risk.png"), full_page=True)

            await page.get_by_role("link", name=workflow_id, exact=True).click()
            await page.get_by_role("tab", name="User Metadata").click()
            current = page.frame_locator("#user-metadata-current-details").locator("body")
            await expect(current).to_contain_text(re.compile(r"Stage:\s*paused\s*—\s*at risk"))
            await expect(current).to_contain_text(re.compile(r"Waiting for:\s*either party to resume"))
            await expect(current).to_contain_text(re.compile(r"Check-ins:\s*0 done, 1 missed in a row"))
            shot = tmp_path / "workflow-page-at-risk.png"
            await page.screenshot(path=str(shot), full_page=True)
            print(f"\nat-risk workflow page screenshot: {shot}")
        await mentorship_client.act(dev_env.client, workflow_id, "withdraw", {"by": invitation.mentor.id})


@pytest.mark.timeout(60)
async def test_operator_lists_people_at_their_limit(
    dev_env: WorkflowEnvironment, mail_sink: MailSink, browser: Browser, tmp_path: Path
) -> None:
    """The README's people questions, answered from the UI: who is at their limit, who takes mentees."""
    client = dev_env.client
    async with running_worker(client, mail_sink) as task_queue:
        full = people("mentee")
        await mentorship_client.set_limits(client, full.mentor.id, {"max_mentees": 1}, task_queue=task_queue)
        await mentorship_client.invite(client, full, task_queue=task_queue)
        await mentorship_client.act(
            client, workflow_id_for(full.mentor.id, full.mentee.id), "accept", {"by": full.mentor.id}
        )
        roomy = people("mentee")
        await mentorship_client.set_limits(client, roomy.mentor.id, {"max_mentees": 3}, task_queue=task_queue)
        full_id, roomy_id = f"person-{full.mentor.id}", f"person-{roomy.mentor.id}"
        at_limit = "WorkflowType = 'Person' AND PersonAvailability = 'at-limit'"
        takes_mentees = "WorkflowType = 'Person' AND PersonAvailability = 'takes-mentees'"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + VISIBILITY_DEADLINE_S
        while (await client.count_workflows(f"{takes_mentees} AND WorkflowId = '{roomy_id}'")).count != 1:
            assert loop.time() < deadline, f"{roomy_id} was never indexed as taking mentees"
            await asyncio.sleep(0.1)

        base = ui_url(dev_env)
        async with ui_page(browser, base) as page:
            await open_list_until_listed(page, list_url(base, at_limit), full_id)
            await expect(page.get_by_role("link", name=roomy_id, exact=True)).to_have_count(0)
            await page.screenshot(path=str(tmp_path / "people-at-limit.png"), full_page=True)
            await open_list_until_listed(page, list_url(base, takes_mentees), roomy_id)
            await expect(page.get_by_role("link", name=full_id, exact=True)).to_have_count(0)

            await page.get_by_role("link", name=roomy_id, exact=True).click()
            await page.get_by_role("tab", name="User Metadata").click()
            current = page.frame_locator("#user-metadata-current-details").locator("body")
            await expect(current).to_contain_text(re.compile(r"Mentors:\s*0 of 3"))
