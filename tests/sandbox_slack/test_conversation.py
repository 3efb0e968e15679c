"""People talking in the stand-in: threads, edits, deletions, link_shared, app_mention, and the
Web API methods that go with them (chat.unfurl, conversations.replies)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import manifest
from sandbox.slack import SlackStandIn
from sandbox.slack.records import ALICE, BOB, BOT, GENERAL
from tests.sandbox_slack.conftest import FakeBot

Load = Callable[[str], Any]
INSTANCE = "https://dev12345.service-now.com"
LINK = f"{INSTANCE}/incident.do?sys_id=9d385017c611228701d22104cc95c371"
PREVIEW = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*INC0010001*"}}]}


def install(slack: SlackStandIn, bot: FakeBot, instance: str | None = INSTANCE) -> None:
    slack.install_app(manifest.build(bot.url, instance))
    slack.invite_bot(GENERAL)


async def test_a_reply_is_a_message_event_with_its_thread(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> None:
    install(slack, bot)
    parent = await client.chat_postMessage(channel=GENERAL, text="INC0010001")
    said = await slack.say(ALICE, GENERAL, "still broken", thread_ts=parent["ts"])
    await slack.conversation.resend(said, retry_num=1)
    first, retry = bot.received
    event = first.json["event"]
    assert event["type"] == "message" and "subtype" not in event
    assert (event["thread_ts"], event["parent_user_id"], event["channel_type"]) == (
        parent["ts"],
        BOT,
        "channel",
    )
    assert (event["user"], event["text"], event["ts"]) == (ALICE, "still broken", said.message.ts)
    assert retry.json["event_id"] == first.json["event_id"]
    assert retry.headers["x-slack-retry-num"] == "1"
    replies = await client.conversations_replies(channel=GENERAL, ts=parent["ts"])
    assert [m["ts"] for m in replies["messages"]] == [parent["ts"], said.message.ts]


async def test_edits_and_deletions_carry_the_message_before_and_after(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    install(slack, bot)
    said = await slack.say(ALICE, GENERAL, "typo")
    await slack.edit(said.message, "fixed")
    await slack.delete(said.message)
    _, changed, deleted = (r.json["event"] for r in bot.received)
    assert changed["subtype"] == "message_changed" and changed["hidden"] is True
    assert (changed["message"]["text"], changed["previous_message"]["text"]) == ("fixed", "typo")
    assert changed["message"]["edited"]["user"] == ALICE
    assert deleted["subtype"] == "message_deleted"
    assert deleted["deleted_ts"] == said.message.ts
    assert deleted["previous_message"]["text"] == "fixed"
    assert slack.messages_in(GENERAL) == []


async def test_links_to_an_unfurl_domain_send_link_shared_like_the_docs_payload(
    slack: SlackStandIn, bot: FakeBot, fixture_json: Load
) -> None:
    install(slack, bot)
    said = await slack.say(BOB, GENERAL, f"look at {LINK} and https://example.org/x")
    message_event, shared = (r.json["event"] for r in bot.received)
    assert message_event["text"] == f"look at <{LINK}> and <https://example.org/x>"
    documented = fixture_json("event_link_shared.docs.json")["event"]
    assert set(documented) - {"thread_ts"} <= set(shared)
    assert shared["links"] == [{"domain": "dev12345.service-now.com", "url": LINK}]
    assert (shared["message_ts"], shared["source"]) == (said.message.ts, "conversations_history")


async def test_without_unfurl_domains_or_subscriptions_slack_sends_nothing(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    install(slack, bot, instance=None)
    await slack.say(BOB, GENERAL, f"look at {LINK}")
    assert [r.json["event"]["type"] for r in bot.received] == ["message"]
    slack.install_app({**manifest.build(bot.url), "settings": {"event_subscriptions": {}}})
    await slack.say(BOB, GENERAL, "@incident-bot INC0010001")
    assert len(bot.received) == 1


async def test_a_channel_the_bot_is_not_in_sends_no_message_events(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    install(slack, bot)
    slack.bot_channels.clear()
    await slack.say(ALICE, GENERAL, "hello")
    assert bot.received == []


async def test_a_mention_is_an_app_mention_event(slack: SlackStandIn, bot: FakeBot) -> None:
    install(slack, bot)
    said = await slack.say(ALICE, GENERAL, "@incident-bot INC0010001")
    kinds = [r.json["event"]["type"] for r in bot.received]
    assert kinds == ["message", "app_mention"]
    mention = bot.received[1].json["event"]
    assert mention["text"] == f"<@{BOT}> INC0010001" and mention["ts"] == said.message.ts


async def test_chat_unfurl_previews_a_link_of_the_message_and_a_second_call_replaces_it(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> None:
    install(slack, bot)
    said = await slack.say(BOB, GENERAL, f"look at {LINK}")
    ts = said.message.ts
    await client.chat_unfurl(channel=GENERAL, ts=ts, unfurls={LINK: PREVIEW})
    newer = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*newer*"}}]}
    await client.chat_unfurl(channel=GENERAL, ts=ts, unfurls={LINK: newer})
    assert said.message.unfurls == {LINK: newer}

    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"channel": GENERAL, "ts": ts, "unfurls": {"https://other.example/": PREVIEW}},
            "cannot_unfurl_message",
        ),
        ({"channel": GENERAL, "ts": "1.000001", "unfurls": {LINK: PREVIEW}}, "cannot_find_message"),
        ({"channel": GENERAL, "ts": ts, "unfurls": {LINK: "nope"}}, "invalid_unfurls_format"),
        ({"unfurls": {LINK: PREVIEW}}, "invalid_arguments"),
    ]
    for kwargs, error in cases:
        with pytest.raises(SlackApiError) as caught:
            await client.chat_unfurl(**kwargs)
        assert caught.value.response["error"] == error

    await client.chat_unfurl(unfurl_id="U1-draft", source="composer", unfurls={LINK: PREVIEW})
    assert slack.composer_unfurls == {"U1-draft": {LINK: PREVIEW}}


async def test_chat_unfurl_needs_links_write(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> None:
    built = manifest.build(bot.url, INSTANCE)
    built["oauth_config"]["scopes"]["bot"].remove("links:write")
    slack.install_app(built)
    said = await slack.say(BOB, GENERAL, f"look at {LINK}")
    with pytest.raises(SlackApiError) as caught:
        await client.chat_unfurl(channel=GENERAL, ts=said.message.ts, unfurls={LINK: PREVIEW})
    assert caught.value.response["error"] == "missing_scope"
