"""Pending change events, on SQLite and PostgreSQL: kept until acted on, collapsed per record."""

from __future__ import annotations

from datetime import timedelta

from storage import Database, PendingEvents

SYS_ID = "b" * 32
LEASE = timedelta(seconds=30)


async def test_events_for_one_record_collapse_to_the_highest_version(db: Database) -> None:
    events = PendingEvents(db)
    for count in (3, 7, 5):
        await events.add("incident", SYS_ID, count)
    [pending] = await events.claim(10, LEASE)
    assert (pending.table_name, pending.sys_id, pending.sys_mod_count) == ("incident", SYS_ID, 7)
    assert await events.claim(10, LEASE) == []  # leased to its claimer
    await events.done(pending)
    assert await events.count() == 0


async def test_a_newer_version_arriving_while_in_flight_survives_done(db: Database) -> None:
    events = PendingEvents(db)
    await events.add("incident", SYS_ID, 1)
    [pending] = await events.claim(10, LEASE)
    await events.add("incident", SYS_ID, 2)
    await events.done(pending)
    [again] = await events.claim(10, LEASE)  # due at once
    assert again.sys_mod_count == 2


async def test_a_failed_event_waits_for_its_retry_time(db: Database) -> None:
    events = PendingEvents(db)
    await events.add("incident", SYS_ID, 1)
    [pending] = await events.claim(10, LEASE)
    await events.retry_later(pending, 3600, "ServiceNow is down")
    assert await events.claim(10, LEASE) == []
    assert await events.count() == 1
    await events.retry_later(pending, 0, "ServiceNow is down")
    [again] = await events.claim(10, LEASE)
    assert again.attempts == 2
