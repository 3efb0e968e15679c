"""`bot/slack/ack.py`: Bolt answers as soon as the listener calls `ack()` — within a few turns of
the event loop, not at the runner's next 10 ms poll — and keeps Bolt's behaviour otherwise (the
ack's body, a listener that raises before acking, one that never acks)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.slack import ack as prompt_ack

SECRET = "s3cret"


def command(text: str) -> AsyncBoltRequest:
    body = urlencode(
        {
            "command": "/incident",
            "text": text,
            "user_id": "U1",
            "channel_id": "C1",
            "team_id": "T1",
            "trigger_id": "1.2.3",
            "response_url": "http://127.0.0.1:9/hook",
        }
    )
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers: dict[str, str | Sequence[str]] = {
        "content-type": ["application/x-www-form-urlencoded"],
        "x-slack-request-timestamp": [ts],
        "x-slack-signature": [f"v0={digest}"],
    }
    return AsyncBoltRequest(body=body, headers=headers)


def app(finish: asyncio.Event, prompt: bool = True) -> AsyncApp:
    async def authorize(**_: Any) -> AuthorizeResult:  # no auth.test: nothing leaves the test
        return AuthorizeResult(enterprise_id=None, team_id="T1", bot_token="xoxb-t", bot_id="B1")

    bolt = AsyncApp(signing_secret=SECRET, authorize=authorize)
    if prompt:
        prompt_ack.install(bolt)

    @bolt.command("/incident")
    async def incident(ack: AsyncAck, command: dict[str, Any]) -> None:
        if command["text"] == "boom":
            raise RuntimeError("boom")
        if command["text"] != "silent":
            await ack(text=f"On it: {command['text']}")
        await finish.wait()  # the work after the ack goes on

    return bolt


async def race(bolt: AsyncApp, request: AsyncBoltRequest, turns: int = 50) -> BoltResponse | None:
    """The answer if it comes within `turns` turns of the loop (no clock involved), else None."""
    answering = asyncio.ensure_future(bolt.async_dispatch(request))
    for _ in range(turns):
        await asyncio.sleep(0)
        if answering.done():
            return answering.result()
    answering.cancel()
    return None


async def test_the_answer_goes_out_at_ack_not_at_the_next_poll() -> None:
    finish = asyncio.Event()
    answer = await race(app(finish), command("printer down"))
    assert answer is not None, "the ack waited for a poll"
    assert answer.status == 200
    assert answer.body == "On it: printer down"  # Bolt sends a text-only ack as plain text
    assert not finish.is_set()  # answered while the work still runs
    finish.set()


async def test_bolts_own_runner_waits_for_its_poll() -> None:
    """What the test above guards against: without the swap, 50 turns are not enough."""
    finish = asyncio.Event()
    bolt = app(finish, prompt=False)
    assert await race(bolt, command("printer down")) is None
    finish.set()


async def test_a_listener_that_fails_before_acking_answers_500_at_once() -> None:
    answer = await race(app(asyncio.Event()), command("boom"))
    assert answer is not None and answer.status == 500


async def test_a_listener_that_never_acks_is_answered_after_the_timeout() -> None:
    finish = asyncio.Event()
    bolt = app(finish)
    listener = bolt._async_listeners[0]
    listener.ack_timeout = 1  # seconds (an int in Bolt)
    answering = asyncio.ensure_future(bolt.async_dispatch(command("silent")))
    assert await race(bolt, command("quick")) is not None  # others are answered meanwhile
    answer = await asyncio.wait_for(answering, 5)
    assert answer.status == 404  # Bolt's "unhandled" answer, as without the swap
    finish.set()
