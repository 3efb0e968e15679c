"""A table's subscriptions as every change reads them (`ChannelFeed.rules`), on SQLite and
PostgreSQL: cached for RULES_TTL, and read once however many changes find the cache stale at
once (a burst of created incidents reconciles a hundred at a time, #15)."""

from __future__ import annotations

import asyncio

from bot.feed.subscriptions import RULES_TTL, ChannelFeed
from sandbox.sqlcount import counting
from storage import Database
from storage.subscriptions import Subscriptions

CHANGES = 50


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def subscribe(subscriptions: Subscriptions, channel: str) -> None:
    await subscriptions.add(channel, "incident", ["new"], {}, history=False, creator="U1")


async def test_changes_that_find_the_rules_stale_together_read_them_once(db: Database) -> None:
    subscriptions = Subscriptions(db)
    await subscribe(subscriptions, "C1")
    clock = Clock()
    feed = ChannelFeed(subscriptions, clock=clock)
    with counting(db.engine) as count:
        first = await asyncio.gather(*(feed.rules("incident") for _ in range(CHANGES)))
        assert len(count.statements) == 1, count.summary()
        await subscribe(subscriptions, "C2")  # by another replica: seen once the cache is stale
        count.clear()
        clock.now += RULES_TTL / 2
        assert await feed.rules("incident") == first[0]
        assert count.statements == []
        clock.now += RULES_TTL
        again = await asyncio.gather(*(feed.rules("incident") for _ in range(CHANGES)))
        assert len(count.statements) == 1, count.summary()
    assert [rule.channel for rule in first[0]] == ["C1"]
    assert all(rules == first[0] for rules in first)
    assert all([rule.channel for rule in rules] == ["C1", "C2"] for rules in again)
