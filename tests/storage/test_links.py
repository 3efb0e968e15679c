"""Account linking's storage on SQLite and PostgreSQL: a state is taken once, by its browser,
before it expires; tokens are replaced under the row's lock, and forgotten."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from storage import Database, LinkedAccounts
from storage.models import utcnow


async def test_a_state_is_taken_once_by_its_browser_before_it_expires(db: Database) -> None:
    states = LinkedAccounts(db)
    soon = utcnow() + timedelta(minutes=10)
    await states.add_state("s" * 64, "U1", "b" * 64, "sealed", soon)
    assert await states.take_state("s" * 64, "x" * 64) == "other browser"
    taken = await asyncio.gather(*(states.take_state("s" * 64, "b" * 64) for _ in range(5)))
    winners = [t for t in taken if not isinstance(t, str)]
    assert len(winners) == 1 and winners[0].slack_user_id == "U1"
    assert sorted(t for t in taken if isinstance(t, str)) == ["used"] * 4
    assert await states.take_state("u" * 64, "b" * 64) == "unknown"

    await states.add_state("e" * 64, "U1", "b" * 64, "sealed", utcnow() - timedelta(seconds=1))
    assert await states.take_state("e" * 64, "b" * 64) == "expired"
    assert await states.prune_states() == 1
    assert await states.take_state("e" * 64, "b" * 64) == "unknown"


async def test_tokens_are_replaced_under_the_lock_and_forgotten(db: Database) -> None:
    accounts = LinkedAccounts(db)
    later = utcnow() + timedelta(minutes=30)
    first = await accounts.link(
        "U1",
        sys_user_id="a" * 32,
        user_name="alice.chen",
        display_name="Alice Chen",
        email="alice@example.com",
        access_token="sealed-access",
        refresh_token="sealed-refresh",
        expires_at=later,
    )
    assert first.version == 1 and "sealed-access" not in repr(first)
    async with accounts.locked("U1") as row:
        assert row.account == first
        stored = row.store("sealed-access-2", "sealed-refresh-2", later)
    assert stored.version == 2 and await accounts.get("U1") == stored
    relinked = await accounts.link(
        "U1",
        sys_user_id="b" * 32,
        user_name="bob.martin",
        display_name="Bob Martin",
        email="",
        access_token="x",
        refresh_token="",
        expires_at=later,
    )
    assert (relinked.sys_user_id, relinked.version) == ("b" * 32, 3)
    async with accounts.locked("U1") as row:
        await row.forget()
    assert await accounts.get("U1") is None and await accounts.forget("U1") is None
