"""Subscriptions on the sandbox page: made, edited and deleted through the modal, and the
ServiceNow panel's changes showing up in the subscribed channel."""

from __future__ import annotations

from playwright.async_api import Page, expect

from sandbox.servicenow import seed
from tests.browser.conftest import Sandbox


async def command(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message", exact=True)
    await box.fill(text)
    await box.press("Enter")


async def test_a_subscription_made_in_the_modal_brings_servicenow_changes_into_the_channel(
    sandbox: Sandbox, page: Page
) -> None:
    await page.get_by_label("Signed in as").select_option("carol")
    await expect(page.locator("#user-note")).to_contain_text("carol.diaz")
    await page.locator("#channel-list button", has_text="incidents").click()

    # Carol subscribes #incidents to Network incidents when they are assigned or reassigned.
    await command(page, "/incident subscribe")
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Subscribe")
    await dialog.get_by_label("Assignment group (optional)").select_option(label="Network")
    await dialog.get_by_label("Assigned or reassigned").check()
    await dialog.get_by_role("button", name="Subscribe").click()
    await expect(dialog).to_have_count(0)
    conversation = page.locator("#conversation")
    await expect(conversation).to_contain_text("subscribed this channel")
    [rule] = await sandbox.stack.bot.subscriptions.store.in_channel("C0INCIDENT")
    assert rule.filters == {"assignment_group": [seed.NETWORK]} and rule.creator

    # ServiceNow's side: Bob hands INC0000001 to the Network group in the ServiceNow form.
    panel = page.locator("#servicenow")
    await panel.get_by_label("Acting as").select_option(label="Bob Martin")
    await panel.locator("tr[data-number='INC0000001']").click()
    record = panel.locator(".sn-record[data-number='INC0000001']")
    await record.get_by_label("Assignment group").select_option(label="Network")
    await record.get_by_role("button", name="Update").click()

    card = page.locator("#conversation article.msg[data-kind='message']", has_text="INC0000001")
    await expect(card).to_contain_text("Posted here by the subscription made by")
    await expect(card).to_contain_text("Network")

    # Edited in the modal (from the channel's list), then deleted: the channel is told each.
    await command(page, "/incident subscriptions")
    listing = page.locator("#conversation article.msg.ephemeral", has_text="Subscriptions of")
    await listing.get_by_role("button", name="Edit").click()
    await expect(dialog).to_contain_text("Change the subscription")
    await dialog.get_by_label("Priority (optional)").select_option(label="1 - Critical")
    await dialog.get_by_label("Assignment group (optional)").select_option(label="Network")
    await dialog.get_by_role("button", name="Save").click()
    await expect(conversation).to_contain_text("changed the subscription made by")
    [changed] = await sandbox.stack.bot.subscriptions.store.in_channel("C0INCIDENT")
    assert changed.filters == {"assignment_group": [seed.NETWORK], "priority": ["1"]}

    await command(page, "/incident subscriptions")
    listing = page.locator("#conversation article.msg.ephemeral", has_text="Subscriptions of").last
    await listing.get_by_role("button", name="Delete").click()
    await expect(conversation).to_contain_text("deleted the subscription made by")
    assert await sandbox.stack.bot.subscriptions.store.in_channel("C0INCIDENT") == []
