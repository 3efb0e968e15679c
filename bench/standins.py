"""Run the ServiceNow emulator and the Slack stand-in on loopback for benchmarks (a separate process).

    python bench/standins.py --servicenow-port 4002 --slack-port 4001 [--control-port 4004] [--channels 25]

Prints one line `ready <servicenow url> <slack url>` once both listen (with `--control-port`,
`ready <servicenow url> <slack url> <control url>`); control them over HTTP (`/sandbox/faults`,
`/sandbox/requests` on the emulator; `/sandbox/messages` on the stand-in).

The control server (`--control-port`) serves what a load generator needs from Slack's side
without transferring the whole workspace each time:

- `POST /bench/channel {"id": "C…"}`: a new channel the bot may post in;
- `POST /bench/response-urls {"channel": "C…", "user": "U…", "count": N}`: N live response_urls,
  as Slack issues one with every slash command;
- `GET /bench/count?channel=C…`: `{"count": n}`, the messages in that channel.

`--channels N` adds N public channels to the stand-in's workspace: C0BENCH001 (#bench-1) and on
(`bench_channels(N)`), for loads spread the way people spread them, over many channels.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.server import serve
from sandbox.servicenow import Emulator, run_emulator
from sandbox.slack import SlackStandIn, run_slack
from sandbox.slack.records import Channel
from sandbox.stack import BOT_TOKEN, SIGNING_SECRET


def control(slack: SlackStandIn) -> Starlette:
    async def channel(request: Request) -> Response:
        channel_id = str((await request.json())["id"])
        slack.channels[channel_id] = Channel(channel_id, channel_id.lower())
        return JSONResponse({"ok": True})

    async def response_urls(request: Request) -> Response:
        asked = await request.json()
        urls = [
            slack.issue_response_url(str(asked["channel"]), str(asked["user"]))
            for _ in range(int(asked["count"]))
        ]
        return JSONResponse(urls)

    async def count(request: Request) -> Response:
        return JSONResponse({"count": len(slack.messages_in(request.query_params["channel"]))})

    return Starlette(
        routes=[
            Route("/bench/channel", channel, methods=["POST"]),
            Route("/bench/response-urls", response_urls, methods=["POST"]),
            Route("/bench/count", count),
        ]
    )


@contextlib.asynccontextmanager
async def maybe_control(slack: SlackStandIn, port: int | None) -> AsyncIterator[str | None]:
    if port is None:
        yield None
        return
    async with serve(control(slack), port=port) as server:
        yield server.url


def bench_channels(count: int) -> list[str]:
    return [f"C0BENCH{n:03d}" for n in range(1, count + 1)]


async def main(args: argparse.Namespace) -> None:
    standin = SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    for n, channel in enumerate(bench_channels(args.channels), start=1):
        standin.channels[channel] = Channel(channel, f"bench-{n}")
    async with (
        run_emulator(Emulator(), port=args.servicenow_port) as emulator,
        run_slack(standin, port=args.slack_port) as slack,
        maybe_control(slack, args.control_port) as control_url,
    ):
        ready = f"ready {emulator.instance_url} {slack.url}"
        print(ready if control_url is None else f"{ready} {control_url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--servicenow-port", type=int, required=True)
    parser.add_argument("--slack-port", type=int, required=True)
    parser.add_argument("--control-port", type=int)
    parser.add_argument("--channels", type=int, default=0, help="public channels to add")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parser.parse_args()))
