"""The SQL each common command and button costs, counted on the bot's real engine.

The bot, the ServiceNow emulator and the Slack stand-in run in this process on loopback (as the
end-to-end tests run them); signed requests go to the bot over HTTP. Each row is one request of a
person the bot already knows (their identity resolved within the last minute), counted with
SQLAlchemy's engine events from the request until its answer or card arrived in Slack. The
background workers' statements (the outbox delivering, stored events) are counted apart, as
`sandbox/sqlcount.py` explains. Counts are exact, not timed: they are the same on every run.

    .venv/bin/python bench/sql_cost.py                 # SQLite
    .venv/bin/python bench/sql_cost.py --database-url postgresql+asyncpg://postgres@127.0.0.1/test
    .venv/bin/python bench/sql_cost.py --statements    # and each statement, abbreviated

On PostgreSQL the run gets a fresh, migrated database on that server (dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/<name>.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import fresh_database_url
from sandbox.slack.records import BOB, CAROL, GENERAL
from sandbox.sqlcount import SqlCount, counting
from sandbox.stack import Stack, run_stack


def short(sql: str) -> str:
    """`INSERT outbox`, `SELECT snapshots`…: what a statement does, to which table."""
    match = re.match(r"(INSERT INTO|UPDATE|DELETE FROM|SELECT .*? FROM)\s+(\w+)", sql)
    if not match:
        return sql[:40]
    verb = match.group(1).split()[0]
    conflict = " … ON CONFLICT" if "ON CONFLICT" in sql else ""
    return f"{verb} {match.group(2)}{conflict}"


async def answered(stack: Stack, user: str, before: int) -> None:
    await stack.slack.wait_for(lambda: len(stack.slack.ephemerals_for(user)) > before, 10)


async def carded(stack: Stack, channel: str, before: int) -> None:
    await stack.slack.wait_for(lambda: len(stack.slack.messages_in(channel)) > before, 10)


async def measure(
    stack: Stack, what: Callable[[], Awaitable[None]], done: Callable[[], Awaitable[None]]
) -> SqlCount:
    with counting(stack.bot.db.engine) as count:
        await what()
        await done()
    return count


async def main(server_url: str | None, show: bool) -> None:
    async with (
        fresh_database_url(server_url, "sql") as url,
        run_stack(database_url=url, servicenow_poll_seconds=0) as stack,
    ):
        slack = stack.slack
        # Known from here on: Bob (itil) and Carol have asked once; INC0000002 is shown once.
        for user in (BOB, CAROL):
            n = len(slack.messages_in(GENERAL))
            await slack.send_command(user, f"warm up {user}", channel_id=GENERAL)
            await carded(stack, GENERAL, n)
        n = len(slack.messages_in(GENERAL))
        await slack.send_command(BOB, "INC0000002", channel_id=GENERAL)
        await carded(stack, GENERAL, n)
        card = slack.messages_in(GENERAL)[-1]
        sys_id = next(
            str(e["value"])
            for b in card.blocks
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == "incident_follow"
        )

        def command(user: str, words: str) -> Callable[[], Awaitable[Any]]:
            return lambda: slack.send_command(user, words, channel_id=GENERAL)

        def in_general() -> Callable[[], Awaitable[None]]:
            n = len(slack.messages_in(GENERAL))
            return lambda: carded(stack, GENERAL, n)

        def to(user: str) -> Callable[[], Awaitable[None]]:
            n = len(slack.ephemerals_for(user))
            return lambda: answered(stack, user, n)

        rows: list[tuple[str, SqlCount]] = []
        cases: list[tuple[str, Callable[[], Callable[[], Awaitable[Any]]], Callable[[], Any]]] = [
            (
                "`/incident <text>` (quick create)",
                lambda: command(BOB, "printer on fire"),
                in_general,
            ),
            (
                "`/incident INC…` (first sight of it)",
                lambda: command(BOB, "INC0000003"),
                in_general,
            ),
            ("`/incident INC…` (shown before)", lambda: command(BOB, "INC0000002"), in_general),
            (
                "`comment INC… <text>`",
                lambda: command(BOB, "comment INC0000002 on it"),
                lambda: to(BOB),
            ),
            ("`assign INC… me`", lambda: command(BOB, "assign INC0000002 me"), lambda: to(BOB)),
            (
                "Follow (button)",
                lambda: (
                    lambda: slack.send_block_action(
                        CAROL, action_id="incident_follow", value=sys_id, message=card
                    )
                ),
                lambda: to(CAROL),
            ),
            ("`list`", lambda: command(BOB, "list"), lambda: to(BOB)),
            ("`notify off`", lambda: command(CAROL, "notify off"), lambda: to(CAROL)),
        ]
        for name, what, done in cases:
            waiter = done()
            rows.append((name, await measure(stack, what(), waiter)))
    where = "PostgreSQL" if server_url else "SQLite"
    print(f"{where}: SQL of one request of a known user (the workers' counted apart)\n")
    print("| request | statements | transactions | statements (abbreviated) |")
    print("|---|---|---|---|")
    for name, count in rows:
        listed = ", ".join(short(s) for s in count.statements) if show else ""
        print(f"| {name} | {len(count.statements)} | {count.transactions} | {listed} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    parser.add_argument("--statements", action="store_true", help="list each statement")
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.statements))
