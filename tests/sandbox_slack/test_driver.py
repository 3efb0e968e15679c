"""`python -m sandbox.driver`: Block Kit rendered as text, and a command round trip."""

from __future__ import annotations

import asyncio
import io
import socket
from typing import TYPE_CHECKING, Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from starlette.responses import JSONResponse, Response

from sandbox import driver
from sandbox.slack import SlackStandIn

if TYPE_CHECKING:
    from tests.sandbox_slack.conftest import FakeBot, Received

URL = "https://dev12345.service-now.com/nav_to.do?uri=incident.do?sys_id=0123abcd"
CARD: list[dict[str, Any]] = [
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": f"*<{URL}|INC0010001>*  Printer on fire &amp; smoking"},
        "fields": [
            {"type": "mrkdwn", "text": "*State*\n:new: New"},
            {"type": "mrkdwn", "text": "*Priority*\n5 - Planning"},
            {"type": "mrkdwn", "text": "*Caller*\nAlice Chen"},
            {"type": "mrkdwn", "text": "*Assigned to*\n_Unassigned_"},
        ],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "Updated 2025-01-02 10:00 UTC"}]},
    {"type": "divider"},
    {
        "type": "actions",
        "block_id": "incident:0123abcd",
        "elements": [
            {
                "type": "button",
                "action_id": "incident_assign_me",
                "text": {"type": "plain_text", "text": "Assign to me"},
                "value": "0123abcd",
            },
            {
                "type": "static_select",
                "action_id": "incident_state",
                "placeholder": {"type": "plain_text", "text": "Change state"},
                "options": [{"text": {"type": "plain_text", "text": "Resolved"}, "value": "6"}],
            },
            {
                "type": "button",
                "action_id": "incident_open",
                "text": {"type": "plain_text", "text": "Open in ServiceNow"},
                "url": URL,
            },
        ],
    },
]


def test_render_turns_a_card_into_readable_lines() -> None:
    assert driver.render_message("INC0010001: Printer on fire (New)", CARD).splitlines() == [
        "*INC0010001*  Printer on fire & smoking",
        "  State: :new: New",
        "  Priority: 5 - Planning",
        "  Caller: Alice Chen",
        "  Assigned to: _Unassigned_",
        "Updated 2025-01-02 10:00 UTC",
        "-" * 40,
        "[button: Assign to me]  [static select: Change state]  [button: Open in ServiceNow]",
    ]


def test_render_without_blocks_shows_the_text_with_mentions() -> None:
    text = "Assigned to <@U0BOB00000|bob> in <#C0INCIDENT|incidents>, see <https://x.example>"
    assert driver.render_message(text) == "Assigned to @bob in #incidents, see https://x.example"


def test_split_command_defaults_to_incident() -> None:
    assert driver.split_command(["/incident", "printer on fire"]) == (
        "/incident",
        "printer on fire",
    )
    assert driver.split_command(["help"]) == ("/incident", "help")


async def test_driver_prints_the_ack_and_the_card_the_bot_posts(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> None:
    tasks: list[asyncio.Task[None]] = []

    async def post_card(channel: str) -> None:
        posted = await client.chat_postMessage(channel=channel, text="INC0010001", blocks=CARD)
        await client.chat_update(channel=channel, ts=posted["ts"], text="INC0010001", blocks=CARD)

    def answer(received: Received) -> Response:
        tasks.append(asyncio.create_task(post_card(received.form["channel_id"])))
        return JSONResponse({"text": "Opening an incident…"})

    bot.answer = answer
    out = io.StringIO()
    argv = ["--slack", slack.url, "--user", "alice", "--channel", "incidents", "--settle", "1.0"]
    status = await driver.run([*argv, "/incident printer on fire"], out=out)
    await asyncio.gather(*tasks)
    printed = out.getvalue()
    assert status == 0, printed
    assert bot.received[0].form["text"] == "printer on fire"
    assert "#incidents · only visible to alice (reply)\nOpening an incident…" in printed
    assert "#incidents · incident-bot · edited 1x" in printed
    assert "[button: Assign to me]" in printed
    assert printed.index("Opening an incident") < printed.index("INC0010001")


async def test_driver_fails_in_one_line_when_nothing_answers(
    slack: SlackStandIn, bot: FakeBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.answer = lambda received: Response(status_code=200)
    status = await driver.run(["--slack", slack.url, "--wait", "0.3", "/incident", "hello"])
    err = capsys.readouterr().err
    assert status == 1
    assert err == "error: the bot did not answer /incident within 0.3s\n"


async def test_driver_fails_in_one_line_when_the_sandbox_is_not_running(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    status = await driver.run(["--slack", f"http://127.0.0.1:{port}", "/incident", "x"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("error: the sandbox Slack is not running at http://127.0.0.1:")
    assert err.count("\n") == 1


async def test_driver_rejects_an_unknown_user(
    slack: SlackStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    status = await driver.run(["--slack", slack.url, "--user", "mallory", "/incident", "x"])
    assert status == 1
    assert "no Slack user 'mallory'" in capsys.readouterr().err
