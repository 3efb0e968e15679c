"""Approvals from Slack over loopback: the DM, deciding once and only by the approver, the DM staying true."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sandbox.servicenow import seed
from sandbox.servicenow.faults import Fault
from sandbox.slack import Message
from sandbox.slack.records import ALICE, BOB, CAROL, DAVE, GENERAL
from sandbox.stack import Stack

# The seeded change approval is decided with the buttons here: no table needs an e-signature
# (test_permissions.py covers the default, where a change's approval is signed in ServiceNow).
pytestmark = pytest.mark.stack_settings(e_signature_tables="")


TABLE = "sysapproval_approver"


def approval(stack: Stack, sys_id: str = seed.CHANGE_APPROVAL) -> dict[str, str]:
    row = stack.emulator.get(TABLE, sys_id)
    assert row is not None
    return row


def buttons(message: Message) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for block in message.blocks:
        if block["type"] == "actions":
            found.update(
                {e["action_id"]: {**e, "block_id": block["block_id"]} for e in block["elements"]}
            )
    return found


def dm_messages(stack: Stack, user: str) -> list[Message]:
    return stack.slack.messages_in(stack.slack.dm_channel(user))


async def request_dm(stack: Stack, sys_id: str = seed.CHANGE_APPROVAL) -> Message:
    """The approver's DM, sent by the bot's direct path (the feed uses the same card)."""
    assert await stack.bot.approvals.send_request_dm(sys_id)
    return (await stack.slack.wait_for(lambda: dm_messages(stack, CAROL)))[-1]


async def click(stack: Stack, user: str, message: Message, action_id: str, **extra: Any) -> None:
    button = buttons(message)[action_id]
    await stack.slack.send_block_action(
        user,
        action_id=action_id,
        block_id=button["block_id"],
        value=button["value"],
        message=message,
        **extra,
    )


def told(stack: Stack, user: str) -> list[str]:
    return [e.text for e in stack.slack.ephemerals_for(user) if e.source != "ack"]


async def reject_form(stack: Stack, user: str, message: Message) -> Any:
    await click(stack, user, message, "approval_reject")
    return await stack.slack.wait_for(
        lambda: (
            (m := stack.slack.current_modal(user)) and m.view.get("callback_id") != "loading" and m
        )
    )


def reason(text: str) -> dict[str, dict[str, dict[str, Any]]]:
    return {"reason": {"value": {"type": "plain_text_input", "value": text}}}


async def test_the_approval_dm_says_what_is_asked_and_offers_approve_and_reject(
    stack: Stack,
) -> None:
    dm = await request_dm(stack)
    text = str(dm.blocks)
    for expected in ("CHG0000001", "Upgrade core switch firmware", "Bob Martin", "Change request"):
        assert expected in text
    due = approval(stack)["due_date"][:16]
    assert f"{due} UTC" in text
    controls = buttons(dm)
    assert controls["approval_approve"]["value"] == seed.CHANGE_APPROVAL
    assert controls["approval_reject"]["value"] == seed.CHANGE_APPROVAL
    assert "change_request.do" in controls["approval_open"]["url"]
    assert seed.CHANGE in controls["approval_open"]["url"]


async def test_approve_by_the_approver_writes_approved_and_rewrites_the_dm(stack: Stack) -> None:
    dm = await request_dm(stack)
    await click(stack, CAROL, dm, "approval_approve")
    await stack.slack.wait_for(lambda: dm.edited)
    row = approval(stack)
    assert row["state"] == "approved"
    [comment] = stack.emulator.journal(seed.CHANGE_APPROVAL, "comments")
    assert "via Slack by Carol Diaz (carol@example.com)" in comment["value"]
    change = stack.emulator.get("change_request", seed.CHANGE)
    assert change is not None and change["approval"] == "approved"  # the parent's roll-up
    assert "approval_approve" not in buttons(dm) and "approval_reject" not in buttons(dm)
    assert "Approved by Carol Diaz" in str(dm.blocks)


async def test_reject_asks_for_a_reason_and_writes_it_as_the_comment(stack: Stack) -> None:
    dm = await request_dm(stack, seed.ITEM_APPROVAL)
    assert "Requested item" in str(dm.blocks) and "RITM0000001" in str(dm.blocks)
    form = await reject_form(stack, CAROL, dm)
    assert form.view["callback_id"] == "approval_reject"

    await stack.slack.send_view_submission(CAROL, form.id, reason("   "))
    assert "reason" in form.errors and not form.closed
    assert approval(stack, seed.ITEM_APPROVAL)["state"] == "requested"

    await stack.slack.send_view_submission(CAROL, form.id, reason("Not in this quarter's budget"))
    await stack.slack.wait_for(lambda: dm.edited)
    assert approval(stack, seed.ITEM_APPROVAL)["state"] == "rejected"
    [comment] = stack.emulator.journal(seed.ITEM_APPROVAL, "comments")
    assert "Not in this quarter's budget" in comment["value"]
    assert "Rejected via Slack by Carol Diaz" in comment["value"]
    assert "Rejected by Carol Diaz" in str(dm.blocks) and not buttons(dm).get("approval_reject")


async def test_someone_else_is_refused_and_nothing_is_written(stack: Stack) -> None:
    dm = await request_dm(stack)
    before = approval(stack)
    await click(stack, BOB, dm, "approval_approve")
    [refusal] = await stack.slack.wait_for(lambda: told(stack, BOB))
    assert "Only Carol Diaz can approve or reject CHG0000001" in refusal

    form = await reject_form(stack, BOB, dm)
    assert "Only Carol Diaz" in str(form.view["blocks"])
    assert not [b for b in form.view["blocks"] if b["type"] == "input"]

    await click(stack, DAVE, dm, "approval_approve")
    [no_account] = await stack.slack.wait_for(lambda: told(stack, DAVE))
    assert "dave@example.com" in no_account

    assert approval(stack) == before
    assert stack.emulator.journal(seed.CHANGE_APPROVAL, "comments") == []
    assert dm.edited == 0


async def test_a_double_click_decides_once(stack: Stack) -> None:
    dm = await request_dm(stack)
    # A slow write, so the second click reads the approval while the first is still writing.
    stack.emulator.faults.add(Fault.slow(0.5, times=2, method="PATCH", path_contains=TABLE))
    await asyncio.gather(
        click(stack, CAROL, dm, "approval_approve"), click(stack, CAROL, dm, "approval_approve")
    )
    await stack.slack.wait_for(lambda: dm.edited)
    row = approval(stack)
    assert row["state"] == "approved" and row["sys_mod_count"] == "1"
    assert len(stack.emulator.journal(seed.CHANGE_APPROVAL, "comments")) == 1
    await stack.slack.send_command(CAROL, "approvals")  # a later request…
    await stack.slack.wait_for(lambda: told(stack, CAROL))  # …has been answered
    assert not [t for t in told(stack, CAROL) if "already" in t]


async def test_a_slack_retry_of_a_click_decides_once_and_says_nothing_more(stack: Stack) -> None:
    dm = await request_dm(stack)
    await click(stack, CAROL, dm, "approval_approve")
    await stack.slack.wait_for(lambda: dm.edited)
    await click(stack, CAROL, dm.history[0], "approval_approve", retry_num=1)
    await stack.slack.send_command(CAROL, "approvals")  # a later request…
    await stack.slack.wait_for(lambda: told(stack, CAROL))  # …has been answered
    assert len(stack.emulator.journal(seed.CHANGE_APPROVAL, "comments")) == 1
    assert not [t for t in told(stack, CAROL) if "already" in t]


async def test_a_decision_taken_in_servicenow_rewrites_the_dm_and_stale_buttons_say_so(
    stack: Stack,
) -> None:
    dm = await request_dm(stack)
    await stack.bot.feed.poll_once()  # the feed has a cursor
    stack.emulator.update(TABLE, seed.CHANGE_APPROVAL, {"state": "rejected"}, as_user="carol.diaz")
    await stack.bot.feed.poll_once()
    await stack.slack.wait_for(lambda: dm.edited)
    assert "Rejected by Carol Diaz" in str(dm.blocks) and "approval_approve" not in buttons(dm)

    await click(stack, CAROL, dm.history[0], "approval_approve")  # a button on an old copy
    [note] = await stack.slack.wait_for(lambda: told(stack, CAROL))
    assert "CHG0000001 is already rejected" in note
    assert approval(stack)["state"] == "rejected"


async def test_an_approval_requested_in_servicenow_reaches_the_approver_through_the_feed(
    stack: Stack,
) -> None:
    await stack.bot.feed.poll_once()  # the feed has a cursor
    created = stack.emulator.insert(
        TABLE,
        {
            "approver": seed.CAROL,
            "sysapproval": seed.REQUESTED_ITEM,
            "state": "requested",
            "due_date": "2030-01-31 12:00:00",
        },
        as_user="system",
    )
    await stack.bot.feed.poll_once()
    [dm] = await stack.slack.wait_for(lambda: dm_messages(stack, CAROL))
    assert "RITM0000001" in str(dm.blocks) and "2030-01-31 12:00 UTC" in str(dm.blocks)
    assert buttons(dm)["approval_approve"]["value"] == created["sys_id"]

    # A later change that leaves it requested sends no second DM; deciding rewrites the first.
    stack.emulator.update(TABLE, created["sys_id"], {"due_date": "2030-02-01 12:00:00"})
    await stack.bot.feed.poll_once()
    await click(stack, CAROL, dm, "approval_approve")
    await stack.slack.wait_for(lambda: "Approved by Carol Diaz" in str(dm.blocks))
    assert len(dm_messages(stack, CAROL)) == 1


async def test_incident_approvals_lists_my_pending_approvals_with_their_buttons(
    stack: Stack,
) -> None:
    await stack.slack.send_command(CAROL, "approvals")
    [answer] = await stack.slack.wait_for(
        lambda: [e for e in stack.slack.ephemerals_for(CAROL) if "CHG0000001" in str(e.blocks)]
    )
    assert "RITM0000001" in str(answer.blocks)
    approves = [
        e for b in answer.blocks if b["type"] == "actions" for e in b["elements"]
        if e["action_id"] == "approval_approve"
    ]  # fmt: skip
    assert {e["value"] for e in approves} == {seed.CHANGE_APPROVAL, seed.ITEM_APPROVAL}

    await stack.slack.send_block_action(
        CAROL,
        action_id="approval_approve",
        value=seed.CHANGE_APPROVAL,
        channel_id=GENERAL,
    )
    replaced = await stack.slack.wait_for(
        lambda: [e for e in stack.slack.ephemerals_for(CAROL) if "Approved CHG0000001" in e.text]
    )
    assert "RITM0000001" in str(replaced[-1].blocks)
    assert approval(stack)["state"] == "approved"


async def test_incident_approvals_for_someone_with_nothing_pending_says_so(stack: Stack) -> None:
    await stack.slack.send_command(ALICE, "approvals")
    [answer] = await stack.slack.wait_for(lambda: told(stack, ALICE))
    assert "none" in answer


def requested_by(message: Message) -> str:
    fields: list[str] = [f["text"] for b in message.blocks for f in b.get("fields", [])]
    return next(text for text in fields if text.startswith("*Requested by*"))


async def test_requested_by_is_who_asked_for_it_not_who_opened_it(stack: Stack) -> None:
    # The change is opened by Bob on behalf of Erin; the laptop is for Alice, opened by Bob.
    stack.emulator.update("change_request", seed.CHANGE, {"requested_by": seed.ERIN})
    stack.emulator.update("sc_req_item", seed.REQUESTED_ITEM, {"requested_for": seed.ALICE})
    change = await request_dm(stack)
    assert "Erin" in requested_by(change) and "Bob" not in requested_by(change)
    assert await stack.bot.approvals.send_request_dm(seed.ITEM_APPROVAL)
    item = (await stack.slack.wait_for(lambda: dm_messages(stack, CAROL)[1:]))[-1]
    assert "Alice Chen" in requested_by(item)


async def test_requested_by_falls_back_to_who_opened_it(stack: Stack) -> None:
    stack.emulator.update("change_request", seed.CHANGE, {"requested_by": ""})
    dm = await request_dm(stack)
    opened_by = stack.emulator.get("change_request", seed.CHANGE)
    assert opened_by is not None and opened_by["opened_by"]
    assert "—" not in requested_by(dm)
