"""Everything the bot writes to Slack goes through here."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import Card
from storage import PostedMessages

log = logging.getLogger(__name__)

# chat.update errors after which a posted card is gone for good: forget it, never retry.
GONE = {"message_not_found", "channel_not_found", "cant_update_message", "is_archived"}


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

    async def update_cards(self, table: str, sys_id: str, card: Card) -> int:
        """chat.update every posted copy of the record that shows something else; count them."""
        updated = 0
        digest = card.digest()
        for posted in await self._posted.for_record(table, sys_id):
            if posted.rendered_hash == digest:
                continue
            try:
                await self._slack.chat_update(
                    channel=posted.channel, ts=posted.ts, text=card.text, blocks=list(card.blocks)
                )
            except SlackApiError as exc:
                if exc.response.get("error") in GONE:
                    log.info(
                        "forgetting card %s/%s: %s",
                        posted.channel,
                        posted.ts,
                        exc.response["error"],
                    )
                    await self._posted.forget(posted.channel, posted.ts)
                    continue
                raise
            await self._posted.mark_rendered(
                posted.id, rendered=card.to_json(), rendered_hash=digest
            )
            updated += 1
        return updated

    async def ephemeral(self, channel: str | None, user: str, card: Card) -> None:
        """Tell one person something: in the channel only they see, or by DM where there's none."""
        if channel:
            try:
                await self._slack.chat_postEphemeral(
                    channel=channel, user=user, text=card.text, blocks=list(card.blocks)
                )
                return
            except SlackApiError as exc:
                log.info(
                    "ephemeral in %s failed (%s); sending a DM", channel, exc.response.get("error")
                )
        await self._slack.chat_postMessage(channel=user, text=card.text, blocks=list(card.blocks))
