"""Follow states what the person wants, never a toggle: a double click or a Slack retry follows once;
the confirmation offers Unfollow; `/incident follow|unfollow INC…` do the same."""

from __future__ import annotations

import asyncio

from sandbox.slack import Message
from sandbox.slack.records import BOB, CAROL, GENERAL
from sandbox.stack import Stack
from storage import Followers


async def card(stack: Stack, number: str) -> Message:
    await stack.slack.send_command(BOB, number, channel_id=GENERAL)
    return (await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL)))[-1]


def sys_id_of(message: Message) -> str:
    return next(
        str(e["value"])
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "incident_follow"
    )


async def followers(stack: Stack, sys_id: str) -> list[str]:
    return [slack for slack, _ in await Followers(stack.bot.db).of("incident", sys_id)]


def answers(stack: Stack, user: str, text: str) -> list[str]:
    return [e.text for e in stack.slack.ephemerals_for(user) if text in e.text]


async def test_a_double_click_on_follow_follows_and_unfollow_is_offered(stack: Stack) -> None:
    message = await card(stack, "INC0000001")
    sys_id = sys_id_of(message)
    click = {"action_id": "incident_follow", "value": sys_id, "message": message}
    await asyncio.gather(
        stack.slack.send_block_action(CAROL, **click),  # type: ignore[arg-type]
        stack.slack.send_block_action(CAROL, **click),  # type: ignore[arg-type]
    )
    await stack.slack.wait_for(lambda: len(answers(stack, CAROL, "You follow INC0000001")) == 2)
    assert await followers(stack, sys_id) == [CAROL]
    confirmation = [e for e in stack.slack.ephemerals_for(CAROL) if "You follow" in e.text][-1]
    assert "incident_unfollow" in str(confirmation.blocks)

    await stack.slack.send_block_action(
        CAROL, action_id="incident_unfollow", value=sys_id, channel_id=GENERAL
    )
    await stack.slack.wait_for(lambda: answers(stack, CAROL, "You don't follow INC0000001"))
    assert await followers(stack, sys_id) == []


async def test_follow_and_unfollow_subcommands_say_what_they_want(stack: Stack) -> None:
    message = await card(stack, "INC0000001")
    sys_id = sys_id_of(message)
    for _ in range(2):
        await stack.slack.send_command(CAROL, "follow inc0000001", channel_id=GENERAL)
    await stack.slack.wait_for(lambda: len(answers(stack, CAROL, "You follow INC0000001")) == 2)
    assert await followers(stack, sys_id) == [CAROL]
    for _ in range(2):
        await stack.slack.send_command(CAROL, "unfollow INC0000001", channel_id=GENERAL)
    await stack.slack.wait_for(
        lambda: len(answers(stack, CAROL, "You don't follow INC0000001")) == 2
    )
    assert await followers(stack, sys_id) == []
