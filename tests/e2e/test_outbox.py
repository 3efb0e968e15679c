"""Exactly once, whatever fails: every message through the outbox, one DM per burst.

Faults are real: the Slack stand-in answers 500s, 429s and slowly; bots are stopped mid-delivery
and started again on the same database; two bots share one PostgreSQL database.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot import manifest
from sandbox.servicenow import Emulator
from sandbox.slack import ApiFault, Message, SlackStandIn
from sandbox.slack.records import ALICE, BOB, GENERAL
from sandbox.stack import BOT_TOKEN, SIGNING_SECRET, WEBHOOK_SECRET, Stack, run_stack
from tests.support import eventually

FAST = {
    "servicenow_webhook_secret": WEBHOOK_SECRET,
    "servicenow_poll_seconds": 0,
    "outbox_max_backoff_seconds": 0.2,
    "outbox_lease_seconds": 1.0,
}


@asynccontextmanager
async def stack_with(tmp_path: Path, **settings: Any) -> AsyncIterator[Stack]:
    settings.setdefault("database_url", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    async with run_stack(**{**FAST, **settings}) as stack:
        yield stack
        assert stack.slack.problems == []
        assert {call.method for call in stack.slack.calls} <= set(manifest.METHODS)


def sys_id_of(stack: Stack | Emulator, number: str) -> str:
    emulator = stack if isinstance(stack, Emulator) else stack.emulator
    return emulator.query("incident", f"number={number}")[0]["sys_id"]


def dms(stack: Stack, user: str = ALICE) -> list[Message]:
    return stack.slack.messages_in(stack.slack.dm_channel(user))


async def known(stack: Stack, *numbers: str) -> None:
    """Bob looks the incidents up (a card each in #general), so the bot knows them: their next
    change in ServiceNow is news."""
    for number in numbers:
        await stack.slack.send_command(BOB, number, channel_id=GENERAL)
        await stack.slack.wait_for(
            functools.partial(
                lambda n: [m for m in stack.slack.messages_in(GENERAL) if n in m.text], number
            )
        )
    await settled(stack)


def dm_calls(stack: Stack) -> list[Any]:
    return [
        c
        for c in stack.slack.calls_to("chat.postMessage")
        if c.args.get("channel") in (ALICE, stack.slack.dm_channel(ALICE))
    ]


async def settled(stack: Stack, timeout: float = 15) -> None:
    """Every change handled and every queued message delivered (or given up)."""
    await stack.emulator.wait_for_webhooks()
    await stack.bot.feed.drain()

    async def empty() -> bool:
        # No stored change event left (one claimed by the events worker is not "due" for drain
        # yet, and its DM is not queued yet), and nothing left in the outbox.
        if await stack.bot.feed.events.count() > 0:
            return False
        return await stack.bot.feed._store.pending() == 0

    await eventually(empty, timeout=timeout)


# -- 2. nothing lost, nothing repeated ------------------------------------------------------------


async def test_the_first_card_of_a_create_survives_a_slack_500_and_rate_limits(
    tmp_path: Path,
) -> None:
    async with stack_with(tmp_path) as stack:
        stack.slack.faults += [
            ApiFault("chat.postMessage", error="internal_error", status=500, times=1),
            ApiFault("chat.postMessage", error="ratelimited", retry_after=1, times=3),
        ]
        await stack.slack.send_command(BOB, "kitchen tap leaking", channel_id=GENERAL)
        [card] = await stack.slack.wait_for(
            lambda: [m for m in stack.slack.messages_in(GENERAL) if "kitchen tap" in m.text],
            timeout=20,
        )
        await settled(stack)
        assert [m for m in stack.slack.messages_in(GENERAL) if "kitchen tap" in m.text] == [card]
        statuses = [c.status for c in stack.slack.calls_to("chat.postMessage")]
        assert statuses.count(500) == 1 and statuses.count(429) == 3
        # It is a live card: a change in ServiceNow rewrites it.
        [row] = stack.emulator.query("incident", "short_description=kitchen tap leaking")
        stack.emulator.update("incident", row["sys_id"], {"state": "2"}, as_user="bob.martin")
        await stack.slack.wait_for(lambda: "In Progress" in str(card.blocks))


async def test_a_long_slack_outage_delays_a_dm_but_never_loses_it(tmp_path: Path) -> None:
    async with stack_with(tmp_path, outbox_max_backoff_seconds=0.02) as stack:
        await known(stack, "INC0000001")
        # Far more failures than the old 12-attempt limit, then Slack is back.
        stack.slack.faults.append(
            ApiFault("chat.postMessage", error="service_unavailable", status=503, times=40)
        )
        stack.emulator.update(
            "incident", sys_id_of(stack, "INC0000001"), {"state": "2"}, as_user="bob.martin"
        )
        [dm] = await stack.slack.wait_for(lambda: dms(stack), timeout=20)
        await settled(stack)
        assert "In Progress" in dm.text and len(dms(stack)) == 1
        assert [c.status for c in dm_calls(stack)].count(503) == 40


async def test_a_dm_is_given_up_by_age_not_by_attempts(tmp_path: Path) -> None:
    async with stack_with(
        tmp_path, outbox_max_backoff_seconds=0.05, outbox_give_up_hours=1.5 / 3600
    ) as stack:
        await known(stack, "INC0000001")
        stack.slack.faults.append(
            ApiFault("chat.postMessage", error="service_unavailable", status=503, times=10_000)
        )
        started = time.monotonic()
        stack.emulator.update(
            "incident", sys_id_of(stack, "INC0000001"), {"state": "2"}, as_user="bob.martin"
        )
        # The DM is queued and Slack refuses it; from then on it is retried until it is too old.
        await stack.slack.wait_for(lambda: [c for c in dm_calls(stack) if c.status == 503])
        await settled(stack)
        assert time.monotonic() - started >= 1.5  # kept trying for the whole 1.5 s "day"
        assert len(dm_calls(stack)) > 2  # many attempts, none of them counted against it
        stack.slack.faults.clear()
        assert dms(stack) == []


async def test_messages_to_one_person_keep_their_order_across_retries(tmp_path: Path) -> None:
    async with stack_with(tmp_path, outbox_max_backoff_seconds=0.3) as stack:
        await known(stack, "INC0000001", "INC0000002")
        stack.slack.faults.append(
            ApiFault("chat.postMessage", error="internal_error", status=500, times=3)
        )
        stack.emulator.update(
            "incident", sys_id_of(stack, "INC0000001"), {"state": "2"}, as_user="bob.martin"
        )
        await stack.slack.wait_for(lambda: [c for c in dm_calls(stack) if c.status == 500])
        # Alice's first DM is now waiting to be retried; her second must wait behind it.
        stack.emulator.update(
            "incident",
            sys_id_of(stack, "INC0000002"),
            {"state": "3", "hold_reason": "1"},
            as_user="bob.martin",
        )
        await stack.slack.wait_for(lambda: len(dms(stack)) == 2, timeout=20)
        await settled(stack)
        first, second = dms(stack)
        assert "INC0000001" in first.text and "INC0000002" in second.text


async def test_a_crashed_bots_pending_delivery_resumes_within_seconds(tmp_path: Path) -> None:
    emulator = Emulator()
    slack = SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    async with stack_with(tmp_path, emulator=emulator, slack=slack) as first:
        await known(first, "INC0000001")
        # Slack takes 2 s to answer the DM, and then fails: the bot dies before it hears.
        slack.faults.append(
            ApiFault("chat.postMessage", error="internal_error", status=500, delay=2)
        )
        emulator.update(
            "incident", sys_id_of(emulator, "INC0000001"), {"state": "2"}, as_user="bob.martin"
        )
        await slack.wait_for(lambda: not slack.faults)  # the DM's delivery is under way
        crash(first)
        crashed = time.monotonic()
    async with stack_with(tmp_path, emulator=emulator, slack=slack) as second:
        [dm] = await slack.wait_for(lambda: dms(second), timeout=20)
        assert time.monotonic() - crashed < 5  # the 2 s answer, one 1 s lease, start-up
        await settled(second)
        assert "In Progress" in dm.text and len(dms(second)) == 1


def crash(stack: Stack) -> None:
    """Kill the bot's outbox worker and its deliveries where they stand: nothing is handed
    back, no claim released (as when the process dies)."""
    messenger = stack.bot.services.messenger
    for task in [*messenger._inflight.values(), *stack.bot._workers]:
        task.cancel()


@pytest.mark.postgres
async def test_two_bots_never_both_send_a_dm_slack_answers_slowly(tmp_path: Path) -> None:
    from bot.app import create_app
    from sandbox.server import serve
    from storage import Database
    from tests.conftest import isolated_postgres_url

    async with isolated_postgres_url() as url:
        database = Database.from_url(url)
        await database.migrate()
        await database.dispose()
        async with (
            # Both bots share this test's event loop: a lease of 1 s lets a loaded machine stall
            # it for up to 2/3 s (the holder renews every third of a lease) before a claim lapses.
            stack_with(tmp_path, database_url=url, outbox_lease_seconds=1.0) as first,
            serve(create_app(first.settings)),
        ):
            await known(first, "INC0000001")
            # Slack answers the DM after 4 s: four leases. Both bots look for work meanwhile.
            first.slack.faults.append(ApiFault("chat.postMessage", error="", delay=4))
            started = time.time()
            first.emulator.update(
                "incident", sys_id_of(first, "INC0000001"), {"state": "2"}, as_user="bob.martin"
            )
            await first.slack.wait_for(lambda: dms(first), timeout=20)
            await settled(first)
            # The slow answer has landed (a second delivery would have landed before it).
            await first.slack.wait_for(
                lambda: [c for c in dm_calls(first) if c.at - started >= 4], timeout=10
            )
            assert len(dms(first)) == 1
            assert len(dm_calls(first)) == 1


# -- 7. one DM per burst --------------------------------------------------------------------------


async def test_on_hold_and_back_within_the_window_sends_nothing(tmp_path: Path) -> None:
    async with stack_with(tmp_path, dm_fold_seconds=1.0) as stack:
        await known(stack, "INC0000002")
        sys_id = sys_id_of(stack, "INC0000002")  # In Progress
        stack.emulator.update(
            "incident", sys_id, {"state": "3", "hold_reason": "1"}, as_user="bob.martin"
        )
        await stack.emulator.wait_for_webhooks()
        await stack.bot.feed.drain()
        stack.emulator.update("incident", sys_id, {"state": "2"}, as_user="bob.martin")
        await settled(stack)
        assert dms(stack) == []


async def test_a_burst_of_state_changes_makes_one_dm_of_the_net_change(tmp_path: Path) -> None:
    async with stack_with(tmp_path, dm_fold_seconds=1.0) as stack:
        await known(stack, "INC0000002")
        sys_id = sys_id_of(stack, "INC0000002")  # In Progress
        for values in (
            {"state": "3", "hold_reason": "1"},
            {"state": "2"},
            {"state": "3", "hold_reason": "4"},
        ):
            stack.emulator.update("incident", sys_id, values, as_user="bob.martin")
            await stack.emulator.wait_for_webhooks()
            await stack.bot.feed.drain()
        await settled(stack)
        [dm] = dms(stack)
        assert "On Hold" in str(dm.blocks) and "was In Progress" in str(dm.blocks)


async def test_resolved_then_closed_at_once_still_shows_the_resolution_and_reopen(
    tmp_path: Path,
) -> None:
    async with stack_with(tmp_path, dm_fold_seconds=1.0) as stack:
        await known(stack, "INC0000002")
        sys_id = sys_id_of(stack, "INC0000002")
        resolution = {"close_code": "Solution provided", "close_notes": "Swapped the battery."}
        stack.emulator.update(
            "incident", sys_id, {"state": "6", **resolution}, as_user="bob.martin"
        )
        stack.emulator.update("incident", sys_id, {"state": "7"}, as_user="bob.martin")
        await settled(stack)
        [dm] = dms(stack)
        blocks = str(dm.blocks)
        assert "Closed" in blocks and "resolved with Solution provided" in blocks
        assert "Swapped the battery." in blocks and "incident_reopen" in blocks
