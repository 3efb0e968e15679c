"""The sandbox page: a Slack-like client and a ServiceNow panel, over the two stand-ins.

- `GET /`, `/static/*`: the page (plain HTML, JS and CSS; no build step).
- `GET /api/state?user=U…`: everything that person sees, as JSON (sandbox/web/snapshot.py).
- `GET /api/events`: server-sent events; `change` whenever Slack or ServiceNow recorded something.
- `POST /api/command|message|action|submit|close|options|home`: play Slack's part for the person —
  the stand-in signs each request to the bot as Slack does.
- `POST /api/connect`: account linking (`--linked`): the bot's Connect ServiceNow link for the
  person, or null when they are connected already or the bot doesn't link accounts.
- `POST /api/servicenow/incidents/{sys_id}`, `/api/servicenow/approvals/{sys_id}`,
  `/api/servicenow/records/{table}/{sys_id}` (requested items, changes, problems): change a record as
  that ServiceNow user would in ServiceNow's own UI (`Emulator.update`, which fires its webhooks).

No authentication: it listens on loopback unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sandbox.server import serve
from sandbox.servicenow import Emulator, ServiceNowError
from sandbox.slack import SlackReply, SlackStandIn
from sandbox.web.feed import ChangeFeed
from sandbox.web.snapshot import servicenow_state, slack_state

STATIC = Path(__file__).parent / "static"
INCIDENT_FIELDS = (
    "state",
    "close_code",
    "close_notes",
    "hold_reason",
    "assigned_to",
    "assignment_group",
    "impact",
    "urgency",
    "comments",
    "work_notes",
)
APPROVAL_STATES = ("approved", "rejected")
# What the panel may change on the other record kinds, per table.
RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "sc_req_item": ("stage", "state", "close_notes", "comments"),
    "change_request": ("state", "close_notes", "comments"),
    "problem": ("state", "close_notes", "comments"),
}

Body = dict[str, Any]
Handler = Callable[[Body], Awaitable[Response]]


class BadInput(Exception):
    """A request the page should not have sent: answered 400 with this message."""


def reply_json(reply: SlackReply) -> Body:
    return {"status": reply.status, "body": reply.body, "json": reply.json}


def create_app(
    slack: SlackStandIn,
    emulator: Emulator,
    feed: ChangeFeed | None = None,
    *,
    linking: bool = False,
) -> Starlette:
    """The page's app; `feed` (a new one if None) is bumped by both stand-ins while it runs.
    `linking`: the bot links accounts, so the page offers Connect ServiceNow."""
    changes = feed if feed is not None else ChangeFeed()

    def user_id(body: Body) -> str:
        try:
            return slack.user(str(body["user"])).id
        except KeyError as error:
            raise BadInput(f"unknown Slack user: {error}") from None

    def post(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise BadInput("expected a JSON object")
                return await handler({**body, **request.path_params})
            except (BadInput, ValueError) as error:
                return JSONResponse({"error": str(error)}, 400)
            except ServiceNowError as error:
                return JSONResponse({"error": error.message, "detail": error.detail}, error.status)
            except httpx.HTTPError as error:
                return JSONResponse(
                    {"error": f"the bot at {slack.bot_url} did not answer: {error!r}"}, 502
                )

        return endpoint

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    async def state(request: Request) -> Response:
        try:
            me = slack.user(request.query_params.get("user") or "alice").id
        except KeyError as error:
            return JSONResponse({"error": str(error)}, 400)
        version = changes.version
        return JSONResponse(
            {
                "version": version,
                "slack": {**slack_state(slack, emulator, me), "linking": linking},
                "servicenow": servicenow_state(emulator),
            }
        )

    async def events(request: Request) -> Response:
        return StreamingResponse(
            changes.stream(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def command(body: Body) -> Response:
        line = str(body.get("text", "")).strip()
        name, _, text = line.partition(" ")
        if not name.startswith("/") or len(name) < 2:
            raise BadInput("a slash command starts with /")
        channel = str(body.get("channel") or "C0GENERAL0")
        if name == "/invite":  # Slack's own command: the bot joins the channel
            if "@incident-bot" not in text:
                raise BadInput("invite the bot with /invite @incident-bot")
            try:
                slack.invite_bot(channel)
            except KeyError as error:
                raise BadInput(str(error)) from None
            return JSONResponse({"status": 200, "text": "incident-bot joined the channel"})
        reply = await slack.send_command(
            user_id(body), text.strip(), channel_id=channel, command=name
        )
        return JSONResponse(reply_json(reply))

    async def message(body: Body) -> Response:
        text = str(body.get("text", "")).strip()
        if not text:
            raise BadInput("nothing to send")
        thread_ts = str(body.get("thread_ts") or "") or None
        try:
            said = await slack.say(
                user_id(body), str(body.get("channel") or ""), text, thread_ts=thread_ts
            )
        except KeyError as error:
            raise BadInput(str(error)) from None
        return JSONResponse({"ts": said.message.ts})

    async def action(body: Body) -> Response:
        user = user_id(body)
        container = body.get("container") or {}
        common: dict[str, Any] = {
            "action_id": str(body.get("action_id", "")),
            "block_id": str(body.get("block_id", "")),
            "value": body.get("value"),
            "selected_option": body.get("selected_option"),
        }
        kind = container.get("type")
        if kind == "view":
            view = slack.views.get(str(container.get("view_id")))
            if view is None or view.closed:
                raise BadInput("that view is closed")
            reply = await slack.send_block_action(user, view=view, **common)
        elif kind == "message":
            found = slack.find_message(str(container.get("channel")), str(container.get("ts")))
            if found is None:
                raise BadInput("that message is gone")
            reply = await slack.send_block_action(user, message=found, **common)
        elif kind == "ephemeral":
            reply = await slack.send_block_action(
                user, channel_id=str(container.get("channel")), **common
            )
        else:
            raise BadInput("container.type must be view, message or ephemeral")
        return JSONResponse(reply_json(reply))

    async def shortcut(body: Body) -> Response:
        """A message's "More actions" menu: the app's message shortcut on that message."""
        found = slack.find_message(str(body.get("channel")), str(body.get("ts")))
        if found is None:
            raise BadInput("that message is gone")
        callback_id = str(body.get("callback_id", ""))
        if slack.app is not None and callback_id not in slack.app.message_shortcuts:
            raise BadInput("the app has no such message shortcut")
        reply = await slack.send_message_shortcut(user_id(body), found, callback_id)
        return JSONResponse(reply_json(reply))

    async def submit(body: Body) -> Response:
        values = body.get("values") or {}
        try:
            reply = await slack.send_view_submission(user_id(body), str(body["view_id"]), values)
        except KeyError:
            raise BadInput("view_id is missing") from None
        view = slack.views.get(str(body["view_id"]))
        return JSONResponse({**reply_json(reply), "errors": view.errors if view else None})

    async def close(body: Body) -> Response:
        user_id(body)
        view = slack.views.get(str(body.get("view_id")))
        if view is not None and not view.closed:
            slack.close_view(view)
        return JSONResponse({"ok": True})

    async def options(body: Body) -> Response:
        reply = await slack.send_options(
            user_id(body),
            action_id=str(body.get("action_id", "")),
            block_id=str(body.get("block_id", "")),
            value=str(body.get("value", "")),
            view_id=str(body["view_id"]) if body.get("view_id") else None,
        )
        answer = reply.json if isinstance(reply.json, dict) else {}
        return JSONResponse(
            {
                "status": reply.status,
                "options": answer.get("options") or [],
                "option_groups": answer.get("option_groups") or [],
            }
        )

    async def home(body: Body) -> Response:
        reply = await slack.send_event(slack.app_home_opened(user_id(body)))
        return JSONResponse(reply_json(reply))

    async def connect(body: Body) -> Response:
        """Account linking: the bot's own Connect ServiceNow link for this person (the button on
        the Home tab the bot publishes when they open it), for the page's Connect link. The
        browser then goes to the bot, the emulator's consent page, and back to the bot."""
        user = user_id(body)
        before = sum(1 for c in slack.calls if c.method == "views.publish")
        await slack.send_event(slack.app_home_opened(user))

        def published() -> dict[str, Any] | None:
            calls = [c for c in slack.calls if c.method == "views.publish"][before:]
            mine = [c for c in calls if c.args.get("user_id") == user]
            return mine[-1].args["view"] if mine else None

        view = await slack.wait_for(published)
        if isinstance(view, str):
            view = json.loads(view)
        for block in view.get("blocks", ()):
            for element in block.get("elements", ()):
                if element.get("action_id") == "servicenow_connect":
                    return JSONResponse({"url": element["url"]})
        return JSONResponse({"url": None})

    def acting_user(body: Body) -> str:
        name = str(body.get("as_user", ""))
        record = emulator.user(name)
        if record is None or record["active"] != "true":
            raise BadInput(f"{name or 'nobody'} cannot log in to ServiceNow")
        return name

    async def update_incident(body: Body) -> Response:
        as_user = acting_user(body)
        values = {k: str(body[k]) for k in INCIDENT_FIELDS if body.get(k) is not None}
        if not values:
            raise BadInput("nothing to change")
        record = emulator.update("incident", str(body["sys_id"]), values, as_user=as_user)
        return JSONResponse({"number": record["number"], "state": record["state"]})

    async def update_record(body: Body) -> Response:
        as_user = acting_user(body)
        table = str(body.get("table", ""))
        if table not in RECORD_FIELDS:
            raise BadInput(f"{table or 'that'} is not a table the panel changes")
        values = {k: str(body[k]) for k in RECORD_FIELDS[table] if body.get(k) is not None}
        if not values:
            raise BadInput("nothing to change")
        record = emulator.update(table, str(body["sys_id"]), values, as_user=as_user)
        return JSONResponse({"number": record["number"], "state": record["state"]})

    async def decide_approval(body: Body) -> Response:
        as_user = acting_user(body)
        decision = str(body.get("state", ""))
        if decision not in APPROVAL_STATES:
            raise BadInput("state must be approved or rejected")
        values = {"state": decision}
        if str(body.get("comments") or "").strip():
            values["comments"] = str(body["comments"])
        record = emulator.update(
            "sysapproval_approver", str(body["sys_id"]), values, as_user=as_user
        )
        return JSONResponse({"state": record["state"]})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        slack.listeners.append(changes.bump)
        emulator.listeners.append(changes.bump)
        try:
            yield
        finally:
            changes.close()
            slack.listeners.remove(changes.bump)
            emulator.listeners.remove(changes.bump)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/state", state),
            Route("/api/events", events),
            Route("/api/command", post(command), methods=["POST"]),
            Route("/api/message", post(message), methods=["POST"]),
            Route("/api/action", post(action), methods=["POST"]),
            Route("/api/submit", post(submit), methods=["POST"]),
            Route("/api/shortcut", post(shortcut), methods=["POST"]),
            Route("/api/close", post(close), methods=["POST"]),
            Route("/api/options", post(options), methods=["POST"]),
            Route("/api/home", post(home), methods=["POST"]),
            Route("/api/connect", post(connect), methods=["POST"]),
            Route("/api/servicenow/incidents/{sys_id}", post(update_incident), methods=["POST"]),
            Route(
                "/api/servicenow/records/{table}/{sys_id}", post(update_record), methods=["POST"]
            ),
            Route("/api/servicenow/approvals/{sys_id}", post(decide_approval), methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
    )
    app.state.feed = changes
    return app


@contextlib.asynccontextmanager
async def run_web(
    slack: SlackStandIn,
    emulator: Emulator,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    linking: bool = False,
) -> AsyncIterator[str]:
    """Serve the page until the block exits; yields its URL. Open event streams end first."""
    feed = ChangeFeed()
    app = create_app(slack, emulator, feed, linking=linking)
    async with serve(app, host=host, port=port) as server:
        reachable = "127.0.0.1" if host in ("0.0.0.0", "") else host
        restore = close_on_signals(feed)
        try:
            yield f"http://{reachable}:{server.port}"
        finally:
            restore()
            feed.close()


def close_on_signals(feed: ChangeFeed) -> Callable[[], None]:
    """End the event streams on Ctrl-C / SIGTERM, then let uvicorn's own handler run.

    uvicorn catches those signals and waits for open requests before stopping, and an event stream
    never ends by itself. Returns the undo (a no-op off the main thread, where signals can't be set).
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(feed.close)
        prior = previous[signal.Signals(sig)]
        if callable(prior):
            prior(sig, frame)

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, prior in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, prior)

    return restore
