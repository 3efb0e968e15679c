"""Repositories: the only code that writes SQL for the bot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from storage.db import Database
from storage.group import GroupCommit
from storage.models import (
    Follower,
    IdempotencyKey,
    NotificationSetting,
    PostedMessage,
    UserLink,
    as_utc,
    utcnow,
)


@dataclass(frozen=True)
class LinkedUser:
    slack_user_id: str
    email: str | None
    sys_user_id: str | None
    display_name: str
    resolved_at: datetime


class UserLinks:
    """Slack user ↔ sys_user, with the time each answer was found (callers decide freshness)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, slack_user_id: str) -> LinkedUser | None:
        async with self._db.session() as session:
            row = await session.get(UserLink, slack_user_id)
            return _linked(row) if row else None

    async def get_fresh(
        self, slack_user_id: str, *, found_ttl: timedelta, missing_ttl: timedelta
    ) -> LinkedUser | None:
        """The stored answer if still fresh: a match lives `found_ttl`, a "no match" `missing_ttl`."""
        link = await self.get(slack_user_id)
        if link is None:
            return None
        ttl = found_ttl if link.sys_user_id else missing_ttl
        return link if utcnow() - as_utc(link.resolved_at) < ttl else None

    async def by_sys_user(self, sys_user_id: str) -> LinkedUser | None:
        """The newest link to a ServiceNow user (the reverse direction: for mentions and DMs)."""
        async with self._db.session() as session:
            row = await session.scalar(
                select(UserLink)
                .where(UserLink.sys_user_id == sys_user_id)
                .order_by(UserLink.resolved_at.desc())
                .limit(1)
            )
            return _linked(row) if row else None

    async def forget(self, slack_user_id: str) -> None:
        """Drop the link: the next lookup asks Slack and ServiceNow again."""
        async with self._db.engine.begin() as conn:
            await conn.execute(delete(UserLink).where(UserLink.slack_user_id == slack_user_id))

    async def save(
        self, slack_user_id: str, *, email: str | None, sys_user_id: str | None, display_name: str
    ) -> LinkedUser:
        """Insert or replace the link (an upsert: concurrent first lookups of one user both win)."""
        resolved_at = utcnow()
        values = {
            "slack_user_id": slack_user_id,
            "email": email,
            "sys_user_id": sys_user_id,
            "display_name": display_name,
            "resolved_at": resolved_at,
        }
        statement = self._db.insert(UserLink).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[UserLink.slack_user_id],
            set_={k: v for k, v in values.items() if k != "slack_user_id"},
        )
        async with self._db.engine.begin() as conn:
            await conn.execute(statement)
        return LinkedUser(slack_user_id, email, sys_user_id, display_name, resolved_at)


@dataclass(frozen=True)
class Posted:
    id: int
    table_name: str
    sys_id: str
    channel: str
    ts: str
    rendered_hash: str
    thread_ts: str | None = None  # the thread it was posted in (None: the channel itself)


class PostedMessages:
    """Which Slack messages render which ServiceNow record, and what each last showed."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        *,
        table_name: str,
        sys_id: str,
        channel: str,
        ts: str,
        rendered: str,
        rendered_hash: str,
    ) -> Posted:
        async with self._db.session() as session:
            row = PostedMessage(
                table_name=table_name,
                sys_id=sys_id,
                channel=channel,
                ts=ts,
                rendered=rendered,
                rendered_hash=rendered_hash,
            )
            session.add(row)
            await session.flush()
            return _posted(row)

    async def for_record(self, table_name: str, sys_id: str) -> Sequence[Posted]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(PostedMessage)
                .where(PostedMessage.table_name == table_name, PostedMessage.sys_id == sys_id)
                .order_by(PostedMessage.id)
            )
            return [_posted(row) for row in rows]


class IdempotencyKeys:
    """Claim a key once: the first claim wins, every later one (a retry, a double click) loses.

    Claims made while an earlier one is being written go together in the next statement (a group
    commit): one command still costs one INSERT in one transaction, but a burst of 500 costs a
    few dozen instead of 500 write transactions in a row on SQLite's single writer, which held
    every command's ServiceNow call back by up to a second (issue #15)."""

    BATCH = 500  # rows per statement (3 parameters each: far below SQLite's 32,766)

    def __init__(self, db: Database) -> None:
        self._db = db
        self._claims = GroupCommit(self._insert, batch=self.BATCH)
        self._claiming = (
            db.insert(IdempotencyKey).on_conflict_do_nothing().returning(IdempotencyKey.key)
        )

    async def claim(self, key: str) -> bool:
        return await self._claims(key[:255])

    async def _insert(self, keys: list[str]) -> list[bool]:
        # One statement, no ORM unit of work: this runs for every command and click. The rows go
        # as parameters (executemany, which SQLAlchemy sends as one INSERT … VALUES …, … RETURNING):
        # a statement with the rows in it (`.values([...])`) is compiled anew every time.
        now = utcnow()
        rows = [{"key": key, "result": "", "created_at": now} for key in dict.fromkeys(keys)]
        async with self._db.engine.begin() as conn:
            won = set((await conn.execute(self._claiming, rows)).scalars())
        # The first claim of a key in this batch may win; any other is a repeat.
        results = []
        for key in keys:
            results.append(key in won)
            won.discard(key)
        return results

    async def release(self, key: str) -> None:
        """Forget a claim whose work failed, so the user can try again."""
        async with self._db.session() as session:
            await session.execute(delete(IdempotencyKey).where(IdempotencyKey.key == key[:255]))

    async def prune(self, older_than: timedelta) -> int:
        async with self._db.session() as session:
            result = await session.execute(
                delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - older_than)
            )
            return int(getattr(result, "rowcount", 0) or 0)


def _linked(row: UserLink) -> LinkedUser:
    return LinkedUser(
        row.slack_user_id, row.email, row.sys_user_id, row.display_name, as_utc(row.resolved_at)
    )


def _posted(row: PostedMessage) -> Posted:
    return Posted(
        row.id, row.table_name, row.sys_id, row.channel, row.ts, row.rendered_hash, row.thread_ts
    )


class Followers:
    """Who follows which record (the Follow button on a card)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def follow(self, table: str, sys_id: str, slack_user_id: str, sys_user_id: str) -> bool:
        """Follow the record (again is the same); True when this call started following."""
        statement = self._db.insert(Follower).values(
            table_name=table,
            sys_id=sys_id,
            slack_user_id=slack_user_id,
            sys_user_id=sys_user_id,
            created_at=utcnow(),
        )
        async with self._db.engine.begin() as conn:
            result = await conn.execute(statement.on_conflict_do_nothing())
        return bool(result.rowcount)

    async def unfollow(self, table: str, sys_id: str, slack_user_id: str) -> bool:
        """Stop following (again is the same); True when this call stopped it."""
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                delete(Follower).where(
                    Follower.table_name == table,
                    Follower.sys_id == sys_id,
                    Follower.slack_user_id == slack_user_id,
                )
            )
        return bool(result.rowcount)

    async def of(self, table: str, sys_id: str) -> list[tuple[str, str]]:
        """(Slack user, sys_user) of everyone following the record."""
        async with self._db.engine.connect() as conn:
            rows = await conn.execute(
                select(Follower.slack_user_id, Follower.sys_user_id).where(
                    Follower.table_name == table, Follower.sys_id == sys_id
                )
            )
            return [(row.slack_user_id, row.sys_user_id) for row in rows]


class NotificationSettings:
    """`/incident notify off|on`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_muted(self, slack_user_id: str, muted: bool) -> None:
        statement = self._db.insert(NotificationSetting).values(
            slack_user_id=slack_user_id, muted=muted, updated_at=utcnow()
        )
        statement = statement.on_conflict_do_update(
            index_elements=[NotificationSetting.slack_user_id],
            set_={"muted": muted, "updated_at": utcnow()},
        )
        async with self._db.engine.begin() as conn:
            await conn.execute(statement)

    async def muted(self, slack_user_ids: list[str]) -> set[str]:
        if not slack_user_ids:
            return set()
        async with self._db.engine.connect() as conn:
            rows = await conn.scalars(
                select(NotificationSetting.slack_user_id).where(
                    NotificationSetting.slack_user_id.in_(slack_user_ids),
                    NotificationSetting.muted.is_(True),
                )
            )
            return set(rows)
