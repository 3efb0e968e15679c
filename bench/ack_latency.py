"""Ack latency of `/incident <text>` under steady open-loop load, beside the floor, in one run.

Signed slash commands arrive on a fixed schedule — 25, 50 and 100 a second for `--seconds` each —
whether or not earlier ones were answered (open loop), and each latency runs from the command's
*scheduled* send time, so a late generator counts against the result, never for it. Meanwhile the
ServiceNow emulator answers every request after `--delay` seconds, so the bot's acks overlap the
completion work of the commands before them (creating the incident, posting its card).

Targets, alternated phase by phase so both see the same machine: the floor (bench/floor.py, a bare
Starlette endpoint that only checks the signature) and `incident-bot serve` (a real subprocess on
SQLite). Both log every request the same way (the bot's log configuration, uvicorn's access line at
INFO). Each phase first runs `--warm` seconds at its rate unrecorded (connections open, completion
work under way), then records `--seconds`; after a bot phase the bench waits for every card to be
posted, so the next phase starts on a quiet bot. The load comes from one aiohttp session with no
connection limit (httpx's pool is far costlier at this concurrency).

    .venv/bin/python bench/ack_latency.py                 # 25, 50, 100/s for 30 s each, 3 runs
    .venv/bin/python bench/ack_latency.py --quick         # 5 s per rate, 1 run
    .venv/bin/python bench/ack_latency.py --front         # and serve with SERVE_WORKERS=1 too
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx

if __package__ in (None, ""):  # run as `python bench/ack_latency.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import signed_command
from sandbox.stack import BOT_TOKEN, SERVICENOW_PASSWORD, SERVICENOW_USER, SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[1]
LOGS = Path(tempfile.gettempdir()) / "incident-bot-bench"
LOGS.mkdir(exist_ok=True)
USERS = ["U0ALICE000", "U0BOB00000", "U0CAROL000"]
GENERAL = "C0GENERAL0"
channels = itertools.count(1)
LABELS = {"floor": "floor", "bot": "incident-bot serve", "front": "serve, SERVE_WORKERS=1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def process(
    args: Sequence[str], name: str, env: dict[str, str] | None = None, ready: str | None = None
) -> AsyncIterator[str]:
    log = (LOGS / f"{name}.log").open("w")
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


@dataclass(frozen=True)
class Phase:
    latencies: list[float]  # seconds from each recorded command's scheduled send to its answer
    errors: int  # answers other than 200, and requests that failed outright
    late: float  # the generator's worst lateness in sending (already inside the latencies)
    drained: float | None  # bot phases: seconds from the last send to the last card posted
    missing: int = 0  # bot phases: cards never posted (the bot's log says why)


class Bench:
    def __init__(self, control: str, http: httpx.AsyncClient) -> None:
        self.control = control
        self.http = http

    async def new_channel(self) -> str:
        channel = f"C0ACK{next(channels):05d}"
        await self.http.post(self.control + "/bench/channel", json={"id": channel})
        return channel

    async def response_urls(self, channel: str, count: int) -> list[str]:
        urls: list[str] = []
        for user in USERS:  # one per command, issued for its user
            answer = await self.http.post(
                self.control + "/bench/response-urls",
                json={"channel": channel, "user": user, "count": -(-count // len(USERS))},
            )
            urls.extend(answer.json())
        per_user = len(urls) // len(USERS)
        # Command n is USERS[n % 3]'s: interleave the users' URLs the same way.
        return [urls[(n % len(USERS)) * per_user + n // len(USERS)] for n in range(count)]

    async def count(self, channel: str) -> int:
        answer = await self.http.get(self.control + "/bench/count", params={"channel": channel})
        return int(answer.json()["count"])

    async def wait_posted(self, channel: str, count: int, timeout: float = 600) -> int:
        """Wait until `count` cards are in `channel`, or none came for 60 s (or `timeout`
        passed); how many are missing."""
        deadline = time.monotonic() + timeout
        seen, since = -1, time.monotonic()
        while (now := await self.count(channel)) < count:
            if now != seen:
                seen, since = now, time.monotonic()
            if time.monotonic() > min(deadline, since + 60):
                return count - now
            await asyncio.sleep(0.25)
        return 0

    async def phase(
        self,
        url: str,
        rate: float,
        seconds: float,
        warm: float,
        *,
        is_bot: bool,
    ) -> Phase:
        """Send `rate` commands a second for `warm` + `seconds`; record those after `warm`."""
        channel = await self.new_channel()
        total = round(rate * (warm + seconds))
        first_recorded = round(rate * warm)
        urls = await self.response_urls(channel, total)
        latencies: list[float] = []
        errors = 0
        late = 0.0
        loop = asyncio.get_running_loop()
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
        async with aiohttp.ClientSession(url, connector=connector) as session:

            async def one(n: int, scheduled: float) -> None:
                nonlocal errors
                user = USERS[n % len(USERS)]
                body, headers = signed_command(user, f"Outage {n}", n, channel, urls[n])
                try:
                    async with session.post("/slack/events", data=body, headers=headers) as got:
                        await got.read()
                        ok = got.status == 200
                except aiohttp.ClientError:
                    ok = False
                if n >= first_recorded:
                    latencies.append(loop.time() - scheduled)
                    errors += not ok

            start = loop.time() + 0.1
            sending: list[asyncio.Task[None]] = []
            for n in range(total):
                scheduled = start + n / rate
                if (wait := scheduled - loop.time()) > 0:
                    await asyncio.sleep(wait)
                late = max(late, loop.time() - scheduled)
                sending.append(asyncio.create_task(one(n, scheduled)))
            await asyncio.gather(*sending)
            sent = loop.time()
        drained, missing = None, 0
        if is_bot:
            missing = await self.wait_posted(channel, total)
            drained = loop.time() - sent
        return Phase(latencies, errors, late, drained, missing)


def percentiles(latencies: list[float]) -> tuple[float, float, float, float]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000, max(latencies) * 1000


async def table_calls(http: httpx.AsyncClient, servicenow: str) -> int:
    rows = (await http.get(servicenow + "/sandbox/requests")).json()
    return sum(1 for row in rows if "/api/now/table/" in row["path"])


async def calls_per_command(bench: Bench, bot: str, servicenow: str, user: str) -> int:
    """ServiceNow Table API calls made for one quick-create by `user` (waits for the card)."""
    http = bench.http
    before = await table_calls(http, servicenow)
    posted = await bench.count(GENERAL)
    [url] = await bench.response_urls(GENERAL, 1)
    body, headers = signed_command(user, f"counting calls{before}", 10**6 + before, GENERAL, url)
    await http.post(bot + "/slack/events", content=body, headers=headers)
    if await bench.wait_posted(GENERAL, posted + 1, timeout=30):
        raise RuntimeError("the card of a single command never came")
    return await table_calls(http, servicenow) - before


def spread(values: Sequence[float]) -> str:
    return f"{min(values):.0f} / {statistics.median(values):.0f} / {max(values):.0f}"


async def main(args: argparse.Namespace) -> None:
    if args.quick:
        args.seconds, args.runs = 5.0, 1
    if (task := asyncio.current_task()) is not None:  # `kill` stops the bot and stand-ins too
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    sn_port, slack_port, control_port, floor_port = (free_port() for _ in range(4))
    bots = ["bot", "front"] if args.front else ["bot"]
    ports = {name: free_port() for name in bots}
    python = sys.executable
    standins = [
        python,
        "bench/standins.py",
        "--servicenow-port",
        str(sn_port),
        "--slack-port",
        str(slack_port),
        "--control-port",
        str(control_port),
    ]
    results: dict[tuple[float, str], list[Phase]] = {}
    async with process(standins, "standins", ready="ready") as line:
        _, servicenow, slack, control = line.split()
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
                # Enough in flight for the fastest rate (100/s x 2 s): with the default 10 the
                # bot creates 5 incidents a second whatever the rate, and a phase's cards take
                # minutes (what the ack is measured against is the completion work, not a queue).
                "SERVICENOW_MAX_IN_FLIGHT": "250",
                "LOG_LEVEL": args.log_level,
                "HOST": "127.0.0.1",
            }
            targets = {"floor": f"http://127.0.0.1:{floor_port}"}
            targets |= {name: f"http://127.0.0.1:{ports[name]}" for name in bots}
            floor_cmd = [python, "bench/floor.py", "--port", str(floor_port)]
            async with contextlib.AsyncExitStack() as running:
                http = await running.enter_async_context(httpx.AsyncClient(timeout=30))
                for name in bots:  # each its own database; the front's runs a worker too
                    await running.enter_async_context(
                        process(
                            [python, "-m", "bot", "serve"],
                            name,
                            env={
                                **env,
                                "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/{name}.db",
                                "PORT": str(ports[name]),
                                "SERVE_WORKERS": "1" if name == "front" else "0",
                            },
                        )
                    )
                await running.enter_async_context(
                    process([*floor_cmd, "--log-level", args.log_level], "floor")
                )
                await asyncio.gather(*(wait_healthy(url) for url in targets.values()))
                bench = Bench(control, http)
                first = await calls_per_command(bench, targets["bot"], servicenow, "U0CAROL000")
                known = await calls_per_command(bench, targets["bot"], servicenow, "U0CAROL000")
                for user, name in itertools.product(USERS, bots):  # all known before measuring
                    await calls_per_command(bench, targets[name], servicenow, user)
                fault = {"status": 0, "delay": args.delay, "times": 10**9}
                await http.post(servicenow + "/sandbox/faults", json=fault)
                for run in range(args.runs):
                    for rate in args.rates:
                        for name, url in targets.items():
                            phase = await bench.phase(
                                url, rate, args.seconds, args.warm, is_bot=name != "floor"
                            )
                            results.setdefault((rate, name), []).append(phase)
                            p50, _, p99, worst = percentiles(phase.latencies)
                            print(
                                f"run {run + 1}, {rate:g}/s, {name}: p50 {p50:.0f} ms, "
                                f"p99 {p99:.0f} ms, max {worst:.0f} ms, errors {phase.errors}, "
                                f"generator late by {phase.late * 1000:.0f} ms at worst"
                                + (
                                    f", cards done {phase.drained:.1f} s after the last send"
                                    f" ({phase.missing} never posted)"
                                    if phase.drained is not None
                                    else ""
                                ),
                                file=sys.stderr,
                                flush=True,
                            )
    print(
        f"\nAck latency, open loop: signed `/incident <text>` at a steady rate for {args.seconds:g} s "
        f"(after {args.warm:g} s unrecorded), ServiceNow answering every request in {args.delay:g} s;"
        f" {args.runs} run(s), each cell min / median / max over runs (ms)\n"
    )
    print(
        "| rate | target | p50 | p95 | p99 | max | errors | cards done after last send (s) "
        "| cards never posted |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for (rate, name), phases in results.items():
        cuts = [percentiles(phase.latencies) for phase in phases]
        drains = [phase.drained for phase in phases if phase.drained is not None]
        print(
            f"| {rate:g}/s | {LABELS[name]} "
            + "".join(f"| {spread([c[i] for c in cuts])} " for i in range(4))
            + f"| {sum(phase.errors for phase in phases)} "
            + (
                f"| {min(drains):.1f} / {statistics.median(drains):.1f} / {max(drains):.1f} "
                f"| {sum(phase.missing for phase in phases)} |"
                if drains
                else "| — | — |"
            )
        )
    verdicts: dict[str, str] = {}
    for name in bots:
        print(f"\n{LABELS[name]}: p99 / floor p99, per run (min / median / max):\n")
        ratios_met = []
        for rate in args.rates:
            ratios = [
                percentiles(bot_phase.latencies)[2] / percentiles(floor_phase.latencies)[2]
                for bot_phase, floor_phase in zip(
                    results[(rate, name)], results[(rate, "floor")], strict=True
                )
            ]
            ratios_met.append(statistics.median(ratios) <= 2)
            print(
                f"- {rate:g}/s: {min(ratios):.2f} / {statistics.median(ratios):.2f} / "
                f"{max(ratios):.2f}"
            )
        mine = [phase for (_, n), phases in results.items() if n == name for phase in phases]
        worst = max(max(phase.latencies) for phase in mine)
        errors = sum(phase.errors + phase.missing for phase in mine)
        met = all(ratios_met) and worst < 3 and errors == 0
        verdicts[name] = f"{'met' if met else 'MISSED'} (slowest ack {worst * 1000:.0f} ms)"
    print("\nServiceNow Table API calls for one `/incident <text>`:\n")
    print("| user | calls |\n|---|---|")
    print(f"| first-time (sys_user by e-mail, the duplicate check's read, the create) | {first} |")
    print(f"| known (identity cached; the duplicate check's read, the create) | {known} |")
    print(
        "\nGoal (p99 within 2x the floor's at every rate, median over runs; nothing above 3 s; no "
        "errors, every card posted): "
        + "; ".join(f"{LABELS[name]} {verdict}" for name, verdict in verdicts.items())
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", type=float, nargs="+", default=[25, 50, 100])
    parser.add_argument("--seconds", type=float, default=30.0, help="recorded, per rate")
    parser.add_argument("--warm", type=float, default=3.0, help="unrecorded, before each phase")
    parser.add_argument("--delay", type=float, default=2.0, help="ServiceNow's answer time")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--log-level", default="INFO", choices=["INFO", "WARNING"], help="bot and floor alike"
    )
    parser.add_argument("--quick", action="store_true", help="5 s per rate, one run")
    parser.add_argument(
        "--front",
        action="store_true",
        help="also `serve` with SERVE_WORKERS=1 (a front and a worker), alternated with the others",
    )
    asyncio.run(main(parser.parse_args()))
