"""The bot in Socket Mode, as `incident-bot socket` runs it, against the Slack stand-in's WebSocket.

Slack's requests travel as envelopes over the link the bot opened with apps.connections.open; the
bot acks them over the same link. Links get refreshed, dropped, and acks get lost: the bot must
reconnect and act on every envelope exactly once.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from sandbox.slack.socket_mode import Delivery
from sandbox.stack import APP_TOKEN, Stack, run_stack
from tests.e2e import test_app_home, test_card_buttons, test_incident_commands, test_quick_create
from tests.support import eventually

ALICE, BOB = "U0ALICE000", "U0BOB00000"
GENERAL = "C0GENERAL0"
PING_INTERVAL = 2.0  # how soon the bot notices a dead link (slack_sdk says 10 s; aiohttp wants a pong within half)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The e2e stack with the bot in Socket Mode; afterwards, nothing real Slack would refuse."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with run_stack(
        database_url=database_url,
        servicenow_poll_seconds=0,
        socket_mode=True,
        ping_interval=PING_INTERVAL,
    ) as running:
        await running.slack.socket.wait_connected()
        yield running
        assert running.slack.problems == []


def cards(stack: Stack) -> list[str]:
    return [m.text for m in stack.slack.messages_in(GENERAL) if m.source == "api"]


def created(stack: Stack, text: str) -> list[dict[str, str]]:
    return stack.emulator.query("incident", f"short_description={text}")


def attempts(stack: Stack, trigger_id: str) -> list[Delivery]:
    return [d for d in stack.slack.socket.deliveries if d.payload.get("trigger_id") == trigger_id]


# The same scenarios the HTTP suite runs, unchanged: the stand-in's send_* go over the link.
SAME_OVER_SOCKET_MODE: list[Callable[[Stack], Awaitable[None]]] = [
    test_quick_create.test_text_opens_an_incident_for_the_caller_and_posts_a_live_card,
    test_quick_create.test_help_answers_with_usage_only_to_the_user,
    test_card_buttons.test_assign_to_me_assigns_the_clicker_and_rewrites_every_copy,
    test_card_buttons.test_a_slack_retry_of_a_command_opens_one_incident,
    test_card_buttons.test_comment_button_opens_a_modal_and_adds_a_public_comment,
    test_incident_commands.test_create_modal_shows_field_errors_then_opens_the_incident,
    test_app_home.test_home_shows_the_open_incidents_i_opened,
]


@pytest.mark.parametrize("scenario", SAME_OVER_SOCKET_MODE, ids=lambda s: s.__name__[5:])
async def test_http_scenarios_pass_unchanged_over_socket_mode(
    stack: Stack, scenario: Callable[[Stack], Awaitable[None]]
) -> None:
    await scenario(stack)
    kinds = {d.type for d in stack.slack.socket.deliveries}
    assert kinds and kinds <= {"slash_commands", "interactive", "events_api"}
    assert all(d.outcome == "acked" for d in stack.slack.socket.deliveries)


async def test_the_bot_connects_with_the_app_token_and_serves_no_slack_route_over_http(
    stack: Stack,
) -> None:
    [opened] = stack.slack.calls_to("apps.connections.open")
    assert opened.token == APP_TOKEN and opened.error is None
    async with httpx.AsyncClient(base_url=stack.bot_url) as http:
        assert (await http.get("/healthz")).json()["ok"] is True
        assert (await http.post("/slack/events", content=b"{}")).status_code == 404

    reply = await stack.slack.send_command(ALICE, "printer on fire")
    [delivery] = stack.slack.socket.deliveries
    assert (delivery.type, delivery.retry_attempt, delivery.outcome) == (
        "slash_commands",
        0,
        "acked",
    )
    assert reply.status == 200 and reply.elapsed < 1.0
    await stack.slack.wait_for(lambda: cards(stack))
    assert len(created(stack, "printer on fire")) == 1


@pytest.mark.parametrize(
    ("reason", "close_after"),
    [("refresh_requested", 0.0), ("warning", 10.0)],
    ids=["refresh_requested-then-closed", "warning-then-left-by-the-bot"],
)
async def test_the_bot_reconnects_when_slack_asks_and_acts_once_per_envelope(
    stack: Stack, reason: Literal["refresh_requested", "warning"], close_after: float
) -> None:
    await stack.slack.send_command(ALICE, "before the refresh")
    await stack.slack.wait_for(lambda: len(cards(stack)) == 1)

    await stack.slack.socket.disconnect(reason, close_after=close_after)
    await stack.slack.socket.wait_connected(opened=2)
    await stack.slack.send_command(ALICE, "after the refresh")
    await stack.slack.wait_for(lambda: len(cards(stack)) == 2)

    assert len(stack.slack.calls_to("apps.connections.open")) >= 2  # a new URL per connection
    assert (
        len(created(stack, "before the refresh")) == len(created(stack, "after the refresh")) == 1
    )
    assert [d.outcome for d in stack.slack.socket.deliveries] == ["acked", "acked"]


async def test_the_bot_reconnects_after_the_link_drops_without_a_word(stack: Stack) -> None:
    stack.slack.socket.drop()
    await stack.slack.socket.wait_connected(opened=2)
    await stack.slack.send_command(BOB, "INC0000001")
    await stack.slack.wait_for(lambda: cards(stack))
    assert len(stack.slack.calls_to("apps.connections.open")) >= 2
    assert len(cards(stack)) == 1


@pytest.mark.parametrize("how", ["abrupt", "disconnect"])
async def test_an_envelope_whose_ack_is_lost_is_retried_and_acted_on_once(
    stack: Stack, how: Literal["abrupt", "disconnect"]
) -> None:
    stack.slack.socket.lose_acks(1, how=how)
    reply = await stack.slack.send_command(ALICE, "printer on fire")
    assert reply.status == 200

    first, retry = stack.slack.socket.deliveries
    assert (first.outcome, first.retry_attempt, retry.outcome, retry.retry_attempt) == (
        "lost",
        0,
        "acked",
        1,
    )
    assert retry.payload == first.payload and retry.link > first.link
    await stack.slack.send_command(ALICE, "INC0000001")  # a later command…
    await stack.slack.wait_for(lambda: len(cards(stack)) == 2)  # …has run, so the retry has too
    assert len(created(stack, "printer on fire")) == 1
    assert len(attempts(stack, str(first.payload["trigger_id"]))) == 2


async def test_a_click_whose_ack_is_lost_is_retried_and_applied_once(stack: Stack) -> None:
    card = await test_card_buttons.post_card(stack, "INC0000001")
    before = int(test_card_buttons.incident(stack, "INC0000001")["sys_mod_count"])
    stack.slack.socket.lose_acks(1)
    await test_card_buttons.click(stack, BOB, card, "incident_assign_me")
    await stack.slack.wait_for(lambda: card.edited)

    clicks = [d for d in stack.slack.socket.deliveries if d.type == "interactive"]
    assert [(d.outcome, d.retry_attempt) for d in clicks] == [("lost", 0), ("acked", 1)]
    row = test_card_buttons.incident(stack, "INC0000001")
    assert int(row["sys_mod_count"]) == before + 1
    assert len(stack.emulator.journal(row["sys_id"], "work_notes")) == 1


async def test_python_m_sandbox_socket_runs_the_page_with_the_bot_in_socket_mode(
    tmp_path: Path,
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--socket",
        "--port",
        "0",
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        # As from a terminal: Ctrl-C (SIGINT) stops it. An xdist worker ignores SIGINT, and a
        # child started from it would inherit that, so Python would never see the Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    # Its log goes to stderr: read it all along (a full pipe would stall the sandbox), and show it
    # when the sandbox doesn't come up.
    errors = asyncio.ensure_future(process.stderr.read())
    try:
        banner = ""
        while "Try it" not in banner:
            try:
                line = await asyncio.wait_for(process.stdout.readline(), 60)
            except TimeoutError:
                process.kill()
                raise AssertionError(
                    f"no banner within 60 s; printed so far:\n{banner}\nstderr:\n"
                    + (await errors).decode()[-3000:]
                ) from None
            assert line, "python -m sandbox --socket stopped before it was ready"
            banner += line.decode()
        urls = dict(re.findall(r"^  (web page|Slack stand-in) +(http://\S+)", banner, re.M))
        assert "Socket Mode, over ws://" in banner
        async with httpx.AsyncClient(timeout=10) as http:
            typed = await http.post(
                f"{urls['web page']}/api/command",
                json={"user": "alice", "text": "/incident printer on fire"},
            )
            assert typed.json()["status"] == 200

            async def card() -> list[dict[str, Any]]:
                response = await http.get(
                    f"{urls['Slack stand-in']}/sandbox/messages", params={"channel": GENERAL}
                )
                return [m for m in response.json() if "printer on fire" in m["text"]]

            assert len(await eventually(card, timeout=10)) == 1
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 30)
        await errors
