"""The App Home tab: publish it when opened, and again when Refresh is pressed."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.home import Home

log = logging.getLogger(__name__)


def register(app: AsyncApp, home: Home) -> None:
    @app.event("app_home_opened")
    async def opened(event: dict[str, Any]) -> None:
        # Bolt acks events itself. The Messages tab sends this event too; only Home shows a view.
        # A Slack retry republishes the same content, which is harmless.
        if event.get("tab", "home") != "home":
            return
        await _publish(home, str(event["user"]))

    @app.action("home_refresh")
    async def refresh(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await _publish(home, str(body["user"]["id"]))


async def _publish(home: Home, user: str) -> None:
    try:
        await home.publish(user)
    except Exception:
        log.exception("could not publish the Home tab for %s", user)
