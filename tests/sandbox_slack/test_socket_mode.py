"""The stand-in's Socket Mode, seen from a bare WebSocket client playing the app: the token rules of
apps.connections.open, hello, envelopes, acks (late, lost, missing) and disconnects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import SlackStandIn, run_slack
from sandbox.slack.socket_mode import APP_TOKEN, NoAck, NoConnection
from tests.support import eventually

T = TypeVar("T")

ALICE = "U0ALICE000"
GENERAL = "C0GENERAL0"
ENVELOPE_KEYS = {
    "envelope_id",
    "type",
    "payload",
    "accepts_response_payload",
    "retry_attempt",
    "retry_reason",
}
MODAL = {
    "type": "modal",
    "callback_id": "new",
    "title": {"type": "plain_text", "text": "New incident"},
    "submit": {"type": "plain_text", "text": "Open"},
    "blocks": [
        {
            "type": "input",
            "block_id": "summary",
            "label": {"type": "plain_text", "text": "What is wrong?"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        }
    ],
}
BUTTON = {
    "type": "actions",
    "block_id": "card",
    "elements": [
        {
            "type": "button",
            "action_id": "go",
            "text": {"type": "plain_text", "text": "Go"},
            "value": "1",
        }
    ],
}
Answer = Callable[[dict[str, Any]], dict[str, Any] | None]


@dataclass
class App:
    """The app's end of a link: every message it got, and how it acks envelopes."""

    ws: aiohttp.ClientWebSocketResponse
    received: list[dict[str, Any]] = field(default_factory=list)
    answer: Answer | None = None  # None: never ack; else the ack's payload (None: no payload)
    ignore: int = 0  # envelopes to leave unacked before answering

    async def run(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            self.received.append(data)
            if "envelope_id" not in data or self.answer is None:
                continue
            if self.ignore:
                self.ignore -= 1
                continue
            payload = self.answer(data)
            ack: dict[str, Any] = {"envelope_id": data["envelope_id"]}
            if payload is not None:
                ack["payload"] = payload
            await self.ws.send_str(json.dumps(ack))

    def envelopes(self) -> list[dict[str, Any]]:
        return [m for m in self.received if "envelope_id" in m]


async def until(predicate: Callable[[], T]) -> T:
    """Wait for something the app's side of the link sees (the stand-in cannot announce it)."""

    async def check() -> T:
        return predicate()

    return await eventually(check)


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with run_slack(SlackStandIn(socket_mode=True)) as standin:
        yield standin


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def web(slack: SlackStandIn, token: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(token=token or slack.bot_token, base_url=slack.url + "/api/")


async def new_url(slack: SlackStandIn) -> str:
    response = await web(slack).apps_connections_open(app_token=slack.socket.app_token)
    url: str = response["url"]
    return url


@pytest.fixture
async def connect(
    slack: SlackStandIn, session: aiohttp.ClientSession
) -> AsyncIterator[Callable[..., Any]]:
    """Open a link as an app would (apps.connections.open, then the URL) and run it."""
    tasks: list[asyncio.Task[None]] = []

    async def open_link(answer: Answer | None = lambda envelope: None, ignore: int = 0) -> App:
        app = App(await session.ws_connect(await new_url(slack)), answer=answer, ignore=ignore)
        tasks.append(asyncio.create_task(app.run()))
        await until(lambda: app.received)  # hello
        return app

    yield open_link
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_apps_connections_open_takes_the_app_level_token_only(slack: SlackStandIn) -> None:
    url = await new_url(slack)
    assert url.startswith(f"{slack.socket.url}?ticket=") and url.startswith("ws://127.0.0.1:")
    [call] = slack.calls_to("apps.connections.open")
    assert call.token == APP_TOKEN

    errors = {}
    for name, token in {
        "bot token": slack.bot_token,
        "unknown app token": "xapp-1-A0SANDBOX0-1-nope",
    }.items():
        with pytest.raises(SlackApiError) as refused:
            await web(slack).apps_connections_open(app_token=token)
        errors[name] = refused.value.response["error"]
    with pytest.raises(SlackApiError) as wrong_kind:
        await web(slack, token=APP_TOKEN).chat_postMessage(channel=GENERAL, text="hi")
    async with httpx.AsyncClient() as http:
        anonymous = (await http.post(f"{slack.url}/api/apps.connections.open")).json()

    assert errors == {"bot token": "not_allowed_token_type", "unknown app token": "invalid_auth"}
    assert wrong_kind.value.response["error"] == "not_allowed_token_type"
    assert anonymous == {"ok": False, "error": "not_authed"}


async def test_a_link_says_hello_first_and_a_url_opens_one_link_only(
    slack: SlackStandIn, session: aiohttp.ClientSession
) -> None:
    url = await new_url(slack)
    async with session.ws_connect(url) as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello" and hello["num_connections"] == 1
        assert hello["connection_info"]["app_id"] == "A0SANDBOX0"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)
        assert refused.value.status == 403
        assert slack.socket.connected and slack.socket.opened == 1


async def test_every_kind_of_request_is_an_envelope_and_the_ack_payload_is_the_answer(
    slack: SlackStandIn, connect: Callable[..., Any], fixture_json: Callable[[str], Any]
) -> None:
    def answer(envelope: dict[str, Any]) -> dict[str, Any] | None:
        payload = envelope["payload"]
        if envelope["type"] == "slash_commands":
            return {"text": f"On it: {payload['text']}", "response_type": "ephemeral"}
        if payload.get("type") == "view_submission":
            return {"response_action": "errors", "errors": {"summary": "Say more"}}
        if payload.get("type") == "block_suggestion":
            return {"options": [{"text": {"type": "plain_text", "text": "Net"}, "value": "n"}]}
        return None

    app = await connect(answer)
    command = await slack.send_command(ALICE, "printer on fire")
    message = slack.post_message(GENERAL, "card", [BUTTON])
    click = await slack.send_block_action(ALICE, action_id="go", value="1", message=message)
    view = slack.add_view(ALICE, MODAL)
    empty = {"summary": {"text": {"type": "plain_text_input", "value": ""}}}
    submission = await slack.send_view_submission(ALICE, view.id, empty)
    options = await slack.send_options(ALICE, action_id="g", block_id="b", value="n")
    event = await slack.send_event(slack.app_home_opened(ALICE))

    envelopes = app.envelopes()
    assert all(set(e) == ENVELOPE_KEYS for e in envelopes)
    assert [
        (e["type"], e["payload"].get("type"), e["accepts_response_payload"]) for e in envelopes
    ] == [
        ("slash_commands", None, True),
        ("interactive", "block_actions", False),
        ("interactive", "view_submission", True),
        ("interactive", "block_suggestion", True),
        ("events_api", "event_callback", False),
    ]
    assert all((e["retry_attempt"], e["retry_reason"]) == (0, "") for e in envelopes)
    assert len({e["envelope_id"] for e in envelopes}) == 5
    assert list(envelopes[0]["payload"]) == list(
        fixture_json("slash_command.incident.synthetic.json")
    )
    assert envelopes[4]["payload"]["event"]["type"] == "app_home_opened"

    assert command.json == {"text": "On it: printer on fire", "response_type": "ephemeral"}
    assert [(e.text, e.source) for e in slack.ephemerals] == [("On it: printer on fire", "ack")]
    assert (click.status, click.body, event.status) == (200, "", 200)
    assert submission.json is not None and view.errors == {"summary": "Say more"}
    assert not view.closed
    assert options.json is not None and options.json["options"][0]["value"] == "n"
    assert all(d.outcome == "acked" for d in slack.socket.deliveries)
    assert slack.problems == []


async def test_a_late_ack_is_a_problem_and_slack_retries_the_envelope(
    slack: SlackStandIn, connect: Callable[..., Any]
) -> None:
    slack.ack_deadline = 0.2
    app = await connect(lambda envelope: {"text": "late, then on time"}, ignore=1)
    reply = await slack.send_command(ALICE, "printer on fire")

    first, retry = app.envelopes()
    assert retry["payload"] == first["payload"]
    assert retry["envelope_id"] != first["envelope_id"]
    assert (retry["retry_attempt"], retry["retry_reason"]) == (1, "timeout")
    assert reply.json == {"text": "late, then on time"}
    assert [d.outcome for d in slack.socket.deliveries] == ["late", "acked"]
    [problem] = slack.problems
    assert problem.startswith("/incident printer on fire: no ack within 0.2s over Socket Mode")

    await app.ws.send_str(json.dumps({"envelope_id": first["envelope_id"]}))  # finally
    await app.ws.send_str(json.dumps({"envelope_id": "never-sent"}))
    await slack.wait_for(lambda: len(slack.problems) == 2)
    assert slack.problems[1] == "Socket Mode: ack for an unknown envelope never-sent"


async def test_an_envelope_never_acked_fails_like_a_bot_that_never_answers(
    slack: SlackStandIn, connect: Callable[..., Any]
) -> None:
    slack.ack_deadline, slack.socket.max_retries = 0.1, 1
    app = await connect(answer=None)
    with pytest.raises(httpx.TimeoutException) as failed:
        await slack.send_event(slack.app_home_opened(ALICE))
    assert isinstance(failed.value, NoAck)
    assert [e["retry_attempt"] for e in app.envelopes()] == [0, 1]
    assert len(slack.problems) == 3  # two late acks, then Slack gives up
    assert (
        slack.problems[-1] == "event app_home_opened: never acked over Socket Mode; Slack gives up"
    )
    slack.problems.clear()


async def test_disconnect_asks_the_app_to_reconnect_then_closes_the_link(
    slack: SlackStandIn, connect: Callable[..., Any]
) -> None:
    app = await connect()
    await slack.socket.disconnect("warning")
    await until(lambda: app.ws.closed)
    assert app.received[-1] == {
        "type": "disconnect",
        "reason": "warning",
        "debug_info": {"host": "applink-sandbox.slack.test"},
    }
    assert app.ws.close_code == 1000
    await slack.wait_for(lambda: not slack.socket.links)


async def test_an_envelope_lost_with_a_dropped_link_is_retried_on_the_next_one(
    slack: SlackStandIn, connect: Callable[..., Any]
) -> None:
    first = await connect(answer=None)
    sending = asyncio.create_task(slack.send_command(ALICE, "printer on fire"))
    await until(lambda: first.envelopes())
    slack.socket.drop()
    await until(lambda: first.ws.closed)
    assert first.ws.close_code == 1006  # no close frame: the connection just went

    second = await connect(lambda envelope: {"text": "got it"})
    reply = await sending
    [retry] = second.envelopes()
    assert retry["payload"] == first.envelopes()[0]["payload"]
    assert retry["retry_attempt"] == 1
    assert reply.json == {"text": "got it"}
    assert [(d.link, d.outcome) for d in slack.socket.deliveries] == [(1, "lost"), (2, "acked")]
    assert slack.problems == []  # the drop was Slack's doing, not the app's


async def test_without_a_link_a_delivery_waits_for_one_then_fails(slack: SlackStandIn) -> None:
    slack.socket.connect_timeout = 0.2
    with pytest.raises(httpx.ConnectError) as failed:
        await slack.send_command(ALICE, "anyone there?")
    assert isinstance(failed.value, NoConnection)
    assert slack.socket.deliveries == []
