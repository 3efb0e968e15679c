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
    def port(offset: int) -> int:
        return args.port + offset if args.port else 0  # --port 0: every port ephemeral

    with tempfile.TemporaryDirectory(prefix="incident-bot-sandbox-") as tmp:
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'incident-bot.db'}"
        async with (
            run_stack(
                database_url=database_url,
                host=args.host,
                bot_port=port(0),
                slack_port=port(1),
                servicenow_port=port(2),
                socket_mode=args.socket,
                servicenow_webhook_secret=WEBHOOK_SECRET,
                servicenow_poll_seconds=10,
                linked=args.linked,
            ) as stack,
            run_web(
                stack.slack, stack.emulator, host=args.host, port=port(3), linking=args.linked
            ) as page,
        ):
            if args.socket:
                slack_requests = f"Socket Mode, over {stack.slack.socket.url}"
                bot_routes = "GET /healthz; Slack's requests come over Socket Mode"
            else:
                slack_requests = "POST /slack/events on the bot"
                bot_routes = "POST /slack/events, GET /healthz"
            linked = (
                "\nAccount linking is on: each person connects their ServiceNow account first "
                "(Connect ServiceNow,\non the page or on the Home tab), then acts as themselves.\n"
                if args.linked
                else ""
            )
            print(
                f"""{linked}
Open {page} in a browser: a Slack-like page and a ServiceNow panel to try every feature.

incident-bot sandbox is running (Ctrl-C stops it; nothing leaves this machine):
  web page            {page}   (Slack stand-in + ServiceNow panel, live over server-sent events)
  bot                 {stack.bot_url}   ({bot_routes})
  Slack stand-in      {stack.slack.url}   (Web API at /api/; requests to the bot: {slack_requests})
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
        "--port",
        type=int,
        default=3000,
        help="bot port; stand-ins use +1 and +2, the web page +3 (0: any free ports)",
    )
    parser.add_argument(
        "--socket",
        action="store_true",
        help="run the bot in Socket Mode (as `incident-bot socket`) instead of over HTTP",
    )
    parser.add_argument(
        "--linked",
        action="store_true",
        help="act as each person by account linking (SERVICENOW_LINKING): Connect ServiceNow first",
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parser.parse_args()))
