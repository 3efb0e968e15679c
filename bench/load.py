"""What the benches share: signed slash commands, the load generator, processes, CPU and cards.

Import it from a bench script as `from bench.load import ...` after `bench.load.ROOT` is on the
path (the scripts run as `python bench/<name>.py`, which puts only `bench/` there).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import httpx
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.incidents.cards import incident_card
from sandbox.stack import SIGNING_SECRET
from servicenow.records import Incident
from storage import Card, Database

ROOT = Path(__file__).resolve().parents[1]
LOGS = Path(tempfile.gettempdir()) / "incident-bot-bench"
USERS = ("U0ALICE000", "U0BOB00000", "U0CAROL000")
GENERAL = "C0GENERAL0"
verifier = SignatureVerifier(SIGNING_SECRET)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def signed_command(
    user: str,
    text: str,
    n: int,
    channel: str = GENERAL,
    response_url: str = "http://127.0.0.1:9/response",
) -> tuple[bytes, dict[str, str]]:
    """`/incident <text>` as Slack sends it, signed with the sandbox's signing secret (a
    `response_url` that answers nothing unless the stand-in issued a live one)."""
    body = urlencode(
        {
            "token": "bench",
            "team_id": "T0SANDBOX",
            "team_domain": "sandbox",
            "channel_id": channel,
            "channel_name": channel.lower(),
            "user_id": user,
            "user_name": user.lower(),
            "command": "/incident",
            "text": text,
            "api_app_id": "A0BENCH",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"bench.{n}.{time.time_ns()}",
        }
    ).encode()
    ts = str(int(time.time()))
    return body, {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": verifier.generate_signature(timestamp=ts, body=body) or "",
    }


@dataclass
class Process:
    """A server started for a bench; `pid` for its CPU, `ready` the line it printed when ready."""

    proc: asyncio.subprocess.Process
    ready: str

    @property
    def pid(self) -> int:
        return int(self.proc.pid)


@asynccontextmanager
async def process(
    args: Sequence[str],
    env: dict[str, str] | None = None,
    ready: str | None = None,
    log_name: str | None = None,
) -> AsyncIterator[Process]:
    """Run `args` from the repository root, its stderr in LOGS; wait for `ready` on its stdout."""
    LOGS.mkdir(exist_ok=True)
    log = (LOGS / ((log_name or Path(args[-1]).stem) + ".log")).open("w")
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log
    )
    line = ""
    try:
        if ready and proc.stdout:
            while ready not in line:
                raw = await asyncio.wait_for(proc.stdout.readline(), 60)
                if not raw:
                    raise RuntimeError(f"{args} exited before it was ready (log: {log.name})")
                line = raw.decode()
        yield Process(proc, line)
    finally:
        proc.terminate()
        await proc.wait()
        log.close()


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (field 3, the state, first)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of its live children (gunicorn's worker), in seconds,
    from /proc (Linux): utime and stime, fields 14 and 15."""
    tick = os.sysconf("SC_CLK_TCK")
    family = {pid}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    family.add(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    total = 0
    for member in family:
        try:
            fields = _stat(member)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


async def wait_healthy(url: str, path: str = "/healthz") -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(1200):
            try:
                if (await http.get(url + path, timeout=1)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} never became healthy")


# Two significant words, the second unique to its command: the duplicate check runs (one
# ServiceNow read per command, as for most real texts) and finds nothing, so every command opens
# its incident.
CHECKED_TEXT = "Outage {word}"


_WORDS = itertools.count()  # across bursts too: a word seen by an earlier burst is a duplicate


def unique_word() -> str:
    """Six letters never used before in this process (none contains another: same length)."""
    n = next(_WORDS)
    letters = ""
    for _ in range(5):
        n, digit = divmod(n, 26)
        letters += chr(ord("a") + digit)
    return "q" + letters


async def burst(
    url: str,
    commands: int,
    concurrency: int,
    text: str = "Outage {n}",
    channels: Sequence[str] = (GENERAL,),
    path: str = "/slack/events",
) -> list[float]:
    """Fire `commands` signed commands, `concurrency` at a time, from `channels` in turn; the
    latency of each HTTP answer.

    The load comes from aiohttp: httpx's connection pool costs far more client-side time at 50
    concurrent requests than the servers being measured (seen here: a 1.3 s p99 against the floor).
    The default text has one significant word, so the duplicate check (issue #17) is skipped and the
    bot opens every incident at once as the peer does; `CHECKED_TEXT` has two, one of them unique
    (`{word}`), so the check runs and finds nothing. (With two shared words, "bench incident {n}",
    the check would find the burst's earlier incidents and ask instead of opening: no card.)
    """
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector) as http:

        async def one(n: int) -> None:
            channel = channels[n % len(channels)]
            words = text.format(n=n, word=unique_word())
            body, headers = signed_command(USERS[n % len(USERS)], words, n, channel)
            async with gate:
                started = time.perf_counter()
                async with http.post(path, data=body, headers=headers) as response:
                    await response.read()
                latencies.append(time.perf_counter() - started)
                if response.status != 200:
                    raise RuntimeError(f"command {n}: HTTP {response.status}")

        await asyncio.gather(*(one(n) for n in range(commands)))
    return latencies


async def last_message_ts(slack: str) -> str:
    """The ts of the newest message anywhere ("0" when there is none)."""
    async with httpx.AsyncClient(timeout=30) as http:
        found = (await http.get(slack + "/sandbox/messages")).json()
    return str(found[-1]["ts"]) if found else "0"


async def wait_cards(
    slack: str, after: str, count: int, timeout: float = 600, times: list[float] | None = None
) -> float:
    """Wait until `count` messages were posted (anywhere) after ts `after`; the last one's time
    (the stand-in's ts is the wall clock when it was posted). `times`: every one's, appended."""
    seen, last = 0, after
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=30) as http:
        while seen < count:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"only {seen} of {count} cards were posted in {timeout:g} s (the target's log "
                    f"in {LOGS} says why)"
                )
            found = (await http.get(slack + "/sandbox/messages", params={"after": last})).json()
            if found:
                seen += len(found)
                last = str(found[-1]["ts"])
                if times is not None:
                    times.extend(float(message["ts"]) for message in found)
            else:
                await asyncio.sleep(0.1)
    return float(last)


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100, method="inclusive")[98]


def spread(values: Sequence[float], fmt: str = "{:.0f}") -> str:
    """min / median / max, as the docs' tables show every figure."""
    ordered = sorted(values)
    return " / ".join(fmt.format(v) for v in (ordered[0], statistics.median(ordered), ordered[-1]))


def bench_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


@asynccontextmanager
async def fresh_database_url(server_url: str | None, label: str) -> AsyncIterator[str]:
    """The URL of a migrated, empty database: a new SQLite file, or a new database on the server
    named after `label` (dropped afterwards)."""
    if server_url is None:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}"
            await _migrate(url)
            yield url
        return
    base = make_url(server_url)
    name = f"incident_bot_{label}_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        await _migrate(url)
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _migrate(url: str) -> None:
    db = Database.from_url(url)
    try:
        await db.migrate()
    finally:
        await db.dispose()


@asynccontextmanager
async def fresh_database(server_url: str | None, label: str) -> AsyncIterator[Database]:
    """`fresh_database_url`'s database, open."""
    async with fresh_database_url(server_url, label) as url:
        db = Database.from_url(url)
        try:
            yield db
        finally:
            await db.dispose()


INCIDENT_URL = "https://dev1.service-now.com/nav_to.do?uri=incident.do%3Fsys_id%3D"


def printer_card(number: int, *, state: str = "2", mod: int = 3, sys_id: str | None = None) -> Card:
    """A realistic incident card, as the outbox stores one: the storage benches queue these."""
    sys_id = sys_id or f"{number:032x}"
    incident = Incident.from_record(
        {
            "sys_id": sys_id,
            "number": f"INC{number:07d}",
            "short_description": f"Printer {number} on fire in building {number % 7}",
            "description": "It started smoking after the last firmware update. " * 4,
            "state": state,
            "priority": "3",
            "impact": "2",
            "urgency": "2",
            "caller_id.name": "Alice Chen",
            "assigned_to.name": "Bob Martin",
            "assignment_group.name": "Hardware",
            "sys_mod_count": str(mod),
            "sys_updated_on": "2026-11-24 09:15:00",
            "opened_at": "2026-11-24 09:00:00",
        }
    )
    built = incident_card(incident, INCIDENT_URL + sys_id)
    return Card({"text": built.text, "blocks": list(built.blocks)}, built.digest())
