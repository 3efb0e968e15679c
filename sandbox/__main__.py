"""`python -m sandbox` (what `make sandbox` runs): the bot with its stand-ins, on loopback."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
from pathlib import Path

from sandbox.stack import WEBHOOK_SECRET, run_stack
from sandbox.web import run_web


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="incident-bot-sandbox-") as tmp:
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'incident-bot.db'}"
        async with (
            run_stack(
                database_url=database_url,
                host=args.host,
                bot_port=args.port,
                slack_port=args.port + 1,
                servicenow_port=args.port + 2,
                servicenow_webhook_secret=WEBHOOK_SECRET,
                servicenow_poll_seconds=10,
            ) as stack,
            run_web(stack.slack, stack.emulator, host=args.host, port=args.port + 3) as page,
        ):
            print(
                f"""
Open {page} in a browser: a Slack-like page and a ServiceNow panel to try every feature.

incident-bot sandbox is running (Ctrl-C stops it; nothing leaves this machine):
  web page            {page}   (Slack stand-in + ServiceNow panel, live over server-sent events)
  bot                 {stack.bot_url}   (POST /slack/events, GET /healthz)
  Slack stand-in      {stack.slack.url}   (Web API at /api/)
  ServiceNow emulator {stack.emulator.instance_url}   (user incident.bot / incident-bot)

Try it from another terminal:
  .venv/bin/python -m sandbox.driver --slack {stack.slack.url} "/incident printer on fire"
  .venv/bin/python -m sandbox.driver --slack {stack.slack.url} --user dave "/incident my laptop is slow"
  .venv/bin/python -m sandbox.driver --slack {stack.slack.url} "/incident help"
""",
                flush=True,
            )
            await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default: loopback)")
    parser.add_argument(
        "--port", type=int, default=3000, help="bot port; stand-ins use +1 and +2, the web page +3"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parser.parse_args()))
