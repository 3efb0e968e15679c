"""Link previews and `@incident-bot <number>`.

- `link_shared`: each link to a record of a known kind on the instance is unfurled into the kind's
  compact card, only if the person who posted it may read that record (read with their own
  ServiceNow client, judged by the permission model: bot/permissions.py); nothing is shown
  otherwise. Previews of posted messages are remembered and refreshed with `chat.unfurl` (which
  replaces its earlier unfurl of the same link) whenever the record changes, through the outbox.
- `app_mention`: the live card of each number mentioned (at most three), as a reply in the thread
  of the mention, for whoever may read it; a refusal is explained to them alone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.feed.changes import Outgoing, write
from bot.feed.messenger import Messenger, card_post
from bot.permissions import Action, Grant, Guard
from bot.previews.links import RecordLink, host_of, parse
from bot.records.kind import Record
from bot.records.registry import Kinds
from bot.records.service import LiveRecords
from bot.slack.interactions import Interaction, Interactions
from bot.slack.kit import notice
from storage import IdempotencyKeys, Threads

log = logging.getLogger(__name__)

MAX_LINKS = 5  # links previewed in one message
MAX_MENTIONED = 3  # records answered for one mention
COMPOSER = "composer"


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _examples(kinds: Kinds) -> str:
    """`RITM0010001`, `CHG0000001` or … : a number of each other kind, for the hint."""
    shown = [f"`{k.kind.example}`" for k in kinds if k.kind.example and k.kind.prefix != "INC"]
    return ", ".join(shown[:-1]) + f" or {shown[-1]}" if len(shown) > 1 else "".join(shown)


class Previews:
    def __init__(
        self,
        *,
        kinds: Kinds,
        threads: Threads,
        guard: Guard,
        messenger: Messenger,
        slack: AsyncWebClient,
        interactions: Interactions,
        keys: IdempotencyKeys,
        instance_url: str,
    ) -> None:
        self._kinds = kinds
        self._threads = threads
        self._guard = guard
        self._messenger = messenger
        self._slack = slack
        self._interactions = interactions
        self._keys = keys
        self._host = host_of(instance_url)

    def links(self, event: Mapping[str, Any]) -> list[tuple[RecordLink, LiveRecords]]:
        found: list[tuple[RecordLink, LiveRecords]] = []
        links = event.get("links")
        for item in links if isinstance(links, list) else []:
            url = _str(item.get("url")) if isinstance(item, Mapping) else ""
            link = parse(url, self._host, self._kinds.tables)
            kind = self._kinds.get(link.table) if link else None
            if link and kind and all(link.url != seen.url for seen, _ in found):
                found.append((link, kind))
        return found[:MAX_LINKS]

    async def on_link_shared(self, event: Mapping[str, Any]) -> None:
        user, channel = _str(event.get("user")), _str(event.get("channel"))
        ts, unfurl_id = _str(event.get("message_ts")), _str(event.get("unfurl_id"))
        source = _str(event.get("source"))
        composer = source == COMPOSER or channel == "COMPOSER"
        found = self.links(event)
        if not user or not found or not (unfurl_id if composer else channel and ts):
            return
        key = f"event:link_shared:{unfurl_id if composer else f'{channel}:{ts}'}"
        if not await self._keys.claim(key):
            return  # a retry of an event already acted on
        previews: list[tuple[RecordLink, LiveRecords, Record]] = []
        for link, kind in found:
            try:
                grant = await self._guard.require(user, kind.by_sys_id(Action.READ, link.sys_id))
            except Exception as exc:  # not theirs to read, no account, gone: no preview
                log.info("no preview of %s for %s: %r", link.table, user, exc)
                continue
            previews.append((link, kind, grant.record))
        if not previews:
            return
        cards = [await kind.preview(record) for _, kind, record in previews]
        if composer:
            unfurls = {
                link.url: {"blocks": list(card.blocks)}
                for (link, _, _), card in zip(previews, cards, strict=True)
            }
            await self._slack.chat_unfurl(unfurl_id=unfurl_id, source=COMPOSER, unfurls=unfurls)
            return
        for link, _, _ in previews:
            await self._threads.add_unfurl(
                channel=channel,
                ts=ts,
                url=link.url,
                table=link.table,
                sys_id=link.sys_id,
                slack_user_id=user,
            )
        await self._messenger.queue(
            *(
                write(Outgoing("unfurl", channel, card, ts=ts, url=link.url))
                for (link, _, _), card in zip(previews, cards, strict=True)
            )
        )

    async def refresh(self, table: str, record: Mapping[str, str]) -> Sequence[Outgoing]:
        """The record changed: every preview of it shows the new version (the feed queues these
        with the change)."""
        kind = self._kinds.get(table)
        sys_id = record.get("sys_id", "")
        if kind is None or not sys_id:
            return []
        stored = await self._threads.unfurls(table, sys_id)
        if not stored:
            return []
        card = await kind.preview(record)
        return [Outgoing("unfurl", u.channel, card, ts=u.ts, url=u.url) for u in stored]

    async def on_mention(self, event: Mapping[str, Any]) -> None:
        user, channel = _str(event.get("user")), _str(event.get("channel"))
        ts = _str(event.get("ts"))
        if not user or not channel or not ts or event.get("bot_id"):
            return
        thread = _str(event.get("thread_ts")) or ts
        numbers = self._kinds.numbers(_str(event.get("text")))[:MAX_MENTIONED]
        if not numbers:
            if await self._keys.claim(f"event:app_mention:{channel}:{ts}"):
                await self._messenger.ephemeral(
                    channel,
                    user,
                    notice(
                        "Mention me with a record number, like `@incident-bot INC0010001` (or "
                        f"{_examples(self._kinds)}), and I'll answer in the thread with its live "
                        "card."
                    ),
                )
            return
        for number in numbers:
            kind = self._kinds.for_number(number)
            if kind is None:
                continue
            interaction = Interaction.of_message(event, f"app_mention:{number}", number)
            await self._interactions.run(
                interaction,
                kind.by_number(Action.READ, number),
                self._answer(kind, channel, thread),
                once=True,
            )

    def _answer(
        self, kind: LiveRecords, channel: str, thread: str
    ) -> Callable[[Grant[Record]], Awaitable[None]]:
        async def answer(grant: Grant[Record]) -> None:
            await self._post(kind, grant.record, channel, thread)

        return answer

    async def _post(self, kind: LiveRecords, record: Record, channel: str, thread: str) -> None:
        card = await kind.render(record)
        sys_id = record.get("sys_id", "")
        await self._messenger.queue(
            card_post(channel, card, table=kind.kind.table, sys_id=sys_id, thread_ts=thread)
        )
