"""HTTP face of the Slack stand-in: the Web API, response_urls and the /sandbox control endpoints.

- `GET|POST /api/{method}`: query string, form and JSON bodies are all read (slack_sdk sends each).
- `POST /response/{id}`: the response_url given in commands and block actions.
- `/sandbox/...`: no auth, for `python -m sandbox.driver` and a browser UI.
- `WS /link/?ticket=…`: Socket Mode (sandbox/slack/socket_mode.py), reached through a relay.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.relay import run_relay
from sandbox.server import serve
from sandbox.slack import webapi
from sandbox.slack.installed import NotInManifest
from sandbox.slack.records import ApiCall, ApiError
from sandbox.slack.socket_mode import LINK_PATH
from sandbox.slack.standin import SlackStandIn

JSON_FIELDS = ("blocks", "attachments", "view")


async def read_call(request: Request) -> tuple[dict[str, Any], str | None]:
    """(arguments, token) of a Web API request, whichever way slack_sdk encoded them."""
    args: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            form = await request.form()
            args.update({k: v for k, v in form.multi_items() if isinstance(v, str)})
        else:
            raw = await request.body()
            if content_type == "application/json":
                try:
                    body = json.loads(raw) if raw.strip() else {}
                except ValueError:
                    raise ApiError("invalid_json") from None
                if not isinstance(body, dict):
                    raise ApiError("invalid_json")
                args.update(body)
            elif raw:
                args.update(parse_qsl(raw.decode(), keep_blank_values=True))
    token = args.pop("token", None)
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    for key in JSON_FIELDS:
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except ValueError:
                raise ApiError(
                    f"invalid_{key}_format" if key != "view" else "invalid_arguments"
                ) from None
    return args, token


def create_app(standin: SlackStandIn) -> Starlette:
    async def api(request: Request) -> Response:
        method = request.path_params["method"]
        try:
            args, token = await read_call(request)
        except ApiError as error:
            standin.record_call(ApiCall(method, {}, None, 0.0, error.status, error.code))
            return JSONResponse(error.body(), error.status)
        fault = webapi.take_fault(standin, method)
        with standin.answering(method):
            if fault is not None and fault.delay > 0:
                await standin.hold(fault)  # a slow Slack
            status, body, headers = webapi.call(standin, method, args, token, fault=fault)
        return JSONResponse(body, status, headers=headers)

    async def response_url(request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        status, answer = standin.respond(request.path_params["hook_id"], body)
        return JSONResponse(answer, status)

    async def command(request: Request) -> Response:
        try:
            body = await request.json()
            user = standin.user(str(body["user"]))
            channel = standin.channel(str(body.get("channel") or "C0GENERAL0"))
            text = str(body.get("text", ""))
            name = str(body.get("command") or "/incident")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            return JSONResponse({"error": f"bad request: {error}"}, 400)
        if not standin.bot_url and not standin.socket.enabled:
            return JSONResponse({"error": "no bot is registered with the Slack stand-in"}, 409)
        try:
            reply = await standin.send_command(user.id, text, channel_id=channel.id, command=name)
        except NotInManifest as error:
            return JSONResponse({"error": str(error)}, 400)
        except httpx.HTTPError as error:
            where = "over Socket Mode" if standin.socket.enabled else f"at {standin.bot_url}"
            return JSONResponse({"error": f"the bot {where} did not answer: {error!r}"}, 502)
        return JSONResponse(
            {
                "status": reply.status,
                "body": reply.body,
                "elapsed": reply.elapsed,
                "user": user.id,
                "channel": channel.id,
            }
        )

    async def messages(request: Request) -> Response:
        channel = request.query_params.get("channel")
        if channel:
            found = standin.messages_in(channel)
        else:
            found = sorted((m for ms in standin.messages.values() for m in ms), key=lambda m: m.ts)
        after = request.query_params.get("after")  # only messages posted after this ts
        if after:
            try:
                since = float(after)
            except ValueError:
                return JSONResponse({"error": f"after must be a message ts, not {after!r}"}, 400)
            found = [m for m in found if float(m.ts) > since]
        return JSONResponse([asdict(m) for m in found])

    async def ephemerals(request: Request) -> Response:
        user = request.query_params.get("user")
        found = standin.ephemerals
        if user:
            try:
                found = standin.ephemerals_for(standin.user(user).id)
            except KeyError:
                found = []
        return JSONResponse([asdict(e) for e in found])

    async def users(request: Request) -> Response:
        return JSONResponse(
            [
                {**asdict(u), "dm_channel": None if u.is_bot else standin.dm_channel(u.id)}
                for u in standin.users.values()
            ]
        )

    async def channels(request: Request) -> Response:
        return JSONResponse([asdict(c) for c in standin.channels.values()])

    async def calls(request: Request) -> Response:
        return JSONResponse([asdict(c) for c in standin.calls])

    async def views(request: Request) -> Response:
        return JSONResponse([asdict(v) for v in standin.views.values()])

    async def problems(request: Request) -> Response:
        return JSONResponse(standin.problems)

    return Starlette(
        routes=[
            Route("/api/{method}", api, methods=["GET", "POST"]),
            Route("/response/{hook_id}", response_url, methods=["POST"]),
            Route("/sandbox/command", command, methods=["POST"]),
            Route("/sandbox/messages", messages),
            Route("/sandbox/ephemerals", ephemerals),
            Route("/sandbox/users", users),
            Route("/sandbox/channels", channels),
            Route("/sandbox/calls", calls),
            Route("/sandbox/views", views),
            Route("/sandbox/problems", problems),
            *standin.socket.routes(),  # Socket Mode's WebSocket link (sandbox/slack/socket_mode.py)
        ]
    )


@contextlib.asynccontextmanager
async def run_slack(
    standin: SlackStandIn | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[SlackStandIn]:
    """Serve a stand-in on loopback (or `host`) until the block exits; sets `standin.url`."""
    standin = standin if standin is not None else SlackStandIn()
    reachable = "127.0.0.1" if host in ("0.0.0.0", "") else host
    async with (
        httpx.AsyncClient(timeout=standin.request_timeout) as http,
        serve(create_app(standin), host, port) as server,
        # Socket Mode links go through a relay, so that the stand-in can drop one abruptly.
        run_relay(reachable, server.port, host=host) as relay,
    ):
        standin.url = f"http://{reachable}:{server.port}"
        standin.socket.url = f"ws://{reachable}:{relay.port}{LINK_PATH}"
        standin.socket.relay = relay
        standin.attach_http(http)
        try:
            yield standin
        finally:
            standin.attach_http(None)
