"""Run the ServiceNow emulator and the Slack stand-in on loopback for benchmarks (a separate process).

    python bench/standins.py --servicenow-port 4002 --slack-port 4001

Prints one line `ready <servicenow url> <slack url>` once both listen; control them over HTTP
(`/sandbox/faults`, `/sandbox/requests` on the emulator; `/sandbox/messages` on the stand-in).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from sandbox.servicenow import Emulator, run_emulator
from sandbox.slack import SlackStandIn, run_slack
from sandbox.stack import BOT_TOKEN, SIGNING_SECRET


async def main(args: argparse.Namespace) -> None:
    async with (
        run_emulator(Emulator(), port=args.servicenow_port) as emulator,
        run_slack(
            SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN), port=args.slack_port
        ) as slack,
    ):
        print(f"ready {emulator.instance_url} {slack.url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--servicenow-port", type=int, required=True)
    parser.add_argument("--slack-port", type=int, required=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parser.parse_args()))
