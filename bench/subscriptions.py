"""What channel subscriptions cost the change feed (issue #18, point 3).

1,000 changes of incidents go through `Feed.reconcile` — the step webhook events and the poller
both end in — with 0 and then 100 subscriptions (spread over 20 channels, each with its own events
and filters on priority, assignment group and category, about a third of them with history
threads), on a fresh migrated database each time. The changes: 200 incidents, each created and
then changed 4 times (state, priority, reassignment, a comment), priorities and groups drawn so
that some subscriptions match, some stop matching and some never do.

The tracker here is the incident's card and snapshot without ServiceNow (what it reads of the
record is the record itself, as the feed has it): the figure is the feed's and the subscriptions'
own cost — storage, the decisions and the queueing — not ServiceNow's. Filters are evaluated on
the record the feed already read: the ServiceNow column counts the calls made (none, either way).

Each cell is min/median/max of `--runs` (3) runs (per change: the total over 1,000, in ms); the changes go in one at a time (sequentially),
then as the poller does, 8 side by side.

    .venv/bin/python bench/subscriptions.py
    .venv/bin/python bench/subscriptions.py --database-url postgresql+asyncpg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from sqlalchemy import func, select

if __package__ in (None, ""):  # run as `python bench/<name>.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import fresh_database
from bot.feed.changes import Feed, Observation
from bot.feed.filters import Event, decide
from bot.feed.subscriptions import ChannelFeed
from bot.incidents.cards import incident_card
from bot.incidents.subscribable import INCIDENTS
from bot.incidents.tracker import SNAPSHOT_FIELDS, describe_changes
from servicenow.client import ServiceNowClient
from servicenow.records import Incident
from storage import FeedStore
from storage.models import ChannelCard, OutboxMessage
from storage.subscriptions import StoredSubscription, Subscriptions

URL = "https://dev1.service-now.com/nav_to.do?uri=incident.do%3Fsys_id%3D"
GROUPS = [f"{n:032x}" for n in range(1, 7)]
CATEGORIES = ["inquiry", "software", "hardware", "network", "database"]
INCIDENTS_COUNT = 200
VERSIONS = 5  # created, then 4 changes: 1,000 changes


class Untouched:
    """A ServiceNow client the feed must never call: filters read the record already read."""

    calls = 0

    def __getattr__(self, name: str) -> Any:
        Untouched.calls += 1
        raise AssertionError(f"ServiceNow called: {name}")


class CardTracker:
    """The incident tracker's card and snapshot, without its ServiceNow reads or DMs."""

    table = "incident"
    fields = Incident.FIELDS + INCIDENTS.fields
    initial_query: str | None = None
    baseline_initial = False
    closed_states: tuple[str, ...] = ("7", "8")

    async def observe(
        self,
        record: Mapping[str, str],
        previous: Mapping[str, str] | None,
        actor: str | None,
        *,
        baseline: bool = False,
    ) -> Observation:
        data = {f: record.get(f, "") for f in SNAPSHOT_FIELDS}
        if baseline:
            return Observation(data)
        card = incident_card(Incident.from_record(record), URL + record["sys_id"])
        return Observation(data, card)


def versions(seed: int) -> list[dict[str, str]]:
    """1,000 changes: each incident created, then changed 4 times, interleaved."""
    rng = random.Random(seed)
    records = []
    for n in range(INCIDENTS_COUNT):
        base = {
            "sys_id": f"{n + 1:032x}",
            "number": f"INC{n + 1:07d}",
            "short_description": f"Printer {n} on fire",
            "description": "It started smoking. " * 4,
            "state": "1",
            "priority": str(rng.randint(1, 5)),
            "assignment_group": rng.choice(GROUPS),
            "assignment_group.name": "Group",
            "category": rng.choice(CATEGORIES),
            "caller_id.name": "Alice Chen",
            "sys_created_on": "2026-12-03 06:00:00",
            "sys_updated_on": "2026-12-03 06:00:00",
            "sys_mod_count": "0",
            "latest_comment": "",
        }
        chain = [dict(base)]
        for step in range(1, VERSIONS):
            record = dict(chain[-1])
            record["sys_mod_count"] = str(step)
            record["sys_updated_on"] = f"2026-12-03 06:0{step}:00"
            if step == 1:
                record["state"] = "2"
            elif step == 2:
                record["priority"] = str(rng.randint(1, 5))
            elif step == 3:
                record["assignment_group"] = rng.choice(GROUPS)
            else:
                record["latest_comment"] = f"c{n}"
            chain.append(record)
        records.append(chain)
    # Interleaved as a busy instance would send them: version k of every incident, then k+1.
    return [chain[step] for step in range(VERSIONS) for chain in records]


def subscription_specs(count: int, seed: int, *, matching: bool = True) -> list[dict[str, Any]]:
    """`count` subscriptions over 20 channels, as teams make them: a priority or two, often one
    group, sometimes categories, a few events. Not `matching`: filters no record passes (a
    category no incident has), so only their evaluation is paid for."""
    rng = random.Random(seed)
    specs = []
    for n in range(count):
        filters: dict[str, list[str]] = {
            "priority": sorted(rng.sample(["1", "2", "3", "4", "5"], rng.randint(1, 2)))
        }
        if rng.random() < 0.6:
            filters["assignment_group"] = [rng.choice(GROUPS)]
        if rng.random() < 0.3:
            filters["category"] = rng.sample(CATEGORIES, 2)
        if not matching:
            filters["category"] = ["none-such"]
        events = [e.value for e in INCIDENTS.events if rng.random() < 0.4] or [Event.CREATED.value]
        specs.append(
            {
                "channel": f"C{n % 20:09d}",
                "events": events,
                "filters": filters,
                "history": rng.random() < 0.3,
            }
        )
    return specs


async def one_run(
    server_url: str | None, subscriptions: int, concurrency: int, seed: int, *, matching: bool
) -> tuple[float, int, int]:
    """Seconds for the 1,000 changes; outbox rows queued; channel cards kept."""
    async with fresh_database(server_url, "subs") as db:
        store = Subscriptions(db)
        for spec in subscription_specs(subscriptions, seed, matching=matching):
            await store.add(
                spec["channel"],
                "incident",
                spec["events"],
                spec["filters"],
                history=spec["history"],
                creator="U0BENCH000",
            )
        feed = Feed(cast(ServiceNowClient, Untouched()), FeedStore(db), db, [CardTracker()])
        channels = ChannelFeed(store)
        channels.offer(INCIDENTS, describe_changes)
        feed.channels = channels
        changes = versions(seed)
        gate = asyncio.Semaphore(concurrency)

        async def one(record: dict[str, str]) -> None:
            async with gate:
                await feed.reconcile("incident", record)

        started = time.perf_counter()
        step = len(changes) // VERSIONS  # one version of every incident at a time, in order
        for start in range(0, len(changes), step):
            await asyncio.gather(*(one(r) for r in changes[start : start + step]))
        elapsed = time.perf_counter() - started
        async with db.engine.connect() as conn:
            queued = await conn.scalar(select(func.count()).select_from(OutboxMessage))
            cards = await conn.scalar(select(func.count()).select_from(ChannelCard))
        return elapsed, int(queued or 0), int(cards or 0)


def cell(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low * scale:.{digits}f} / {mid * scale:.{digits}f} / {high * scale:.{digits}f}"


def evaluation_cost(count: int) -> float:
    """Microseconds `decide` takes per change over `count` subscriptions (the filters alone)."""
    rules = [
        StoredSubscription(n + 1, s["channel"], "incident", tuple(s["events"]), s["filters"],
                           s["history"], "U0BENCH000")
        for n, s in enumerate(subscription_specs(count, 0))
    ]  # fmt: skip
    changes = versions(0)
    previous: dict[str, dict[str, str]] = {}
    started = time.perf_counter()
    for record in changes:
        snapshot = {f: record.get(f, "") for f in SNAPSHOT_FIELDS}
        decide(INCIDENTS, rules, previous.get(record["sys_id"]), snapshot, record, {})
        previous[record["sys_id"]] = snapshot
    return (time.perf_counter() - started) / len(changes) * 1e6


async def main(server_url: str | None, runs: int) -> None:
    database = "PostgreSQL" if server_url else "SQLite"
    costs = [evaluation_cost(100) for _ in range(runs)]
    print(
        f"Filters alone (`decide`, pure, 100 subscriptions): {cell(costs, digits=1)} µs per change"
    )
    print()
    print(f"1,000 changes through Feed.reconcile, {database}; min / median / max of {runs} runs")
    print()
    print(
        "| changes in | subscriptions | total (s) | per change (ms) | outbox rows "
        "| channel cards | ServiceNow calls | × none |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    cases = (
        (0, True, "none"),
        (100, False, "100, matching nothing"),
        (100, True, "100, as teams make them"),
    )
    for concurrency, label in ((1, "one at a time"), (8, "8 side by side")):
        base: float | None = None
        for count, matching, name in cases:
            times, queued, kept = [], 0, 0
            for run in range(runs):
                elapsed, queued, kept = await one_run(
                    server_url, count, concurrency, seed=run, matching=matching
                )
                times.append(elapsed)
            median = statistics.median(times)
            base = median if count == 0 else base
            factor = f"{median / base:.2f}" if base else "1.00"
            print(
                f"| {label} | {name} | {cell(times)} | {cell(times)} "
                f"| {queued} | {kept} | {Untouched.calls} | {factor} |"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.runs))
