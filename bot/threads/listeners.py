"""Slack → ServiceNow: replies in a live card's thread become comments on its record.

- A reply (also one sent to the channel too) in a thread about a record (the one its live card
  starts, or one its card was posted into to sync it), in a channel that keeps threads on, is written as a public comment for the person who wrote it (as them when the
  bot acts as people; else by the integration user, signed with their name) — once, however often
  Slack delivers the event (`X-Slack-Retry-Num`): the interaction path keys it by channel and ts.
- An edited reply adds a follow-up comment with the corrected text (the journal is append-only);
  an edit that leaves the text as it was (Slack adds a link preview) adds nothing.
- A deleted reply stays in ServiceNow's journal, which cannot be edited: the person is told so.
- In a thread about several records, only a reply naming exactly one of them is its comment; the
  writer of any other hears so once per thread.
- Messages from bots (this one included) and the channel's own messages are never comments.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Mapping
from typing import Any

from bot.permissions import Action, Grant
from bot.records.kind import Record
from bot.records.registry import Kinds
from bot.services import Services
from bot.slack.interactions import Interaction
from bot.slack.kit import notice
from bot.threads.cards import edit_comment
from storage import Threads

log = logging.getLogger(__name__)

REPLY_SUBTYPES = {None, "", "thread_broadcast"}  # a person's reply (also sent to the channel)


def plain_text(text: str) -> str:
    """Slack's message markup as the words a person typed: links, mentions and escapes."""

    def token(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith(("@", "#")):
            return f"{target[0]}{label or target[1:]}"
        if target.startswith("!"):
            return f"@{label or target[1:]}"
        return f"{label} ({target})" if label and label != target else target

    return html.unescape(re.sub(r"<([^<>]+)>", token, text)).strip()


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def from_a_person(message: Mapping[str, Any]) -> bool:
    """A message a person wrote: no bot (ours or another), no channel event (joins, topics…)."""
    return (
        not message.get("bot_id")
        and not message.get("bot_profile")
        and _str(message.get("subtype")) in REPLY_SUBTYPES
        and bool(_str(message.get("user")))
    )


class ThreadListener:
    def __init__(self, services: Services, threads: Threads, kinds: Kinds) -> None:
        self._services = services
        self._threads = threads
        self._kinds = kinds

    async def on_message(self, event: Mapping[str, Any]) -> None:
        subtype = _str(event.get("subtype"))
        if subtype == "message_changed":
            await self._edited(event)
        elif subtype == "message_deleted":
            await self._deleted(event)
        elif from_a_person(event):
            await self._reply(event, "message", _str(event.get("text")))

    async def _records(self, channel: str, message: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The records this message's thread is about (bot/threads/__init__.py), if it is a
        reply in one and the channel keeps threads on."""
        thread_ts, ts = _str(message.get("thread_ts")), _str(message.get("ts"))
        if not channel or not thread_ts or thread_ts == ts:
            return []
        records = await self._threads.records_of(channel, thread_ts)
        if not records or not await self._threads.enabled(channel):
            return []
        return records

    async def _reply(self, event: Mapping[str, Any], what: str, raw: str) -> None:
        channel = _str(event.get("channel"))
        records = await self._records(channel, event)
        text = plain_text(raw)
        if not records or not text:
            return
        record = records[0] if len(records) == 1 else await self._addressed(event, records, text)
        kind = self._kinds.get(record[0]) if record else None
        if record is None or kind is None:
            return
        interaction = Interaction.of_message({**event, "channel": channel}, what, text)

        async def work(grant: Grant[Record]) -> None:
            await kind.comment(grant.person, grant.record, text)

        await self._services.interactions.run(
            interaction, kind.by_sys_id(Action.COMMENT, record[1]), work, once=True
        )

    async def _addressed(
        self, event: Mapping[str, Any], records: list[tuple[str, str]], text: str
    ) -> tuple[str, str] | None:
        """In a thread about several records, the one the reply names (and no other of them);
        else None, and the person hears once per thread how to address one."""
        numbers = await self._numbers(records)
        named = set(self._kinds.numbers(text))
        chosen = [
            record for record, number in zip(records, numbers, strict=True) if number in named
        ]
        if len(chosen) == 1:
            return chosen[0]
        channel, user = _str(event.get("channel")), _str(event.get("user"))
        thread = _str(event.get("thread_ts"))
        if user and await self._services.keys.claim(f"thread:several:{channel}:{thread}:{user}"):
            listed = " and ".join(f"`{n}`" for n in numbers if n)
            await self._services.messenger.ephemeral(
                channel,
                user,
                notice(
                    f":thread: This thread holds the cards of {listed}, so a reply becomes a "
                    "comment only when it names one of them (say "
                    f"`{next((n for n in numbers if n), 'INC0010001')}: …`). This one stays in "
                    "Slack."
                ),
            )
        return None

    async def _numbers(self, records: list[tuple[str, str]]) -> list[str]:
        """Each record's number (read as the integration user; "" if it can't be read)."""

        async def number(table: str, sys_id: str) -> str:
            kind = self._kinds.get(table)
            if kind is None:
                return ""
            try:
                return (await kind.get(sys_id)).get("number", "")
            except Exception as exc:  # gone, or ServiceNow unreachable: it can't be addressed
                log.info("no number for %s %s: %r", table, sys_id, exc)
                return ""

        return list(await asyncio.gather(*(number(t, s) for t, s in records)))

    async def _edited(self, event: Mapping[str, Any]) -> None:
        message = _object(event.get("message"))
        previous = _object(event.get("previous_message"))
        if not from_a_person(message):
            return
        text, before = _str(message.get("text")), _str(previous.get("text"))
        if plain_text(text) == plain_text(before):
            return  # a preview added, a file's title changed: the words are the same
        edited = _str(_object(message.get("edited")).get("ts")) or _str(event.get("event_ts"))
        reply = {**message, "channel": _str(event.get("channel"))}
        await self._reply(reply, f"message_changed:{edited}", edit_comment(plain_text(text)))

    async def _deleted(self, event: Mapping[str, Any]) -> None:
        channel = _str(event.get("channel"))
        previous = _object(event.get("previous_message"))
        deleted_ts = _str(event.get("deleted_ts")) or _str(previous.get("ts"))
        await self._threads.forget_message(channel, deleted_ts)  # its previews need no refresh
        if not from_a_person(previous) or not await self._records(channel, previous):
            return
        user = _str(previous.get("user"))
        if not await self._services.keys.claim(f"event:message_deleted:{channel}:{deleted_ts}"):
            return
        await self._services.messenger.ephemeral(
            channel,
            user,
            notice(
                ":information_source: You deleted your reply in Slack. If it had become a comment, "
                "that comment stays on the record: ServiceNow's journal keeps every comment, so "
                "it can't be removed from here."
            ),
        )


def install(services: Services, threads: Threads) -> None:
    listener = ThreadListener(services, threads, services.kinds)

    @services.interactions.app.event("message")
    async def message(event: dict[str, Any]) -> None:
        # Bolt acks events itself, before this runs; nothing here may raise into Bolt's log.
        try:
            await listener.on_message(event)
        except Exception:
            log.exception("handling a message event failed")
