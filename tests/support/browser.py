"""Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; no browser is ever downloaded), and waiting
for the Temporal Web UI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import Error as PlaywrightError

CHROMIUM = Path("/usr/bin/chromium")
# The machine has no network: without these Chromium tries to reach Google (updates, sync, field trials) and
# stalls or logs errors. --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Per Playwright action or expectation; generous for a loaded CI machine, far below the test's own limit.
STEP_TIMEOUT_MS = 10_000


def chromium_installed() -> bool:
    # A plain function: a file check is blocking I/O, kept out of the async fixture (ruff ASYNC240).
    return CHROMIUM.is_file()


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless Debian Chromium; the test is skipped (only) when that browser is missing or cannot start."""
    if not chromium_installed():
        pytest.skip(f"no Chromium at {CHROMIUM} (CI installs it with apt in .ci/run)")
    async with async_playwright() as playwright:
        try:
            launched = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=STEP_TIMEOUT_MS
            )
        except PlaywrightError as err:
            pytest.skip(f"Chromium at {CHROMIUM} did not start: {err.message.splitlines()[0]}")
        try:
            yield launched
        finally:
            await launched.close()


async def wait_for_ui(page: Page, base: str) -> None:
    """The UI server may come up a moment after the gRPC port the environment waited for."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15.0
    while True:
        try:
            response = await page.request.get(f"{base}/api/v1/settings", timeout=2_000)
            if response.ok:
                return
            problem = f"HTTP {response.status}"
        except PlaywrightError as err:
            problem = err.message.splitlines()[0]
        if loop.time() > deadline:
            raise AssertionError(f"the Temporal Web UI at {base} did not answer: {problem}")
        await asyncio.sleep(0.2)


@asynccontextmanager
async def ui_page(browser: Browser, base: str) -> AsyncIterator[Page]:
    """A fresh browser page on the Web UI, once the UI answers."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        page = await context.new_page()
        await wait_for_ui(page, base)
        yield page
    finally:
        await context.close()
