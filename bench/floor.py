"""The floor for ack latency: a bare Starlette endpoint that only checks Slack's signature.

It logs as `incident-bot serve` does (the bot's log configuration, uvicorn's access line for
every request through it, at INFO), so a comparison with the bot is not a comparison of logging.

python bench/floor.py --port 4010
"""

from __future__ import annotations

import argparse

import uvicorn
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot import logs
from sandbox.stack import SIGNING_SECRET

verifier = SignatureVerifier(SIGNING_SECRET)


async def events(request: Request) -> Response:
    body = await request.body()
    if not verifier.is_valid_request(body, dict(request.headers)):
        return Response(status_code=401)
    return Response(status_code=200)


async def healthz(_: Request) -> Response:
    return Response("ok")


app = Starlette(
    routes=[Route("/slack/events", events, methods=["POST"]), Route("/healthz", healthz)]
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="INFO", choices=["INFO", "WARNING"])
    args = parser.parse_args()
    # As bot/cli.py runs `serve`: the bot's one handler, uvicorn's loggers through it.
    logs.configure(args.log_level, "text")
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_config=None, log_level=args.log_level.lower()
    )
