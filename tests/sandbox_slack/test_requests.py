"""What the stand-in sends the bot: Slack's shapes, Slack's signatures, and how it records the acks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from starlette.responses import JSONResponse, PlainTextResponse, Response

from sandbox.slack import SlackStandIn
from sandbox.slack.payloads import interaction_form
from sandbox.slack.records import ALICE, BOB, GENERAL, INCIDENTS

if TYPE_CHECKING:
    from tests.sandbox_slack.conftest import FakeBot, Received

Load = Callable[[str], Any]
APPROVE = {
    "type": "actions",
    "block_id": "approval:abc",
    "elements": [
        {
            "type": "button",
            "action_id": "approval_approve",
            "text": {"type": "plain_text", "text": "Approve", "emoji": True},
            "style": "primary",
            "value": "abc",
        }
    ],
}


def answer_json(body: dict[str, Any]) -> Callable[[Received], Response]:
    return lambda received: JSONResponse(body)


async def test_slash_command_is_a_signed_form_with_the_fixture_fields_in_order(
    slack: SlackStandIn, bot: FakeBot, fixture_json: Load
) -> None:
    reply = await slack.send_command(ALICE, "printer on fire | urgency=1", channel_id="incidents")
    assert reply.status == 200
    [received] = bot.received
    assert received.valid
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    assert abs(int(received.headers["x-slack-request-timestamp"]) - time.time()) < 5
    assert "x-slack-retry-num" not in received.headers
    form = received.form
    assert list(form) == list(fixture_json("slash_command.incident.synthetic.json"))
    assert (form["user_id"], form["user_name"], form["channel_id"], form["channel_name"]) == (
        ALICE,
        "alice",
        INCIDENTS,
        "incidents",
    )
    assert (form["command"], form["text"], form["team_id"]) == (
        "/incident",
        "printer on fire | urgency=1",
        "T0SANDBOX",
    )
    assert form["response_url"].startswith(slack.url + "/response/")
    assert form["trigger_id"] in slack.triggers


async def test_every_command_gets_a_fresh_trigger_and_response_url(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    await slack.send_command(ALICE, "one")
    await slack.send_command(ALICE, "one")
    first, second = (r.form for r in bot.received)
    assert first["trigger_id"] != second["trigger_id"]
    assert first["response_url"] != second["response_url"]


async def test_retry_repeats_the_same_body_with_retry_headers(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    await slack.send_command(ALICE, "printer on fire")
    await slack.send_command(ALICE, "printer on fire", retry_num=1)
    first, retry = bot.received
    assert retry.valid and retry.body == first.body
    assert retry.headers["x-slack-retry-num"] == "1"
    assert retry.headers["x-slack-retry-reason"] == "http_timeout"


async def test_unsigned_tampered_and_stale_requests_fail_verification(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    unsigned = await slack.send_command(ALICE, "x", sign=False)
    tampered = await slack.send_command(ALICE, "x", tamper=True)
    stale = await slack.send_command(ALICE, "x", timestamp=int(time.time()) - 600)
    assert [unsigned.status, tampered.status, stale.status] == [401, 401, 401]
    assert "x-slack-signature" not in bot.received[0].headers
    assert [r.valid for r in bot.received] == [False, False, False]
    assert slack.ephemerals == []
    assert slack.problems == []  # refusing those is right


async def test_a_signed_request_refused_by_the_bot_is_a_problem(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    bot.answer = lambda received: JSONResponse({"error": "nope"}, 500)
    reply = await slack.send_command(ALICE, "printer on fire")
    assert reply.status == 500 and slack.ephemerals == []
    assert slack.problems == ["/incident printer on fire: the bot answered HTTP 500"]


async def test_wrong_secret_fails_verification(bot: FakeBot) -> None:
    other = SlackStandIn(signing_secret="someone-else")
    other.bot_url = bot.url
    reply = await other.send_command(ALICE, "x")
    assert reply.status == 401 and not bot.received[-1].valid


async def test_ephemeral_ack_is_recorded_as_an_ephemeral(slack: SlackStandIn, bot: FakeBot) -> None:
    bot.answer = answer_json({"response_type": "ephemeral", "text": "Working on it…"})
    reply = await slack.send_command(ALICE, "printer on fire")
    assert reply.json == {"response_type": "ephemeral", "text": "Working on it…"}
    [ack] = slack.ephemerals
    assert (ack.channel, ack.user, ack.text, ack.source) == (
        GENERAL,
        ALICE,
        "Working on it…",
        "ack",
    )
    assert slack.messages_in(GENERAL) == []


async def test_in_channel_ack_is_recorded_as_a_message(slack: SlackStandIn, bot: FakeBot) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hello*"}}]
    bot.answer = answer_json({"response_type": "in_channel", "text": "hello", "blocks": blocks})
    await slack.send_command(ALICE, "x")
    [message] = slack.messages_in(GENERAL)
    assert (message.text, message.blocks, message.source) == ("hello", blocks, "ack")
    assert slack.ephemerals == []


async def test_plain_text_ack_is_ephemeral_and_empty_ack_records_nothing(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    bot.answer = lambda received: PlainTextResponse("plain words")
    await slack.send_command(ALICE, "x")
    bot.answer = lambda received: Response(status_code=200)
    await slack.send_command(ALICE, "y")
    assert [(e.text, e.source) for e in slack.ephemerals] == [("plain words", "ack")]


async def test_ack_later_than_the_deadline_is_ignored_like_slack_does(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    slack.ack_deadline = 0.0
    bot.answer = answer_json({"text": "too late"})
    reply = await slack.send_command(ALICE, "x")
    assert reply.status == 200 and slack.ephemerals == []
    assert "Slack gives up" in slack.problems[0]


async def test_block_action_on_a_message_has_the_fixture_shape(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient, fixture_json: Load
) -> None:
    posted = await client.chat_postMessage(channel=ALICE, text="Approve?", blocks=[APPROVE])
    [message] = slack.messages_in(posted["channel"])
    await slack.send_block_action(ALICE, action_id="approval_approve", message=message)
    [received] = bot.received
    assert received.valid and list(received.form) == ["payload"]
    payload = received.payload
    expected = fixture_json("block_actions.incident_approve.synthetic.json")
    assert set(payload) == set(expected)
    assert payload["container"] == {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": "D0ALICE000",
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": "D0ALICE000", "name": "directmessage"}
    assert set(payload["message"]) >= set(expected["message"])
    assert payload["message"]["blocks"] == [APPROVE] and payload["message"]["ts"] == message.ts
    [action] = payload["actions"]
    assert set(action) == set(expected["actions"][0])
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        "approval_approve",
        "approval:abc",
        "abc",
        "button",
    )
    assert action["text"]["text"] == "Approve"
    assert payload["user"]["id"] == ALICE
    assert payload["response_url"].startswith(slack.url + "/response/")
    assert payload["trigger_id"] in slack.triggers


async def test_block_action_on_an_ephemeral_finds_the_latest_ephemeral_with_that_button(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> None:
    await client.chat_postEphemeral(channel=GENERAL, user=BOB, text="Approve?", blocks=[APPROVE])
    [ephemeral] = slack.ephemerals
    await slack.send_block_action(BOB, action_id="approval_approve", channel_id=GENERAL)
    payload = bot.received[0].payload
    assert payload["container"]["is_ephemeral"] is True
    assert payload["container"]["message_ts"] == ephemeral.ts
    assert "message" not in payload
    assert payload["actions"][0]["block_id"] == "approval:abc"


async def test_block_action_retry_repeats_the_payload(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel=GENERAL, text="Approve?", blocks=[APPROVE])
    [message] = slack.messages_in(GENERAL)
    await slack.send_block_action(ALICE, action_id="approval_approve", message=message)
    await slack.send_block_action(ALICE, action_id="approval_approve", message=message, retry_num=2)
    first, retry = bot.received
    assert retry.payload == first.payload and retry.headers["x-slack-retry-num"] == "2"


async def test_event_is_a_json_envelope_like_the_fixture_and_retries_keep_the_event_id(
    slack: SlackStandIn, bot: FakeBot, fixture_json: Load
) -> None:
    event = slack.app_home_opened(ALICE)
    await slack.send_event(event)
    await slack.send_event(event, retry_num=1)
    await slack.send_event(slack.app_home_opened(ALICE))
    first, retry, other = bot.received
    assert first.valid and first.headers["content-type"] == "application/json"
    envelope = first.json
    assert set(envelope) == set(fixture_json("event_app_home_opened.docs.json"))
    assert envelope["type"] == "event_callback" and envelope["event"]["user"] == ALICE
    assert envelope["event"]["channel"] == "D0ALICE000"
    assert retry.json["event_id"] == envelope["event_id"]
    assert retry.headers["x-slack-retry-num"] == "1"
    assert other.json["event_id"] != envelope["event_id"]


async def test_block_suggestion_returns_the_bots_options(slack: SlackStandIn, bot: FakeBot) -> None:
    options = [{"text": {"type": "plain_text", "text": "Software"}, "value": "software"}]
    bot.answer = answer_json({"options": options})
    reply = await slack.send_options(ALICE, action_id="category", block_id="cat", value="soft")
    assert reply.json == {"options": options}
    payload = bot.received[0].payload
    assert (payload["type"], payload["value"], payload["action_id"]) == (
        "block_suggestion",
        "soft",
        "category",
    )


async def test_requests_need_a_bot_url() -> None:
    with pytest.raises(RuntimeError, match="bot_url"):
        await SlackStandIn().send_event({"type": "app_mention"})


def test_interaction_form_is_url_encoded_json_that_round_trips() -> None:
    body = interaction_form({"type": "block_actions", "text": "a&b=c"})
    assert body.startswith("payload=%7B%22type%22")
    assert json.loads(dict(parse_qsl(body))["payload"])["text"] == "a&b=c"
