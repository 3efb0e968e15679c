"""Post an incident card where the person is, or tell them why it can't go there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError

from bot.blocks import Card
from bot.incidents import Incidents
from servicenow.records import Incident

# chat.postMessage errors that mean "not in this channel", not "Slack is broken".
CANT_POST = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}


async def post_card(
    incidents: Incidents,
    channel: str,
    incident: Incident,
    card: Card,
    tell: Callable[[str], Awaitable[None]],
) -> None:
    try:
        await incidents.post(channel, incident, card)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error not in CANT_POST:
            raise
        await tell(
            f"{incident.number} is ready, but I can't post in this channel ({error}). "
            f"Invite me with `/invite @incident-bot` to get live cards here: {incidents.url(incident.sys_id)}"
        )
