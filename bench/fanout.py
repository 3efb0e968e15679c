"""Fan-out: one incident on many cards across many channels; how fast every card shows a change.

INC0000001 is posted `--cards` times spread over `--channels` channels (as `/incident INC0000001`
typed there). Then ServiceNow changes it — once, and in a second scenario `--burst` times back to
back — each change sending a signed event to the bot (the Business Rule path). The table shows how
long until every card showed the final state, how many `chat.update` calls reached Slack per card,
and how many of Slack's answers were 429s. Each scenario runs `--runs` times on a fresh stack
(figures: min / median / max).

    .venv/bin/python bench/fanout.py                      # 200 cards, 20 channels, 3 runs
    .venv/bin/python bench/fanout.py --quick              # 40 cards, 8 channels, 1 run
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass

from sandbox.slack import SlackStandIn
from sandbox.slack.records import Channel
from sandbox.stack import WEBHOOK_SECRET, run_stack
from storage import FeedStore

BOB = "U0BOB00000"
NUMBER = "INC0000001"


@dataclass(frozen=True)
class Run:
    settled: float  # seconds from the first change written to every card showing the last
    updates: int  # chat.update calls that succeeded
    most: int  # the most chat.update calls one card got
    limited: int  # Slack's 429 answers


def channels(slack: SlackStandIn, count: int) -> list[str]:
    ids = [f"C0FAN{n:05d}" for n in range(count)]
    for n, channel in enumerate(ids):
        slack.channels[channel] = Channel(channel, f"fanout-{n}")
    return ids


async def post_cards(slack: SlackStandIn, where: list[str], cards: int) -> None:
    """`/incident INC0000001` typed `cards` times, round-robin over `where`; waits for every card."""

    def posted() -> bool:
        return sum(len(slack.messages_in(c)) for c in where) >= cards

    for start in range(0, cards, len(where)):
        await asyncio.gather(
            *(slack.send_command(BOB, NUMBER, channel_id=c) for c in where[: cards - start])
        )
    await slack.wait_for(posted, timeout=300)


async def settled_outbox(store: FeedStore) -> None:
    """Wait until nothing is left to send (the cards' own posting and any rewrite it caused)."""
    for _ in range(6000):
        if not await store.pending():
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the outbox never emptied")


async def one_run(cards: int, channel_count: int, changes: int) -> Run:
    with tempfile.TemporaryDirectory() as tmp:
        async with run_stack(
            database_url=f"sqlite+aiosqlite:///{tmp}/bench.db",
            servicenow_webhook_secret=WEBHOOK_SECRET,
            servicenow_poll_seconds=0,
        ) as stack:
            slack, emulator = stack.slack, stack.emulator
            where = channels(slack, channel_count)
            await post_cards(slack, where, cards)
            posted = [m for c in where for m in slack.messages_in(c)]
            await stack.bot.feed.drain()
            await settled_outbox(stack.bot.feed.store)
            sys_id = emulator.query("incident", f"number={NUMBER}")[0]["sys_id"]
            calls_before = len(slack.calls)
            edited_before = {id(m): m.edited for m in posted}
            started = time.perf_counter()
            for n in range(changes - 1):
                emulator.update(
                    "incident",
                    sys_id,
                    {"impact": "123"[n % 3], "urgency": "1"},
                    as_user="bob.martin",
                )
            emulator.update(
                "incident", sys_id, {"impact": "3", "urgency": "3"}, as_user="bob.martin"
            )
            await slack.wait_for(
                lambda: all("5 - Planning" in str(m.blocks) for m in posted), timeout=300
            )
            settled = time.perf_counter() - started
            await emulator.wait_for_webhooks()
            await stack.bot.feed.drain()
            calls = slack.calls[calls_before:]
            return Run(
                settled=settled,
                updates=sum(1 for c in calls if c.method == "chat.update" and c.status == 200),
                most=max(m.edited - edited_before[id(m)] for m in posted),
                limited=sum(1 for c in calls if c.status == 429),
            )


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


async def main(args: argparse.Namespace) -> None:
    if args.quick:
        args.cards, args.channels, args.runs = 40, 8, 1
    scenarios = {"1 change": 1, f"{args.burst} changes back to back": args.burst}
    print(
        f"\nFan-out: {NUMBER} on {args.cards} cards in {args.channels} channels "
        f"({args.runs} runs each; min / median / max)\n"
    )
    print(
        "| scenario | every card final after (s) | chat.update per card | most on one card | 429s |"
    )
    print("|---|---|---|---|---|")
    for name, changes in scenarios.items():
        runs = [await one_run(args.cards, args.channels, changes) for _ in range(args.runs)]
        print(
            f"| {name} | {spread([r.settled for r in runs])} "
            f"| {spread([r.updates / args.cards for r in runs])} "
            f"| {max(r.most for r in runs)} | {sum(r.limited for r in runs)} |",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--burst", type=int, default=100, help="changes in the second scenario")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="40 cards, 8 channels, one run")
    asyncio.run(main(parser.parse_args()))
