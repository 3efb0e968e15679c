"""Headless Chromium (Debian's `chromium`, driven by Playwright) against the whole sandbox.

`make test` installs both where it can (`tests/browser/ensure-chromium.sh` and the `playwright` test
extra). Playwright's own browser download is never used. In CI a browser that cannot start fails the
run; elsewhere it skips, and the end of the run says so in a banner (tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sandbox.stack import WEBHOOK_SECRET, Stack, run_stack
from sandbox.web import run_web
from tests.support import BROWSER_SKIPPED

if TYPE_CHECKING:
    from playwright.async_api import Page

CHROMIUM = os.environ.get("CHROMIUM") or next(
    (path for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(path)),
    "/usr/bin/chromium",
)
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


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(f"{BROWSER_SKIPPED}: {reason}")


@dataclass
class Sandbox:
    stack: Stack
    url: str


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """The stack as `make sandbox` runs it (signed change events on), and the page over it."""
    async with (
        run_stack(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            servicenow_webhook_secret=WEBHOOK_SECRET,
        ) as stack,
        run_web(stack.slack, stack.emulator) as url,
    ):
        yield Sandbox(stack, url)
        assert stack.slack.problems == []


@pytest.fixture
async def page(sandbox: Sandbox) -> AsyncIterator[Page]:
    """A fresh page on the sandbox; any uncaught script error fails the test."""
    try:
        from playwright.async_api import Error, async_playwright, expect
    except ImportError:
        unavailable("the playwright package is not installed")
        raise
    if not shutil.which(CHROMIUM):
        unavailable(f"{CHROMIUM} is missing")
    expect.set_options(timeout=10_000)
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
        except Error as error:
            unavailable(f"{CHROMIUM} did not start: {error}")
            raise
        context = await browser.new_context(viewport={"width": 1440, "height": 900})
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(sandbox.url)
        yield page
        await browser.close()
        assert errors == [], f"script errors on the page: {errors}"
