"""Throughput and CPU per incident of `/incident <text>` bursts, the bot beside the peer.

A burst of N signed `/incident <text>` (50 concurrent, from bench/load.py) goes to `incident-bot
serve` (a subprocess on SQLite, SERVICENOW_MAX_IN_FLIGHT=100) and to the peer (bench/peers/
bolt_sync.py: a sync Bolt app under gunicorn that acks and hands the work to 100 threads), one
after the other in the same run, against the same stand-ins (bench/standins.py) with the ServiceNow
emulator answering every request in 2 s. For each burst: incidents per second from the first
command sent to the last card posted, the server's user+sys CPU per incident (the stand-ins and the
load generator excluded), and the ack p99. Three runs; every figure min / median / max.

    .venv/bin/python bench/throughput.py                      # 500 commands, 3 runs
    .venv/bin/python bench/throughput.py --sizes 100,500,2000 # the flatness table
    .venv/bin/python bench/throughput.py --quick              # 100 commands, 1 run: a smoke test
    .venv/bin/python bench/throughput.py --serve-workers 1    # the bot as a front and a worker
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as `python bench/throughput.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import (
    CHECKED_TEXT,
    GENERAL,
    bench_env,
    burst,
    cpu_seconds,
    free_port,
    last_message_ts,
    p99,
    process,
    spread,
    wait_cards,
    wait_healthy,
)
from bench.standins import bench_channels
from sandbox.stack import (
    BOT_TOKEN,
    SERVICENOW_PASSWORD,
    SERVICENOW_USER,
    SIGNING_SECRET,
)

BOT = "incident-bot serve (SQLite)"
PEER = "peer: sync Bolt + gunicorn, ack then a thread"


@dataclass
class Target:
    name: str
    url: str
    pid: int


@dataclass
class Burst:
    rate: float  # incidents per second, first command sent to last card posted
    cpu_ms: float  # server CPU per incident
    ack_p99_ms: float


@dataclass
class Results:
    runs: dict[tuple[str, int], list[Burst]] = field(default_factory=dict)

    def add(self, target: str, size: int, result: Burst) -> None:
        self.runs.setdefault((target, size), []).append(result)

    def median(self, target: str, size: int, what: str) -> float:
        return float(statistics.median(getattr(b, what) for b in self.runs[(target, size)]))


async def quiet(pid: int, settle: float = 0.3, limit: float = 10.0) -> float:
    """The process's CPU once it has finished its work (less than 2% busy over `settle` s)."""
    deadline = time.monotonic() + limit
    before = cpu_seconds(pid)
    while True:
        await asyncio.sleep(settle)
        now = cpu_seconds(pid)
        if now - before < 0.02 * settle or time.monotonic() > deadline:
            return now
        before = now


async def one_burst(
    target: Target, slack: str, commands: int, concurrency: int, channels: list[str], text: str
) -> Burst:
    after = await last_message_ts(slack)
    cpu_before = await quiet(target.pid)
    started = time.time()
    latencies = await burst(target.url, commands, concurrency, text, channels=channels)
    acked = time.time()
    # at least 10 incidents/s, or the target lost some (the peer never retries)
    times: list[float] = []
    last_card = await wait_cards(slack, after, commands, timeout=60 + commands / 10, times=times)
    cpu_after = await quiet(target.pid)
    times.sort()
    print(
        f"  {target.name}: acks done after {acked - started:.2f} s; cards at "
        + ", ".join(
            f"{share:.0%} {times[max(0, int(len(times) * share) - 1)] - started:.2f} s"
            for share in (0.01, 0.2, 0.5, 0.8, 1.0)
        ),
        file=sys.stderr,
    )
    return Burst(
        rate=commands / (last_card - started),
        cpu_ms=(cpu_after - cpu_before) / commands * 1000,
        ack_p99_ms=p99(latencies) * 1000,
    )


@asynccontextmanager
async def servers(
    in_flight: int, channels: int, tmp: str, serve_workers: int = 0
) -> AsyncIterator[tuple[str, str, list[Target]]]:
    """The stand-ins, the bot and the peer, all on loopback; (servicenow, slack, targets).
    `serve_workers`: the bot's SERVE_WORKERS (1: a front and a worker, whose CPU counts too)."""
    python = sys.executable
    sn_port, slack_port, bot_port, peer_port = (free_port() for _ in range(4))
    async with AsyncExitStack() as stack:
        standins = await stack.enter_async_context(
            process(
                [
                    python,
                    "bench/standins.py",
                    "--servicenow-port",
                    str(sn_port),
                    "--slack-port",
                    str(slack_port),
                    "--channels",
                    str(channels),
                ],
                ready="ready",
            )
        )
        _, servicenow, slack = standins.ready.split()
        env = bench_env(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack + "/api/",
            SERVICENOW_INSTANCE_URL=servicenow,
            SERVICENOW_USERNAME=SERVICENOW_USER,
            SERVICENOW_PASSWORD=SERVICENOW_PASSWORD,
            SERVICENOW_POLL_SECONDS="0",
            SERVICENOW_MAX_IN_FLIGHT=str(in_flight),
            PEER_IN_FLIGHT=str(in_flight),
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/bench.db",
            HOST="127.0.0.1",
            PORT=str(bot_port),
            SERVE_WORKERS=str(serve_workers),
        )
        bot = await stack.enter_async_context(
            process([python, "-m", "bot", "serve"], env=env, log_name="throughput-bot")
        )
        peer = await stack.enter_async_context(
            process(
                [
                    python,
                    "-m",
                    "gunicorn",
                    "--worker-class",
                    "gthread",
                    "--workers",
                    "1",
                    "--threads",
                    "50",
                    "--bind",
                    f"127.0.0.1:{peer_port}",
                    "bench.peers.bolt_sync:wsgi",
                ],
                env=env,
                log_name="throughput-peer",
            )
        )
        targets = [
            Target(BOT, f"http://127.0.0.1:{bot_port}", bot.pid),
            Target(PEER, f"http://127.0.0.1:{peer_port}", peer.pid),
        ]
        await asyncio.gather(*(wait_healthy(t.url) for t in targets))
        yield servicenow, slack, targets


async def main(args: argparse.Namespace) -> None:
    results = Results()
    with tempfile.TemporaryDirectory() as tmp:
        channels = bench_channels(args.channels) if args.channels > 1 else [GENERAL]
        async with servers(args.in_flight, args.channels, tmp, args.serve_workers) as (
            servicenow,
            slack,
            targets,
        ):
            for target in targets:  # connections, identities, caches: warm before measuring
                after = await last_message_ts(slack)
                await burst(target.url, 30, 10, "warm-up {n}", channels)
                await wait_cards(slack, after, 30)
            async with httpx.AsyncClient() as http:
                fault = {"status": 0, "delay": args.delay, "times": -1}
                (await http.post(servicenow + "/sandbox/faults", json=fault)).raise_for_status()
            for run in range(args.runs):
                for size in args.sizes:
                    # side by side, the order alternating from run to run
                    for target in targets if run % 2 == 0 else targets[::-1]:
                        result = await one_burst(
                            target, slack, size, args.concurrency, channels, args.text
                        )
                        results.add(target.name, size, result)
                        print(
                            f"run {run + 1}, {size} commands, {target.name}: "
                            f"{result.rate:.1f}/s, {result.cpu_ms:.1f} ms CPU, "
                            f"ack p99 {result.ack_p99_ms:.0f} ms",
                            file=sys.stderr,
                        )
    report(args, results, [t.name for t in targets])


def report(args: argparse.Namespace, results: Results, names: list[str]) -> None:
    limit = args.in_flight / args.delay
    runs = f"{args.runs} run{'s' if args.runs > 1 else ''}"
    where = f"from {args.channels} channels in turn" if args.channels > 1 else "all in #general"
    check = " (the bot's duplicate check runs)" if args.text == CHECKED_TEXT else ""
    print(
        f"\nBursts of signed `/incident <text>`{check} at {args.concurrency} concurrent ({where}), "
        f"ServiceNow answering in {args.delay:g} s, {args.in_flight} requests in flight for both "
        f"(at most {limit:g} incidents/s); {runs}, each figure min / median / max.\n"
    )
    print(
        "| commands | target | incidents/s until the last card | CPU per incident (ms) | ack p99 (ms) |"
    )
    print("|---|---|---|---|---|")
    for size in args.sizes:
        for name in names:
            bursts = results.runs[(name, size)]
            print(
                f"| {size} | {name} "
                f"| {spread([b.rate for b in bursts], '{:.1f}')} "
                f"| {spread([b.cpu_ms for b in bursts], '{:.1f}')} "
                f"| {spread([b.ack_p99_ms for b in bursts])} |"
            )
    print()
    for size in args.sizes:
        rate, peer_rate = (results.median(n, size, "rate") for n in (BOT, PEER))
        cpu, peer_cpu = (results.median(n, size, "cpu_ms") for n in (BOT, PEER))
        print(
            f"- {size} commands, medians: the bot makes {rate / limit:.0%} of the {limit:g}/s the "
            f"bound allows (goal ≥ 90%: {'met' if rate >= 0.9 * limit else 'MISSED'}), "
            f"{rate / peer_rate:.2f}× the peer's rate (goal ≥ 1: "
            f"{'met' if rate >= peer_rate else 'MISSED'}), and {cpu / peer_cpu:.2f}× its CPU per "
            f"incident (goal ≤ 1.5: {'met' if cpu <= 1.5 * peer_cpu else 'MISSED'})."
        )
    if len(args.sizes) > 1:
        for name in names:
            cpus = {size: results.median(name, size, "cpu_ms") for size in args.sizes}
            low, high = min(cpus.values()), max(cpus.values())
            mid = (low + high) / 2
            flat = high - mid <= 0.25 * mid
            print(
                f"- {name}: CPU per incident (median) from {low:.1f} to {high:.1f} ms across "
                f"{', '.join(map(str, args.sizes))} commands: ±{(high - mid) / mid:.0%} "
                f"(goal ±25%: {'met' if flat else 'MISSED'})."
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="500", help="burst sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument(
        "--channels",
        type=int,
        default=25,
        help="channels the commands come from, in turn (1: all from #general)",
    )
    parser.add_argument("--quick", action="store_true", help="100 commands, one run")
    parser.add_argument(
        "--serve-workers",
        type=int,
        choices=[0, 1],
        default=0,
        help="the bot's SERVE_WORKERS (1: a front process and a worker; CPU counts both)",
    )
    parser.add_argument(
        "--duplicate-check",
        action="store_true",
        help="texts of two significant words, so the bot's duplicate check runs (and finds nothing)",
    )
    parsed = parser.parse_args()
    parsed.text = CHECKED_TEXT if parsed.duplicate_check else "Outage {n}"
    try:
        parsed.sizes = [int(size) for size in parsed.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes takes numbers separated by commas, not {parsed.sizes!r}")
    if parsed.quick:
        parsed.sizes, parsed.runs = [100], 1
    if importlib.util.find_spec("gunicorn") is None:
        parser.exit(
            1,
            "throughput.py: the peer needs gunicorn: `make bench`, or "
            "`.venv/bin/pip install -e '.[bench]'`\n",
        )
    asyncio.run(main(parsed))
