from __future__ import annotations

from datetime import timedelta

from storage import Database, IdempotencyKeys, PostedMessages, UserLinks

ALICE_SYS_ID = "a" * 32


async def test_migration_reaches_the_newest_revision(db: Database) -> None:
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None and await db.revision() == head
    await db.migrate()  # a second run is a no-op
    assert await db.revision() == head


async def test_user_link_round_trips_and_updates(db: Database) -> None:
    links = UserLinks(db)
    assert await links.get("U1") is None
    await links.save(
        "U1", email="alice@example.com", sys_user_id=ALICE_SYS_ID, display_name="Alice"
    )
    saved = await links.get("U1")
    assert saved is not None
    assert (saved.email, saved.sys_user_id, saved.display_name) == (
        "alice@example.com",
        ALICE_SYS_ID,
        "Alice",
    )
    await links.save("U1", email="alice@example.com", sys_user_id=None, display_name="Alice")
    updated = await links.get("U1")
    assert updated is not None and updated.sys_user_id is None


async def test_a_no_match_expires_sooner_than_a_match(db: Database) -> None:
    links = UserLinks(db)
    await links.save("U1", email="a@example.com", sys_user_id=ALICE_SYS_ID, display_name="A")
    await links.save("U2", email="d@example.com", sys_user_id=None, display_name="D")
    fresh = {"found_ttl": timedelta(hours=1), "missing_ttl": timedelta(0)}
    assert await links.get_fresh("U1", **fresh) is not None
    assert await links.get_fresh("U2", **fresh) is None
    assert await links.get_fresh("U3", **fresh) is None


async def test_posted_messages_are_found_by_record(db: Database) -> None:
    posted = PostedMessages(db)
    sys_id = "b" * 32
    first = await posted.add(
        table_name="incident",
        sys_id=sys_id,
        channel="C1",
        ts="1.1",
        rendered="[]",
        rendered_hash="h1",
    )
    await posted.add(
        table_name="incident",
        sys_id=sys_id,
        channel="C2",
        ts="2.2",
        rendered="[]",
        rendered_hash="h1",
    )
    await posted.add(
        table_name="incident",
        sys_id="c" * 32,
        channel="C1",
        ts="3.3",
        rendered="[]",
        rendered_hash="x",
    )
    assert [(p.channel, p.ts) for p in await posted.for_record("incident", sys_id)] == [
        ("C1", "1.1"),
        ("C2", "2.2"),
    ]
    assert first.rendered_hash == "h1"


async def test_the_same_slack_message_cannot_be_recorded_twice(db: Database) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    posted = PostedMessages(db)
    args = {"table_name": "incident", "sys_id": "b" * 32, "channel": "C1", "ts": "1.1"}
    await posted.add(**args, rendered="[]", rendered_hash="h")
    with pytest.raises(IntegrityError):
        await posted.add(**args, rendered="[]", rendered_hash="h")


async def test_an_idempotency_key_is_claimed_once_even_concurrently(db: Database) -> None:
    import asyncio

    keys = IdempotencyKeys(db)
    results = await asyncio.gather(*(keys.claim("view:V1") for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    await keys.release("view:V1")
    assert await keys.claim("view:V1") is True
    assert await keys.prune(timedelta(0)) == 1


async def test_a_burst_of_claims_is_written_together_and_each_key_wins_once(db: Database) -> None:
    """Claims made while one is being written go in the next statement (issue #15): 200 claims,
    a third of them repeats, take a handful of transactions, and each key is won exactly once;
    repeats of a key already stored lose too."""
    import asyncio

    from sandbox.sqlcount import counting

    keys = IdempotencyKeys(db)
    assert await keys.claim("command:old") is True
    names = [f"command:{n % 150}" for n in range(200)] + ["command:old"]
    with counting(db.engine) as count:
        results = await asyncio.gather(*(keys.claim(name) for name in names))
    won = [name for name, result in zip(names, results, strict=True) if result]
    assert sorted(won) == sorted(f"command:{n}" for n in range(150))
    assert count.transactions <= 3, count.summary()
    assert len(count.statements) == count.transactions  # one INSERT each, nothing else


async def test_a_failed_write_fails_its_claims_and_the_next_claim_writes_again(
    db: Database,
) -> None:
    import asyncio

    import pytest
    from sqlalchemy import event

    keys = IdempotencyKeys(db)

    def broken(*_: object) -> None:
        raise ConnectionError("database gone")

    event.listen(db.engine.sync_engine, "before_cursor_execute", broken)
    try:
        with pytest.raises(ConnectionError):
            await asyncio.gather(keys.claim("command:a"), keys.claim("command:b"))
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", broken)
    assert await keys.claim("command:a") is True


async def test_concurrent_first_saves_of_one_user_both_succeed(db: Database) -> None:
    import asyncio

    links = UserLinks(db)
    await asyncio.gather(
        *(
            links.save("U1", email="a@example.com", sys_user_id=ALICE_SYS_ID, display_name=f"A{n}")
            for n in range(5)
        )
    )
    saved = await links.get("U1")
    assert saved is not None and saved.sys_user_id == ALICE_SYS_ID
