"""Slack → ServiceNow: replies in a live card's thread become comments on its record.

- A reply (also one sent to the channel too) in the thread a live card starts, in a channel that
  keeps threads on, is written as a public comment for the person who wrote it (as them when the
  bot acts as people; else by the integration user, signed with their name) — once, however often
  Slack delivers the event (`X-Slack-Retry-Num`): the interaction path keys it by channel and ts.
- An edited reply adds a follow-up comment with the corrected text (the journal is append-only);
  an edit that leaves the text as it was (Slack adds a link preview) adds nothing.
- A deleted reply stays in ServiceNow's journal, which cannot be edited: the person is told so.
- Messages from bots (this one included) and the channel's own messages are never comments.
"""

from __future__ import annotations

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

    async def _record(self, channel: str, message: Mapping[str, Any]) -> tuple[str, str] | None:
        """The record whose card starts this message's thread, if it is a reply in one and the
        channel keeps threads on."""
        thread_ts, ts = _str(message.get("thread_ts")), _str(message.get("ts"))
        if not channel or not thread_ts or thread_ts == ts:
            return None
        record = await self._threads.record_of(channel, thread_ts)
        if record is None or not await self._threads.enabled(channel):
            return None
        return record

    async def _reply(self, event: Mapping[str, Any], what: str, raw: str) -> None:
        channel = _str(event.get("channel"))
        record = await self._record(channel, event)
        if record is None:
            return
        kind = self._kinds.get(record[0])
        text = plain_text(raw)
        if kind is None or not text:
            return
        interaction = Interaction.of_message({**event, "channel": channel}, what, text)

        async def work(grant: Grant[Record]) -> None:
            await kind.comment(grant.person, grant.record, text)

        await self._services.interactions.run(
            interaction, kind.by_sys_id(Action.COMMENT, record[1]), work, once=True
        )

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
        if not from_a_person(previous) or await self._record(channel, previous) is None:
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
