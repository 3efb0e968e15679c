"""What a known user's `/incident <text>` costs the database: at most 3 SQL statements in at most
2 transactions, on SQLite and PostgreSQL (issue #15, point 3).

Counted with SQLAlchemy's engine events on the bot's own engine while a signed command goes over
loopback to the running bot, from the command to its card delivered in Slack; what the
background workers do meanwhile (delivering the card, polling for stored events) is counted apart
(`sandbox/sqlcount.py`). docs/benchmarks.md lists the statements that remain and why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot import manifest
from sandbox.slack import ApiFault
from sandbox.slack.records import ALICE, GENERAL, INCIDENTS
from sandbox.sqlcount import SqlCount, counting
from sandbox.stack import Stack, run_stack
from storage import Database, PostedMessages, SlackWrite
from tests.conftest import isolated_postgres_url
from tests.support import eventually

MAX_STATEMENTS = 3
MAX_TRANSACTIONS = 2


@asynccontextmanager
async def stack_on(database: str, tmp_path: Path, **settings: Any) -> AsyncIterator[Stack]:
    """The stack on a fresh SQLite file, or a fresh migrated PostgreSQL database."""
    settings.setdefault("servicenow_poll_seconds", 0)
    if database == "sqlite":
        async with run_stack(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", **settings
        ) as stack:
            yield stack
            assert stack.slack.problems == []
            assert {call.method for call in stack.slack.calls} <= set(manifest.METHODS)
        return
    async with isolated_postgres_url() as url:
        db = Database.from_url(url)
        await db.migrate()
        await db.dispose()
        async with run_stack(database_url=url, **settings) as stack:
            yield stack
            assert stack.slack.problems == []
            assert {call.method for call in stack.slack.calls} <= set(manifest.METHODS)


async def quick_create(stack: Stack, text: str, cards: int) -> str:
    """Send `/incident <text>` in #general and wait until its `cards` cards are delivered and
    recorded (the command's last write is the outbox row they were delivered from)."""
    await stack.slack.send_command(ALICE, text, channel_id=GENERAL)
    await stack.slack.wait_for(
        lambda: stack.emulator.query("incident", f"short_description={text}")
    )
    [incident] = stack.emulator.query("incident", f"short_description={text}")
    # Watched through an engine of the test's own: the bot's counts only the bot's statements.
    url = stack.bot.db.engine.url.render_as_string(hide_password=False)
    db = Database.from_url(url)
    try:
        posted = PostedMessages(db)
        await eventually(
            lambda: _at_least(posted.for_record("incident", incident["sys_id"]), cards),
            timeout=10,
        )
    finally:
        await db.dispose()
    return incident["sys_id"]


async def _at_least(found: Any, count: int) -> bool:
    return len(await found) >= count


def assert_lean(count: SqlCount, extra: int = 0) -> None:
    # The counter is wired: it saw the command claim its key and queue its card.
    assert any(s.startswith("INSERT INTO idempotency_keys") for s in count.statements)
    assert any(s.startswith("INSERT INTO outbox") for s in count.statements)
    assert count.worker_statements > 0  # the outbox delivered the card, counted apart
    assert len(count.statements) <= MAX_STATEMENTS + extra, count.summary()
    assert count.transactions <= MAX_TRANSACTIONS, count.summary()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_a_known_users_quick_create_costs_three_statements_in_two_transactions(
    database: str, tmp_path: Path
) -> None:
    async with stack_on(database, tmp_path) as stack:
        await quick_create(stack, "first printer on fire", cards=1)  # Alice is known from now on
        with counting(stack.bot.db.engine) as count:
            await quick_create(stack, "second printer on fire", cards=1)
        assert_lean(count)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_with_an_incident_channel_both_cards_are_queued_in_the_same_statement(
    database: str, tmp_path: Path
) -> None:
    async with stack_on(database, tmp_path, incident_channel=INCIDENTS) as stack:
        await quick_create(stack, "first printer on fire", cards=2)
        with counting(stack.bot.db.engine) as count:
            sys_id = await quick_create(stack, "second printer on fire", cards=2)
        # INCIDENT_CHANNEL is a subscription: its card of the record is remembered (one row,
        # the same transaction); nothing is read for a record the bot has just created.
        assert_lean(count, extra=1)
        assert any(s.startswith("INSERT INTO channel_cards") for s in count.statements)
        posted = await PostedMessages(stack.bot.db).for_record("incident", sys_id)  # uncounted
        assert sorted(p.channel for p in posted) == sorted([GENERAL, INCIDENTS])


CARDS_IN_ONE_CHANNEL = 20
# Each delivery's record + the next claim (one transaction), and a few claims and look-ups of the
# next due time from the outbox's loop for the whole lot. It was 4.2 (a claim, a record, an
# empty claim and a next-due look-up per card).
MAX_OUTBOX_STATEMENTS_PER_CARD = 2.5


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_cards_queued_to_one_channel_are_delivered_in_about_one_transaction_each(
    database: str, tmp_path: Path
) -> None:
    """Posts to one channel go out one after another; each delivery is recorded in the same
    transaction that claims the next one (no round of its own through the outbox's claim loop)."""
    async with stack_on(database, tmp_path) as stack:
        writes = [
            SlackWrite("post", GENERAL, {"text": f"card {n}"}) for n in range(CARDS_IN_ONE_CHANNEL)
        ]
        count = await delivered_counting(stack, writes)
        assert [m.text for m in stack.slack.messages_in(GENERAL)] == [
            f"card {n}" for n in range(CARDS_IN_ONE_CHANNEL)
        ]
        outbox = [sql for sql in count.worker_sql if " outbox" in sql]
        per_card = len(outbox) / CARDS_IN_ONE_CHANNEL
        assert per_card <= MAX_OUTBOX_STATEMENTS_PER_CARD, "\n".join([str(per_card), *outbox])


CARDS_TOGETHER = 20
# The first delivery's record goes out alone; those finishing while it is written go in the
# next one, and a straggler or two in a third. It was one transaction (3 statements) per card.
MAX_RECORDS = 3


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_cards_delivered_together_to_many_channels_are_recorded_together(
    database: str, tmp_path: Path
) -> None:
    """Deliveries that finish together, to different channels, share a recording transaction (a
    group commit): Slack answers twenty posts at once, and a handful of transactions, each one
    `UPDATE outbox` and one `INSERT posted_messages` for all its cards, record the lot."""
    async with stack_on(database, tmp_path) as stack:
        channels = [f"C0MANY{n:04d}" for n in range(CARDS_TOGETHER)]
        for n, channel in enumerate(channels):
            stack.slack.add_channel(channel, f"many-{n}")
        # Slack holds every post's answer until all twenty are in flight, then answers them all.
        stack.slack.faults.append(
            ApiFault(
                "chat.postMessage",
                error="",
                delay=30.0,
                together=CARDS_TOGETHER,
                times=CARDS_TOGETHER,
            )
        )
        writes = [
            SlackWrite("post", channel, {"text": f"card {n}"}, "incident", f"{n:032x}")
            for n, channel in enumerate(channels)
        ]
        count = await delivered_counting(stack, writes)
        assert stack.slack.peak_in_flight["chat.postMessage"] == CARDS_TOGETHER
        done = [sql for sql in count.worker_sql if sql.startswith("UPDATE outbox SET status")]
        remembered = [sql for sql in count.worker_sql if sql.startswith("INSERT INTO posted_")]
        assert 1 <= len(done) <= MAX_RECORDS, "\n".join(count.worker_sql)
        assert len(remembered) == len(done), "\n".join(count.worker_sql)
        posted = PostedMessages(stack.bot.db)  # uncounted
        for n, channel in enumerate(channels):
            [copy] = await posted.for_record("incident", f"{n:032x}")
            assert copy.channel == channel


async def delivered_counting(stack: Stack, writes: list[SlackWrite]) -> SqlCount:
    """Queue `writes` and count the SQL until the outbox has delivered every one."""
    with counting(stack.bot.db.engine) as count:
        await stack.bot.services.messenger.queue(*writes)
        await eventually(lambda: _all_done(stack), timeout=30)
    return count


async def _all_done(stack: Stack) -> bool:
    return await stack.bot.feed._store.pending() == 0
