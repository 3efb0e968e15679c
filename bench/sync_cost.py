"""What one poll cycle costs: ServiceNow calls and time, by tracked incidents and changes.

For each size the emulator holds N incidents the bot already tracks (a first start remembered them
an hour ago); K of them then change, and one delta poll runs (webhook off). Everything is in one
process on loopback: the ServiceNow emulator, the Slack stand-in, the bot on SQLite.

    .venv/bin/python bench/sync_cost.py [--sizes 100,1000,10000] [--changes 0,10,1000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sandbox.servicenow import Emulator
from sandbox.servicenow.seed import ALICE, BOB
from sandbox.stack import run_stack


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def measure(size: int, changed: int) -> tuple[int, float, int]:
    clock = Clock()
    clock.offset = -timedelta(hours=1)
    emulator = Emulator(clock=clock)
    ids = [
        emulator.insert("incident", {"short_description": f"bench {n}", "caller_id": ALICE})[
            "sys_id"
        ]
        for n in range(size)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        async with run_stack(
            database_url=f"sqlite+aiosqlite:///{tmp}/bench.db",
            emulator=emulator,
            servicenow_poll_seconds=0,
        ) as stack:
            feed, client = stack.bot.feed, stack.bot.servicenow
            await feed.poll_once()  # first start: remembers every open incident
            clock.offset = timedelta(0)
            for sys_id in ids[:changed]:
                emulator.update(
                    "incident", sys_id, {"state": "2", "assigned_to": BOB}, as_user="bob.martin"
                )
            before = client.calls
            started = time.perf_counter()
            accepted = await feed.poll_once()
            elapsed = time.perf_counter() - started
            return client.calls - before, elapsed, accepted


async def main(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    changes = [int(c) for c in args.changes.split(",")]
    print(
        "\nOne delta poll of every tracked table (incident, sysapproval_approver); SQLite, loopback\n"
    )
    print("| tracked | changed | ServiceNow calls | changes acted on | time (s) |")
    print("|--------:|--------:|-----------------:|-----------------:|---------:|")
    for size in sizes:
        for changed in changes:
            if changed > size:
                continue
            calls, elapsed, accepted = await measure(size, changed)
            print(
                f"| {size:>7} | {changed:>7} | {calls:>16} | {accepted:>16} | {elapsed:8.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--changes", default="0,10,1000")
    asyncio.run(main(parser.parse_args()))
