"""The change feed's storage: snapshots, poll cursors and the outbox of Slack writes.

The rule that makes delivery exact: a change is accepted by advancing its record's snapshot with a
compare-and-set on `sys_mod_count`, and everything that change must send is queued in the SAME
transaction. A webhook and a poll seeing the same change, or two replicas, race on the CAS: one wins
and queues; the others queue nothing.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased
from sqlalchemy.sql.dml import ReturningUpdate
from sqlalchemy.sql.elements import ColumnElement

from storage.db import Database
from storage.group import GroupCommit
from storage.models import OutboxMessage, PollCursor, PostedMessage, Snapshot, as_utc, utcnow
from storage.subscriptions import CardNote, store_notes
from storage.subscriptions import footers as channel_footers


@dataclass(frozen=True)
class PendingFold:
    """A queued DM still waiting out its fold window (nobody has claimed it)."""

    id: int
    version: int
    state: dict[str, Any]


@dataclass(frozen=True)
class Fold:
    """A DM that folds with others about the same record to the same person (`key`).

    `state` is the tracker's memo of where the burst started. With `replaces`, this write takes
    the place of that queued DM (a None payload: the net change is nothing, so it is dropped);
    if that DM left meanwhile, `fallback` is queued instead.
    """

    key: str
    state: dict[str, Any]
    replaces: PendingFold | None = None
    fallback: SlackWrite | None = None


@dataclass(frozen=True)
class SlackWrite:
    """A message to deliver: `post` to a channel, `dm` to a user, or `update` of a posted card."""

    kind: str
    target: str
    payload: dict[str, Any] | None  # None only for a fold that nets to nothing
    table_name: str | None = None  # with sys_id: the message becomes a live copy of that record
    sys_id: str | None = None
    ts: str | None = None  # an update's message; a post's thread (None: the channel itself)
    delay: float = 0.0  # not before now + delay seconds (a fold window)
    fold: Fold | None = None
    # While pending, a later write with the same key replaces this one (a link preview's refresh).
    coalesce: str | None = None


@dataclass(frozen=True)
class Card:
    """A rendered card and its digest (what posted copies are compared with)."""

    payload: dict[str, Any]
    digest: str


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    target: str
    ts: str | None
    payload: dict[str, Any]
    table_name: str | None
    sys_id: str | None
    version: int
    attempts: int
    created_at: datetime
    token: str


@dataclass(frozen=True)
class Delivery:
    """A message Slack accepted: where it is (`channel`, `ts`), what it shows (`digest`), and
    whether to claim the next post or DM to its target for that long (`then_claim`)."""

    message: Claimed
    channel: str
    ts: str
    digest: str
    then_claim: timedelta | None = None


@dataclass
class StoredSnapshot:
    sys_mod_count: int
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stuck:
    """An undelivered message, as `incident-bot outbox` lists it."""

    id: int
    status: str  # pending or dead
    kind: str
    target: str
    attempts: int
    created_at: datetime
    last_error: str


_SNAPSHOTS = cast(Table, Snapshot.__table__)
_SNAPSHOT = select(_SNAPSHOTS.c.sys_mod_count, _SNAPSHOTS.c.data).where(
    _SNAPSHOTS.c.table_name == bindparam("b_table"), _SNAPSHOTS.c.sys_id == bindparam("b_sys_id")
)
# Compare-and-set: from the version the change was diffed against to its own.
_ADVANCE_SNAPSHOT = update(_SNAPSHOTS).where(
    _SNAPSHOTS.c.table_name == bindparam("b_table"),
    _SNAPSHOTS.c.sys_id == bindparam("b_sys_id"),
    _SNAPSHOTS.c.sys_mod_count == bindparam("b_previous"),
)


class FeedStore:
    RECORD_BATCH = 200  # deliveries per recording transaction (2 parameters each in its IN)

    def __init__(self, db: Database, *, update_interval: timedelta = timedelta(seconds=1)) -> None:
        self._db = db
        # The outbox worker's tasks record deliveries: its context runs the writes.
        self._deliveries: GroupCommit[Delivery, Claimed | None] = GroupCommit(
            self._record, batch=self.RECORD_BATCH, context=contextvars.copy_context
        )
        self._remember = db.insert(_POSTED).on_conflict_do_nothing()
        # The shortest time between two chat.update calls on one message: bursts coalesce.
        self.update_interval = update_interval
        # Records' first versions, stored together (accept_change): in the first caller's context.
        self._firsts: GroupCommit[_First, bool] = GroupCommit(
            self._store_firsts, batch=_FIRSTS, context=contextvars.copy_context
        )

    # -- snapshots and cursors --------------------------------------------------------------------

    async def snapshot(self, table: str, sys_id: str) -> StoredSnapshot | None:
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(_SNAPSHOT, {"b_table": table, "b_sys_id": sys_id})).first()
        return StoredSnapshot(row.sys_mod_count, json.loads(row.data)) if row else None

    async def cursor(self, table: str) -> str | None:
        async with self._db.engine.connect() as conn:
            return await conn.scalar(
                select(PollCursor.cursor).where(PollCursor.table_name == table)
            )

    async def set_cursor(self, table: str, cursor: str) -> None:
        statement = self._db.insert(PollCursor).values(
            table_name=table, cursor=cursor, updated_at=utcnow()
        )
        statement = statement.on_conflict_do_update(
            index_elements=[PollCursor.table_name], set_={"cursor": cursor, "updated_at": utcnow()}
        )
        async with self._db.engine.begin() as conn:
            await conn.execute(statement)

    async def accept_change(
        self,
        table: str,
        sys_id: str,
        *,
        previous: int | None,
        current: int,
        data: dict[str, str],
        writes: Sequence[SlackWrite],
        card: Card | None,
        fresh: bool = False,
        notes: Sequence[CardNote] = (),
        footers: Mapping[str, list[Any]] | None = None,
    ) -> bool:
        """Advance the snapshot from `previous` to `current` and queue the change's writes.

        False (and nothing queued) when another delivery of this change got there first.
        `fresh`: the caller has just created the record (and `previous` is None): no copy of it
        can be posted or queued yet (every path that posts a record's card reconciles it first,
        and would have stored this snapshot), so there is none to rewrite and none is looked for.
        `notes`: what the change decides about channels' subscription cards of the record (stored
        before the copies are rewritten, so each keeps its own footer). `footers`: each channel's
        footer of the record's card, as the caller knows them with `notes` applied ({} when no
        channel subscribes to the table); None: read them here.
        """
        now = utcnow()
        values = {
            "sys_mod_count": current,
            "data": json.dumps(data, sort_keys=True),
            "updated_at": now,
        }
        if previous is None and not notes and (card is None or fresh):
            rows = _plain_rows(writes, now)
            if rows is not None:  # nothing to fold, coalesce or rewrite: stored with others
                return await self._accept_first(
                    {"table_name": table, "sys_id": sys_id, **values}, rows
                )
        # Statements built once, the values as parameters: a `.values(...)` of this call's
        # values was built, and its cache key computed, for every change (#15).
        async with self._db.engine.begin() as conn:
            if previous is None:
                params = {"table_name": table, "sys_id": sys_id, **values}
                advanced = (await conn.execute(self._new_snapshot, params)).first() is not None
            else:
                params = {"b_table": table, "b_sys_id": sys_id, "b_previous": previous, **values}
                advanced = bool((await conn.execute(_ADVANCE_SNAPSHOT, params)).rowcount)
            if not advanced:
                return False
            await self._queue(conn, writes, now)
            if notes:
                await store_notes(self._db, conn, table, sys_id, notes)
            if card is not None and not (fresh and previous is None):
                await self._queue_card(conn, table, sys_id, card, now, footers=footers)
        return True

    @functools.cached_property
    def _new_snapshot(self) -> Any:
        """Records' first snapshots, unless another delivery of their change stored one first;
        returns the ones it stored."""
        return (
            self._db.insert(_SNAPSHOTS)
            .on_conflict_do_nothing()
            .returning(_SNAPSHOTS.c.table_name, _SNAPSHOTS.c.sys_id)
        )

    async def _accept_first(self, snapshot: dict[str, Any], rows: list[dict[str, Any]]) -> bool:
        """Store a record's first snapshot and queue its change's rows, in one transaction with
        the first versions other changes store meanwhile (a group commit): one change still
        costs two statements in one transaction, but a burst of commands answered together a
        transaction per batch instead of one each on SQLite's single writer (#15)."""
        return await self._firsts(_First(snapshot, rows))

    async def _store_firsts(self, batch: list[_First]) -> list[bool]:
        async with self._db.engine.begin() as conn:
            result = await conn.execute(self._new_snapshot, [first.snapshot for first in batch])
            new = {(row.table_name, row.sys_id) for row in result}
            stored: list[bool] = []
            for first in batch:
                # Twice in one batch (a webhook and a poll): only its first change is stored.
                key = (first.snapshot["table_name"], first.snapshot["sys_id"])
                stored.append(key in new)
                new.discard(key)
            rows = [
                row for first, won in zip(batch, stored, strict=True) if won for row in first.rows
            ]
            if rows:
                await conn.execute(_QUEUE, rows)
        return stored

    # -- the outbox ------------------------------------------------------------------------------

    async def queue(self, writes: Sequence[SlackWrite]) -> None:
        async with self._db.engine.begin() as conn:
            await self._queue(conn, writes, utcnow())

    async def queue_card(self, table: str, sys_id: str, card: Card) -> None:
        """Rewrite every posted copy of a record that shows something else (coalesced per message)."""
        async with self._db.engine.begin() as conn:
            await self._queue_card(conn, table, sys_id, card, utcnow())

    async def _queue(
        self, conn: AsyncConnection, writes: Sequence[SlackWrite], now: datetime
    ) -> None:
        """Fold what folds, then insert the rest in one statement (their ids keep this order)."""
        rows: list[dict[str, Any]] = []
        coalesced: list[dict[str, Any]] = []
        for write in writes:
            queued: SlackWrite | None = write
            fold = write.fold
            if fold is not None and fold.replaces is not None:
                if await self._fold_into(conn, fold.replaces, write, now):
                    continue
                queued = fold.fallback  # that DM left meanwhile: queue this change on its own
            if queued is None or queued.payload is None:
                continue
            (coalesced if queued.coalesce else rows).append(_row(queued, now))
        # One INSERT, the rows as parameters (executemany): SQLAlchemy compiles it once, where a
        # multi-row `.values([...])` has no cache key and was compiled for every card (#15).
        if rows:
            await conn.execute(_QUEUE, rows)
        if coalesced:
            await self._coalesce(conn, coalesced, now)

    async def _fold_into(
        self, conn: AsyncConnection, pending: PendingFold, write: SlackWrite, now: datetime
    ) -> bool:
        """Replace (or, netting to nothing, drop) a DM still waiting out its window; False if
        it was claimed, rewritten or sent meanwhile. Its place in the queue and its window stay."""
        waiting = and_(
            OutboxMessage.id == pending.id,
            OutboxMessage.version == pending.version,
            OutboxMessage.status == "pending",
            OutboxMessage.claimed_until.is_(None),
        )
        if write.payload is None:
            done = await conn.execute(delete(OutboxMessage).where(waiting))
        else:
            state = write.fold.state if write.fold is not None else None
            done = await conn.execute(
                update(OutboxMessage)
                .where(waiting)
                .values(
                    payload=json.dumps(write.payload),
                    fold_state=json.dumps(state),
                    version=OutboxMessage.version + 1,
                    updated_at=now,
                )
            )
        return bool(done.rowcount)

    async def pending_folds(self, keys: Sequence[str]) -> dict[str, PendingFold]:
        """The queued DMs still open to folding, by fold key (the newest where several are)."""
        if not keys:
            return {}
        async with self._db.engine.connect() as conn:
            rows = await conn.execute(
                select(OutboxMessage.id, OutboxMessage.version, OutboxMessage.fold_key)
                .add_columns(OutboxMessage.fold_state)
                .where(
                    OutboxMessage.fold_key.in_(list(keys)),
                    OutboxMessage.status == "pending",
                    OutboxMessage.claimed_until.is_(None),
                )
                .order_by(OutboxMessage.id)
            )
            return {
                row.fold_key: PendingFold(row.id, row.version, json.loads(row.fold_state or "{}"))
                for row in rows
            }

    async def _queue_card(
        self,
        conn: AsyncConnection,
        table: str,
        sys_id: str,
        card: Card,
        now: datetime,
        *,
        footers: Mapping[str, list[Any]] | None = None,
    ) -> None:
        # A channel's subscription card carries its own footer (who subscribed, or that the
        # record no longer matches): that copy shows the card with the footer appended.
        extra = (
            await channel_footers(conn, table, sys_id)
            if footers is None
            else {channel: blocks for channel, blocks in footers.items() if blocks}
        )

        def payload_for(channel: str) -> str:
            blocks = extra.get(channel)
            if not blocks:
                return json.dumps(card.payload)
            with_footer = dict(card.payload)
            with_footer["blocks"] = [*card.payload.get("blocks", []), *blocks]
            return json.dumps(with_footer)

        payload = json.dumps(card.payload)
        # Live copies still waiting to be posted go out showing the newest card.
        pending = and_(
            OutboxMessage.status == "pending",
            OutboxMessage.kind.in_(("post", "dm")),
            OutboxMessage.table_name == table,
            OutboxMessage.sys_id == sys_id,
        )
        await conn.execute(
            update(OutboxMessage)
            .where(
                pending,
                OutboxMessage.target.not_in(list(extra)),
                OutboxMessage.payload != payload,  # the same card again changes nothing
            )
            .values(payload=payload, version=OutboxMessage.version + 1, updated_at=now)
        )
        if extra:
            # The subscription cards still waiting to be posted: each with its own footer.
            waiting = await conn.execute(
                select(OutboxMessage.id, OutboxMessage.target, OutboxMessage.payload).where(
                    pending, OutboxMessage.target.in_(list(extra))
                )
            )
            changed = [
                {"b_id": row.id, "b_payload": own}
                for row in waiting
                if (own := payload_for(row.target)) != row.payload
            ]
            if changed:
                outbox = cast(Table, OutboxMessage.__table__)
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.id == bindparam("b_id"))
                    .values(
                        payload=bindparam("b_payload"),
                        version=outbox.c.version + 1,
                        updated_at=now,
                    ),
                    changed,
                )
        copies = select(PostedMessage.channel, PostedMessage.ts, PostedMessage.updated_at).where(
            PostedMessage.table_name == table, PostedMessage.sys_id == sys_id
        )
        if not extra:
            copies = copies.where(PostedMessage.rendered_hash != card.digest)
        else:
            copies = copies.add_columns(PostedMessage.rendered_hash)
        posted = [
            (row.channel, row.ts, row.updated_at, payload_for(row.channel))
            for row in await conn.execute(copies)
            if not extra or row.rendered_hash != _digest(payload_for(row.channel))
        ]
        rows = [
            {
                "kind": "update",
                "target": channel,
                "ts": ts,
                "coalesce_key": f"update:{channel}:{ts}",
                "payload": own,
                "table_name": table,
                "sys_id": sys_id,
                "version": 1,
                "status": "pending",
                "attempts": 0,
                "available_at": max(now, as_utc(last_sent) + self.update_interval),
                "last_error": "",
                "created_at": now,
                "updated_at": now,
            }
            for channel, ts, last_sent, own in posted
        ]
        if not rows:
            return
        # One statement for every posted copy (executemany): a card on 200 channels is one
        # round trip, not 200.
        await self._coalesce(conn, rows, now)

    async def _coalesce(
        self, conn: AsyncConnection, rows: Sequence[dict[str, Any]], now: datetime
    ) -> None:
        """Queue these rows; a pending one with the same coalesce key takes the newer payload
        instead (its version goes up, so a delivery in flight of the older one is sent again)."""
        statement = self._db.insert(OutboxMessage)
        statement = statement.on_conflict_do_update(
            index_elements=[OutboxMessage.coalesce_key],
            # A literal predicate: PostgreSQL infers the partial index only from the same text.
            index_where=text("status = 'pending'"),
            set_={
                "payload": statement.excluded.payload,
                "version": OutboxMessage.version + 1,
                "updated_at": now,
            },
            # The same payload again (a second reconcile while the first rewrite is in flight)
            # must not make the write in flight go out twice.
            where=OutboxMessage.payload != statement.excluded.payload,
        )
        await conn.execute(statement, list(rows))

    async def claim(self, limit: int, lease: timedelta) -> list[Claimed]:
        """Take up to `limit` due messages for `lease` (other replicas skip them meanwhile).

        Posts and DMs keep their order per target: one waits while an earlier one to the same
        channel or person is still pending (in flight, or waiting to be retried). The holder
        keeps its claim alive with `extend` while it delivers.
        """
        async with self._db.engine.begin() as conn:
            return await self._claim(conn, limit, lease)

    async def claim_or_next_due(
        self, limit: int, lease: timedelta
    ) -> tuple[list[Claimed], datetime | None]:
        """`claim`; when it took fewer than `limit`, also when the next message will be due
        (`next_due`), in the same transaction. None when the claim was full or nothing waits."""
        async with self._db.engine.begin() as conn:
            claimed = await self._claim(conn, limit, lease)
            if len(claimed) >= limit:
                return claimed, None
            return claimed, await self._next_due(conn)

    async def _claim(self, conn: AsyncConnection, limit: int, lease: timedelta) -> list[Claimed]:
        now = utcnow()
        token = uuid.uuid4().hex
        params = {"now": now, "limit": limit, "until": now + lease, "token": token}
        locking = self._db.engine.dialect.name == "postgresql"
        if not locking and (await conn.execute(_due(1), params)).first() is None:
            # SQLite: look first (a read), and write only when something is due. An UPDATE that
            # matches nothing still takes SQLite's one write lock, and every other writer waiting
            # for it sleeps in SQLite's busy handler (1, 2, 5 … 100 ms); the outbox loop looks on
            # every wake, and mostly finds nothing new.
            return []
        rows = (await conn.execute(_claiming(locking), params)).all()
        return sorted((_claimed(row, token) for row in rows), key=lambda c: c.id)

    async def extend(self, messages: Sequence[Claimed], lease: timedelta) -> int:
        """Keep our claims alive for another `lease`; how many are still ours."""
        if not messages:
            return 0
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_([message.id for message in messages]),
                    OutboxMessage.claim_token == messages[0].token,
                    OutboxMessage.status == "pending",
                )
                .values(claimed_until=utcnow() + lease)
            )
        return int(result.rowcount or 0)

    async def delivered(
        self,
        message: Claimed,
        *,
        channel: str,
        ts: str,
        digest: str,
        then_claim: timedelta | None = None,
    ) -> Claimed | None:
        """Record a delivery: a live copy is remembered (or its rendering updated), the row done.

        If the row was rewritten while in flight (a newer card coalesced into it), it stays
        pending and goes out again with the newer card: as a `chat.update` of what was posted.
        `then_claim`: in the same transaction, claim the next post or DM to the same target for
        this long (if it is next in line and due); returns it.

        Deliveries recorded while others are being written go together in the next transaction
        (a group commit, `storage/group.py`), a few statements whatever their number (#15).
        """
        return await self._deliveries(Delivery(message, channel, ts, digest, then_claim))

    async def _record(self, deliveries: list[Delivery]) -> list[Claimed | None]:
        now = utcnow()
        async with self._db.engine.begin() as conn:
            sent = [(d.message.id, d.message.version) for d in deliveries]
            done = set((await conn.execute(_DONE, {"sent": sent, "now": now})).scalars())
            for delivery in deliveries:
                if delivery.message.id not in done:
                    await _rewritten_in_flight(conn, delivery)
            remember = [
                _posted_row(d, now)
                for d in deliveries
                if d.message.kind in ("post", "dm") and d.message.table_name and d.message.sys_id
            ]
            if remember:
                await conn.execute(self._remember, remember)
            shown = [
                {
                    "b_channel": d.channel,
                    "b_ts": d.ts,
                    "b_rendered": json.dumps(d.message.payload, sort_keys=True),
                    "b_hash": d.digest,
                    "b_now": now,
                }
                for d in deliveries
                if d.message.kind == "update"
            ]
            if shown:
                await conn.execute(_SHOWN, shown)
            following: dict[str, Claimed] = {}
            for lease in {d.then_claim for d in deliveries if d.then_claim is not None}:
                targets = [d.message.target for d in deliveries if d.then_claim == lease]
                following |= await self._claim_next_to(conn, targets, lease, now)
        return [following.get(d.message.target) if d.then_claim else None for d in deliveries]

    async def _claim_next_to(
        self, conn: AsyncConnection, targets: list[str], lease: timedelta, now: datetime
    ) -> dict[str, Claimed]:
        """Claim the oldest pending post or DM to each of `targets`, if it is due and nobody
        holds it (in one statement, under one token); by target."""
        token = uuid.uuid4().hex
        rows = await conn.execute(
            _NEXT, {"targets": targets, "now": now, "until": now + lease, "token": token}
        )
        return {row.target: _claimed(row, token) for row in rows}

    async def release(self, messages: Sequence[Claimed]) -> None:
        """Hand back messages claimed but not started (their target was busy)."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_([message.id for message in messages]),
                    OutboxMessage.claim_token == messages[0].token,
                )
                .values(claimed_until=None, claim_token=None, attempts=OutboxMessage.attempts - 1)
            )

    async def retry_later(
        self, message: Claimed, delay: float, error: str, *, counts: bool = True
    ) -> None:
        """Try again in `delay` seconds; a rate limit (`counts=False`) is not an attempt."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message.id, OutboxMessage.claim_token == message.token)
                .values(
                    claimed_until=None,
                    claim_token=None,
                    attempts=OutboxMessage.attempts - (0 if counts else 1),
                    available_at=utcnow() + timedelta(seconds=delay),
                    last_error=error[:2000],
                    updated_at=utcnow(),
                )
            )

    async def give_up(self, message: Claimed, error: str, *, forget_card: bool = False) -> None:
        """A write that can never succeed (the message or channel is gone): stop trying."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message.id)
                .values(
                    status="dead",
                    claimed_until=None,
                    claim_token=None,
                    last_error=error[:2000],
                    updated_at=utcnow(),
                )
            )
            if forget_card and message.ts:
                await conn.execute(
                    delete(PostedMessage).where(
                        PostedMessage.channel == message.target, PostedMessage.ts == message.ts
                    )
                )

    async def next_due(self) -> datetime | None:
        """When the next message can be claimed (a later one waiting behind an earlier one to
        its target counts only once that one is settled)."""
        async with self._db.engine.connect() as conn:
            return await self._next_due(conn)

    async def _next_due(self, conn: AsyncConnection) -> datetime | None:
        rows = await conn.execute(_next_times())
        times = [
            max(as_utc(available), as_utc(claimed) if claimed else as_utc(available))
            for available, claimed in rows
        ]
        return min(times) if times else None

    async def pending(self) -> int:
        async with self._db.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "pending")
            )
        return int(count or 0)

    async def oldest_pending_age(self) -> timedelta | None:
        """How long the oldest undelivered message has waited (None: the outbox is empty)."""
        async with self._db.engine.connect() as conn:
            oldest: datetime | None = await conn.scalar(
                select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == "pending")
            )
        return utcnow() - as_utc(oldest) if oldest else None

    async def undelivered(self, limit: int = 1000) -> list[Stuck]:
        """Messages not delivered (pending, then given up), oldest first: for `incident-bot outbox`."""
        async with self._db.engine.connect() as conn:
            rows = await conn.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.status,
                    OutboxMessage.kind,
                    OutboxMessage.target,
                    OutboxMessage.attempts,
                    OutboxMessage.created_at,
                    OutboxMessage.last_error,
                )
                .where(OutboxMessage.status.in_(("pending", "dead")))
                .order_by(OutboxMessage.status.desc(), OutboxMessage.id)
                .limit(limit)
            )
            return [
                Stuck(
                    r.id, r.status, r.kind, r.target, r.attempts, as_utc(r.created_at), r.last_error
                )
                for r in rows
            ]

    async def requeue(self, ids: Sequence[int] | None) -> list[int]:
        """Give given-up messages (these `ids`, or every one: None) a fresh start; the ids
        requeued. An update whose message has a newer update pending is left (that one wins)."""
        now = utcnow()
        newer = aliased(OutboxMessage)
        dead = and_(
            OutboxMessage.status == "dead",
            ~exists().where(
                newer.coalesce_key == OutboxMessage.coalesce_key, newer.status == "pending"
            ),
        )
        if ids is not None:
            dead = and_(dead, OutboxMessage.id.in_(list(ids)))
        async with self._db.engine.begin() as conn:
            found = (await conn.execute(select(OutboxMessage.id).where(dead))).scalars().all()
            if found:
                await conn.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(found))
                    .values(
                        status="pending",
                        attempts=0,
                        available_at=now,
                        claimed_until=None,
                        claim_token=None,
                        created_at=now,  # given up by age: the retry gets its own day
                        updated_at=now,
                    )
                )
        return sorted(found)

    async def prune(self, older_than: timedelta) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(
                delete(OutboxMessage).where(
                    and_(
                        OutboxMessage.status.in_(("done", "dead")),
                        OutboxMessage.updated_at < utcnow() - older_than,
                    )
                )
            )


_CLAIMED = (
    OutboxMessage.id,
    OutboxMessage.kind,
    OutboxMessage.target,
    OutboxMessage.ts,
    OutboxMessage.payload,
    OutboxMessage.table_name,
    OutboxMessage.sys_id,
    OutboxMessage.version,
    OutboxMessage.attempts,
    OutboxMessage.created_at,
)


def _claimed(row: Any, token: str) -> Claimed:
    return Claimed(
        row.id,
        row.kind,
        row.target,
        row.ts,
        json.loads(row.payload),
        row.table_name,
        row.sys_id,
        row.version,
        row.attempts,
        as_utc(row.created_at),
        token,
    )


_QUEUE = insert(OutboxMessage)
_FIRSTS = 200  # first versions stored per transaction (5 parameters each)


@dataclass
class _First:
    """A record's first snapshot to store and its change's outbox rows."""

    snapshot: dict[str, Any]
    rows: list[dict[str, Any]]


def _plain_rows(writes: Sequence[SlackWrite], now: datetime) -> list[dict[str, Any]] | None:
    """The outbox rows of writes that only queue (None if one folds into or coalesces with a
    pending one: that reads the outbox first)."""
    rows = []
    for write in writes:
        if write.coalesce or (write.fold is not None and write.fold.replaces is not None):
            return None
        if write.payload is not None:
            rows.append(_row(write, now))
    return rows


def _row(write: SlackWrite, now: datetime) -> dict[str, Any]:
    state = write.fold.state if write.fold is not None else None
    return {
        "kind": write.kind,
        "target": write.target,
        "ts": write.ts,
        "coalesce_key": write.coalesce,
        "payload": json.dumps(write.payload),
        "table_name": write.table_name,
        "sys_id": write.sys_id,
        "version": 1,
        "status": "pending",
        "attempts": 0,
        "available_at": now + timedelta(seconds=write.delay),
        "claimed_until": None,
        "claim_token": None,
        "last_error": "",
        "fold_key": write.fold.key if write.fold is not None else None,
        "fold_state": json.dumps(state) if state is not None else None,
        "created_at": now,
        "updated_at": now,
    }


# The statements that record deliveries, built once (Core, not ORM: no per-call ORM plumbing).
_OUTBOX = cast(Table, OutboxMessage.__table__)
_POSTED = cast(Table, PostedMessage.__table__)
_DONE = (
    update(_OUTBOX)
    .where(tuple_(_OUTBOX.c.id, _OUTBOX.c.version).in_(bindparam("sent", expanding=True)))
    .values(status="done", claimed_until=None, claim_token=None, updated_at=bindparam("now"))
    .returning(_OUTBOX.c.id)
)
_SHOWN = (
    update(_POSTED)
    .where(_POSTED.c.channel == bindparam("b_channel"), _POSTED.c.ts == bindparam("b_ts"))
    .values(
        rendered=bindparam("b_rendered"),
        rendered_hash=bindparam("b_hash"),
        updated_at=bindparam("b_now"),
    )
)
_NEXT = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id.in_(
            select(func.min(_OUTBOX.c.id))
            .where(
                _OUTBOX.c.target.in_(bindparam("targets", expanding=True)),
                _OUTBOX.c.status == "pending",
                _OUTBOX.c.kind.in_(("post", "dm")),
            )
            .group_by(_OUTBOX.c.target)
        ),
        _OUTBOX.c.available_at <= bindparam("now"),
        or_(_OUTBOX.c.claimed_until.is_(None), _OUTBOX.c.claimed_until < bindparam("now")),
    )
    .values(
        claimed_until=bindparam("until"),
        claim_token=bindparam("token"),
        attempts=_OUTBOX.c.attempts + 1,
    )
    .returning(*(_OUTBOX.c[column.key] for column in _CLAIMED))
)


async def _rewritten_in_flight(conn: AsyncConnection, delivery: Delivery) -> None:
    """A row rewritten while it was being delivered stays pending, for the newer version. A post
    is never sent twice: it becomes an update of the message just posted. Anything else is
    handed back, if the claim is still ours."""
    message = delivery.message
    if message.kind in ("post", "dm"):
        which = _OUTBOX.c.id == message.id
        became = {"kind": "update", "target": delivery.channel, "ts": delivery.ts} | {
            "coalesce_key": f"update:{delivery.channel}:{delivery.ts}"
        }
    else:
        which = and_(
            _OUTBOX.c.id == message.id,
            _OUTBOX.c.status == "pending",
            _OUTBOX.c.claim_token == message.token,
        )
        became = {}
    await conn.execute(
        update(_OUTBOX).where(which).values(claimed_until=None, claim_token=None, **became)
    )


def _posted_row(delivery: Delivery, now: datetime) -> dict[str, Any]:
    message = delivery.message
    return {
        "table_name": message.table_name,
        "sys_id": message.sys_id,
        "channel": delivery.channel,
        "ts": delivery.ts,
        "thread_ts": message.ts,  # a post's `ts` is the thread it went to
        "rendered": json.dumps(message.payload, sort_keys=True),
        "rendered_hash": delivery.digest,
        "posted_at": now,
        "updated_at": now,
    }


@functools.cache
def _next_in_line() -> ColumnElement[bool]:
    """Pending, and no earlier post or DM to the same target still pending (their order holds).
    Built once: the alias's column adaptation took ~5% of the bot's CPU under a burst (#15)."""
    earlier = aliased(OutboxMessage)
    ordered = ("post", "dm")
    return and_(
        OutboxMessage.status == "pending",
        or_(
            OutboxMessage.kind.not_in(ordered),
            ~exists().where(
                earlier.target == OutboxMessage.target,
                earlier.status == "pending",
                earlier.kind.in_(ordered),
                earlier.id < OutboxMessage.id,
            ),
        ),
    )


@functools.cache
def _due(limit: int | None = None) -> Select[int]:
    """The ids of messages that can be claimed now (`now`), oldest first: `limit` of them, or
    the `limit` parameter's number. Built once, as every statement the outbox loop runs."""
    return (
        select(OutboxMessage.id)
        .where(
            _next_in_line(),
            OutboxMessage.available_at <= bindparam("now"),
            or_(
                OutboxMessage.claimed_until.is_(None),
                OutboxMessage.claimed_until < bindparam("now"),
            ),
        )
        .order_by(OutboxMessage.id)
        .limit(bindparam("limit", type_=Integer) if limit is None else limit)
    )


@functools.cache
def _claiming(locking: bool) -> ReturningUpdate[Any]:
    """Claim `limit` due messages until `until` under `token`; `locking` (PostgreSQL): skip
    the rows another replica's claim holds locked meanwhile."""
    due = _due()
    if locking:
        due = due.with_for_update(skip_locked=True, of=OutboxMessage)
    return (
        update(_OUTBOX)
        .where(_OUTBOX.c.id.in_(due.scalar_subquery()))
        .values(
            claimed_until=bindparam("until"),
            claim_token=bindparam("token"),
            attempts=_OUTBOX.c.attempts + 1,
        )
        .returning(*(_OUTBOX.c[column.key] for column in _CLAIMED))
    )


@functools.cache
def _next_times() -> Select[datetime, datetime | None]:
    return (
        select(OutboxMessage.available_at, OutboxMessage.claimed_until)
        .where(_next_in_line())
        .order_by(OutboxMessage.available_at)
        .limit(50)
    )


def _digest(payload_json: str) -> str:
    """A payload's digest, as the messenger records it once delivered (bot/slack/kit.digest_of)."""
    return hashlib.sha256(json.dumps(json.loads(payload_json), sort_keys=True).encode()).hexdigest()
