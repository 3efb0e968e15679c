"""Everything the bot writes to Slack goes through here."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import Card
from storage import PostedMessages


class Messenger:
    def __init__(self, slack: AsyncWebClient, posted: PostedMessages) -> None:
        self._slack = slack
        self._posted = posted

    async def post_card(self, channel: str, card: Card, *, table: str, sys_id: str) -> str:
        """Post a live card for a record and remember where it is; returns the message ts."""
        response = await self._slack.chat_postMessage(
            channel=channel, text=card.text, blocks=list(card.blocks), unfurl_links=False
        )
        ts = str(response["ts"])
        await self._posted.add(
            table_name=table,
            sys_id=sys_id,
            channel=str(response["channel"]),
            ts=ts,
            rendered=card.to_json(),
            rendered_hash=card.digest(),
        )
        return ts
