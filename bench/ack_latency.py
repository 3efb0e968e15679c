"""Ack latency of `/incident` under load while ServiceNow answers slowly, against the floor.

500 signed slash commands at 50 concurrent go to `incident-bot serve` (a real subprocess, SQLite)
while the ServiceNow emulator answers every request after 2 s; the same load goes to a bare
Starlette endpoint that only checks the signature (the floor). Then it counts the ServiceNow calls
one command costs for a first-time and for a known user.

    .venv/bin/python bench/ack_latency.py [--commands 500] [--concurrency 50] [--delay 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import httpx
from slack_sdk.signature import SignatureVerifier

from sandbox.stack import BOT_TOKEN, SERVICENOW_PASSWORD, SERVICENOW_USER, SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[1]
LOGS = Path(tempfile.gettempdir()) / "incident-bot-bench"
LOGS.mkdir(exist_ok=True)
USERS = ["U0ALICE000", "U0BOB00000", "U0CAROL000"]
verifier = SignatureVerifier(SIGNING_SECRET)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def signed_command(user: str, text: str, n: int) -> tuple[bytes, dict[str, str]]:
    body = urlencode(
        {
            "token": "bench",
            "team_id": "T0SANDBOX",
            "team_domain": "sandbox",
            "channel_id": "C0GENERAL0",
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/incident",
            "text": text,
            "api_app_id": "A0BENCH",
            "is_enterprise_install": "false",
            "response_url": "http://127.0.0.1:9/response",
            "trigger_id": f"bench.{n}.{time.time_ns()}",
        }
    ).encode()
    ts = str(int(time.time()))
    return body, {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": verifier.generate_signature(timestamp=ts, body=body) or "",
    }


@asynccontextmanager
async def process(
    args: Sequence[str], env: dict[str, str] | None = None, ready: str | None = None
) -> AsyncIterator[str]:
    log = (LOGS / (Path(args[-1]).stem + ".log")).open("w")
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log
    )
    line = ""
    try:
        if ready and proc.stdout:
            while ready not in line:
                raw = await asyncio.wait_for(proc.stdout.readline(), 60)
                if not raw:
                    raise RuntimeError(f"{args} exited before it was ready")
                line = raw.decode()
        yield line
    finally:
        proc.terminate()
        await proc.wait()
        log.close()


async def wait_healthy(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            try:
                if (await http.get(url + "/healthz", timeout=1)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} never became healthy")


async def load(
    url: str, commands: int, concurrency: int, text: str = "bench incident {n}"
) -> list[float]:
    """Fire `commands` signed commands, `concurrency` at a time; the latency of each HTTP answer.

    The load comes from aiohttp: httpx's connection pool costs far more client-side time at 50
    concurrent requests than the servers being measured (seen here: a 1.3 s p99 against the floor).
    """
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector) as http:

        async def one(n: int) -> None:
            body, headers = signed_command(USERS[n % len(USERS)], text.format(n=n), n)
            async with gate:
                started = time.perf_counter()
                async with http.post("/slack/events", data=body, headers=headers) as response:
                    await response.read()
                latencies.append(time.perf_counter() - started)
                if response.status != 200:
                    raise RuntimeError(f"command {n}: HTTP {response.status}")

        await asyncio.gather(*(one(n) for n in range(commands)))
    return latencies


async def wait_posted(slack: str, count: int) -> None:
    """Wait until the Slack stand-in holds `count` cards in #general (the bot has drained)."""
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(6000):
            messages = (
                await http.get(slack + "/sandbox/messages", params={"channel": "C0GENERAL0"})
            ).json()
            if len(messages) >= count:
                return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"only {len(messages)} of {count} cards were posted")


def percentiles(latencies: list[float]) -> tuple[float, float, float, float]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000, max(latencies) * 1000


async def table_calls(http: httpx.AsyncClient, servicenow: str) -> int:
    rows = (await http.get(servicenow + "/sandbox/requests")).json()
    return sum(1 for row in rows if "/api/now/table/" in row["path"])


async def calls_per_command(bot: str, servicenow: str, slack: str, user: str) -> int:
    """ServiceNow Table API calls made for one quick-create by `user` (waits for the card)."""
    async with httpx.AsyncClient(timeout=30) as http:
        before = await table_calls(http, servicenow)
        posted = len(
            (await http.get(slack + "/sandbox/messages", params={"channel": "C0GENERAL0"})).json()
        )
        body, headers = signed_command(user, "counting calls", 10**6 + before)
        await http.post(bot + "/slack/events", content=body, headers=headers)
        for _ in range(600):
            messages = (
                await http.get(slack + "/sandbox/messages", params={"channel": "C0GENERAL0"})
            ).json()
            if len(messages) > posted:
                break
            await asyncio.sleep(0.05)
        return await table_calls(http, servicenow) - before


async def main(args: argparse.Namespace) -> None:
    sn_port, slack_port, bot_port, floor_port = (free_port() for _ in range(4))
    python = sys.executable
    async with process(
        [
            python,
            "bench/standins.py",
            "--servicenow-port",
            str(sn_port),
            "--slack-port",
            str(slack_port),
        ],
        ready="ready",
    ) as line:
        _, servicenow, slack = line.split()
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack + "/api/",
                "SERVICENOW_INSTANCE_URL": servicenow,
                "SERVICENOW_USERNAME": SERVICENOW_USER,
                "SERVICENOW_PASSWORD": SERVICENOW_PASSWORD,
                "SERVICENOW_POLL_SECONDS": "0",
                "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
                "HOST": "127.0.0.1",
                "PORT": str(bot_port),
            }
            bot = f"http://127.0.0.1:{bot_port}"
            floor = f"http://127.0.0.1:{floor_port}"
            async with (
                process([python, "-m", "bot", "serve"], env=env),
                process([python, "bench/floor.py", "--port", str(floor_port)]),
            ):
                await asyncio.gather(wait_healthy(bot), wait_healthy(floor))
                first = await calls_per_command(bot, servicenow, slack, "U0CAROL000")
                known = await calls_per_command(bot, servicenow, slack, "U0CAROL000")
                async with httpx.AsyncClient() as http:
                    fault = {"status": 0, "delay": args.delay, "times": 10**6}
                    await http.post(servicenow + "/sandbox/faults", json=fault)
                await load(bot, 20, 10)  # warm-up
                await wait_posted(slack, 22)
                # The floor first, on a quiet machine; then the bot, ack-only, then creating.
                results = {
                    "floor (signature check only)": await load(
                        floor, args.commands, args.concurrency
                    ),
                    "incident-bot serve, `/incident help`": await load(
                        bot, args.commands, args.concurrency, "help"
                    ),
                    "incident-bot serve": await load(bot, args.commands, args.concurrency),
                }
                started = time.perf_counter()
                await wait_posted(slack, 22 + args.commands)
                drained = time.perf_counter() - started
    print(
        f"\nAck latency: {args.commands} signed /incident commands, {args.concurrency} concurrent, "
        f"ServiceNow answering in {args.delay:g} s\n"
    )
    print(f"| {'target':<36} | {'p50 ms':>7} | {'p95 ms':>7} | {'p99 ms':>7} | {'max ms':>7} |")
    print(f"|{'-' * 38}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 9}|")
    for name, latencies in results.items():
        p50, p95, p99, worst = percentiles(latencies)
        print(f"| {name:<36} | {p50:7.1f} | {p95:7.1f} | {p99:7.1f} | {worst:7.1f} |")
    print(
        f"\nEvery one of the {args.commands} cards was posted {drained:.1f} s after the last ack."
    )
    print("\nServiceNow Table API calls for one `/incident <text>`:\n")
    print("| user | calls |\n|---|---|")
    print(f"| first-time (users.info, then sys_user by e-mail, then create) | {first} |")
    print(f"| known (identity cached in storage) | {known} |")
    budget_ok = percentiles(results["incident-bot serve"])[2] < 100 and known == 1
    print(f"\nBudget (p99 < 100 ms, 1 call for a known user): {'met' if budget_ok else 'MISSED'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commands", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--delay", type=float, default=2.0)
    asyncio.run(main(parser.parse_args()))
