"""Fan-out: one change rewrites every posted card once, the cards side by side, paced as Slack asks.

The cards of one incident sit in several channels; a change in ServiceNow (a signed event) must
end as exactly one `chat.update` per card, the cards not waiting for one another, and a 429 on
`chat.update` (a limit Slack counts per method and workspace) must hold every rewrite for its
Retry-After, not only the one that met it.
"""

from __future__ import annotations

import collections
from datetime import timedelta
from pathlib import Path
from typing import cast

from sqlalchemy import Table, func, select, update

from sandbox.slack import ApiFault, Message, SlackStandIn
from sandbox.slack.records import BOB, Channel
from sandbox.stack import Stack
from storage.models import OutboxMessage, utcnow
from tests.e2e.test_outbox import settled, stack_with, sys_id_of
from tests.support import eventually

NUMBER = "INC0000001"


async def cards_in(stack: Stack, channels: int, per_channel: int) -> list[Message]:
    """INC0000001's card posted `per_channel` times in each of `channels` new channels."""
    slack: SlackStandIn = stack.slack
    ids = [f"C0FAN{n:05d}" for n in range(channels)]
    for n, channel in enumerate(ids):
        slack.channels[channel] = Channel(channel, f"fan-{n}")
    for _ in range(per_channel):
        for channel in ids:
            await slack.send_command(BOB, NUMBER, channel_id=channel)
    posted = await slack.wait_for(
        lambda: (
            len(found := [m for c in ids for m in slack.messages_in(c)]) == len(ids) * per_channel
            and found
        ),
        timeout=20,
    )
    await settled(stack)
    return posted


def updates_per_card(stack: Stack, since: int) -> collections.Counter[tuple[str, str]]:
    return collections.Counter(
        (str(c.args["channel"]), str(c.args["ts"]))
        for c in stack.slack.calls[since:]
        if c.method == "chat.update" and c.status == 200
    )


async def test_a_change_rewrites_every_card_once_and_the_cards_do_not_wait_for_each_other(
    tmp_path: Path,
) -> None:
    async with stack_with(tmp_path) as stack:
        cards = await cards_in(stack, channels=4, per_channel=3)
        since = len(stack.slack.calls)
        # Slack holds every rewrite's answer until all twelve are in flight (or 60 s have passed):
        # rewrites sent one after another would wait the full minute each, and fail the wait
        # below; side by side, the twelfth to arrive releases them all.
        stack.slack.faults.append(
            ApiFault("chat.update", error="", delay=60.0, together=len(cards), times=len(cards))
        )
        stack.emulator.update(
            "incident", sys_id_of(stack, NUMBER), {"state": "2"}, as_user="bob.martin"
        )
        await stack.slack.wait_for(
            lambda: all("In Progress" in str(card.blocks) for card in cards), timeout=30
        )
        await settled(stack)
        assert stack.slack.peak_in_flight["chat.update"] == len(cards)
        # Each card rewritten once, and nothing else posted in those channels meanwhile.
        assert updates_per_card(stack, since) == {(card.channel, card.ts): 1 for card in cards}
        assert {(m.channel, m.ts) for c in channels(cards) for m in stack.slack.messages_in(c)} == {
            (card.channel, card.ts) for card in cards
        }


def channels(cards: list[Message]) -> set[str]:
    return {card.channel for card in cards}


async def test_a_429_on_a_card_rewrite_holds_every_rewrite_for_its_retry_after(
    tmp_path: Path,
) -> None:
    # A burst of one, then five a second: the rewrites go out one by one, so the 429 that the
    # first meets comes back while the others still wait their turn.
    pace = {"slack_update_burst": 1, "slack_updates_per_minute": 300}
    async with stack_with(tmp_path, **pace) as stack:
        cards = await cards_in(stack, channels=3, per_channel=2)
        since = len(stack.slack.calls)
        stack.slack.faults.append(ApiFault("chat.update", retry_after=2, times=1))
        stack.emulator.update(
            "incident", sys_id_of(stack, NUMBER), {"state": "2"}, as_user="bob.martin"
        )
        await stack.slack.wait_for(
            lambda: all("In Progress" in str(card.blocks) for card in cards), timeout=30
        )
        await settled(stack)
        calls = [c for c in stack.slack.calls[since:] if c.method == "chat.update"]
        [limited] = [c for c in calls if c.status == 429]
        after = [c.at for c in calls if c.at > limited.at]
        assert len(after) == len(cards)  # every card, the limited one again among them
        assert min(after) >= limited.at + 2  # nobody went before the Retry-After was over
        assert updates_per_card(stack, since) == {(card.channel, card.ts): 1 for card in cards}


async def test_a_rewrite_whose_claim_lapsed_while_in_flight_is_not_sent_again(
    tmp_path: Path,
) -> None:
    # A stalled process (an event loop starved past its lease) finds its own rewrites still in
    # flight with their claims lapsed: its outbox loop may claim them again, and must not send
    # them a second time. The lapse is made directly in the database; the lease is long, so no
    # heartbeat renews it meanwhile.
    async with stack_with(tmp_path, outbox_lease_seconds=10) as stack:
        cards = await cards_in(stack, channels=2, per_channel=2)
        since = len(stack.slack.calls)
        # Slack holds every rewrite until the test lets go (a barrier nobody reaches; 60 s cap).
        gate = ApiFault("chat.update", error="", delay=60.0, together=1000, times=len(cards))
        stack.slack.faults.append(gate)
        stack.emulator.update(
            "incident", sys_id_of(stack, NUMBER), {"state": "2"}, as_user="bob.martin"
        )
        await stack.slack.wait_for(lambda: stack.slack.in_flight["chat.update"] >= 2, timeout=20)
        outbox = cast(Table, OutboxMessage.__table__)
        ours = (outbox.c.kind == "update", outbox.c.claimed_until.is_not(None))
        lapse = utcnow() - timedelta(seconds=1)
        async with stack.bot.db.engine.begin() as conn:
            lapsed = await conn.execute(update(outbox).where(*ours).values(claimed_until=lapse))
        assert lapsed.rowcount >= 1
        stack.bot.services.messenger.wake.set()

        async def looked_again() -> bool:  # the outbox loop claimed the lapsed rewrites again
            async with stack.bot.db.engine.connect() as conn:
                still = await conn.execute(
                    select(func.count()).where(*ours, outbox.c.claimed_until == lapse)
                )
                return still.scalar_one() == 0

        await eventually(looked_again, timeout=20)
        gate.together = 1  # let go of the rewrites in flight
        stack.slack.changed()
        await stack.slack.wait_for(
            lambda: all("In Progress" in str(card.blocks) for card in cards), timeout=30
        )
        await settled(stack)
        assert updates_per_card(stack, since) == {(card.channel, card.ts): 1 for card in cards}
