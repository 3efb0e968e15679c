"""response_url as Bolt's respond() uses it (slack_sdk's AsyncWebhookClient): Slack's rules and limits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from sandbox.slack import Message, SlackStandIn
from sandbox.slack.records import ALICE, GENERAL

if TYPE_CHECKING:
    from tests.sandbox_slack.conftest import FakeBot

CARD = [{"type": "section", "text": {"type": "mrkdwn", "text": "*INC0010001* New"}}]
BUTTON = {
    "type": "actions",
    "block_id": "incident:1",
    "elements": [
        {
            "type": "button",
            "action_id": "assign_me",
            "text": {"type": "plain_text", "text": "Assign to me"},
        }
    ],
}


async def command_hook(slack: SlackStandIn, bot: FakeBot) -> AsyncWebhookClient:
    await slack.send_command(ALICE, "printer on fire")
    return AsyncWebhookClient(bot.received[-1].form["response_url"])


async def card_hook(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> tuple[Message, AsyncWebhookClient]:
    await client.chat_postMessage(channel=GENERAL, text="INC0010001", blocks=[*CARD, BUTTON])
    [message] = slack.messages_in(GENERAL)
    await slack.send_block_action(ALICE, action_id="assign_me", message=message)
    return message, AsyncWebhookClient(bot.received[-1].payload["response_url"])


async def test_default_answer_is_ephemeral_to_the_user(slack: SlackStandIn, bot: FakeBot) -> None:
    hook = await command_hook(slack, bot)
    response = await hook.send(text="Opening INC0010001…")
    assert response.status_code == 200
    [answer] = slack.ephemerals
    assert (answer.channel, answer.user, answer.text, answer.source) == (
        GENERAL,
        ALICE,
        "Opening INC0010001…",
        "response_url",
    )
    assert slack.messages_in(GENERAL) == []


async def test_in_channel_answer_is_a_message_everyone_sees(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    hook = await command_hook(slack, bot)
    await hook.send(text="INC0010001", blocks=CARD, response_type="in_channel")
    [message] = slack.messages_in(GENERAL)
    assert (message.text, message.blocks, message.source) == ("INC0010001", CARD, "response_url")


async def test_replace_original_edits_the_clicked_message_and_keeps_history(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> None:
    message, hook = await card_hook(slack, bot, client)
    await hook.send(text="INC0010001 assigned", blocks=CARD, replace_original=True)
    assert (message.text, message.edited) == ("INC0010001 assigned", 1)
    assert message.history[0].blocks == [*CARD, BUTTON]
    assert len(slack.messages_in(GENERAL)) == 1 and slack.ephemerals == []


async def test_delete_original_removes_the_clicked_message(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> None:
    message, hook = await card_hook(slack, bot, client)
    await hook.send_dict({"delete_original": True})
    assert slack.messages_in(GENERAL) == [] and slack.deleted == [message]


async def test_a_response_url_works_five_times_only(slack: SlackStandIn, bot: FakeBot) -> None:
    hook = await command_hook(slack, bot)
    statuses = [(await hook.send(text=f"answer {n}")).status_code for n in range(6)]
    assert statuses == [200] * 5 + [404]
    last = await hook.send(text="again")
    assert (last.status_code, last.body) == (404, '{"ok":false,"error":"expired_url"}')
    assert len(slack.ephemerals) == 5
    assert "response_url used after it expired" in slack.problems[0]


async def test_a_response_url_expires_after_thirty_minutes(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    hook = await command_hook(slack, bot)
    start = slack.clock()
    slack.clock = lambda: start + 29 * 60
    assert (await hook.send(text="still fine")).status_code == 200
    slack.clock = lambda: start + 30 * 60 + 1
    assert (await hook.send(text="too late")).status_code == 404
    assert [e.text for e in slack.ephemerals] == ["still fine"]


async def test_unknown_response_url_and_empty_answers_are_refused(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    unknown = AsyncWebhookClient(slack.url + "/response/nope")
    assert (await unknown.send(text="x")).status_code == 404
    hook = await command_hook(slack, bot)
    empty = await hook.send_dict({"response_type": "ephemeral"})
    assert (empty.status_code, empty.body) == (400, '{"ok":false,"error":"no_text"}')
    assert slack.ephemerals == []
