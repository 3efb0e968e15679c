"""Threads and link previews: which thread belongs to which record, channels that opted out of
thread sync, comments that came from Slack, and the previews to refresh."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, and_, delete, insert, select, update

from storage.db import Database
from storage.models import (
    ChannelSetting,
    JournalOrigin,
    PostedMessage,
    ThreadLink,
    Unfurl,
    utcnow,
)


def text_digest(text: str) -> str:
    """What identifies a comment's text (surrounding white space aside)."""
    return hashlib.sha256(text.strip().encode()).hexdigest()


@dataclass(frozen=True)
class ThreadRoot:
    """A live card that starts a thread: replies there are about its record."""

    channel: str
    ts: str


@dataclass(frozen=True)
class StoredUnfurl:
    channel: str
    ts: str
    url: str
    slack_user_id: str


def _linked() -> ColumnElement[bool]:
    """A card in a linked thread: the record's card, posted as a reply in that thread."""
    return and_(
        PostedMessage.channel == ThreadLink.channel,
        PostedMessage.thread_ts == ThreadLink.thread_ts,
        PostedMessage.table_name == ThreadLink.table_name,
        PostedMessage.sys_id == ThreadLink.sys_id,
    )


class Threads:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- which record a thread is about ------------------------------------------------------------

    async def records_of(self, channel: str, thread_ts: str) -> list[tuple[str, str]]:
        """The records (table, sys_id) this thread is about, oldest card first: the one whose
        live card starts it, and those whose card was posted into it to sync it (`link`). A card
        posted as a reply otherwise (a mention's answer) makes a thread about nothing."""
        root = select(PostedMessage.id, PostedMessage.table_name, PostedMessage.sys_id).where(
            PostedMessage.channel == channel,
            PostedMessage.ts == thread_ts,
            PostedMessage.thread_ts.is_(None),
        )
        linked = (
            select(PostedMessage.id, PostedMessage.table_name, PostedMessage.sys_id)
            .join(ThreadLink, _linked())
            .where(ThreadLink.channel == channel, ThreadLink.thread_ts == thread_ts)
        )
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(root.union_all(linked))).all()
        found: list[tuple[str, str]] = []
        for row in sorted(rows, key=lambda r: int(r.id)):
            if (row.table_name, row.sys_id) not in found:
                found.append((row.table_name, row.sys_id))
        return found

    async def record_of(self, channel: str, thread_ts: str) -> tuple[str, str] | None:
        """The one record this thread is about, or None (about none, or several)."""
        found = await self.records_of(channel, thread_ts)
        return found[0] if len(found) == 1 else None

    async def link(self, channel: str, thread_ts: str, table: str, sys_id: str) -> None:
        """The record's card is going into this thread to sync it: once it is there, the
        thread's replies become the record's comments and its comments come here."""
        statement = (
            self._db.insert(ThreadLink)
            .values(
                channel=channel,
                thread_ts=thread_ts,
                table_name=table,
                sys_id=sys_id,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        async with self._db.engine.begin() as conn:
            await conn.execute(statement)

    async def roots(self, table: str, sys_id: str) -> list[ThreadRoot]:
        """The threads of the record's live cards (those they start, and those they were posted
        into to sync), in channels that keep threads on, each once."""
        threads_on = (ChannelSetting.threads.is_(None)) | (ChannelSetting.threads.is_(True))
        started = (
            select(PostedMessage.id, PostedMessage.channel, PostedMessage.ts)
            .outerjoin(ChannelSetting, ChannelSetting.channel == PostedMessage.channel)
            .where(
                PostedMessage.table_name == table,
                PostedMessage.sys_id == sys_id,
                PostedMessage.thread_ts.is_(None),
                threads_on,
            )
        )
        joined = (
            select(PostedMessage.id, ThreadLink.channel, ThreadLink.thread_ts.label("ts"))
            .join(ThreadLink, _linked())
            .outerjoin(ChannelSetting, ChannelSetting.channel == ThreadLink.channel)
            .where(ThreadLink.table_name == table, ThreadLink.sys_id == sys_id, threads_on)
        )
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(started.union_all(joined))).all()
        found: list[ThreadRoot] = []
        for row in sorted(rows, key=lambda r: int(r.id)):
            if ThreadRoot(row.channel, row.ts) not in found:
                found.append(ThreadRoot(row.channel, row.ts))
        return found

    # -- the channel's choice ----------------------------------------------------------------------

    async def enabled(self, channel: str) -> bool:
        async with self._db.engine.connect() as conn:
            value = await conn.scalar(
                select(ChannelSetting.threads).where(ChannelSetting.channel == channel)
            )
        return value is None or bool(value)

    async def set_enabled(self, channel: str, on: bool) -> None:
        statement = self._db.insert(ChannelSetting).values(
            channel=channel, threads=on, updated_at=utcnow()
        )
        statement = statement.on_conflict_do_update(
            index_elements=[ChannelSetting.channel],
            set_={"threads": on, "updated_at": utcnow()},
        )
        async with self._db.engine.begin() as conn:
            await conn.execute(statement)

    # -- comments that came from Slack -------------------------------------------------------------

    async def remember_origin(self, table: str, sys_id: str, text: str) -> None:
        """The bot is about to write this comment from Slack: its journal entry is Slack's."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                insert(JournalOrigin).values(
                    table_name=table,
                    sys_id=sys_id,
                    digest=text_digest(text),
                    entry_id=None,
                    created_at=utcnow(),
                )
            )

    async def from_slack(
        self, table: str, sys_id: str, entries: Sequence[tuple[str, str]]
    ) -> set[str]:
        """Which of these journal entries (id, text), oldest first, the bot wrote from Slack.

        Each remembered comment is claimed by the first entry with its text (and stays that
        entry's: a second look at the same entry finds it again), so the same words typed
        later in ServiceNow are ServiceNow's."""
        if not entries:
            return set()
        found: set[str] = set()
        async with self._db.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(JournalOrigin.id, JournalOrigin.digest, JournalOrigin.entry_id)
                    .where(JournalOrigin.table_name == table, JournalOrigin.sys_id == sys_id)
                    .order_by(JournalOrigin.id)
                )
            ).all()
            claimed = {row.entry_id: row for row in rows if row.entry_id}
            free = [row for row in rows if not row.entry_id]
            for entry_id, text in entries:
                if entry_id in claimed:
                    found.add(entry_id)
                    continue
                digest = text_digest(text)
                match = next((row for row in free if row.digest == digest), None)
                if match is None:
                    continue
                taken = await conn.execute(
                    update(JournalOrigin)
                    .where(JournalOrigin.id == match.id, JournalOrigin.entry_id.is_(None))
                    .values(entry_id=entry_id)
                )
                free.remove(match)
                if taken.rowcount:
                    found.add(entry_id)
        return found

    # -- link previews -----------------------------------------------------------------------------

    async def add_unfurl(
        self, *, channel: str, ts: str, url: str, table: str, sys_id: str, slack_user_id: str
    ) -> None:
        statement = (
            self._db.insert(Unfurl)
            .values(
                channel=channel,
                ts=ts,
                url=url,
                table_name=table,
                sys_id=sys_id,
                slack_user_id=slack_user_id,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        async with self._db.engine.begin() as conn:
            await conn.execute(statement)

    async def unfurls(self, table: str, sys_id: str) -> list[StoredUnfurl]:
        async with self._db.engine.connect() as conn:
            rows = await conn.execute(
                select(Unfurl.channel, Unfurl.ts, Unfurl.url, Unfurl.slack_user_id)
                .where(Unfurl.table_name == table, Unfurl.sys_id == sys_id)
                .order_by(Unfurl.id)
            )
            return [StoredUnfurl(r.channel, r.ts, r.url, r.slack_user_id) for r in rows]

    async def forget_message(self, channel: str, ts: str) -> None:
        """The message is gone: its previews need no refresh."""
        async with self._db.engine.begin() as conn:
            await conn.execute(delete(Unfurl).where(Unfurl.channel == channel, Unfurl.ts == ts))

    async def prune(self, older_than: timedelta) -> None:
        """Forget remembered Slack comments after `older_than` (the feed has long seen them),
        and links older than that to threads whose card is gone (retention forgot it, or it was
        never delivered)."""
        before = utcnow() - older_than
        async with self._db.engine.begin() as conn:
            await conn.execute(delete(JournalOrigin).where(JournalOrigin.created_at < before))
            card = select(PostedMessage.id).where(_linked())
            await conn.execute(
                delete(ThreadLink).where(ThreadLink.created_at < before, ~card.exists())
            )
