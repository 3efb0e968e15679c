"""Channel subscriptions and the one live card each channel keeps of a record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.models import (
    ChannelCard,
    OnceDone,
    OutboxMessage,
    PostedMessage,
    Subscription,
    utcnow,
)


@dataclass(frozen=True)
class StoredSubscription:
    id: int
    channel: str
    table: str
    events: tuple[str, ...]
    filters: dict[str, list[str]]
    history: bool
    creator: str  # a Slack user id; "" when made from the INCIDENT_CHANNEL setting
    summary: str = ""  # its events and filters, as people read them


@dataclass(frozen=True)
class ChannelCardState:
    """A channel's card of a record, as stored: which subscription posted it, whether the record
    still matches, and the blocks appended to that copy."""

    channel: str
    subscription_id: int
    matching: bool
    footer: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class CardNote:
    """What a change decides about a channel's card of the record (stored with the change)."""

    channel: str
    subscription_id: int
    matching: bool
    footer: list[dict[str, Any]]


def _stored(row: Subscription) -> StoredSubscription:
    return StoredSubscription(
        row.id,
        row.channel,
        row.table_name,
        tuple(json.loads(row.events)),
        {str(k): [str(v) for v in values] for k, values in json.loads(row.filters).items()},
        bool(row.history),
        row.creator,
        row.summary,
    )


class Subscriptions:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        channel: str,
        table: str,
        events: Sequence[str],
        filters: dict[str, list[str]],
        *,
        history: bool,
        creator: str,
        summary: str = "",
    ) -> StoredSubscription:
        now = utcnow()
        row = Subscription(
            channel=channel,
            table_name=table,
            events=json.dumps(list(events)),
            filters=json.dumps(filters, sort_keys=True),
            history=history,
            summary=summary,
            creator=creator,
            created_at=now,
            updated_at=now,
        )
        async with self._db.session() as session:
            session.add(row)
            await session.flush()
            return _stored(row)

    async def change(
        self,
        subscription_id: int,
        events: Sequence[str],
        filters: dict[str, list[str]],
        *,
        history: bool,
        summary: str = "",
    ) -> bool:
        async with self._db.engine.begin() as conn:
            done = await conn.execute(
                update(Subscription)
                .where(Subscription.id == subscription_id)
                .values(
                    events=json.dumps(list(events)),
                    filters=json.dumps(filters, sort_keys=True),
                    history=history,
                    summary=summary,
                    updated_at=utcnow(),
                )
            )
        return bool(done.rowcount)

    async def remove(self, subscription_id: int) -> bool:
        """Delete it; the cards it posted stay, kept for no subscription (SQLite may give its id
        to the next one: a card must not pass for that one's)."""
        async with self._db.engine.begin() as conn:
            done = await conn.execute(
                delete(Subscription).where(Subscription.id == subscription_id)
            )
            await conn.execute(
                update(ChannelCard)
                .where(ChannelCard.subscription_id == subscription_id)
                .values(subscription_id=0)
            )
        return bool(done.rowcount)

    async def get(self, subscription_id: int) -> StoredSubscription | None:
        return next(iter(await self._where(Subscription.id == subscription_id)), None)

    async def in_channel(self, channel: str) -> list[StoredSubscription]:
        return await self._where(Subscription.channel == channel)

    async def by_creator(self, slack_user_id: str) -> list[StoredSubscription]:
        return await self._where(Subscription.creator == slack_user_id)

    async def of_table(self, table: str) -> list[StoredSubscription]:
        return await self._where(Subscription.table_name == table)

    async def _where(self, *criteria: Any) -> list[StoredSubscription]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Subscription).where(*criteria).order_by(Subscription.id)
            )
            return [_stored(row) for row in rows]

    async def cards(self, table: str, sys_id: str) -> dict[str, ChannelCardState]:
        """The channels' cards of one record, by channel."""
        async with self._db.engine.connect() as conn:
            rows = await conn.execute(
                select(
                    ChannelCard.channel,
                    ChannelCard.subscription_id,
                    ChannelCard.matching,
                    ChannelCard.footer,
                ).where(ChannelCard.table_name == table, ChannelCard.sys_id == sys_id)
            )
            return {
                r.channel: ChannelCardState(
                    r.channel, r.subscription_id, bool(r.matching), json.loads(r.footer)
                )
                for r in rows
            }

    async def copies_in(self, table: str, sys_id: str, channels: Sequence[str]) -> set[str]:
        """Which of `channels` already show a card of the record in the channel itself (not in a
        thread): posted, or waiting in the outbox — a command's card (`show`, Post to channel)."""
        if not channels:
            return set()
        async with self._db.engine.connect() as conn:
            posted = select(PostedMessage.channel).where(
                PostedMessage.table_name == table,
                PostedMessage.sys_id == sys_id,
                PostedMessage.channel.in_(list(channels)),
                PostedMessage.thread_ts.is_(None),
            )
            queued = select(OutboxMessage.target).where(
                OutboxMessage.table_name == table,
                OutboxMessage.sys_id == sys_id,
                OutboxMessage.kind == "post",
                OutboxMessage.status == "pending",
                OutboxMessage.target.in_(list(channels)),
                OutboxMessage.ts.is_(None),
            )
            rows = await conn.execute(posted.union(queued))
            return {str(row[0]) for row in rows}

    async def once(self, name: str) -> bool:
        """True the first time a step of this name is claimed, ever; False afterwards."""
        statement = (
            self._db.insert(OnceDone).values(name=name, done_at=utcnow()).on_conflict_do_nothing()
        )
        async with self._db.engine.begin() as conn:
            return bool((await conn.execute(statement)).rowcount)


async def store_notes(
    db: Database, conn: AsyncConnection, table: str, sys_id: str, notes: Sequence[CardNote]
) -> None:
    """Record a change's decisions about channel cards, inside the change's transaction."""
    now = utcnow()
    rows = [
        {
            "channel": note.channel,
            "table_name": table,
            "sys_id": sys_id,
            "subscription_id": note.subscription_id,
            "matching": note.matching,
            "footer": json.dumps(note.footer),
            "created_at": now,
            "updated_at": now,
        }
        for note in notes
    ]
    statement = db.insert(ChannelCard)
    statement = statement.on_conflict_do_update(
        index_elements=[ChannelCard.channel, ChannelCard.table_name, ChannelCard.sys_id],
        set_={
            "subscription_id": statement.excluded.subscription_id,
            "matching": statement.excluded.matching,
            "footer": statement.excluded.footer,
            "updated_at": now,
        },
    )
    await conn.execute(statement, rows)  # one statement (executemany) for every channel


async def footers(conn: AsyncConnection, table: str, sys_id: str) -> dict[str, list[Any]]:
    """The blocks appended to each channel's card of a record, by channel (none: no entry)."""
    rows = await conn.execute(
        select(ChannelCard.channel, ChannelCard.footer).where(
            ChannelCard.table_name == table, ChannelCard.sys_id == sys_id
        )
    )
    return {channel: json.loads(footer) for channel, footer in rows if footer != "[]"}
