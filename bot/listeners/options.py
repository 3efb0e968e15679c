"""Typeahead options for external selects (the assignment group in the create modal)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import blocks
from bot.incidents import Incidents

log = logging.getLogger(__name__)

# Options must come back inside Slack's 3 s; answer an empty list rather than time out.
OPTIONS_DEADLINE = 2.5


def register(app: AsyncApp, incidents: Incidents) -> None:
    @app.options("group")
    async def groups(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            found = await asyncio.wait_for(
                incidents.groups_matching(body.get("value", "")), OPTIONS_DEADLINE
            )
        except Exception as exc:
            log.info("group options failed: %r", exc)
            found = []
        await ack(options=[blocks.option(group.name, group.sys_id) for group in found])
