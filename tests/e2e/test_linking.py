"""Acting as the person by account linking (authorization code grant with PKCE), end to end: the
person's browser goes through the bot's Connect link, the emulator's consent page and back; then
everything done for them carries their own token, so the emulator's audit trail names them."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.linking import NotLinked
from sandbox.servicenow import Emulator
from sandbox.slack.records import ALICE, BOB, CAROL, GENERAL
from sandbox.stack import ENCRYPTION_KEY, Stack, run_stack
from storage import Database, LinkedAccounts
from tests.e2e.steps import reply_to as answer
from tests.support import connect_link, consent, link

pytestmark = pytest.mark.stack_settings()


@asynccontextmanager
async def linked_stack(tmp_path: Path, **settings: Any) -> AsyncIterator[Stack]:
    settings.setdefault("database_url", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    settings.setdefault("servicenow_poll_seconds", 0)
    async with run_stack(linked=True, **settings) as running:
        yield running
        assert running.slack.problems == []


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with linked_stack(tmp_path) as running:
        yield running


def grants(stack: Stack, grant_type: str) -> int:
    return sum(
        1
        for r in stack.emulator.requests
        if r.path == "/oauth_token.do"
        and isinstance(r.body, dict)
        and r.body.get("grant_type") == grant_type
    )


def connect_button(blocks: Any) -> str | None:
    for block in blocks or ():
        for element in block.get("elements", ()):
            if element.get("action_id") == "servicenow_connect":
                return str(element["url"])
    return None


async def account(stack: Stack, slack_user: str) -> Any:
    return await LinkedAccounts(stack.bot.db).get(slack_user)


async def test_alice_connects_then_opens_and_comments_as_herself(stack: Stack) -> None:
    await link(stack, ALICE)
    told = await stack.slack.wait_for(
        lambda: [m for m in stack.slack.messages_in(stack.slack.dm_channel(ALICE))]
    )
    assert "Connected as *Alice Chen*" in told[0].text
    stored = await account(stack, ALICE)
    assert (stored.sys_user_id, stored.user_name) == (
        stack.emulator.user_id("alice.chen"),
        "alice.chen",
    )
    home = stack.slack.home_view(ALICE)
    assert home is not None and "Connected to ServiceNow as *Alice Chen*" in str(home.view)

    stack.emulator.requests.clear()
    await stack.slack.send_command(ALICE, "printer on fire", channel_id=GENERAL)
    [row] = await stack.slack.wait_for(
        lambda: stack.emulator.query("incident", "short_description=printer on fire")
    )
    alice = stack.emulator.user_id("alice.chen")
    assert (row["caller_id"], row["sys_created_by"]) == (alice, "alice.chen")
    assert stack.emulator.journal(row["sys_id"], "work_notes") == []  # no "via Slack" note

    await stack.slack.send_command(ALICE, f"comment {row['number']} smoke", channel_id=GENERAL)
    assert "Added your comment" in (await answer(stack, ALICE)).text
    [entry] = stack.emulator.journal(row["sys_id"], "comments")
    assert entry["sys_created_by"] == "alice.chen"
    [now] = stack.emulator.query("incident", f"number={row['number']}")
    assert now["sys_updated_by"] == "alice.chen"
    writes = [r for r in stack.emulator.requests if r.method in ("POST", "PATCH")]
    assert writes and {r.user for r in writes if r.path.startswith("/api/")} == {"alice.chen"}
    assert grants(stack, "refresh_token") == 0  # her stored token was used as it is


async def test_someone_not_connected_gets_a_connect_button_and_servicenow_hears_nothing(
    stack: Stack,
) -> None:
    stack.emulator.requests.clear()
    await stack.slack.send_command(BOB, "printer on fire", channel_id=GENERAL)
    told = await answer(stack, BOB)
    assert "connect it first" in told.text
    url = connect_button(told.blocks)
    assert url and url.startswith(f"{stack.bot_url}/servicenow/connect?t=")
    assert stack.emulator.requests == []  # not even an identity look-up for him
    assert stack.emulator.query("incident", "short_description=printer on fire") == []

    await stack.slack.send_command(BOB, "help", channel_id=GENERAL)
    usage = await stack.slack.wait_for(
        lambda: [e for e in stack.slack.ephemerals if e.source == "ack" and "help" in e.text]
    )
    assert "/incident disconnect" in usage[-1].text and "/incident connect" in usage[-1].text


async def test_a_state_is_used_once_expires_and_belongs_to_the_browser_that_started_it(
    stack: Stack,
) -> None:
    linking = stack.bot.services.acting.linking
    assert linking is not None
    # Used once: the same callback again is refused, and changes nothing.
    url = await connect_link(stack, ALICE)
    async with httpx.AsyncClient() as browser:
        done = await consent(browser, url, "alice.chen")
        assert done.status_code == 200
        again = await browser.get(str(done.request.url))
    assert again.status_code == 400 and "already used" in again.text

    # Started in Bob's browser, finished in Alice's: Alice signs in at ServiceNow on a page Bob
    # sent her, but the bot won't link Bob's Slack account to Alice's ServiceNow account.
    bob_url = await connect_link(stack, BOB)
    async with httpx.AsyncClient() as bob_browser, httpx.AsyncClient() as alice_browser:
        started = await bob_browser.get(bob_url)
        done = await consent(alice_browser, started.headers["location"], "alice.chen")
    assert done.status_code == 400 and "started by someone else" in done.text
    assert await account(stack, BOB) is None

    # Expired: more than ten minutes (here: none) between the start and the way back.
    linking.state_ttl = 0
    async with httpx.AsyncClient() as browser:
        late = await consent(browser, await connect_link(stack, BOB), "bob.martin")
    assert late.status_code == 400 and "too long" in late.text
    assert await account(stack, BOB) is None

    # A link that is not the bot's own (tampered with, or from another key) is a friendly page.
    async with httpx.AsyncClient() as browser:
        forged = await browser.get(f"{stack.bot_url}/servicenow/connect?t=not-a-ticket")
    assert forged.status_code == 400 and "Home tab" in forged.text


async def test_saying_no_at_servicenow_links_nothing(stack: Stack) -> None:
    async with httpx.AsyncClient() as browser:
        page = await consent(browser, await connect_link(stack, ALICE), "alice.chen", "deny")
    assert page.status_code == 200 and "nothing was linked" in page.text
    assert await account(stack, ALICE) is None


async def test_a_revoked_grant_asks_the_person_to_reconnect(stack: Stack) -> None:
    await link(stack, ALICE)
    stack.emulator.revoke("alice.chen")  # the tokens and the grant end at ServiceNow
    await stack.slack.send_command(ALICE, "list", channel_id=GENERAL)
    told = await answer(stack, ALICE)
    assert "connection has ended" in told.text and connect_button(told.blocks)
    assert grants(stack, "refresh_token") == 1  # tried once, refused
    assert await account(stack, ALICE) is None  # the dead tokens are forgotten

    await link(stack, ALICE)  # and connecting again works
    await stack.slack.send_command(ALICE, "list", channel_id=GENERAL)
    assert "INC0000001" in str((await answer(stack, ALICE, after=1)).blocks)


async def test_disconnect_forgets_the_tokens_and_ends_them_at_servicenow(stack: Stack) -> None:
    await link(stack, ALICE)
    await stack.slack.send_command(ALICE, "disconnect", channel_id=GENERAL)
    assert "Disconnected *Alice Chen*" in (await answer(stack, ALICE)).text
    assert await account(stack, ALICE) is None
    revoked = [r for r in stack.emulator.requests if r.path == "/oauth_revoke_token.do"]
    assert revoked
    grants_of_alice = [
        g for g in stack.emulator.auth._refresh_tokens.values() if g.user_name == "alice.chen"
    ]
    assert grants_of_alice and all(g.revoked for g in grants_of_alice)

    await stack.slack.send_command(ALICE, "list", channel_id=GENERAL)
    assert connect_button((await answer(stack, ALICE, after=1)).blocks)


async def test_tokens_written_with_one_key_are_read_after_a_new_key_is_put_first(
    tmp_path: Path,
) -> None:
    emulator = Emulator()
    async with linked_stack(tmp_path, emulator=emulator) as first:
        await link(first, ALICE)
        codes = grants(first, "authorization_code")
    new_key = Fernet.generate_key().decode()
    async with linked_stack(
        tmp_path, emulator=emulator, token_encryption_keys=f"{new_key},{ENCRYPTION_KEY}"
    ) as second:
        await second.slack.send_command(ALICE, "list", channel_id=GENERAL)
        assert "INC0000001" in str((await answer(second, ALICE)).blocks)
        assert grants(second, "authorization_code") == codes == 1  # no new connect needed
        linking = second.bot.services.acting.linking
        assert linking is not None
        # A refresh now stores the new tokens under the new key.
        emulator.auth.revoke_tokens_of(
            next(g for g in emulator.auth._refresh_tokens.values() if g.user_name == "alice.chen")
        )
        await second.slack.send_command(ALICE, "list", channel_id=GENERAL)
        await answer(second, ALICE, after=1)
        stored = await account(second, ALICE)
        Fernet(new_key.encode()).decrypt(stored.access_token.encode())  # only the new key


async def test_no_token_code_verifier_or_key_is_written_in_clear(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with linked_stack(tmp_path) as stack:
        url = await connect_link(stack, ALICE)
        async with httpx.AsyncClient() as browser:
            started = await browser.get(url)
            authorize = started.headers["location"]
            done = await consent(browser, authorize, "alice.chen")
            assert done.status_code == 200
        state = httpx.URL(authorize).params["state"]
        code = httpx.URL(str(done.request.url)).params["code"]
        await stack.slack.send_command(ALICE, "printer on fire", channel_id=GENERAL)
        [row] = await stack.slack.wait_for(
            lambda: stack.emulator.query("incident", "short_description=printer on fire")
        )
        stack.emulator.rotate_refresh_tokens = True
        stack.emulator.revoke("alice.chen")  # then a refresh is refused: reconnect
        await stack.slack.send_command(ALICE, f"comment {row['number']} x", channel_id=GENERAL)
        await answer(stack, ALICE)
        await link(stack, ALICE)
        auth = stack.emulator.auth
        secrets = [
            *auth._tokens,
            *auth._refresh_tokens,
            *auth._used_codes,
            *auth.pkce_verifiers,
            state,
            code,
            ENCRYPTION_KEY,
        ]  # (not the Connect link's ticket: a link shown in Slack, so in Slack's request bodies)
        assert len(auth.pkce_verifiers) == 2 and len(auth._refresh_tokens) >= 2
    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        for record in caplog.records
        if not browsing(record, stack)
    )
    with sqlite3.connect(tmp_path / "bot.db") as db:
        tables = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        stored = "\n".join(repr(db.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)
    assert "linked_accounts" in tables and "alice.chen" in stored and caplog.records
    for secret in secrets:
        assert secret not in logged, "a secret is in the log"
        assert secret not in stored, "a secret is in the database"


def browsing(record: logging.LogRecord, stack: Stack) -> bool:
    """httpx's (and httpcore's) lines about a request the test's browser made (to the bot's pages,
    or to the consent page): the bot itself never requests either, and what a browser shows in
    its address bar is not the bot's log."""
    message = record.getMessage()
    return record.name.startswith(("httpx", "httpcore")) and (
        f"{stack.bot_url}/servicenow/" in message or "/oauth_auth.do" in message
    )


@pytest.mark.postgres
async def test_two_replicas_on_postgresql_refresh_once_and_both_keep_working(
    tmp_path: Path,
) -> None:
    from bot.app import create_app
    from sandbox.server import serve
    from tests.conftest import isolated_postgres_url

    async with isolated_postgres_url() as url:
        database = Database.from_url(url)
        await database.migrate()
        await database.dispose()
        async with linked_stack(tmp_path, database_url=url) as first:
            second_app = create_app(first.settings)
            async with serve(second_app):
                replicas = [first.bot, second_app.state.bot]
                await link(first, ALICE)
                first.emulator.rotate_refresh_tokens = True
                person = await replicas[0].services.identity.person(ALICE)

                async def mine(replica: Any) -> int:
                    client = replica.services.acting.client_for(person)
                    page = await client.list("incident", "caller_id=" + person.sys_user_id)
                    return len(page.records)

                assert all(await asyncio.gather(*(mine(r) for r in replicas)))
                # Her access token ends: both replicas get a 401 at once and renew it.
                grant = next(
                    g
                    for g in first.emulator.auth._refresh_tokens.values()
                    if g.user_name == "alice.chen"
                )
                first.emulator.auth.revoke_tokens_of(grant)
                counts = await asyncio.gather(*(mine(r) for r in replicas for _ in range(3)))
                assert all(counts)
                assert grants(first, "refresh_token") == 1
                assert not grant.revoked  # the rotated-out refresh token was never sent again
                assert all(await asyncio.gather(*(mine(r) for r in replicas)))
                assert sum(r.services.acting.linking.refreshes for r in replicas) == 1


def test_not_linked_is_a_refusal_with_its_button() -> None:
    refusal = NotLinked("https://bot.example.com/servicenow/connect?t=x", reconnect=True)
    assert "Reconnect ServiceNow" in str(refusal.blocks)


async def test_the_sandbox_page_connects_whoever_is_signed_in(tmp_path: Path) -> None:
    from sandbox.web import run_web

    async with (
        linked_stack(tmp_path) as stack,
        run_web(stack.slack, stack.emulator, linking=True) as page,
        httpx.AsyncClient(base_url=page, timeout=5) as client,
    ):
        state = (await client.get("/api/state", params={"user": "alice"})).json()
        assert state["slack"]["linking"] is True
        url = (await client.post("/api/connect", json={"user": "alice"})).json()["url"]
        async with httpx.AsyncClient() as browser:
            done = await consent(browser, url, "alice.chen")
        assert "Connected as Alice Chen" in done.text
        assert (await account(stack, ALICE)).user_name == "alice.chen"
        # Once connected, the Home tab offers Disconnect instead: no link to follow.
        assert (await client.post("/api/connect", json={"user": "alice"})).json()["url"] is None


async def test_who_someone_is_comes_from_their_token_not_their_slack_e_mail(stack: Stack) -> None:
    """Alice's Slack e-mail matches no ServiceNow user; she connects as alice.chen, opens an
    incident as herself, and hears of its resolution by DM (the reverse way uses the link too)."""
    stack.slack.user(ALICE).email = "alice.chen@elsewhere.example"
    await link(stack, ALICE, "alice.chen")
    await stack.slack.send_command(ALICE, "printer on fire", channel_id=GENERAL)
    [row] = await stack.slack.wait_for(
        lambda: stack.emulator.query("incident", "short_description=printer on fire")
    )
    assert row["caller_id"] == stack.emulator.user_id("alice.chen")
    assert row["sys_created_by"] == "alice.chen"
    # The bot has recorded the incident's first version (its card is out): a change seen before
    # that would be the first version the feed knows, with nothing to tell anyone about.
    await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    before = len(stack.slack.messages_in(stack.slack.dm_channel(ALICE)))
    stack.emulator.update(
        "incident",
        row["sys_id"],
        {"state": "6", "close_code": "Solved (Permanently)", "close_notes": "new toner"},
        as_user="bob.martin",
    )
    resolved = stack.emulator.get("incident", row["sys_id"])
    assert resolved is not None
    await stack.bot.feed.reconcile("incident", resolved)  # as the poller or a webhook would
    dms = await stack.slack.wait_for(
        lambda: stack.slack.messages_in(stack.slack.dm_channel(ALICE))[before:], timeout=20
    )
    assert "Resolved" in dms[-1].text


async def test_carol_approves_as_herself_once_connected(stack: Stack) -> None:
    from sandbox.servicenow import seed

    await link(stack, CAROL)
    assert await stack.bot.approvals.send_request_dm(seed.ITEM_APPROVAL)
    dm = (
        await stack.slack.wait_for(
            lambda: [
                m
                for m in stack.slack.messages_in(stack.slack.dm_channel(CAROL))
                if "approve" in str(m.blocks).lower() and m.blocks
            ]
        )
    )[-1]
    [button] = [
        {**element, "block_id": block["block_id"]}
        for block in dm.blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "approval_approve"
    ]
    await stack.slack.send_block_action(
        CAROL,
        action_id="approval_approve",
        block_id=button["block_id"],
        value=button["value"],
        message=dm,
    )
    await stack.slack.wait_for(lambda: dm.edited)
    row = stack.emulator.get("sysapproval_approver", seed.ITEM_APPROVAL)
    assert row is not None and (row["state"], row["sys_updated_by"]) == ("approved", "carol.diaz")


async def test_the_home_tab_disconnects_and_then_offers_to_connect_again(stack: Stack) -> None:
    await link(stack, ALICE)
    home = stack.slack.home_view(ALICE)
    assert home is not None
    await stack.slack.send_block_action(
        ALICE,
        action_id="home_disconnect",
        value="disconnect",
        block_id="home:connection",
        view=home,
    )

    def reconnectable() -> str | None:
        view = stack.slack.home_view(ALICE)
        return connect_button(view.view["blocks"]) if view is not None else None

    assert (await stack.slack.wait_for(reconnectable)).startswith(stack.bot_url)
    view = stack.slack.home_view(ALICE)
    assert view is not None and "Disconnected *Alice Chen*" in str(view.view["blocks"])
    assert await account(stack, ALICE) is None


async def test_a_token_near_its_end_is_renewed_first_and_a_rotated_refresh_token_is_kept(
    stack: Stack,
) -> None:
    # Tokens that live 30 s are always inside the bot's one-minute renewal margin: every call
    # renews first, and each renewal must present the refresh token the previous one returned.
    stack.emulator.token_lifetime = 30
    stack.emulator.rotate_refresh_tokens = True
    await link(stack, ALICE)
    stack.emulator.requests.clear()
    for n in range(3):
        await stack.slack.send_command(ALICE, "list", channel_id=GENERAL)
        assert "INC0000001" in str((await answer(stack, ALICE, after=n)).blocks)
    assert grants(stack, "refresh_token") == 3
    assert not [
        r for r in stack.emulator.requests if r.path.startswith("/api/") and r.status == 401
    ]
    assert stack.emulator.oauth_log == []  # no refresh token was ever refused
