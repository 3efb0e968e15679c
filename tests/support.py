"""Helpers for tests (importable as `tests.support`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx

if TYPE_CHECKING:
    from sandbox.stack import Stack

T = TypeVar("T")

# The one place that knows where the copied Slack and ServiceNow samples live (tests/fixtures/).
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SERVICENOW_FIXTURES = FIXTURES / "servicenow"
SLACK_FIXTURES = FIXTURES / "slack"


class Sleeps:
    """A sleep that records what it was asked to wait and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


# The start of every browser test's skip reason; the end of the run repeats it in a banner.
BROWSER_SKIPPED = "browser test skipped"


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 5.0) -> T:
    """Await `check()` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {result!r})")
        await asyncio.sleep(0.01)


async def connect_link(stack: Stack, slack_user: str) -> str:
    """The Connect ServiceNow link the person sees: the button on their Home tab."""

    def published() -> list[dict[str, Any]]:
        return [
            call.args["view"]
            for call in stack.slack.calls
            if call.method == "views.publish" and call.args.get("user_id") == slack_user
        ]

    before = len(published())
    await stack.slack.send_event(stack.slack.app_home_opened(slack_user))

    def button() -> str | None:
        views = published()[before:]
        if not views:
            return None
        view = views[-1] if isinstance(views[-1], dict) else json.loads(views[-1])
        for block in view["blocks"]:
            for element in block.get("elements", ()):
                if element.get("action_id") == "servicenow_connect":
                    return str(element["url"])
        raise AssertionError(f"no Connect ServiceNow button on {slack_user}'s Home tab")

    return await stack.slack.wait_for(button)


async def consent(
    browser: httpx.AsyncClient, start_url: str, user_name: str, decision: str = "allow"
) -> httpx.Response:
    """What a person's browser does with a Connect ServiceNow link (or with the consent page's
    own address): follow it to the emulator's
    consent page, sign in there as `user_name` and press Allow (or Deny), and come back to the
    bot. Answers the bot's last page (the callback's, unless something stopped earlier)."""
    started = await browser.get(start_url)
    if "/oauth_auth.do" in start_url:  # the consent page itself (a link someone passed on)
        authorize = start_url
    elif started.status_code == 302:
        authorize = started.headers["location"]
        started = await browser.get(authorize)
    else:
        return started
    assert started.status_code == 200, started.text
    form = dict(parse_qsl(urlsplit(authorize).query))
    form |= {"username": user_name, "decision": decision}
    base = "{0.scheme}://{0.netloc}".format(urlsplit(authorize))
    answered = await browser.post(f"{base}/oauth_auth.do", data=form)
    assert answered.status_code == 302, answered.text
    return await browser.get(answered.headers["location"])


async def link(stack: Stack, slack_user: str, user_name: str | None = None) -> None:
    """Link `slack_user` to their ServiceNow account in a running stack started with
    `run_stack(..., linked=True)`, as they would: the Home tab's Connect ServiceNow button, the
    emulator's consent page (signed in as `user_name`, by default the sys_user with their Slack
    e-mail), and back to the bot."""
    if user_name is None:
        email = stack.slack.user(slack_user).email or ""
        [row] = stack.emulator.query("sys_user", f"email={email}")
        user_name = row["user_name"]
    url = await connect_link(stack, slack_user)
    async with httpx.AsyncClient() as browser:
        done = await consent(browser, url, user_name)
    assert done.status_code == 200 and "Connected as" in done.text, done.text
