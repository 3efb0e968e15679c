"""Buttons and menus on cards: each does what its command does, for the clicker, exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox.slack import Message
from sandbox.slack.records import ALICE, BOB, DAVE, GENERAL, INCIDENTS
from sandbox.stack import Stack


def incident(stack: Stack, number: str) -> dict[str, str]:
    [row] = stack.emulator.query("incident", f"number={number}")
    return row


def actions(message: Message) -> dict[str, Any]:
    block = next(b for b in message.blocks if b["type"] == "actions")
    return {"block_id": block["block_id"], **{e["action_id"]: e for e in block["elements"]}}


async def post_card(stack: Stack, number: str, channel: str = GENERAL) -> Message:
    await stack.slack.send_command(BOB, number, channel_id=channel)
    return (await stack.slack.wait_for(lambda: stack.slack.messages_in(channel)))[-1]


async def click(stack: Stack, user: str, card: Message, action_id: str, **extra: Any) -> None:
    controls = actions(card)
    element = controls[action_id]
    await stack.slack.send_block_action(
        user,
        action_id=action_id,
        block_id=controls["block_id"],
        value=element.get("value"),
        message=card,
        **extra,
    )


async def test_assign_to_me_assigns_the_clicker_and_rewrites_every_copy(stack: Stack) -> None:
    first = await post_card(stack, "INC0000001", GENERAL)
    second = await post_card(stack, "INC0000001", INCIDENTS)
    await click(stack, BOB, first, "incident_assign_me")
    await stack.slack.wait_for(lambda: second.edited and first.edited)
    [bob] = stack.emulator.query("sys_user", "email=bob@example.com")
    assert incident(stack, "INC0000001")["assigned_to"] == bob["sys_id"]
    assert "Bob Martin" in str(first.blocks) and "Bob Martin" in str(second.blocks)
    assert actions(first)["block_id"] != actions(first.history[-1])["block_id"]


async def test_a_double_click_applies_once(stack: Stack) -> None:
    card = await post_card(stack, "INC0000001")
    before = int(incident(stack, "INC0000001")["sys_mod_count"])
    await asyncio.gather(
        click(stack, BOB, card, "incident_assign_me"), click(stack, BOB, card, "incident_assign_me")
    )
    await stack.slack.wait_for(lambda: card.edited)
    row = incident(stack, "INC0000001")
    assert int(row["sys_mod_count"]) == before + 1
    assert len(stack.emulator.journal(row["sys_id"], "work_notes")) == 1


async def test_a_slack_retry_of_a_command_opens_one_incident(stack: Stack) -> None:
    await stack.slack.send_command(BOB, "monitor flickers", channel_id=GENERAL)
    await stack.slack.send_command(BOB, "monitor flickers", channel_id=GENERAL, retry_num=1)
    await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    await stack.slack.send_command(BOB, "INC0000001", channel_id=GENERAL)  # a later command…
    await stack.slack.wait_for(lambda: len(stack.slack.messages_in(GENERAL)) == 2)  # …has run
    assert len(stack.emulator.query("incident", "short_description=monitor flickers")) == 1


async def test_comment_button_opens_a_modal_and_adds_a_public_comment(stack: Stack) -> None:
    card = await post_card(stack, "INC0000001")
    await click(stack, ALICE, card, "incident_comment")
    modal = await stack.slack.wait_for(lambda: stack.slack.current_modal(ALICE))
    assert modal.view["callback_id"] == "incident_comment"
    await stack.slack.send_view_submission(
        ALICE,
        modal.id,
        {"text": {"value": {"type": "plain_text_input", "value": "Still broken after update"}}},
    )
    await stack.slack.wait_for(lambda: "Still broken after update" in str(card.blocks))
    sys_id = incident(stack, "INC0000001")["sys_id"]
    assert "Alice Chen (via Slack)" in stack.emulator.journal(sys_id, "comments")[0]["value"]


async def test_state_menu_moves_to_in_progress_and_resolve_button_opens_the_resolve_modal(
    stack: Stack,
) -> None:
    card = await post_card(stack, "INC0000001")
    menu = actions(card)["incident_state"]
    in_progress = next(o for o in menu["options"] if o["text"]["text"] == "In Progress")
    await stack.slack.send_block_action(
        BOB,
        action_id="incident_state",
        block_id=actions(card)["block_id"],
        selected_option=in_progress,
        message=card,
    )
    await stack.slack.wait_for(lambda: card.edited)
    assert incident(stack, "INC0000001")["state"] == "2"
    assert ":large_blue_circle: In Progress" in str(card.blocks)

    await click(stack, BOB, card, "incident_resolve")
    modal = await stack.slack.wait_for(
        lambda: (
            (m := stack.slack.current_modal(BOB))
            and m.view["callback_id"] == "incident_resolve"
            and m
        )
    )
    await stack.slack.send_view_submission(
        BOB,
        modal.id,
        {
            "close_code": {
                "value": {
                    "type": "static_select",
                    "selected_option": {"value": "Workaround provided"},
                }
            },
            "close_notes": {
                "value": {"type": "plain_text_input", "value": "Re-added the account."}
            },
        },
    )
    await stack.slack.wait_for(
        lambda: "Resolved" in str(card.blocks) and "Re-added the account" in str(card.blocks)
    )
    assert [o["text"]["text"] for o in actions(card)["incident_state"]["options"]] == [
        "Reopen",
        "Closed",
    ]


async def test_a_click_by_someone_without_servicenow_account_changes_nothing(stack: Stack) -> None:
    card = await post_card(stack, "INC0000001")
    await click(stack, DAVE, card, "incident_assign_me")
    told = await stack.slack.wait_for(
        lambda: [e for e in stack.slack.ephemerals if e.user == DAVE and e.source != "ack"]
    )
    assert "dave@example.com" in told[0].text
    assert incident(stack, "INC0000001")["assigned_to"] == ""
    assert card.edited == 0


async def test_open_in_servicenow_is_a_link_the_bot_acknowledges(stack: Stack) -> None:
    card = await post_card(stack, "INC0000001")
    link = actions(card)["incident_open"]
    assert "nav_to.do" in link["url"] and incident(stack, "INC0000001")["sys_id"] in link["url"]
    reply = await stack.slack.send_block_action(BOB, action_id="incident_open", message=card)
    assert reply.status == 200
