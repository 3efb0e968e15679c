"""Exactly once, whatever fails: stored events, one bad record, supervised workers, /healthz."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from sandbox.servicenow import Emulator, seed
from sandbox.servicenow.faults import Fault
from sandbox.slack import SlackStandIn
from sandbox.slack.records import ALICE as ALICE_SLACK
from sandbox.slack.records import CAROL as CAROL_SLACK
from sandbox.stack import BOT_TOKEN, SIGNING_SECRET, WEBHOOK_SECRET, Stack
from storage import Database, PendingEvents
from tests.conftest import isolated_postgres_url
from tests.e2e.test_change_feed import (
    dms,
    incident,
    show,
    stack_with,
)
from tests.support import eventually

WEBHOOK_ONLY: dict[str, Any] = {
    "servicenow_webhook_secret": WEBHOOK_SECRET,
    "servicenow_poll_seconds": 0,
}


def servicenow_down(emulator: Emulator) -> None:
    emulator.faults.add(Fault(status=503, body="", times=-1))


def failed_reads(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests if r.method == "GET" and r.status == 503)


async def test_an_event_accepted_while_servicenow_is_down_is_acted_on_when_it_is_back(
    tmp_path: Path,
) -> None:
    async with stack_with(tmp_path, **WEBHOOK_ONLY) as stack:
        card = await show(stack, "INC0000001")
        servicenow_down(stack.emulator)
        stack.emulator.update(
            "incident",
            incident(stack, "INC0000001")["sys_id"],
            {"state": "2"},
            as_user="bob.martin",
        )
        await stack.emulator.wait_for_webhooks()  # answered 202
        await eventually(lambda: _true(failed_reads(stack.emulator) > 0))
        assert await stack.bot.feed.events.count() == 1
        stack.emulator.faults.clear()
        await stack.slack.wait_for(lambda: "In Progress" in str(card.blocks), timeout=15)
        await eventually(lambda: _is(stack.bot.feed.events.count(), 0))


async def test_an_event_accepted_before_a_crash_is_acted_on_after_the_restart(
    tmp_path: Path,
) -> None:
    emulator = Emulator()
    slack = SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    sys_id = emulator.query("incident", "number=INC0000001")[0]["sys_id"]
    async with stack_with(tmp_path, emulator=emulator, slack=slack, **WEBHOOK_ONLY) as stack:
        await show(stack, "INC0000001")
        servicenow_down(emulator)
        emulator.update("incident", sys_id, {"state": "2"}, as_user="bob.martin")
        await emulator.wait_for_webhooks()
        await eventually(lambda: _true(failed_reads(emulator) > 0))
    assert dms(stack, ALICE_SLACK) == []
    db = Database.from_url(stack.settings.database_url)
    assert await PendingEvents(db).count() == 1  # survived the process
    await db.dispose()
    emulator.faults.clear()
    async with stack_with(tmp_path, emulator=emulator, slack=slack, **WEBHOOK_ONLY) as restarted:
        [dm] = await restarted.slack.wait_for(lambda: dms(restarted, ALICE_SLACK), timeout=15)
        assert "In Progress" in dm.text
        await eventually(lambda: _is(restarted.bot.feed.events.count(), 0))
        assert len(dms(restarted, ALICE_SLACK)) == 1


async def test_one_unreadable_incident_holds_up_neither_other_incidents_nor_approvals(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.feed.changes")
    async with stack_with(tmp_path, servicenow_poll_seconds=0.2) as stack:
        good, bad = await show(stack, "INC0000001"), await show(stack, "INC0000002")
        bad_id = incident(stack, "INC0000002")["sys_id"]
        await wait_for_polls(stack, 1)  # every table has its cursor
        # A state that is not a number (a broken choice list): its tracker cannot read the record.
        stack.emulator.update("incident", bad_id, {"state": "Pending vendor"}, as_user="bob.martin")
        stack.emulator.update(
            "incident",
            incident(stack, "INC0000001")["sys_id"],
            {"state": "2"},
            as_user="bob.martin",
        )
        stack.emulator.insert(
            "sysapproval_approver",
            {"approver": seed.CAROL, "sysapproval": seed.REQUESTED_ITEM, "state": "requested"},
            as_user="system",
        )
        await stack.slack.wait_for(lambda: "In Progress" in str(good.blocks), timeout=10)
        [approval] = await stack.slack.wait_for(lambda: dms(stack, CAROL_SLACK), timeout=10)
        assert "RITM0000001" in str(approval.blocks)
        await wait_for_polls(stack, 3)  # the bad record is seen again on later polls
        assert ("incident", bad_id) in stack.bot.feed.set_aside
        assert stack.bot.feed.set_aside_total == 1
        set_aside_lines = [r for r in caplog.records if "set aside" in r.getMessage()]
        assert len(set_aside_lines) == 1 and bad_id in set_aside_lines[0].getMessage()

        stack.emulator.update("incident", bad_id, {"state": "2"}, as_user="bob.martin")
        await stack.slack.wait_for(lambda: "In Progress" in str(bad.blocks), timeout=10)
        await eventually(lambda: _true(not stack.bot.feed.set_aside))


async def wait_for_polls(stack: Stack, count: int) -> None:
    """Wait until `count` more full polls have succeeded."""
    feed = stack.bot.feed
    for _ in range(count):
        before = feed.last_poll
        await eventually(lambda b=before: _true(feed.last_poll != b), timeout=10)  # type: ignore[misc]


async def test_workers_survive_a_database_away_at_start_up_and_healthz_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with isolated_postgres_url() as url:
        db = Database.from_url(url)
        await db.migrate()
        await db.dispose()
        name = url.rsplit("/", 1)[1]
        await _admin(url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await _admin(
            url, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )
        async with (
            stack_with(tmp_path, database_url=url, servicenow_poll_seconds=0.2) as stack,
            httpx.AsyncClient(base_url=stack.bot_url) as http,
        ):

            async def status() -> tuple[int, dict[str, Any]]:
                response = await http.get("/healthz")
                return response.status_code, response.json()

            down = await eventually(lambda: _poller_down(status))
            assert down is not None and "database" in down
            assert any("worker poller failed" in r.getMessage() for r in caplog.records)
            await _admin(url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await eventually(lambda: _is_status(status, 200), timeout=20)
            assert stack.bot.workers["poller"].running
            # /healthz may say 200 while the poller still waits out its backoff; then it polls.
            await eventually(lambda: _polled(stack), timeout=40)


async def _polled(stack: Stack) -> bool:
    return stack.bot.feed.last_poll is not None


async def _poller_down(status: Any) -> dict[str, Any] | None:
    code, body = await status()
    return body if code == 503 and "poller" in body else None


async def _is_status(status: Any, expected: int) -> bool:
    code, _ = await status()
    return bool(code == expected)


async def test_fifty_concurrent_health_checks_cost_at_most_a_couple_of_servicenow_calls(
    tmp_path: Path,
) -> None:
    async with stack_with(tmp_path, servicenow_poll_seconds=0) as stack:
        stack.emulator.requests.clear()
        async with httpx.AsyncClient(base_url=stack.bot_url) as http:
            answers = await asyncio.gather(*(http.get("/healthz") for _ in range(50)))
        assert {a.status_code for a in answers} == {200}
        assert len(stack.emulator.requests) <= 2


async def test_healthz_names_servicenow_in_one_clean_line_when_a_proxy_answers_html(
    tmp_path: Path,
) -> None:
    page = (
        "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>"
        + "x" * 5000
        + "</body></html>"
    )
    async with stack_with(tmp_path, servicenow_poll_seconds=0) as stack:
        stack.emulator.faults.add(Fault(status=502, body=page, times=-1))
        async with httpx.AsyncClient(base_url=stack.bot_url) as http:

            async def servicenow_down() -> dict[str, Any] | None:
                response = await http.get("/healthz")
                body: dict[str, Any] = response.json()
                return body if response.status_code == 503 and "servicenow" in body else None

            body = await eventually(servicenow_down, timeout=15)
        assert body is not None
        reason = body["servicenow"]
        assert "<" not in reason and "\n" not in reason and len(reason) <= 160


async def _admin(url: str, statement: str) -> None:
    admin = create_async_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(statement))
    await admin.dispose()


async def _true(value: bool) -> bool:
    return value


async def _is(count: Any, expected: int) -> bool:
    return bool(await count == expected)
