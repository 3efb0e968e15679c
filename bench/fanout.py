"""Fan-out: one incident on 20 cards, 100 changes inside a second.

The incident is posted 20 times in #general; then 100 changes are written to it in ServiceNow
as fast as possible, each sending a signed change event to the bot (the Business Rule path). The
table shows how many `chat.update` calls reached Slack and how long until every card showed the
final state.

    .venv/bin/python bench/fanout.py [--cards 20] [--changes 100]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import tempfile
import time

from sandbox.slack import SlackStandIn
from sandbox.stack import WEBHOOK_SECRET, run_stack

BOB = "U0BOB00000"
GENERAL = "C0GENERAL0"


def posted(slack: SlackStandIn, count: int) -> bool:
    return len(slack.messages_in(GENERAL)) == count


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with run_stack(
            database_url=f"sqlite+aiosqlite:///{tmp}/bench.db",
            servicenow_webhook_secret=WEBHOOK_SECRET,
            servicenow_poll_seconds=0,
        ) as stack:
            slack, emulator = stack.slack, stack.emulator
            for n in range(args.cards):
                await slack.send_command(BOB, "INC0000001", channel_id=GENERAL)
                await slack.wait_for(functools.partial(posted, slack, n + 1))
            cards = slack.messages_in(GENERAL)
            sys_id = emulator.query("incident", "number=INC0000001")[0]["sys_id"]
            updates_before = len(slack.calls_to("chat.update"))
            started = time.perf_counter()
            for n in range(args.changes - 1):
                emulator.update(
                    "incident",
                    sys_id,
                    {"impact": "123"[n % 3], "urgency": "1"},
                    as_user="bob.martin",
                )
            emulator.update(
                "incident", sys_id, {"impact": "3", "urgency": "3"}, as_user="bob.martin"
            )
            written = time.perf_counter() - started
            await slack.wait_for(
                lambda: all("5 - Planning" in str(c.blocks) for c in cards), timeout=120
            )
            settled = time.perf_counter() - started
            await emulator.wait_for_webhooks()
            await stack.bot.feed.drain()
            updates = len(slack.calls_to("chat.update")) - updates_before
            print(
                f"\nFan-out: {args.cards} cards of one incident, {args.changes} changes written in {written:.2f} s\n"
            )
            print("| chat.update calls | per card | most on one card | every card final after |")
            print("|------------------:|---------:|-----------------:|-----------------------:|")
            most = max(c.edited for c in cards)
            print(
                f"| {updates:>17} | {updates / args.cards:8.1f} | {most:>16} | {settled:20.2f} s |"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cards", type=int, default=20)
    parser.add_argument("--changes", type=int, default=100)
    asyncio.run(main(parser.parse_args()))
