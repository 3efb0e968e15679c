"""The Slack stand-in on loopback, the real slack_sdk client pointed at it, and a tiny bot double.

`FakeBot` is a test double for "the bot": a Starlette receiver on /slack/events that checks every
request with slack_sdk's SignatureVerifier (as Bolt does), records it and answers with `answer`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.server import serve
from sandbox.slack import SlackStandIn, run_slack
from tests.support import SLACK_FIXTURES


def load_fixture(name: str) -> Any:
    return json.loads((SLACK_FIXTURES / name).read_text())


@dataclass
class Received:
    headers: dict[str, str]
    body: str
    valid: bool

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body, keep_blank_values=True))

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.form["payload"]))

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


class FakeBot:
    def __init__(self, signing_secret: str) -> None:
        self.verifier = SignatureVerifier(signing_secret)
        self.received: list[Received] = []
        self.url = ""
        self.answer: Callable[[Received], Response] = lambda received: Response(status_code=200)

    def app(self) -> Starlette:
        async def events(request: Request) -> Response:
            raw = (await request.body()).decode()
            valid = self.verifier.is_valid(
                body=raw,
                timestamp=request.headers.get("x-slack-request-timestamp"),
                signature=request.headers.get("x-slack-signature"),
            )
            received = Received(dict(request.headers), raw, valid)
            self.received.append(received)
            if not valid:
                return JSONResponse({"error": "invalid request"}, 401)
            return self.answer(received)

        return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


@pytest.fixture
def fixture_json() -> Callable[[str], Any]:
    return load_fixture


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with run_slack() as standin:
        yield standin


@pytest.fixture
def client(slack: SlackStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.url + "/api/")


@pytest.fixture
async def bot(slack: SlackStandIn) -> AsyncIterator[FakeBot]:
    fake = FakeBot(slack.signing_secret)
    async with serve(fake.app()) as server:
        slack.bot_url = fake.url = server.url
        yield fake
