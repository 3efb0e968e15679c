"""Take the README's screenshot: a channel with a live card beside the ServiceNow panel.

.venv/bin/python -m tests.browser.screenshot docs/screenshot.png
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright, expect

from sandbox.stack import WEBHOOK_SECRET, run_stack
from sandbox.web import run_web
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

CARD = "#conversation article.msg[data-kind='message']"


async def main(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            run_stack(
                database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}",
                servicenow_webhook_secret=WEBHOOK_SECRET,
            ) as stack,
            run_web(stack.slack, stack.emulator) as url,
            async_playwright() as playwright,
        ):
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1440, "height": 860})
            await page.goto(url)
            composer = page.get_by_role("textbox", name="Message", exact=True)
            await composer.fill("/incident printer on fire")
            await composer.press("Enter")
            card = page.locator(CARD, has_text="printer on fire")
            await expect(card).to_contain_text("New")
            number = (await card.inner_text()).split("INC", 1)[1][:7]
            panel = page.locator("#servicenow")
            await panel.get_by_label("Acting as").select_option(label="Bob Martin")
            await panel.locator(f"tr[data-number='INC{number}']").click()
            record = panel.locator(".sn-record")
            await record.get_by_label("Assigned to").select_option(label="Bob Martin")
            await record.get_by_label("State").select_option(label="In Progress")
            await record.get_by_label("Additional comments (Customer visible)").fill(
                "On my way with a fire extinguisher and a new fuser."
            )
            await record.get_by_role("button", name="Update").click()
            await expect(card).to_contain_text("In Progress")
            await expect(card).to_contain_text("fire extinguisher")
            await record.get_by_label("State").select_option(label="Resolved")
            await record.get_by_label("Resolution code").select_option("Solution provided")
            await record.get_by_label("Resolution notes").fill("Replaced the fuser unit.")
            await page.mouse.move(0, 0)
            await page.screenshot(path=str(target), animations="disabled")
            await browser.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png")))
