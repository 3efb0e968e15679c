"""Acting as the person (JWT bearer grant) end to end: real grants against the emulator, one token
exchange per person, refused grants explained, no secret in logs or the database. Who may do what
in this mode, and the audit trail naming the person, is test_permission_matrix.py's `jwt` mode."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from sandbox.servicenow import seed
from sandbox.slack.records import ALICE, BOB, GENERAL
from sandbox.stack import Stack, run_stack
from tests.e2e.steps import PRIVATE_KEY, exchanges, jwt_settings, trust_jwt_key
from tests.e2e.steps import reply_to as answer


@asynccontextmanager
async def acting_stack(tmp_path: Path, **settings: Any) -> AsyncIterator[Stack]:
    """The stack with the bot acting as each person: its key registered for the OAuth client."""
    async with run_stack(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        servicenow_poll_seconds=0,
        **jwt_settings(tmp_path),
        **settings,
    ) as running:
        trust_jwt_key(running)
        yield running
        assert running.slack.problems == []


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with acting_stack(tmp_path) as running:
        yield running


def incident(stack: Stack, query: str) -> dict[str, str]:
    [row] = stack.emulator.query("incident", query)
    return row


async def test_alice_opens_and_comments_as_herself_with_one_token_exchange(stack: Stack) -> None:
    await stack.slack.send_command(ALICE, "printer on fire", channel_id=GENERAL)
    created = await stack.slack.wait_for(
        lambda: stack.emulator.query("incident", "short_description=printer on fire")
    )
    row = created[0]
    alice = stack.emulator.user_id("alice.chen")
    assert (row["caller_id"], row["opened_by"], row["sys_created_by"]) == (
        alice,
        alice,
        "alice.chen",
    )
    assert stack.emulator.journal(row["sys_id"], "work_notes") == []  # no "via Slack" note needed

    await stack.slack.send_command(
        ALICE, f"comment {row['number']} it smells of smoke", channel_id=GENERAL
    )
    assert "Added your comment" in (await answer(stack, ALICE, after=0)).text
    [entry] = stack.emulator.journal(row["sys_id"], "comments")
    assert (entry["sys_created_by"], entry["value"]) == ("alice.chen", "it smells of smoke")
    assert incident(stack, f"number={row['number']}")["sys_updated_by"] == "alice.chen"

    await stack.slack.send_command(ALICE, "list", channel_id=GENERAL)
    await answer(stack, ALICE, after=1)
    # Every Table API call made for Alice went as Alice; her token was fetched once.
    for_alice = [
        r
        for r in stack.emulator.requests
        if r.path.startswith("/api/now/table/incident") and r.method in ("POST", "PATCH")
    ]
    assert {r.user for r in for_alice} == {"alice.chen"}
    assert exchanges(stack) == 1


async def test_concurrent_first_calls_share_one_exchange_and_a_revoked_token_is_replaced(
    stack: Stack,
) -> None:
    # The Home tab reads her incidents (twice) and approvals at once: one exchange for all three.
    await stack.slack.send_event(stack.slack.app_home_opened(ALICE))
    home = await stack.slack.wait_for(lambda: stack.slack.home_view(ALICE))
    assert "INC0000001" in str(home.view["blocks"])
    assert exchanges(stack) == 1
    reads = [r for r in stack.emulator.requests if r.path.startswith("/api/now/table/incident")]
    assert reads and {r.user for r in reads} == {"alice.chen"}

    stack.emulator.revoke("alice.chen")  # her token stops working: the next call gets a 401
    await stack.slack.send_command(ALICE, "list", channel_id=GENERAL)
    told = await answer(stack, ALICE)
    assert "INC0000001" in str(told.blocks) + told.text
    assert exchanges(stack) == 2  # one new grant, then the call went through


async def test_a_refused_grant_is_explained_to_the_person(stack: Stack) -> None:
    alice = stack.emulator.user_id("alice.chen")
    stack.emulator.update("sys_user", alice, {"locked_out": "true"})
    await stack.slack.send_command(ALICE, "printer on fire", channel_id=GENERAL)
    told = (await answer(stack, ALICE)).text
    assert "wouldn't let me act as you" in told and "alice@example.com" in told
    assert stack.emulator.query("incident", "short_description=printer on fire") == []
    assert any("cannot log in" in line for line in stack.emulator.oauth_log)


async def test_no_token_or_key_is_written_in_clear_to_the_logs_or_the_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with acting_stack(tmp_path) as stack:
        await stack.slack.send_command(ALICE, "printer on fire", channel_id=GENERAL)
        [row] = await stack.slack.wait_for(
            lambda: stack.emulator.query("incident", "short_description=printer on fire")
        )
        await stack.slack.send_command(ALICE, f"comment {row['number']} smoke", channel_id=GENERAL)
        await stack.slack.wait_for(lambda: stack.emulator.journal(row["sys_id"], "comments"))
        await stack.slack.send_event(stack.slack.app_home_opened(ALICE))
        await stack.slack.wait_for(lambda: stack.slack.home_view(ALICE))
        tokens = list(stack.emulator.auth._tokens)  # every access token the emulator issued
        assert exchanges(stack) == 1
    assert tokens
    key_body = "".join(PRIVATE_KEY.strip().splitlines()[1:-1])
    secrets = [*tokens, *(key_body[i : i + 40] for i in range(0, 200, 40))]

    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        for record in caplog.records
    )
    with sqlite3.connect(tmp_path / "bot.db") as db:
        tables = [
            name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        stored = "\n".join(repr(db.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)
    assert caplog.records and "printer on fire" in stored  # both were really searched
    for secret in secrets:
        assert secret not in logged
        assert secret not in stored


async def test_servicenow_s_acls_decide_not_the_bot_s_table(tmp_path: Path) -> None:
    """Acting as people, the roles the bot would ask for (here a role nobody has) do not stand in
    the way: the instance's ACLs (itil) let Bob work and see any incident, as in its own UI."""
    roles = {"fulfiller_roles": "incident_manager", "read_roles": "incident_manager"}
    async with acting_stack(tmp_path, **roles) as stack:
        await stack.slack.send_command(BOB, "assign INC0000001 me", channel_id=GENERAL)
        assert "Assigned INC0000001 to you" in (await answer(stack, BOB)).text
        row = incident(stack, "number=INC0000001")
        assert (row["assigned_to"], row["sys_updated_by"]) == (seed.BOB, "bob.martin")
        carols = stack.emulator.insert(
            "incident",
            {"caller_id": seed.CAROL, "short_description": "VPN", "assignment_group": seed.NETWORK},
            as_user="carol.diaz",
        )
        await stack.slack.send_command(BOB, carols["number"], channel_id=GENERAL)
        await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
        # Refusals still speak of the configured roles, whatever ServiceNow's reason was.
        await stack.slack.send_command(ALICE, "assign INC0000001 me", channel_id=GENERAL)
        assert "*incident_manager* role" in (await answer(stack, ALICE)).text
