"""Message shortcuts and chat.getPermalink in the Slack stand-in, as Slack documents them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import NotInManifest, SlackStandIn
from sandbox.slack.records import ALICE, BOB, GENERAL

if TYPE_CHECKING:
    from tests.sandbox_slack.conftest import FakeBot


async def test_a_message_shortcut_sends_a_signed_message_action_with_the_message(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    said = slack.post_as_user(BOB, GENERAL, "VPN down?\nfloor 3")
    reply = await slack.send_message_shortcut(ALICE, said, "incident_from_message")
    assert reply.status == 200
    [received] = bot.received
    assert received.valid
    payload = received.payload
    assert payload["type"] == "message_action"
    assert payload["callback_id"] == "incident_from_message"
    assert payload["user"]["id"] == ALICE and payload["channel"]["id"] == GENERAL
    assert payload["message_ts"] == said.ts
    assert payload["message"]["text"] == "VPN down?\nfloor 3"
    assert payload["message"]["user"] == BOB and payload["message"]["ts"] == said.ts
    assert payload["trigger_id"] and payload["response_url"].startswith(slack.url)
    assert "actions" not in payload  # not a block_actions payload


async def test_a_retry_repeats_the_same_payload(slack: SlackStandIn, bot: FakeBot) -> None:
    said = slack.post_as_user(BOB, GENERAL, "VPN down?")
    await slack.send_message_shortcut(ALICE, said, "incident_from_message")
    await slack.send_message_shortcut(ALICE, said, "incident_from_message", retry_num=1)
    first, again = bot.received
    assert first.form["payload"] == again.form["payload"]
    assert again.headers["x-slack-retry-num"] == "1"


async def test_only_shortcuts_the_installed_manifest_declares_are_offered(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    slack.install_app(
        {
            "display_information": {"name": "x"},
            "features": {
                "shortcuts": [
                    {
                        "name": "Open an incident",
                        "type": "message",
                        "callback_id": "incident_from_message",
                        "description": "x",
                    }
                ]
            },
            "oauth_config": {"scopes": {"bot": ["commands", "chat:write"]}},
            "settings": {"interactivity": {"is_enabled": True}, "socket_mode_enabled": True},
        }
    )
    said = slack.post_as_user(BOB, GENERAL, "VPN down?")
    with pytest.raises(NotInManifest):
        await slack.send_message_shortcut(ALICE, said, "something_else")


async def test_get_permalink_links_the_message_and_a_reply_names_its_thread(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    parent = slack.post_as_user(BOB, GENERAL, "VPN down?")
    answer = await client.chat_getPermalink(channel=GENERAL, message_ts=parent.ts)
    assert answer["permalink"] == (
        f"https://sandbox.slack.com/archives/{GENERAL}/p{parent.ts.replace('.', '')}"
    )
    reply = slack.post_message(GENERAL, "same here", user=ALICE, thread_ts=parent.ts, source="user")
    answer = await client.chat_getPermalink(channel=GENERAL, message_ts=reply.ts)
    assert answer["permalink"].endswith(f"?thread_ts={parent.ts}&cid={GENERAL}")
    with pytest.raises(SlackApiError) as gone:
        await client.chat_getPermalink(channel=GENERAL, message_ts="1.000001")
    assert gone.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as nowhere:
        await client.chat_getPermalink(channel="C0NOWHERE0", message_ts=parent.ts)
    assert nowhere.value.response["error"] == "channel_not_found"


async def test_a_card_posted_in_a_thread_stays_in_it(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    parent = slack.post_as_user(BOB, GENERAL, "VPN down?")
    posted = await client.chat_postMessage(channel=GENERAL, text="INC0010001", thread_ts=parent.ts)
    assert posted["message"]["thread_ts"] == parent.ts
    [card] = [m for m in slack.messages_in(GENERAL) if m.ts == posted["ts"]]
    assert card.thread_ts == parent.ts
