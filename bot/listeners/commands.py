"""The `/incident` slash command: ack at once, then do the work and answer."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot import blocks, grammar
from bot.explain import explain
from bot.incidents import Incidents, split_description

log = logging.getLogger(__name__)

CANT_POST = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}


def register(app: AsyncApp, incidents: Incidents) -> None:
    @app.command("/incident")
    async def incident_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        request = grammar.parse(command.get("text", ""))
        if isinstance(request, grammar.Help):
            card = blocks.usage(request.unknown)
            await ack(text=card.text, blocks=list(card.blocks), response_type="ephemeral")
            return
        short, _ = split_description(request.text)
        await ack(text=f"Opening an incident: {blocks.escape(short)}…", response_type="ephemeral")
        await _create(incidents, command, request, respond)


async def _create(
    incidents: Incidents, command: dict[str, Any], request: grammar.Create, respond: AsyncRespond
) -> None:
    user, channel = command["user_id"], command["channel_id"]
    try:
        created = await incidents.create(
            user, request.text, correlation_id=f"slack:{command.get('trigger_id', '')}"[:100]
        )
    except Exception as exc:
        log.info("create failed for %s: %r", user, exc)
        await respond(text=explain(exc), response_type="ephemeral")
        return
    try:
        await incidents.post(channel, created)
    except SlackApiError as exc:
        if exc.response.get("error") not in CANT_POST:
            raise
        number = created.incident.number
        await respond(
            text=f"I opened {number}, but I can't post in this channel. "
            "Invite me with `/invite @incident-bot` to get live cards here.",
            blocks=list(created.card.blocks),
            response_type="ephemeral",
        )
