"""What queueing one Slack message costs as the outbox backlog grows (issue #15, point 3).

The backlog: `--pending` messages waiting in the outbox (by default 0, 10,000 and 100,000), as a
Slack outage leaves them: 60% card updates, 30% DMs, 10% posts, about as many records as messages,
each with a real incident card as its payload (about 2 KB), none due yet. Against it, through the
storage layer the bot uses (storage/feed.py), each run times `--samples` of each of:

- **post**: a card posted in a channel (`FeedStore.queue`, what `/incident <text>` and
  `/incident INC…` queue), one INSERT;
- **card update**: a change of a record with one posted copy (`FeedStore.queue_card`: its copies
  still waiting to be posted get the new card, and the posted copy gets a `chat.update` queued);
- **oldest pending**: the age of the oldest message waiting (`FeedStore.oldest_pending_age`), which
  every `/healthz` and `/metrics` asks.

Each run's figure is the median of its samples; each cell is min/median/max of `--runs` runs (3).
A warm-up run (not recorded) goes first on each backlog. What a run queued is deleted before
the next, so the backlog stays the same. With `--before`, each
backlog is timed again without the two indexes migration 0007 adds (side by side, same run).

    .venv/bin/python bench/queue_cost.py                # SQLite, 0 / 10,000 / 100,000 pending
    .venv/bin/python bench/queue_cost.py --database-url postgresql+asyncpg://postgres@127.0.0.1/test
    .venv/bin/python bench/queue_cost.py --quick        # 0 / 1,000 / 10,000, 50 samples

On PostgreSQL each backlog gets a fresh, migrated database on that server (dropped afterwards);
on SQLite a fresh file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, text

if __package__ in (None, ""):  # run as `python bench/<name>.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import fresh_database, printer_card
from storage import Database, FeedStore, SlackWrite
from storage.models import OutboxMessage, PostedMessage, utcnow

FILL_BATCH = 2000


async def fill(db: Database, pending: int) -> None:
    """`pending` undelivered messages, none due for an hour (nothing claims them meanwhile)."""
    body = json.dumps(printer_card(1).payload)
    now = utcnow()
    later = now + timedelta(hours=1)
    rows: list[dict[str, Any]] = []
    for n in range(pending):
        kind = "update" if n % 10 < 6 else "dm" if n % 10 < 9 else "post"
        rows.append(
            {
                "kind": kind,
                "target": f"C{n % 500:09d}" if kind != "dm" else f"U{n % 2000:09d}",
                "ts": f"1700000000.{n:06d}" if kind == "update" else None,
                "coalesce_key": f"update:C{n % 500:09d}:1700000000.{n:06d}"
                if kind == "update"
                else None,
                "payload": body,
                "table_name": "incident",
                "sys_id": f"{10_000_000 + n:032x}",
                "version": 1,
                "status": "pending",
                "attempts": 0,
                "available_at": later,
                "last_error": "",
                "created_at": now,
                "updated_at": now,
            }
        )
        if len(rows) == FILL_BATCH:
            async with db.engine.begin() as conn:
                await conn.execute(insert(OutboxMessage), rows)
            rows = []
    if rows:
        async with db.engine.begin() as conn:
            await conn.execute(insert(OutboxMessage), rows)
    if db.engine.dialect.name == "postgresql":  # statistics, as autovacuum gathers them
        async with db.engine.begin() as conn:  # (the bot never runs ANALYZE on SQLite)
            await conn.execute(text("ANALYZE"))


async def posted_copies(db: Database, first: int, count: int) -> None:
    """One posted copy each for records first … first+count, showing an older card."""
    now = utcnow()
    rows = [
        {
            "table_name": "incident",
            "sys_id": f"{n:032x}",
            "channel": "C0GENERAL0",
            "ts": f"1800000000.{n:06d}",
            "rendered_hash": "older",
            "rendered": "{}",
            "posted_at": now,
            "updated_at": now - timedelta(minutes=5),
        }
        for n in range(first, first + count)
    ]
    async with db.engine.begin() as conn:
        await conn.execute(insert(PostedMessage), rows)


async def timed(samples: int, op: Callable[[int], Coroutine[Any, Any, None]]) -> float:
    """The median of `samples` calls of `op(i)`, in milliseconds."""
    times = []
    for i in range(samples):
        started = time.perf_counter()
        await op(i)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def measure(db: Database, pending: int, runs: int, samples: int) -> dict[str, list[float]]:
    store = FeedStore(db)
    cards = [printer_card(n) for n in range(samples)]
    figures: dict[str, list[float]] = {"post": [], "card update": [], "oldest": []}
    async with db.engine.connect() as conn:
        last = int(await conn.scalar(select(func.coalesce(func.max(OutboxMessage.id), 0))) or 0)
    for run in range(runs):
        base = 1_000 + run * samples  # records of this run (none of them in the backlog)
        await posted_copies(db, base, samples)

        async def post(i: int, base: int = base) -> None:
            c = cards[i]
            write = SlackWrite(
                "post", "C0GENERAL0", c.payload, table_name="incident", sys_id=f"{base + i:032x}"
            )
            await store.queue([write])

        async def update(i: int, base: int = base) -> None:
            await store.queue_card("incident", f"{base + i:032x}", cards[i])

        figures["post"].append(await timed(samples, post))
        figures["card update"].append(await timed(samples, update))

        async def oldest(_: int) -> None:
            await store.oldest_pending_age()

        figures["oldest"].append(await timed(samples, oldest))
        async with db.engine.begin() as conn:  # the backlog stays as it was
            await conn.execute(delete(OutboxMessage).where(OutboxMessage.id > last))
            await conn.execute(delete(PostedMessage))
    return figures


def spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


async def main(
    database_url: str | None, sizes: list[int], runs: int, samples: int, before: bool
) -> None:
    where = "PostgreSQL" if database_url else "SQLite"
    print(f"{where}: ms to queue one message, min / median / max of {runs} runs")
    print(f"(each run: the median of {samples} samples)\n")
    print(
        "| pending | indexes | post | card update | post, card update vs. empty | oldest pending |"
    )
    print("|---|---|---|---|---|---|")
    empty: dict[str, dict[str, float]] = {}
    for pending in sizes:
        async with fresh_database(database_url, "queue") as db:
            await fill(db, pending)
            variants = [("0007", True)] + ([("without 0007's (before)", False)] if before else [])
            for label, indexed in variants:
                if not indexed:
                    async with db.engine.begin() as conn:
                        await conn.execute(text("DROP INDEX ix_outbox_record"))
                        await conn.execute(text("DROP INDEX ix_outbox_age"))
                await measure(db, pending, 1, 20)  # warm-up, not recorded: caches, prepared plans
                figures = await measure(db, pending, runs, samples)
                middle = {k: statistics.median(v) for k, v in figures.items()}
                first = empty.setdefault(label, middle)  # the first (smallest) backlog's
                ratio = ", ".join(f"{middle[k] / first[k]:.2f}×" for k in ("post", "card update"))
                print(
                    f"| {pending:,} | {label} | {spread(figures['post'])} | "
                    f"{spread(figures['card update'])} | {ratio} | {spread(figures['oldest'])} |",
                    flush=True,
                )


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="postgresql+asyncpg://… (default: SQLite)")
    parser.add_argument(
        "--pending", default="0,10000,100000", help="backlog sizes, comma-separated"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--before", action="store_true", help="also time without 0007's indexes")
    parser.add_argument("--quick", action="store_true", help="0,1000,10000 pending, 50 samples")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse()
    sizes = [0, 1000, 10000] if args.quick else [int(n) for n in args.pending.split(",")]
    asyncio.run(
        main(args.database_url, sizes, args.runs, 50 if args.quick else args.samples, args.before)
    )
