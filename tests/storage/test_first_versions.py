"""Records' first versions accepted together (a group commit, #15), on SQLite and PostgreSQL:
each is accepted once, its writes are queued once and in order, and a burst costs a few
transactions instead of one per change."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sandbox.sqlcount import counting
from storage import Database, FeedStore, SlackWrite

LEASE = timedelta(seconds=30)
RECORDS = 100


def sys_id(n: int) -> str:
    return f"{n:032x}"


def post(n: int) -> SlackWrite:
    # Each to its own channel: a channel's posts are claimed one at a time.
    return SlackWrite(
        "post", f"C{n}", {"text": f"card {n}"}, table_name="incident", sys_id=sys_id(n)
    )


async def first_version(store: FeedStore, n: int, *, text: str | None = None) -> bool:
    return await store.accept_change(
        "incident",
        sys_id(n),
        previous=None,
        current=0,
        data={"state": "1"},
        writes=[post(n)] if text is None else [SlackWrite("dm", f"U{text}", {"text": text})],
        card=None,
        fresh=True,
    )


async def test_a_burst_of_first_versions_is_stored_in_a_few_transactions(db: Database) -> None:
    store = FeedStore(db)
    with counting(db.engine) as count:
        accepted = await asyncio.gather(*(first_version(store, n) for n in range(RECORDS)))
    assert accepted == [True] * RECORDS
    assert count.transactions <= 3, count.summary()  # the first alone, then the rest
    for n in (0, RECORDS - 1):
        snapshot = await store.snapshot("incident", sys_id(n))
        assert snapshot is not None and (snapshot.sys_mod_count, snapshot.data) == (
            0,
            {"state": "1"},
        )
    claimed = await store.claim(RECORDS, LEASE)
    # One card each, queued in the order the changes were accepted.
    assert [m.payload["text"] for m in claimed] == [f"card {n}" for n in range(RECORDS)]


async def test_a_first_version_stored_twice_is_accepted_once(db: Database) -> None:
    """A webhook and a poll delivering the same first version, in one batch or in two."""
    store = FeedStore(db)
    together = await asyncio.gather(
        first_version(store, 1, text="one"),
        first_version(store, 1, text="two"),
        first_version(store, 2, text="three"),
    )
    later = await first_version(store, 2, text="four")
    assert list(together) == [True, False, True] and later is False
    claimed = await store.claim(10, LEASE)
    assert [m.payload["text"] for m in claimed] == ["one", "three"]
