"""Run the ServiceNow emulator and the Slack stand-in on loopback for benchmarks (a separate process).

    python bench/standins.py --servicenow-port 4002 --slack-port 4001 [--channels 25]

Prints one line `ready <servicenow url> <slack url>` once both listen; control them over HTTP
(`/sandbox/faults`, `/sandbox/requests` on the emulator; `/sandbox/messages` on the stand-in).
`--channels N` adds N public channels to the stand-in's workspace: C0BENCH001 (#bench-1) and on
(`bench_channels(N)`), for loads spread the way people spread them, over many channels.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from sandbox.servicenow import Emulator, run_emulator
from sandbox.slack import SlackStandIn, run_slack
from sandbox.slack.records import Channel
from sandbox.stack import BOT_TOKEN, SIGNING_SECRET


def bench_channels(count: int) -> list[str]:
    return [f"C0BENCH{n:03d}" for n in range(1, count + 1)]


async def main(args: argparse.Namespace) -> None:
    standin = SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    for n, channel in enumerate(bench_channels(args.channels), start=1):
        standin.channels[channel] = Channel(channel, f"bench-{n}")
    async with (
        run_emulator(Emulator(), port=args.servicenow_port) as emulator,
        run_slack(standin, port=args.slack_port) as slack,
    ):
        print(f"ready {emulator.instance_url} {slack.url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--servicenow-port", type=int, required=True)
    parser.add_argument("--slack-port", type=int, required=True)
    parser.add_argument("--channels", type=int, default=0, help="public channels to add")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parser.parse_args()))
