"""The fault matrix: every fault of "exactly once, whatever fails", against the real bot process.

    .venv/bin/python bench/faults.py                      # every fault, on SQLite
    .venv/bin/python bench/faults.py --only slack-outage  # one of them
    .venv/bin/python bench/faults.py --database-url postgresql+asyncpg://postgres@127.0.0.1/test

The ServiceNow emulator and the Slack stand-in run in this process, where faults are injected and
effects counted; the bot runs as `python -m bot serve`, a separate process that is killed
(SIGKILL) and restarted where a fault calls for a crash. Each fault prints one row: the ServiceNow
writes the bot made, incidents created, journal entries written, Slack messages delivered, and
how many effects were duplicated or lost against what the person asked for. The last line is
`N faults, L lost, D duplicated`; the table is recorded in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

if __package__ in (None, ""):  # run as `python bench/<name>.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import fresh_database_url
from sandbox.servicenow import Emulator, WebhookTarget, run_emulator
from sandbox.servicenow.faults import Fault
from sandbox.slack import SlackStandIn, run_slack
from sandbox.slack.records import ALICE, BOB, GENERAL, ApiFault, Message
from sandbox.stack import (
    BOT_TOKEN,
    SERVICENOW_PASSWORD,
    SERVICENOW_USER,
    SIGNING_SECRET,
    WEBHOOK_SECRET,
)

ROOT = Path(__file__).resolve().parents[1]
WAIT = 30.0  # seconds any one expected effect may take before it counts as lost


@dataclass
class Row:
    fault: str
    writes: int = 0  # POST/PATCH the bot sent to ServiceNow
    incidents: int = 0
    journal: int = 0
    delivered: int = 0  # Slack messages (cards, DMs) the bot posted or rewrote
    duplicated: int = 0
    lost: int = 0
    note: str = ""

    def expect_one(self, got: int) -> None:
        """`got` effects where the person asked for exactly one."""
        self.delivered, self.lost, self.duplicated = got, max(0, 1 - got), max(0, got - 1)


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process
    url: str
    log: Path

    async def kill(self) -> None:
        """A crash: no shutdown, no draining."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            await self.kill()


@dataclass
class Bench:
    emulator: Emulator
    slack: SlackStandIn
    folder: Path
    database_url: str
    bots: list[BotProcess] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def bot(self, **env: str) -> AsyncIterator[BotProcess]:
        running = await self.start_bot(**env)
        try:
            yield running
        finally:
            await running.stop()

    async def start_bot(self, **env: str) -> BotProcess:
        port = _free_port()
        settings = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": f"{self.slack.url}/api/",
            "SERVICENOW_INSTANCE_URL": self.emulator.instance_url,
            "SERVICENOW_USERNAME": SERVICENOW_USER,
            "SERVICENOW_PASSWORD": SERVICENOW_PASSWORD,
            "SERVICENOW_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SERVICENOW_POLL_SECONDS": "0",
            "DATABASE_URL": self.database_url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            **env,
        }
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SERVICENOW_"))}
        log = self.folder / f"bot-{len(self.bots)}.log"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            cwd=self.folder,
            env={**clean, **settings, "PYTHONPATH": str(ROOT)},
            stdout=log.open("wb"),
            stderr=asyncio.subprocess.STDOUT,
        )
        running = BotProcess(process, f"http://127.0.0.1:{port}", log)
        self.bots.append(running)
        await _until(lambda: _answers(running.url), 60, f"the bot did not start (see {log})")
        self.slack.bot_url = running.url
        self.emulator.webhook = WebhookTarget(f"{running.url}/servicenow/events", WEBHOOK_SECRET)
        return running

    # -- what the person sees ------------------------------------------------------------------

    def dms(self, user: str) -> list[Message]:
        return self.slack.messages_in(self.slack.dm_channel(user))

    def said_to(self, user: str, text: str) -> int:
        return sum(1 for e in self.slack.ephemerals_for(user) if text in e.text)

    async def show(self, user: str, number: str) -> Message:
        before = len(self.slack.messages_in(GENERAL))
        await self.slack.send_command(user, number, channel_id=GENERAL)
        found = await self.slack.wait_for(
            lambda: self.slack.messages_in(GENERAL)[before:], timeout=WAIT
        )
        return found[0]

    # -- what ServiceNow holds -------------------------------------------------------------------

    def sys_id(self, number: str) -> str:
        return self.emulator.query("incident", f"number={number}")[0]["sys_id"]

    def writes(self, since: int = 0) -> int:
        return sum(
            1
            for r in self.emulator.requests[since:]
            if r.method in ("POST", "PATCH") and "/api/now/table/" in r.path
        )

    def journal(self, number: str, text: str, element: str = "comments") -> int:
        return sum(
            1 for e in self.emulator.journal(self.sys_id(number), element) if text in e["value"]
        )


# -- the faults ------------------------------------------------------------------------------------


async def replayed_commands(bench: Bench) -> Row:
    """Slack retries each of comment, note, assign and hold: each acts once."""
    row = Row("replayed slash commands (comment, note, assign, hold)")
    since = len(bench.emulator.requests)
    commands = [
        (ALICE, "comment INC0000001 replayed comment", "comments", "replayed comment"),
        (BOB, "note INC0000002 replayed note", "work_notes", "replayed note"),
        (BOB, "assign INC0000001 me", "work_notes", "via Slack by"),
        (BOB, "hold INC0000002 vendor replayed hold", "work_notes", "Put on hold"),
    ]
    async with bench.bot():
        for user, text, _, _ in commands:
            before = bench.said_to(user, ":white_check_mark:")
            await bench.slack.send_command(user, text, channel_id=GENERAL)
            await bench.slack.send_command(user, text, channel_id=GENERAL, retry_num=1)
            await _settle(bench.slack, _confirmations(bench, user, before))
        await asyncio.sleep(1.0)  # anything a retry would still do, it does by now
    row.writes = bench.writes(since)
    for _, text, element, mark in commands:
        number = text.split()[1]
        found = bench.journal(number, mark, element)
        row.journal += found
        row.duplicated += max(0, found - 1)
        row.lost += 1 if found == 0 else 0
    row.note = f"{len(commands)} commands, each sent twice"
    return row


async def follow_double_click(bench: Bench) -> Row:
    """Follow pressed twice on one card: the person follows (one DM on the next change)."""
    row = Row("Follow pressed twice")
    async with bench.bot():
        card = await bench.show(BOB, "INC0000005")
        follow = _element(card, "incident_follow")
        await asyncio.gather(
            *(
                bench.slack.send_block_action(
                    BOB, action_id="incident_follow", value=follow["value"], message=card
                )
                for _ in range(2)
            )
        )
        await _settle(bench.slack, lambda: bench.said_to(BOB, "INC0000005"))
        before = len(bench.dms(BOB))
        bench.emulator.update(
            "incident", bench.sys_id("INC0000005"), {"urgency": "1"}, as_user="admin"
        )
        got = await _count(bench.slack, lambda: len(bench.dms(BOB)) - before, want=1)
    row.expect_one(got)
    return row


async def event_then_crash(bench: Bench) -> Row:
    """A change event answered 202, then the bot crashes before acting on it (polling off)."""
    row = Row("webhook 202, then a crash (polling off)")
    bot = await bench.start_bot()
    await bench.show(BOB, "INC0000001")
    bench.emulator.faults.add(Fault(status=503, body="", times=-1, method="GET"))
    before = len(bench.dms(ALICE))
    bench.emulator.update("incident", bench.sys_id("INC0000001"), {"state": "2"}, as_user="admin")
    await bench.emulator.wait_for_webhooks()
    await bot.kill()
    bench.emulator.faults.clear()
    async with bench.bot():
        got = await _count(bench.slack, lambda: len(bench.dms(ALICE)) - before, want=1)
    row.expect_one(got)
    return row


async def bad_record(bench: Bench) -> Row:
    """One incident the bot cannot read: the others, and approvals, are still polled."""
    row = Row("one record the bot cannot parse")
    async with bench.bot(SERVICENOW_POLL_SECONDS="1"):
        bench.emulator.webhook = None  # only the poller finds the changes
        await bench.show(BOB, "INC0000001")
        await asyncio.sleep(2.5)  # a poll or two: the cursor is set
        bench.emulator.update(
            "incident", bench.sys_id("INC0000002"), {"state": "Pending vendor"}, as_user="admin"
        )
        before = len(bench.dms(ALICE))
        bench.emulator.update(
            "incident", bench.sys_id("INC0000001"), {"state": "2"}, as_user="admin"
        )
        got = await _count(bench.slack, lambda: len(bench.dms(ALICE)) - before, want=1)
    row.expect_one(got)
    return row


async def slack_outage(bench: Bench) -> Row:
    """Slack answers 500 to everything for a while; five changes meanwhile reach the caller."""
    row = Row("Slack outage while five changes happen")
    async with bench.bot():
        card = await bench.show(BOB, "INC0000001")
        before = len(bench.dms(ALICE))
        bench.slack.faults.append(ApiFault("*", error="internal_error", status=500, times=10_000))
        sys_id = bench.sys_id("INC0000001")
        for state in ("2", "3", "2", "3", "2"):
            values = {"state": state} | ({"hold_reason": "1"} if state == "3" else {})
            bench.emulator.update("incident", sys_id, values, as_user="admin")
            await asyncio.sleep(0.3)
        await asyncio.sleep(3.0)
        bench.slack.faults.clear()
        await _settle(bench.slack, lambda: int("In Progress" in str(card.blocks)))
        got = await _count(
            bench.slack, lambda: len(bench.dms(ALICE)) - before, want=1, patient=True
        )
    row.delivered = got
    row.lost = 0 if "In Progress" in str(card.blocks) and got >= 1 else 1
    row.note = f"{got} DM(s) to the caller after the outage"
    return row


async def crash_with_undelivered(bench: Bench) -> Row:
    """Messages queued while Slack fails, then a crash: the restarted bot delivers them once."""
    row = Row("crash with undelivered messages")
    bot = await bench.start_bot()
    await bench.show(BOB, "INC0000001")
    before = len(bench.dms(ALICE))
    bench.slack.faults.append(ApiFault("*", error="internal_error", status=500, times=10_000))
    bench.emulator.update("incident", bench.sys_id("INC0000001"), {"state": "2"}, as_user="admin")
    await bench.emulator.wait_for_webhooks()
    await asyncio.sleep(1.0)
    await bot.kill()
    bench.slack.faults.clear()
    started = time.monotonic()
    async with bench.bot():
        got = await _count(bench.slack, lambda: len(bench.dms(ALICE)) - before, want=1)
    row.expect_one(got)
    row.note = f"delivered {time.monotonic() - started:.1f} s after the restart"
    return row


def slow_create(seconds: float | None) -> Callable[[Bench], Awaitable[Row]]:
    """ServiceNow commits a create after `seconds` (None: commits, never answers); the bot's
    client gives up after 10 s. One incident, and the person learns its number."""

    async def fault(bench: Bench) -> Row:
        label = "never answered" if seconds is None else f"answered after {seconds:.0f} s"
        row = Row(f"create {label}")
        text = f"printer on fire ({label})"
        if seconds is None:
            bench.emulator.faults.add(
                Fault.commits_unanswered(method="POST", path_contains="/incident")
            )
        else:
            bench.emulator.faults.add(Fault.slow(seconds, method="POST", path_contains="/incident"))
        since = len(bench.emulator.requests)
        async with bench.bot():
            before = len(bench.slack.messages_in(GENERAL))
            await bench.slack.send_command(ALICE, text, channel_id=GENERAL)
            cards = await _count(
                bench.slack,
                lambda: sum(
                    1 for m in bench.slack.messages_in(GENERAL)[before:] if "INC" in m.text
                ),
                want=1,
                patient=True,
            )
        created = len(bench.emulator.query("incident", f"short_description={text}"))
        row.writes, row.incidents, row.delivered = bench.writes(since), created, cards
        row.duplicated = max(0, created - 1) + max(0, cards - 1)
        row.lost = (1 if created == 0 else 0) + (1 if cards == 0 else 0)
        return row

    return fault


async def slow_comment(bench: Bench) -> Row:
    """ServiceNow writes a comment after 12 s (the bot gives up at 10): one journal entry."""
    row = Row("comment answered after 12 s")
    bench.emulator.faults.add(Fault.slow(12, method="PATCH", path_contains="/incident/"))
    since = len(bench.emulator.requests)
    async with bench.bot():
        await bench.slack.send_command(ALICE, "comment INC0000001 slow one", channel_id=GENERAL)
        await _settle(
            bench.slack,
            lambda: bench.said_to(ALICE, "slow") + bench.said_to(ALICE, "comment"),
            seconds=WAIT * 4,
        )
        await asyncio.sleep(2.0)
    found = bench.journal("INC0000001", "slow one")
    row.writes, row.journal = bench.writes(since), found
    row.duplicated, row.lost = max(0, found - 1), 1 if found == 0 else 0
    return row


async def first_card_refused(bench: Bench) -> Row:
    """Slack answers the first card with a 500 and three 429s: the card still arrives, once."""
    row = Row("first card: Slack 500, then three 429s")
    bench.slack.faults.append(ApiFault("chat.postMessage", error="internal_error", status=500))
    bench.slack.faults.append(ApiFault("chat.postMessage", times=3))
    async with bench.bot():
        await bench.slack.send_command(ALICE, "card through a bad minute", channel_id=GENERAL)
        cards = await _count(
            bench.slack,
            lambda: sum(1 for m in bench.slack.messages_in(GENERAL) if "bad minute" in m.text),
            want=1,
        )
    row.delivered, row.duplicated, row.lost = cards, max(0, cards - 1), 1 if cards == 0 else 0
    return row


async def dm_burst(bench: Bench) -> Row:
    """On Hold and back within a second: no DM; Resolved then Closed at once: one DM that keeps
    the resolution and Reopen."""
    row = Row("DM bursts (hold and back; resolved then closed)")
    sys_id = bench.sys_id("INC0000001")
    async with bench.bot():
        await bench.show(BOB, "INC0000001")
        before = len(bench.dms(ALICE))
        bench.emulator.update("incident", sys_id, {"state": "2"}, as_user="admin")
        await _count(bench.slack, lambda: len(bench.dms(ALICE)) - before, want=1)
        before = len(bench.dms(ALICE))
        bench.emulator.update(
            "incident", sys_id, {"state": "3", "hold_reason": "4"}, as_user="admin"
        )
        bench.emulator.update("incident", sys_id, {"state": "2"}, as_user="admin")
        net_nothing = await _count(bench.slack, lambda: len(bench.dms(ALICE)) - before, want=1)
        before = len(bench.dms(ALICE))
        resolution = {
            "state": "6",
            "close_code": "Solved (Permanently)",
            "close_notes": "Fixed the mailbox.",
        }
        bench.emulator.update("incident", sys_id, resolution, as_user="admin")
        bench.emulator.update("incident", sys_id, {"state": "7"}, as_user="admin")
        closing = await _count(bench.slack, lambda: len(bench.dms(ALICE)) - before, want=1)
        last = bench.dms(ALICE)[-1] if closing else None
    kept = (
        last is not None
        and "Fixed the mailbox" in str(last.blocks)
        and "incident_reopen" in str(last.blocks)
    )
    row.delivered = net_nothing + closing
    row.duplicated = net_nothing + max(0, closing - 1)
    row.lost = 0 if kept else 1
    row.note = f"{net_nothing} DM for hold-and-back, {closing} for resolved-then-closed"
    return row


async def two_replicas(bench: Bench) -> Row:
    """Two bots on one PostgreSQL database, Slack taking 3 s per post, 1 s claims: one DM."""
    row = Row("two replicas, Slack slower than a claim")
    if not bench.database_url.startswith("postgresql"):
        row.note = "skipped: needs --database-url postgresql+asyncpg://…"
        return row
    env = {"OUTBOX_LEASE_SECONDS": "1"}
    async with bench.bot(**env), bench.bot(**env):
        await bench.show(BOB, "INC0000001")
        before = len(bench.dms(ALICE))
        bench.slack.faults.append(ApiFault("chat.postMessage", error="", delay=3.0, times=10))
        bench.emulator.update(
            "incident", bench.sys_id("INC0000001"), {"state": "2"}, as_user="admin"
        )
        got = await _count(bench.slack, lambda: len(bench.dms(ALICE)) - before, want=1)
    row.expect_one(got)
    return row


async def database_blip(bench: Bench) -> Row:
    """The database refuses connections for 5 s while a change happens: the poller, the outbox
    and the event worker come back on their own and the caller hears of it once."""
    row = Row("database away for 5 s (PostgreSQL)")
    if not bench.database_url.startswith("postgresql"):
        row.note = "skipped: needs --database-url postgresql+asyncpg://…"
        return row
    url = make_url(bench.database_url)
    admin = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = url.database

    async def allow(yes: bool) -> None:
        async with admin.connect() as conn:
            await conn.execute(
                text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(yes).lower()}')
            )
            if not yes:
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                    ),
                    {"n": name},
                )

    try:
        async with bench.bot(SERVICENOW_POLL_SECONDS="1") as bot:
            await bench.show(BOB, "INC0000001")
            before = len(bench.dms(ALICE))
            await allow(False)
            bench.emulator.update(
                "incident", bench.sys_id("INC0000001"), {"state": "2"}, as_user="admin"
            )
            await asyncio.sleep(5.0)
            await allow(True)
            got = await _count(bench.slack, lambda: len(bench.dms(ALICE)) - before, want=1)
            healthy = await _healthy(bot.url)
    finally:
        await allow(True)
        await admin.dispose()
    row.expect_one(got)
    row.note = "/healthz back to 200" if healthy else "/healthz still 503"
    row.lost += 0 if healthy else 1
    return row


async def _healthy(url: str) -> bool:
    deadline = time.monotonic() + WAIT
    async with httpx.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline:
            if (await http.get(f"{url}/healthz")).status_code == 200:
                return True
            await asyncio.sleep(0.5)
    return False


FAULTS: dict[str, Callable[[Bench], Awaitable[Row]]] = {
    "create-11s": slow_create(11),
    "create-25s": slow_create(25),
    "create-60s": slow_create(60),
    "create-never": slow_create(None),
    "comment-12s": slow_comment,
    "first-card": first_card_refused,
    "dm-burst": dm_burst,
    "two-replicas": two_replicas,
    "database-blip": database_blip,
    "replayed-commands": replayed_commands,
    "follow-twice": follow_double_click,
    "event-then-crash": event_then_crash,
    "bad-record": bad_record,
    "slack-outage": slack_outage,
    "crash-undelivered": crash_with_undelivered,
}


# -- helpers ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            await http.get(f"{url}/healthz")
        return True
    except httpx.HTTPError:
        return False


async def _until(check: Callable[[], Awaitable[bool]], timeout: float, why: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(why)
        await asyncio.sleep(0.1)


async def _settle(slack: SlackStandIn, count: Callable[[], int], seconds: float = WAIT) -> int:
    """Wait until `count()` is non-zero (or `seconds` pass), re-checking on every Slack change."""
    with contextlib.suppress(TimeoutError):
        await slack.wait_for(lambda: count() > 0, timeout=seconds)
    return count()


async def _count(
    slack: SlackStandIn, count: Callable[[], int], *, want: int, patient: bool = False
) -> int:
    """Wait for `want` effects, then a little longer for any duplicate; the final count."""
    with contextlib.suppress(TimeoutError):
        await slack.wait_for(lambda: count() >= want, timeout=WAIT * 4 if patient else WAIT)
    with contextlib.suppress(TimeoutError):  # a duplicate would come now
        await slack.wait_for(lambda: count() > want, timeout=2.0)
    return count()


def _confirmations(bench: Bench, user: str, before: int) -> Callable[[], int]:
    """How many confirmations `user` got since there were `before`."""
    return lambda: bench.said_to(user, ":white_check_mark:") - before


def _element(message: Message, action_id: str) -> dict[str, Any]:
    return next(
        e
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )


async def run(names: list[str], database_url: str | None) -> list[Row]:
    rows = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix="incident-bot-faults-") as tmp:
            folder = Path(tmp)
            sqlite = f"sqlite+aiosqlite:///{folder / 'bot.db'}"
            async with (
                _database(database_url if name in NEEDS_POSTGRES else None) as url,
                run_emulator(Emulator()) as emulator,
                run_slack(
                    SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
                ) as slack,
            ):
                bench = Bench(emulator, slack, folder, url or sqlite)
                try:
                    rows.append(await FAULTS[name](bench))
                except Exception as exc:  # a fault that could not even be run is a loss
                    rows.append(Row(name, lost=1, note=f"did not run: {exc!r}"[:120]))
                finally:
                    for bot in bench.bots:
                        await bot.kill()
        print(_line(rows[-1]), flush=True)
    return rows


NEEDS_POSTGRES = {"two-replicas", "database-blip"}  # the others run on a fresh SQLite file each


def _database(server_url: str | None) -> contextlib.AbstractAsyncContextManager[str | None]:
    """A fresh database on the PostgreSQL server of `server_url`; None: the fault's own SQLite."""
    if server_url is None:
        return contextlib.nullcontext()
    return fresh_database_url(server_url, "faults")


HEADER = ("fault", "writes", "incidents", "journal", "delivered", "duplicated", "lost", "note")


def _line(row: Row) -> str:
    cells = [
        row.fault,
        str(row.writes),
        str(row.incidents),
        str(row.journal),
        str(row.delivered),
        str(row.duplicated),
        str(row.lost),
        row.note,
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(FAULTS), help="run just these")
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: SQLite in a tmp dir)")
    args = parser.parse_args()
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    rows = asyncio.run(run(args.only or list(FAULTS), args.database_url))
    lost = sum(r.lost for r in rows)
    duplicated = sum(r.duplicated for r in rows)
    print(f"\n{len(rows)} faults, {lost} lost, {duplicated} duplicated")
    sys.exit(1 if lost or duplicated else 0)


if __name__ == "__main__":
    main()
