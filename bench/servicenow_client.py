"""What the ServiceNow client costs per request, alone: CPU of this process per create.

The ServiceNow emulator runs in another process (bench/standins.py) and answers at once; this
process holds only the client (`servicenow/client.py` and its transport) and sends bursts of N
creates with `--in-flight` at once, as the bot does under a burst of commands. CPU is this
process's user + system time (`time.process_time`) over the burst, divided by N. Run it on two
checkouts in turn to compare transports; the figures are min / median / max of the runs.

    .venv/bin/python bench/servicenow_client.py [--requests 1000] [--in-flight 100] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as `python bench/servicenow_client.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import free_port, process, spread
from sandbox.stack import SERVICENOW_PASSWORD, SERVICENOW_USER
from servicenow.client import ServiceNowClient


async def main(args: argparse.Namespace) -> None:
    sn_port, slack_port = free_port(), free_port()
    command = [sys.executable, "bench/standins.py", "--servicenow-port", str(sn_port)]
    async with (
        process([*command, "--slack-port", str(slack_port)], ready="ready"),
        ServiceNowClient(
            f"http://127.0.0.1:{sn_port}",
            httpx.BasicAuth(SERVICENOW_USER, SERVICENOW_PASSWORD),
            max_in_flight=args.in_flight,
        ) as sn,
    ):
        # connections opened before measuring
        await asyncio.gather(*(sn.list("sys_user", limit=1) for _ in range(args.in_flight)))
        costs, rates = [], []
        for run in range(1, args.runs + 1):
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(
                *(
                    sn.create("incident", {"short_description": f"Outage {n}"})
                    for n in range(args.requests)
                )
            )
            costs.append((time.process_time() - cpu) / args.requests * 1000)
            rates.append(args.requests / (time.perf_counter() - wall))
            print(f"run {run}: {costs[-1]:.2f} ms CPU per create, {rates[-1]:.0f} creates/s")
    print(
        f"{args.requests} creates, {args.in_flight} in flight, {args.runs} runs: "
        f"CPU per create (min / median / max) {spread(costs, '{:.2f}')} ms, "
        f"{spread(rates)} creates/s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
