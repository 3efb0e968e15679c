"""Storage growth: the database after rounds of 8,000 mixed inputs, before and after pruning.

Each input is what the bot stores for it, through the storage layer the bot uses (real cards from
bot/incidents/cards.py, the feed's compare-and-set and outbox, delivery recorded as the messenger
records it):

- a command (20%): `/incident <text>` — the idempotency key, the person's identity, the new
  incident's snapshot and its card queued and posted;
- a click (20%): Follow on a card — its key and a follower row;
- a change (60%): a new version of an incident from ServiceNow — the snapshot moved forward and
  every posted copy updated; incidents walk New → In Progress → Resolved → Closed, so about as
  many close as open (the oldest open ones change first; a couple of hundred stay open).

After each round, housekeeping runs as if 31 days had passed (the outbox's and keys' horizons
and RETENTION_DAYS=30, RETENTION_CLOSED_DAYS=7). Sizes are of the SQLite file after VACUUM.

    .venv/bin/python bench/storage_growth.py [--inputs 8000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text

if __package__ in (None, ""):  # run as `python bench/<name>.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import printer_card
from bot.incidents.tracker import IncidentTracker
from storage import (
    Database,
    FeedStore,
    Followers,
    IdempotencyKeys,
    Retention,
    SlackWrite,
    UserLinks,
)
from storage.models import (
    Follower,
    IdempotencyKey,
    OutboxMessage,
    PostedMessage,
    Snapshot,
    UserLink,
    utcnow,
)

STATES = ("1", "2", "6", "7")  # New → In Progress → Resolved → Closed
PEOPLE = 300
RETENTION_DAYS, RETENTION_CLOSED_DAYS, LATER = 30, 7, timedelta(days=31)
TABLES = (PostedMessage, Snapshot, UserLink, Follower, OutboxMessage, IdempotencyKey)


@dataclass
class World:
    db: Database
    store: FeedStore
    rng: random.Random
    serial: int = 0
    versions: dict[str, tuple[int, int]] = field(default_factory=dict)  # sys_id -> (mod, state)
    open: list[str] = field(default_factory=list)  # oldest first

    async def deliver(self) -> None:
        """Deliver what is queued, as the messenger records a success."""
        while claimed := await self.store.claim(200, timedelta(seconds=30)):
            for message in claimed:
                ts = message.ts or f"{time.time():.6f}{message.id}"
                await self.store.delivered(message, channel=message.target, ts=ts, digest="d")

    async def command(self) -> None:
        self.serial += 1
        n, sys_id = self.serial, f"{self.serial:032x}"
        person = f"U{self.rng.randrange(PEOPLE):09d}"
        await IdempotencyKeys(self.db).claim(f"command:{n}.{self.rng.random()}")
        await UserLinks(self.db).save(
            person, email=f"{person.lower()}@example.com", sys_user_id="a" * 32, display_name=person
        )
        card = printer_card(n, state="1", mod=0, sys_id=sys_id)
        await self.store.accept_change(
            "incident", sys_id, previous=None, current=0, data={"state": "1"}, writes=[], card=None
        )
        await self.store.queue(
            [SlackWrite("post", "C0GENERAL0", card.payload, table_name="incident", sys_id=sys_id)]
        )
        self.versions[sys_id] = (0, 0)
        self.open.append(sys_id)

    def open_incident(self) -> str | None:
        return self.rng.choice(self.open[:200]) if self.open else None

    async def click(self) -> None:
        sys_id = self.open_incident()
        if sys_id is None:
            return await self.command()
        person = f"U{self.rng.randrange(PEOPLE):09d}"
        await IdempotencyKeys(self.db).claim(f"action:{person}:follow:{sys_id}")
        await Followers(self.db).follow("incident", sys_id, person, "a" * 32)

    async def change(self) -> None:
        sys_id = self.open_incident()
        if sys_id is None:
            return await self.command()
        mod, state = self.versions[sys_id]
        state = min(state + 1, len(STATES) - 1)
        card = printer_card(int(sys_id, 16), state=STATES[state], mod=mod + 1, sys_id=sys_id)
        await self.store.accept_change(
            "incident",
            sys_id,
            previous=mod,
            current=mod + 1,
            data={"state": STATES[state]},
            writes=[],
            card=card,
        )
        self.versions[sys_id] = (mod + 1, state)
        if STATES[state] in IncidentTracker.closed_states:
            self.open.remove(sys_id)


async def size(db: Database, path: Path) -> tuple[int, dict[str, int]]:
    async with db.engine.connect() as conn:
        await conn.execute(text("VACUUM"))
        await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        rows = {
            model.__tablename__: int(
                await conn.scalar(select(func.count()).select_from(model)) or 0
            )
            for model in TABLES
        }
    files = [path, path.with_name(path.name + "-wal")]
    sizes = await asyncio.to_thread(lambda: [f.stat().st_size for f in files if f.exists()])
    return sum(sizes), rows


async def housekeeping(db: Database) -> None:
    """What Bot._housekeeping does, 31 days later."""
    later = utcnow() + LATER
    await IdempotencyKeys(db).prune(timedelta(days=7) - LATER)
    await FeedStore(db).prune(timedelta(days=2) - LATER)
    await Retention(db).prune(
        {"incident": IncidentTracker.closed_states},
        closed_days=RETENTION_CLOSED_DAYS,
        days=RETENTION_DAYS,
        now=later,
    )


async def main(inputs: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bot.db"
        db = Database.from_url(f"sqlite+aiosqlite:///{path}")
        await db.migrate()
        world = World(db, FeedStore(db, update_interval=timedelta(0)), random.Random(14))
        empty, _ = await size(db, path)
        print(f"empty database: {empty / 1024:.0f} KiB\n")
        print(
            "| round | inputs | after the inputs | after pruning | rows left (cards, snapshots, identities, followers, outbox, keys) |"
        )
        print("|---|---|---|---|---|")
        kinds = [world.command, world.click, world.change, world.change, world.change]
        for round_ in range(1, rounds + 1):
            started = time.monotonic()
            for n in range(inputs):
                await world.rng.choice(kinds)()
                if n % 50 == 49:
                    await world.deliver()
            await world.deliver()
            grown, _ = await size(db, path)
            await housekeeping(db)
            pruned, rows = await size(db, path)
            left = ", ".join(str(count) for count in rows.values())
            print(
                f"| {round_} | {inputs * round_:,} | {grown / 1024 / 1024:.1f} MiB | "
                f"{pruned / 1024 / 1024:.1f} MiB | {left} |"
                f"  <!-- {time.monotonic() - started:.0f} s -->"
            )
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.inputs, args.rounds))
