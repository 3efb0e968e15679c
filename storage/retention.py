"""Bounded storage: what the bot remembers about records that are done with, and about people
who stopped using it, is forgotten after a while; open records keep everything."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, tuple_

from storage.db import Database
from storage.models import (
    ChannelCard,
    Follower,
    PostedMessage,
    Snapshot,
    Unfurl,
    UserLink,
    as_utc,
    utcnow,
)

BATCH = 500


@dataclass(frozen=True)
class Pruned:
    cards: int = 0
    snapshots: int = 0
    followers: int = 0
    identities: int = 0
    previews: int = 0  # link previews no longer refreshed


class Retention:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def prune(
        self,
        closed_states: Mapping[str, Collection[str]],
        *,
        closed_days: float,
        days: float,
        now: datetime | None = None,
    ) -> Pruned:
        """Forget, for records whose snapshot `state` is closed (per table):
        - their cards (posted_messages) and link previews `closed_days` after they closed;
        - their snapshot and followers `days` after;
        and, whatever the record: cards of records the feed has no snapshot of, posted and last
        rewritten `days` ago; link previews given `days` ago; identities (user_links) resolved
        `days` ago (looked up again on
        next use). A closed record that reopens after its snapshot went is seen afresh (its next
        change is remembered, not announced). `now`: a benchmark's simulated clock."""
        now = now or utcnow()
        cards_before = now - timedelta(days=closed_days)
        forget_before = now - timedelta(days=days)
        cards = snapshots = followers = previews = 0
        latest = max(cards_before, forget_before)
        async with self._db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        Snapshot.table_name, Snapshot.sys_id, Snapshot.data, Snapshot.updated_at
                    ).where(
                        Snapshot.table_name.in_(list(closed_states)),
                        Snapshot.updated_at < latest,
                    )
                )
            ).all()
        closed_cards: list[tuple[str, str]] = []
        forgotten: list[tuple[str, str]] = []
        for table, sys_id, data, updated_at in rows:
            try:
                state = str(json.loads(data).get("state", ""))
            except (ValueError, AttributeError):
                continue
            if state not in closed_states[table]:
                continue
            moment = as_utc(updated_at)
            if moment < cards_before:
                closed_cards.append((table, sys_id))
            if moment < forget_before:
                forgotten.append((table, sys_id))
        async with self._db.engine.begin() as conn:
            for start in range(0, len(closed_cards), BATCH):
                batch = closed_cards[start : start + BATCH]
                done = await conn.execute(
                    delete(PostedMessage).where(
                        tuple_(PostedMessage.table_name, PostedMessage.sys_id).in_(batch)
                    )
                )
                cards += int(done.rowcount or 0)
                done = await conn.execute(
                    delete(Unfurl).where(tuple_(Unfurl.table_name, Unfurl.sys_id).in_(batch))
                )
                previews += int(done.rowcount or 0)
            for start in range(0, len(forgotten), BATCH):
                batch = forgotten[start : start + BATCH]
                done = await conn.execute(
                    delete(Snapshot).where(tuple_(Snapshot.table_name, Snapshot.sys_id).in_(batch))
                )
                snapshots += int(done.rowcount or 0)
                done = await conn.execute(
                    delete(Follower).where(tuple_(Follower.table_name, Follower.sys_id).in_(batch))
                )
                followers += int(done.rowcount or 0)
                # A forgotten record's channel cards go with it (a later change is news again).
                await conn.execute(
                    delete(ChannelCard).where(
                        tuple_(ChannelCard.table_name, ChannelCard.sys_id).in_(batch)
                    )
                )
            unseen = select(Snapshot.sys_id).where(
                Snapshot.table_name == PostedMessage.table_name,
                Snapshot.sys_id == PostedMessage.sys_id,
            )
            done = await conn.execute(
                delete(PostedMessage).where(
                    PostedMessage.updated_at < forget_before,
                    PostedMessage.posted_at < forget_before,
                    ~unseen.exists(),
                )
            )
            cards += int(done.rowcount or 0)
            done = await conn.execute(delete(UserLink).where(UserLink.resolved_at < forget_before))
            identities = int(done.rowcount or 0)
            # A preview is refreshed `days` at most, whatever its record does.
            done = await conn.execute(delete(Unfurl).where(Unfurl.created_at < forget_before))
            previews += int(done.rowcount or 0)
        return Pruned(cards, snapshots, followers, identities, previews)
