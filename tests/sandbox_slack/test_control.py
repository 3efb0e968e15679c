"""The /sandbox control endpoints and wait_for."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.responses import JSONResponse

from sandbox.slack import SlackStandIn, run_slack
from sandbox.slack.records import ALICE, GENERAL, INCIDENTS

if TYPE_CHECKING:
    from tests.sandbox_slack.conftest import FakeBot


async def test_command_endpoint_sends_a_signed_command_and_reports_the_ack(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    bot.answer = lambda received: JSONResponse({"text": "Working on it"})
    async with httpx.AsyncClient(base_url=slack.url) as http:
        response = await http.post(
            "/sandbox/command",
            json={"user": "alice", "text": "printer on fire", "channel": "general"},
        )
        ephemerals = (await http.get("/sandbox/ephemerals", params={"user": ALICE})).json()
    answer = response.json()
    assert (answer["status"], answer["user"], answer["channel"]) == (200, ALICE, GENERAL)
    assert answer["body"] == '{"text":"Working on it"}'
    [received] = bot.received
    assert received.valid and received.form["text"] == "printer on fire"
    assert [(e["text"], e["source"]) for e in ephemerals] == [("Working on it", "ack")]


async def test_read_endpoints_return_messages_users_and_calls(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel=GENERAL, text="card")
    async with httpx.AsyncClient(base_url=slack.url) as http:
        by_name = (await http.get("/sandbox/messages", params={"channel": "general"})).json()
        by_id = (await http.get("/sandbox/messages", params={"channel": GENERAL})).json()
        users = (await http.get("/sandbox/users")).json()
        calls = (await http.get("/sandbox/calls")).json()
        channels = (await http.get("/sandbox/channels")).json()
    assert by_name == by_id and [m["text"] for m in by_id] == ["card"]
    assert by_id[0]["edited"] == 0 and by_id[0]["history"] == []
    alice = next(u for u in users if u["name"] == "alice")
    assert (alice["id"], alice["email"], alice["dm_channel"]) == (
        ALICE,
        "alice@example.com",
        "D0ALICE000",
    )
    assert {u["name"] for u in users} >= {"alice", "bob", "carol", "dave", "erin", "incident-bot"}
    assert [c["method"] for c in calls] == ["chat.postMessage"]
    assert calls[0]["args"]["channel"] == GENERAL
    assert {c["name"] for c in channels} >= {"general", "incidents"}


async def test_command_endpoint_explains_bad_requests() -> None:
    async with run_slack() as slack, httpx.AsyncClient(base_url=slack.url) as http:
        no_bot = await http.post("/sandbox/command", json={"user": "alice", "text": "x"})
        unknown = await http.post("/sandbox/command", json={"user": "mallory", "text": "x"})
        slack.bot_url = "http://127.0.0.1:9"  # nothing listens on the discard port
        down = await http.post("/sandbox/command", json={"user": "alice", "text": "x"})
    assert no_bot.status_code == 409 and "no bot" in no_bot.json()["error"]
    assert unknown.status_code == 400 and "mallory" in unknown.json()["error"]
    assert down.status_code == 502 and "did not answer" in down.json()["error"]


async def test_wait_for_returns_once_something_is_recorded(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    async def post_later() -> None:
        await asyncio.sleep(0.05)
        await client.chat_postMessage(channel=GENERAL, text="arrived")

    task = asyncio.create_task(post_later())
    messages = await slack.wait_for(lambda: slack.messages_in(GENERAL), timeout=5)
    await task
    assert [m.text for m in messages] == ["arrived"]


async def test_wait_for_timeout_lists_the_recent_calls(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel=GENERAL, text="something else")
    with pytest.raises(SlackApiError):
        await client.users_info(user="U0NOBODY00")
    with pytest.raises(TimeoutError) as caught:
        await slack.wait_for(lambda: slack.messages_in(INCIDENTS), timeout=0.05)
    text = str(caught.value)
    assert "condition not met within 0.05s" in text
    assert "chat.postMessage(channel=C0GENERAL0, text=something else)" in text
    assert "users.info(user=U0NOBODY00) -> user_not_found" in text
