"""The sandbox page in headless Chromium: Slack-like channel and DM, and the ServiceNow panel."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from sandbox.servicenow import seed
from tests.browser.conftest import Sandbox


async def test_an_incident_typed_in_the_channel_and_resolved_in_servicenow_updates_the_card_and_the_callers_dm(
    sandbox: Sandbox, page: Page
) -> None:
    await expect(page.get_by_label("Signed in as")).to_have_value("alice")
    await page.evaluate("window.notReloaded = true")
    await page.get_by_role("textbox", name="Message", exact=True).fill("/incident printer on fire")
    await page.get_by_role("textbox", name="Message", exact=True).press("Enter")

    card = page.locator(
        "#conversation article.msg[data-kind='message']", has_text="printer on fire"
    )
    await expect(card).to_contain_text("New")
    number = re.search(r"INC\d{7}", await card.inner_text())
    assert number, await card.inner_text()
    await expect(card.get_by_role("button", name="Resolve")).to_be_visible()

    # ServiceNow's side: Bob, a fulfiller, resolves it in the ServiceNow form.
    panel = page.locator("#servicenow")
    await panel.get_by_label("Acting as").select_option(label="Bob Martin")
    await panel.locator(f"tr[data-number='{number[0]}']").click()
    record = panel.locator(f".sn-record[data-number='{number[0]}']")
    await record.get_by_label("State").select_option(label="Resolved")
    await record.get_by_label("Resolution code").select_option("Solution provided")
    await record.get_by_label("Resolution notes").fill("Replaced the fuser unit.")
    await record.get_by_role("button", name="Update").click()
    await expect(panel.locator(f"tr[data-number='{number[0]}'] td.state")).to_have_text("Resolved")
    row = sandbox.stack.emulator.query("incident", f"number={number[0]}")[0]
    assert (row["state"], row["resolved_by"]) == ("6", seed.BOB)

    # Slack's side follows live, without a reload: the card in the channel, then Alice's DM.
    await expect(card).to_contain_text("Resolved")
    await expect(card).to_contain_text("Replaced the fuser unit.")
    assert await page.evaluate("window.notReloaded") is True
    await page.locator("#app-list button").click()
    dm = page.locator("#conversation article.msg[data-kind='message']", has_text=number[0])
    await expect(dm).to_contain_text("Resolved")


async def test_the_approver_approves_from_the_app_home_and_servicenow_shows_it(
    sandbox: Sandbox, page: Page
) -> None:
    await page.get_by_label("Signed in as").select_option("carol")
    await expect(page.locator("#user-note")).to_contain_text("carol.diaz")
    await page.locator("#app-list button").click()
    await page.get_by_role("tab", name="Home").click()

    # The requested item's approval: the change's needs an e-signature, signed in ServiceNow.
    approve = page.locator(
        f"#home button[data-action-id='approval_approve'][data-value='{seed.ITEM_APPROVAL}']"
    )
    await approve.click()

    approvals = page.locator("#servicenow")
    await approvals.get_by_role("tab", name=re.compile("Approvals")).click()
    row = approvals.locator("tr.approval", has_text="RITM0000001")
    await expect(row.locator("td.state")).to_have_text("Approved")
    decided = sandbox.stack.emulator.get("sysapproval_approver", seed.ITEM_APPROVAL)
    assert decided is not None and decided["state"] == "approved"
    await expect(page.locator("#home")).to_contain_text("Approved RITM0000001")
    await expect(approve).to_have_count(0)  # the Home tab was published again without it


async def test_a_requested_item_followed_from_approved_to_delivered_updates_its_card_and_dm_live(
    sandbox: Sandbox, page: Page
) -> None:
    await expect(page.get_by_label("Signed in as")).to_have_value("alice")
    message = page.get_by_role("textbox", name="Message", exact=True)
    await message.fill("/incident RITM0000001")
    await message.press("Enter")
    card = page.locator("#conversation article.msg[data-kind='message']", has_text="RITM0000001")
    await expect(card).to_contain_text("Waiting for Approval")
    await expect(card.get_by_role("button", name="Follow")).to_be_visible()

    # Carol approves it in ServiceNow: the item moves to its Approved stage.
    panel = page.locator("#servicenow")
    await panel.get_by_label("Acting as").select_option(label="Carol Diaz")
    await panel.get_by_role("tab", name=re.compile("Approvals")).click()
    approval = panel.locator("tr.approval", has_text="RITM0000001")
    await approval.get_by_role("button", name="Approve").click()
    await expect(card).to_contain_text("Approved")

    # Bob fulfils it stage by stage, then closes it complete: Delivered.
    await panel.get_by_label("Acting as").select_option(label="Bob Martin")
    await panel.get_by_role("tab", name=re.compile("Requests")).click()
    row = panel.locator("tr.record[data-number='RITM0000001']")
    await row.get_by_label("Stage of RITM0000001").select_option(label="Fulfillment")
    await row.get_by_role("button", name="Update").click()
    await expect(card).to_contain_text("Fulfillment")
    row = panel.locator("tr.record[data-number='RITM0000001']")
    await row.get_by_label("State of RITM0000001").select_option(label="Closed Complete")
    await row.get_by_role("button", name="Update").click()
    await expect(row.locator("td.stage")).to_have_text("Delivered")
    await expect(card).to_contain_text("Delivered")

    # Alice's DMs from the bot said each step, without a reload.
    await page.locator("#app-list button").click()
    dms = page.locator("#conversation article.msg[data-kind='message']", has_text="RITM0000001")
    await expect(dms.last).to_contain_text("Delivered")
    assert "Stage: Waiting for Approval → Approved" in await dms.first.inner_text()


async def test_more_actions_opens_an_incident_from_a_message_and_its_card_lands_in_the_thread(
    sandbox: Sandbox, page: Page
) -> None:
    composer = page.get_by_role("textbox", name="Message", exact=True)
    await composer.fill("/invite @incident-bot")  # it hears the thread's replies from now on
    await composer.press("Enter")
    await composer.fill("Badge readers dead at the north door")
    await composer.press("Enter")
    said = page.locator(
        "#conversation > article.msg[data-kind='message']", has_text="Badge readers dead"
    )
    await said.hover()
    await said.get_by_role("button", name="More actions").first.click()
    await said.get_by_role("menuitem", name="Open an incident").first.click()

    modal = page.locator("#modal-root")
    short = modal.get_by_label("Short description")
    await expect(short).to_have_value("Badge readers dead at the north door")
    description = modal.get_by_role("textbox", name="Description (optional)")
    await expect(description).to_have_value(re.compile("archives/C0GENERAL0"))
    await modal.get_by_role("button", name="Open").click()

    # The card shows in the message's thread, which now syncs with the incident.
    card = said.locator(".thread article.msg", has_text=re.compile(r"INC\d{7}"))
    await expect(card).to_contain_text("in thread")
    [row] = sandbox.stack.emulator.query(
        "incident", "short_description=Badge readers dead at the north door"
    )
    assert "archives/C0GENERAL0" in row["description"]
    await expect(card).to_contain_text(row["number"])
    reply = said.get_by_role("textbox", name="Reply in thread")
    await reply.fill("Still dead at noon")
    await reply.press("Enter")
    await expect(card).to_contain_text("Still dead at noon")  # the card's latest comment
    [entry] = [
        e
        for e in sandbox.stack.emulator.journal(str(row["sys_id"]))
        if "Still dead at noon" in e["value"]
    ]
    assert "Alice Chen (via Slack)" in entry["value"]


async def test_a_reply_in_a_cards_thread_becomes_a_comment_and_a_servicenow_comment_comes_back(
    sandbox: Sandbox, page: Page
) -> None:
    # Slack sends a channel's messages only to apps in it.
    await page.get_by_role("textbox", name="Message", exact=True).fill("/invite @incident-bot")
    await page.get_by_role("textbox", name="Message", exact=True).press("Enter")
    await page.get_by_role("textbox", name="Message", exact=True).fill("/incident INC0000001")
    await page.get_by_role("textbox", name="Message", exact=True).press("Enter")
    card = page.locator(
        "#conversation > article.msg[data-kind='message']", has_text="Email not syncing"
    )
    await expect(card.get_by_role("button", name="Comment")).to_be_visible()
    sys_id = sandbox.stack.emulator.query("incident", "number=INC0000001")[0]["sys_id"]

    # Alice replies in the card's thread: her words become a comment on the incident.
    reply = card.get_by_role("textbox", name="Reply in thread")
    await reply.fill("Still broken after a reboot")
    await reply.press("Enter")
    thread = card.locator(".thread")
    await expect(thread).to_contain_text("Still broken after a reboot")
    await expect(card.locator(".msg-content").first).to_contain_text("Still broken after a reboot")
    [entry] = [
        e
        for e in sandbox.stack.emulator.journal(sys_id)
        if "Still broken after a reboot" in e["value"]
    ]
    assert "Alice Chen (via Slack)" in entry["value"]

    # Bob answers in ServiceNow: the comment appears in the thread, with his name.
    sandbox.stack.emulator.update(
        "incident", sys_id, {"comments": "Please re-add the account"}, as_user="bob.martin"
    )
    await expect(thread).to_contain_text("Please re-add the account")
    await expect(thread).to_contain_text("bob.martin")
    await expect(thread.locator("article.msg")).to_have_count(2)


async def test_a_link_to_an_incident_shows_its_preview_and_a_mention_answers_in_the_thread(
    sandbox: Sandbox, page: Page
) -> None:
    sys_id = sandbox.stack.emulator.query("incident", "number=INC0000001")[0]["sys_id"]
    link = f"{sandbox.stack.settings.servicenow_instance_url}/incident.do?sys_id={sys_id}"
    composer = page.get_by_role("textbox", name="Message", exact=True)
    await composer.fill(f"is this the same? {link}")
    await composer.press("Enter")
    said = page.locator("#conversation > article.msg", has_text="is this the same?")
    await expect(said.locator(".unfurl")).to_contain_text("INC0000001")
    await expect(said.locator(".unfurl")).to_contain_text("Email not syncing on my phone")

    await composer.fill("@incident-bot INC0000001")
    await composer.press("Enter")
    asked = page.locator("#conversation > article.msg", has_text="INC0000001").filter(
        has=page.locator(".thread")
    )
    await expect(asked.locator(".thread article.msg")).to_contain_text("Email not syncing")
