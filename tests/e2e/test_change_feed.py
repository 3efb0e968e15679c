"""Live cards and DMs: ServiceNow changes reach Slack through the webhook or the poller, once."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import manifest
from sandbox.servicenow import Emulator, sign
from sandbox.servicenow.seed import ALICE
from sandbox.slack import ApiFault, Message, SlackStandIn
from sandbox.slack.records import ALICE as ALICE_SLACK
from sandbox.slack.records import BOB as BOB_SLACK
from sandbox.slack.records import CAROL as CAROL_SLACK
from sandbox.slack.records import GENERAL, INCIDENTS
from sandbox.stack import BOT_TOKEN, SIGNING_SECRET, WEBHOOK_SECRET, Stack, run_stack
from storage import Database
from tests.support import eventually


@asynccontextmanager
async def stack_with(tmp_path: Path, **settings: Any) -> AsyncIterator[Stack]:
    settings.setdefault("database_url", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    async with run_stack(**settings) as stack:
        yield stack
        assert stack.slack.problems == []
        assert {call.method for call in stack.slack.calls} <= set(manifest.METHODS)


def incident(stack: Stack, number: str) -> dict[str, str]:
    [row] = stack.emulator.query("incident", f"number={number}")
    return row


async def show(stack: Stack, number: str, channel: str = GENERAL) -> Message:
    before = len(stack.slack.messages_in(channel))
    await stack.slack.send_command(BOB_SLACK, number, channel_id=channel)
    return (await stack.slack.wait_for(lambda: stack.slack.messages_in(channel)[before:]))[0]


def shows(message: Message, text: str) -> bool:
    return text in str(message.blocks)


def dm_count(stack: Stack, count: int) -> bool:
    return len(dms(stack, ALICE_SLACK)) == count


def dms(stack: Stack, user: str) -> list[Message]:
    return stack.slack.messages_in(stack.slack.dm_channel(user))


async def test_a_change_in_servicenow_reaches_the_card_and_the_callers_dm_through_the_webhook(
    tmp_path: Path,
) -> None:
    async with stack_with(
        tmp_path, servicenow_webhook_secret=WEBHOOK_SECRET, servicenow_poll_seconds=0
    ) as stack:
        card = await show(stack, "INC0000001")
        sys_id = incident(stack, "INC0000001")["sys_id"]
        stack.emulator.update(
            "incident",
            sys_id,
            {"state": "2", "assigned_to": incident(stack, "INC0000002")["assigned_to"]},
            as_user="bob.martin",
        )
        await stack.slack.wait_for(lambda: ":large_blue_circle: In Progress" in str(card.blocks))
        [dm] = await stack.slack.wait_for(lambda: dms(stack, ALICE_SLACK))
        assert "INC0000001" in dm.text and "In Progress" in dm.text
        [assigned] = await stack.slack.wait_for(lambda: dms(stack, BOB_SLACK))
        assert "assigned to you" in assigned.text
        assert "Bob Martin" in str(card.blocks)


async def test_with_the_webhook_off_the_poller_brings_the_same_change(tmp_path: Path) -> None:
    async with stack_with(tmp_path, servicenow_poll_seconds=0.2) as stack:
        card = await show(stack, "INC0000001")
        sys_id = incident(stack, "INC0000001")["sys_id"]
        stack.emulator.update(
            "incident",
            sys_id,
            {
                "state": "6",
                "close_code": "Solution provided",
                "close_notes": "Re-added the mail account.",
            },
            as_user="bob.martin",
        )
        await stack.slack.wait_for(lambda: "Resolved" in card.text, timeout=10)
        [dm] = await stack.slack.wait_for(lambda: dms(stack, ALICE_SLACK), timeout=10)
        rendered = str(dm.blocks)
        assert "Re-added the mail account." in rendered and "incident_reopen" in rendered
        assert stack.emulator.webhook is None

        # The caller presses Reopen in the DM: the incident is In Progress again.
        await stack.slack.send_block_action(
            ALICE_SLACK,
            action_id="incident_reopen",
            value=sys_id,
            block_id=f"dm:{sys_id}:x",
            message=dm,
        )
        await stack.slack.wait_for(lambda: incident(stack, "INC0000001")["state"] == "2")


async def test_forged_replayed_or_malformed_webhooks_are_refused(tmp_path: Path) -> None:
    async with stack_with(
        tmp_path, servicenow_webhook_secret=WEBHOOK_SECRET, servicenow_poll_seconds=0
    ) as stack:
        sys_id = incident(stack, "INC0000001")["sys_id"]
        body = json.dumps({"table": "incident", "sys_id": sys_id, "sys_mod_count": "99"}).encode()
        now = str(int(time.time()))
        url = stack.bot_url + "/servicenow/events"
        async with httpx.AsyncClient() as http:

            async def post(content: bytes, timestamp: str, signature: str) -> int:
                headers = {
                    "content-type": "application/json",
                    "x-sn-timestamp": timestamp,
                    "x-sn-signature": signature,
                }
                return (await http.post(url, content=content, headers=headers)).status_code

            good = sign(WEBHOOK_SECRET, now, body)
            assert await post(body, now, sign("wrong-secret", now, body)) == 401
            assert await post(body, now, "") == 401
            old = str(int(time.time()) - 301)
            assert await post(body, old, sign(WEBHOOK_SECRET, old, body)) == 401
            assert await post(body + b" ", now, good) == 401  # the body was tampered with
            junk = b'{"hello": "world"}'
            assert await post(junk, now, sign(WEBHOOK_SECRET, now, junk)) == 400
        assert stack.slack.calls_to("chat.postMessage") == []


async def test_a_bot_without_a_webhook_secret_refuses_every_event(stack: Stack) -> None:
    body = b'{"table": "incident", "sys_id": "' + b"a" * 32 + b'", "sys_mod_count": "1"}'
    now = str(int(time.time()))
    async with httpx.AsyncClient() as http:
        response = await http.post(
            stack.bot_url + "/servicenow/events",
            content=body,
            headers={"x-sn-timestamp": now, "x-sn-signature": sign("anything", now, body)},
        )
    assert response.status_code == 401


async def test_a_hundred_rapid_changes_end_in_the_final_state_with_few_updates(
    tmp_path: Path,
) -> None:
    async with stack_with(
        tmp_path, servicenow_webhook_secret=WEBHOOK_SECRET, servicenow_poll_seconds=0
    ) as stack:
        card = await show(stack, "INC0000001")
        sys_id = incident(stack, "INC0000001")["sys_id"]
        for n in range(100):
            stack.emulator.update(
                "incident", sys_id, {"impact": "123"[n % 3], "urgency": "1"}, as_user="bob.martin"
            )
        stack.emulator.update(
            "incident", sys_id, {"impact": "3", "urgency": "3"}, as_user="bob.martin"
        )
        await stack.emulator.wait_for_webhooks()
        await stack.slack.wait_for(lambda: "5 - Planning" in str(card.blocks), timeout=15)
        await stack.bot.feed.drain()
        await eventually(lambda: _outbox_empty(stack), timeout=10)
        assert "5 - Planning" in str(card.blocks)
        assert card.edited <= 5


async def _outbox_empty(stack: Stack) -> bool:
    return await stack.bot.feed._store.pending() == 0


async def test_a_slack_rate_limit_delays_delivery_but_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    async with stack_with(
        tmp_path, servicenow_webhook_secret=WEBHOOK_SECRET, servicenow_poll_seconds=0
    ) as stack:
        card = await show(stack, "INC0000001")
        stack.slack.faults.append(
            ApiFault("chat.postMessage", error="ratelimited", retry_after=1, times=5)
        )
        stack.emulator.update(
            "incident",
            incident(stack, "INC0000001")["sys_id"],
            {"state": "2"},
            as_user="bob.martin",
        )
        await stack.slack.wait_for(lambda: card.edited)  # not held up by the rate-limited DM
        [dm] = await stack.slack.wait_for(lambda: dms(stack, ALICE_SLACK), timeout=20)
        assert "In Progress" in dm.text
        await eventually(lambda: _outbox_empty(stack), timeout=10)
        assert len(dms(stack, ALICE_SLACK)) == 1
        assert [c.status for c in stack.slack.calls_to("chat.postMessage")].count(429) >= 4


async def test_a_restart_mid_delivery_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    emulator = Emulator()
    slack = SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    settings: dict[str, Any] = {
        "servicenow_webhook_secret": WEBHOOK_SECRET,
        "servicenow_poll_seconds": 0,
    }
    sys_id = emulator.query("incident", "number=INC0000001")[0]["sys_id"]
    async with stack_with(tmp_path, emulator=emulator, slack=slack, **settings) as stack:
        await show(stack, "INC0000001")
        # Slack is down for DMs: the change is accepted and queued, but not delivered.
        slack.faults.append(
            ApiFault("chat.postMessage", error="service_unavailable", status=503, times=1000)
        )
        emulator.update("incident", sys_id, {"state": "2"}, as_user="bob.martin")
        await emulator.wait_for_webhooks()
        await stack.bot.feed.drain()
        await stack.slack.wait_for(
            lambda: [c for c in slack.calls_to("chat.postMessage") if c.status == 503]
        )
    assert dms(stack, ALICE_SLACK) == []
    slack.faults.clear()
    async with stack_with(tmp_path, emulator=emulator, slack=slack, **settings) as restarted:
        [dm] = await restarted.slack.wait_for(lambda: dms(restarted, ALICE_SLACK), timeout=15)
        assert "In Progress" in dm.text
        await eventually(lambda: _outbox_empty(restarted), timeout=10)
        assert len(dms(restarted, ALICE_SLACK)) == 1


async def test_notify_off_mutes_and_follow_subscribes_and_nobody_hears_of_their_own_change(
    tmp_path: Path,
) -> None:
    async with stack_with(
        tmp_path, servicenow_webhook_secret=WEBHOOK_SECRET, servicenow_poll_seconds=0
    ) as stack:
        card = await show(stack, "INC0000001")
        follow = next(
            e
            for b in card.blocks
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == "incident_follow"
        )
        await stack.slack.send_block_action(
            CAROL_SLACK, action_id="incident_follow", value=follow["value"], message=card
        )
        await stack.slack.wait_for(
            lambda: [
                e
                for e in stack.slack.ephemerals
                if e.user == CAROL_SLACK and "DM whenever" in e.text
            ]
        )
        reply = await stack.slack.send_command(ALICE_SLACK, "notify off", channel_id=GENERAL)
        assert reply.status == 200
        await stack.slack.wait_for(
            lambda: [
                e
                for e in stack.slack.ephemerals
                if e.user == ALICE_SLACK and "No more DMs" in e.text
            ]
        )

        # Bob takes it from Slack: Carol (following) hears, Alice (muted) doesn't, Bob (the actor) doesn't.
        await stack.slack.send_command(BOB_SLACK, "assign INC0000001 me", channel_id=GENERAL)
        [news] = await stack.slack.wait_for(lambda: dms(stack, CAROL_SLACK))
        assert "Assigned to: Bob Martin" in str(news.blocks)
        await stack.slack.wait_for(lambda: "Bob Martin" in str(card.blocks))
        await eventually(lambda: _outbox_empty(stack))
        assert dms(stack, ALICE_SLACK) == [] and dms(stack, BOB_SLACK) == []

        await stack.slack.send_command(ALICE_SLACK, "notify on", channel_id=GENERAL)
        await stack.slack.wait_for(
            lambda: [
                e for e in stack.slack.ephemerals if e.user == ALICE_SLACK and "on again" in e.text
            ]
        )
        stack.emulator.update(
            "incident",
            incident(stack, "INC0000001")["sys_id"],
            {"state": "2"},
            as_user="bob.martin",
        )
        await stack.slack.wait_for(lambda: dms(stack, ALICE_SLACK))


async def test_every_new_incident_is_announced_in_the_incident_channel(tmp_path: Path) -> None:
    async with stack_with(
        tmp_path,
        servicenow_webhook_secret=WEBHOOK_SECRET,
        servicenow_poll_seconds=0,
        incident_channel=INCIDENTS,
    ) as stack:
        stack.emulator.insert(
            "incident",
            {"short_description": "Phone line dead", "caller_id": ALICE},
            as_user="bob.martin",
        )
        [announced] = await stack.slack.wait_for(lambda: stack.slack.messages_in(INCIDENTS))
        assert "Phone line dead" in announced.text
        await stack.slack.send_command(ALICE_SLACK, "kitchen tap leaking", channel_id=GENERAL)
        await stack.slack.wait_for(lambda: len(stack.slack.messages_in(INCIDENTS)) == 2)
        assert "kitchen tap leaking" in stack.slack.messages_in(INCIDENTS)[1].text
        await stack.slack.wait_for(
            lambda: stack.slack.messages_in(GENERAL)
        )  # and where it was typed

        # The announcement is a live card.
        sys_id = stack.emulator.query("incident", "short_description=Phone line dead")[0]["sys_id"]
        stack.emulator.update("incident", sys_id, {"state": "2"}, as_user="bob.martin")
        await stack.slack.wait_for(lambda: "In Progress" in announced.text)


@pytest.mark.postgres
async def test_two_replicas_on_postgresql_deliver_each_message_once(tmp_path: Path) -> None:
    from sandbox.server import serve
    from sandbox.servicenow import WebhookTarget
    from tests.conftest import isolated_postgres_url

    async with isolated_postgres_url() as url:
        database = Database.from_url(url)
        await database.migrate()
        await database.dispose()
        async with stack_with(
            tmp_path,
            database_url=url,
            servicenow_webhook_secret=WEBHOOK_SECRET,
            servicenow_poll_seconds=0.3,
        ) as first:
            from bot.app import create_app

            async with serve(create_app(first.settings)) as second:
                cards = [
                    await show(first, "INC0000001", GENERAL),
                    await show(first, "INC0000001", INCIDENTS),
                ]
                # Half of the events go to each replica; both also poll (one at a time) and deliver.
                sys_id = incident(first, "INC0000001")["sys_id"]
                for n, (state, url_) in enumerate(
                    [("2", first.bot_url), ("3", second.url), ("2", first.bot_url)]
                ):
                    first.emulator.webhook = WebhookTarget(
                        f"{url_}/servicenow/events", WEBHOOK_SECRET
                    )
                    values = (
                        {"state": state, "hold_reason": "4"} if state == "3" else {"state": state}
                    )
                    first.emulator.update("incident", sys_id, values, as_user="bob.martin")
                    await first.emulator.wait_for_webhooks()
                    expected = ":large_blue_circle: In Progress" if state == "2" else "On Hold"
                    for card in cards:
                        await first.slack.wait_for(
                            functools.partial(shows, card, expected), timeout=15
                        )
                    await first.slack.wait_for(
                        functools.partial(dm_count, first, n + 1), timeout=15
                    )
                await eventually(lambda: _outbox_empty(first), timeout=15)
                texts = [m.text for m in dms(first, ALICE_SLACK)]
                assert len(texts) == 3 and len(set(texts)) == 2  # In Progress, On Hold, In Progress
                for card in cards:
                    assert card.edited <= 4
