"""A plain Bolt AsyncApp (not our bot) works against the stand-in end to end: the stand-in's requests
pass Bolt's signature check, and Bolt's ack / respond / client calls land where Slack would put them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.server import serve
from sandbox.slack import SlackStandIn, run_slack
from sandbox.slack.records import ALICE, GENERAL

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


def bolt_app(slack: SlackStandIn) -> Starlette:
    app = AsyncApp(
        signing_secret=slack.signing_secret,
        client=AsyncWebClient(token=slack.bot_token, base_url=slack.url + "/api/"),
    )

    @app.command("/incident")
    async def incident(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        if body["text"] == "new":
            await ack()
            await client.views_open(trigger_id=body["trigger_id"], view=MODAL)
            return
        await ack(text="On it")
        await respond(text="Posted", response_type="ephemeral")
        await client.chat_postMessage(channel=body["channel_id"], text=f"card: {body['text']}")

    @app.view("new")
    async def submitted(ack: AsyncAck, view: dict[str, Any]) -> None:
        text = view["state"]["values"]["summary"]["text"]["value"]
        if not text:
            await ack(response_action="errors", errors={"summary": "Say what is wrong"})
            return
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


@pytest.fixture
async def slack_with_bolt() -> AsyncIterator[SlackStandIn]:
    async with run_slack() as slack, serve(bolt_app(slack)) as server:
        slack.bot_url = server.url
        yield slack


async def test_bolt_command_ack_respond_and_post(slack_with_bolt: SlackStandIn) -> None:
    slack = slack_with_bolt
    reply = await slack.send_command(ALICE, "printer on fire")
    assert reply.status == 200
    card = await slack.wait_for(lambda: slack.messages_in(GENERAL))
    assert card[0].text == "card: printer on fire"
    await slack.wait_for(lambda: len(slack.ephemerals) == 2)
    # Bolt answers the HTTP request while the listener runs on, so the order may vary.
    assert {(e.text, e.source) for e in slack.ephemerals} == {
        ("On it", "ack"),
        ("Posted", "response_url"),
    }
    assert [c.method for c in slack.calls] == ["auth.test", "chat.postMessage"]
    assert slack.problems == []


async def test_bolt_modal_open_submit_with_errors_then_close(slack_with_bolt: SlackStandIn) -> None:
    slack = slack_with_bolt
    await slack.send_command(ALICE, "new")
    view = await slack.wait_for(lambda: slack.current_modal(ALICE))
    empty = {"summary": {"text": {"type": "plain_text_input", "value": ""}}}
    await slack.send_view_submission(ALICE, view.id, empty)
    assert view.errors == {"summary": "Say what is wrong"} and not view.closed
    filled = {"summary": {"text": {"type": "plain_text_input", "value": "printer"}}}
    await slack.send_view_submission(ALICE, view.id, filled)
    assert view.closed and slack.problems == []


async def test_bolt_rejects_a_tampered_request(slack_with_bolt: SlackStandIn) -> None:
    reply = await slack_with_bolt.send_command(ALICE, "printer on fire", tamper=True)
    assert reply.status == 401 and reply.json == {"error": "invalid request"}
    assert slack_with_bolt.messages == {}
