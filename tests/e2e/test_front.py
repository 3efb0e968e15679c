"""`incident-bot serve` with SERVE_WORKERS=1: the front acks `/incident` as the app would and hands
the request to the worker, which does the work once; everything else is the worker's answer.

Most tests run the front in-process on loopback in front of a stack's bot as its worker (over
TCP here, a unix socket in `serve`); the last ones run `incident-bot serve` as a real process,
whose worker is killed and must come back with nothing lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import manifest
from bot.cli import WORKER_NICENESS
from bot.front import ACK_SECONDS, HANDOFF, Handoff, create_front, grammar, worker_session
from sandbox.server import serve
from sandbox.slack.records import ALICE, BOB, GENERAL
from sandbox.stack import Stack, run_stack
from tests.e2e.test_card_buttons import actions
from tests.e2e.test_metrics import scrape, total
from tests.e2e.test_startup import BAD, StandIns, free_port, run_process, standins

__all__ = ["standins"]  # the fixture, shared with test_startup

SECRET = "the-fronts-secret"


@dataclass
class Fronted:
    stack: Stack
    front_url: str

    def through_front(self) -> None:
        """Slack sends its requests to the front (as the app's manifest says, installed again)."""
        self.stack.slack.install_app(
            manifest.build(self.front_url, self.stack.emulator.instance_url)
        )

    def straight_to_the_app(self) -> None:
        self.stack.slack.install_app(
            manifest.build(self.stack.bot_url, self.stack.emulator.instance_url)
        )


@asynccontextmanager
async def front_for(stack: Stack, worker_url: str) -> AsyncIterator[str]:
    async with worker_session(url=worker_url) as client:
        handoff = Handoff(client, SECRET, max_backoff=0.05)
        async with (
            handoff.running(),
            serve(create_front(stack.settings, client, handoff)) as front,
        ):
            yield front.url
            assert await handoff.drain(timeout=10)


@pytest.fixture
async def fronted(tmp_path: Path) -> AsyncIterator[Fronted]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with (
        run_stack(
            database_url=database_url, servicenow_poll_seconds=0, handoff_secret=SECRET
        ) as stack,
        front_for(stack, stack.bot_url) as front_url,
    ):
        fronted = Fronted(stack, front_url)
        fronted.through_front()
        yield fronted
        assert stack.slack.problems == []


ACK_TABLE = [
    "help",
    "",
    "frobnicate the printer",
    "show INC12",
    "assign INC0000001",
    "printer on fire",
    "show INC0000001",
    "INC0000001",
    "new",
    "list",
]


async def test_the_fronts_ack_is_the_apps_ack(fronted: Fronted) -> None:
    slack = fronted.stack.slack
    forms: list[dict[str, Any]] = [{"text": text} for text in ACK_TABLE]
    forms += [{"text": "printer on fire", "sign": False}, {"text": "help", "tamper": True}]
    for form in forms:
        fronted.through_front()
        front = await slack.send_command(ALICE, **form)
        fronted.straight_to_the_app()
        app = await slack.send_command(ALICE, **form)
        assert (front.status, front.body, front.headers.get("content-type")) == (
            app.status,
            app.body,
            app.headers.get("content-type"),
        ), form
    # The grammar is the app's: the same subcommands in the same order.
    installed = fronted.stack.bot.services.commands
    assert grammar(fronted.stack.settings).usage().text == installed.usage().text
    assert [(s.words, s.role, s.number) for s in grammar(fronted.stack.settings).subcommands] == [
        (s.words, s.role, s.number) for s in installed.subcommands
    ]


async def test_a_command_through_the_front_is_done_once_and_its_buttons_work(
    fronted: Fronted,
) -> None:
    stack = fronted.stack
    reply = await stack.slack.send_command(ALICE, "printer on fire")
    assert reply.status == 200
    [card] = await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    assert "printer on fire" in card.text
    [row] = stack.emulator.query("incident", "short_description=printer on fire")
    controls = actions(card)
    await stack.slack.send_block_action(  # interactivity: proxied, the worker's answer
        BOB,
        action_id="incident_assign_me",
        block_id=controls["block_id"],
        value=controls["incident_assign_me"].get("value"),
        message=card,
    )
    await stack.slack.wait_for(lambda: card.edited)
    [bob] = stack.emulator.query("sys_user", "email=bob@example.com")
    [row] = stack.emulator.query("incident", "short_description=printer on fire")
    assert row["assigned_to"] == bob["sys_id"]
    assert len(stack.slack.messages_in(GENERAL)) == 1  # one card, posted once
    async with httpx.AsyncClient(base_url=fronted.front_url) as http:
        assert (await http.get("/healthz")).json()["ok"] is True  # the worker's answer


async def test_only_the_front_can_say_a_command_was_acked(fronted: Fronted) -> None:
    """The handoff headers from outside are dropped by the front, and a worker that gets them
    without its secret treats the request as any other (its own ack, its own time)."""
    stack = fronted.stack
    async with (
        httpx.AsyncClient(headers={HANDOFF: SECRET, ACK_SECONDS: "1000"}) as knows,
        httpx.AsyncClient(headers={HANDOFF: "a guess", ACK_SECONDS: "1000"}) as guesses,
    ):
        stack.slack.attach_http(knows)  # every request Slack sends carries them
        await stack.slack.send_command(ALICE, "INC0000001")  # through the front
        await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
        stack.slack.attach_http(guesses)
        fronted.straight_to_the_app()
        reply = await stack.slack.send_command(ALICE, "help")
        stack.slack.attach_http(None)
    assert reply.json is not None and "/incident help" in reply.json["text"]  # its own ack
    samples = await scrape(stack.bot_url)
    assert total(samples, "incident_bot_slack_ack_seconds_count", kind="command") == 2
    assert total(samples, "incident_bot_slack_ack_seconds_sum", kind="command") < 10


async def test_an_unsigned_command_is_refused_and_never_handed_over(fronted: Fronted) -> None:
    stack = fronted.stack
    reply = await stack.slack.send_command(ALICE, "printer on fire", sign=False)
    assert reply.status == 401
    await stack.slack.send_command(ALICE, "INC0000001")  # a later command has been done…
    await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    assert stack.emulator.query("incident", "short_description=printer on fire") == []


async def test_the_fronts_health_says_when_the_worker_is_down(fronted: Fronted) -> None:
    async with (
        front_for(fronted.stack, f"http://127.0.0.1:{free_port()}") as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        answer = await http.get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"ok": False, "worker": "not running"}


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()]


async def test_serve_with_a_worker_restarts_it_and_does_a_command_acked_while_it_was_down(
    standins: StandIns, tmp_path: Path
) -> None:
    env = standins.environment(SERVE_WORKERS="1", LOG_LEVEL="WARNING")
    front = await run_process("serve", env, tmp_path)
    url = f"http://127.0.0.1:{env['PORT']}"
    slack = standins.slack
    slack.socket.enabled = False  # Slack POSTs to the front
    slack.bot_url = url
    slack.install_app(manifest.build(url, standins.emulator.instance_url))
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            await wait_until_healthy(http)
            await slack.send_command(ALICE, "first fire")
            await slack.wait_for(lambda: slack.messages_in(GENERAL), timeout=20)
            await outbox_empty(url)  # killed after the card's post was recorded as sent (a
            # worker killed between Slack's answer and that record sends it again, as `serve`)
            [worker] = children(front.pid)
            # Acks first when the cores are contended: the worker runs nicer than the front.
            nicer = os.getpriority(os.PRIO_PROCESS, worker) - os.getpriority(
                os.PRIO_PROCESS, front.pid
            )
            assert nicer == WORKER_NICENESS
            os.kill(worker, signal.SIGKILL)
            reply = await slack.send_command(ALICE, "second fire")  # acked by the front alone
            assert reply.status == 200
            await slack.wait_for(lambda: len(slack.messages_in(GENERAL)) == 2, timeout=60)
            [again] = children(front.pid)
            assert again != worker
            await wait_until_healthy(http)
        for text in ("first fire", "second fire"):
            assert len(standins.emulator.query("incident", f"short_description={text}")) == 1
        assert len(slack.messages_in(GENERAL)) == 2, [m.text for m in slack.messages_in(GENERAL)]
    finally:
        if front.returncode is None:
            front.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(front.communicate(), 60)
    assert front.returncode == 0, err.decode()
    assert str(again) not in os.listdir("/proc")  # the worker stopped with the front
    assert slack.problems == []


async def outbox_empty(url: str) -> None:
    for _ in range(600):
        if total(await scrape(url), "incident_bot_outbox_depth") == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox never emptied")


async def wait_until_healthy(http: httpx.AsyncClient) -> None:
    for _ in range(600):
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("never healthy")


async def test_serve_with_a_worker_that_cannot_start_exits_with_its_one_line(
    standins: StandIns, tmp_path: Path
) -> None:
    overrides, line = BAD["bot token"]
    env = standins.environment(SERVE_WORKERS="1", **overrides)
    process = await run_process("serve", env, tmp_path)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert err.decode().splitlines() == [line]


async def test_a_command_saying_payload_is_acked_and_done_through_the_front(
    fronted: Fronted,
) -> None:
    stack = fronted.stack
    reply = await stack.slack.send_command(ALICE, "payload server down")
    assert reply.status == 200, reply.body
    [card] = await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    [row] = stack.emulator.query("incident", "short_description=payload server down")
    assert row["number"] in card.text
