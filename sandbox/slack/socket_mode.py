"""Socket Mode for the Slack stand-in: apps.connections.open, the WebSocket link, envelopes, acks.

Slack's side of Socket Mode (https://docs.slack.dev/apis/events-api/using-socket-mode/):

- `apps.connections.open`, called with the app-level token (`xapp-…`), answers a one-time
  `ws://…/link/?ticket=…` URL; each reconnection needs a new one.
- The link first says `{"type": "hello", …}`, then carries envelopes `{"envelope_id", "type":
  "slash_commands"|"interactive"|"events_api", "payload", "accepts_response_payload",
  "retry_attempt", "retry_reason"}`.
- The app acks each with `{"envelope_id": …}`, plus a `"payload"` where the envelope accepts one
  (what an HTTP app puts in its response body), within 3 seconds. Otherwise Slack retries the
  envelope; an ack that came too late on a live link is recorded as a problem, as a late HTTP
  answer is. Envelopes lost with a dropped link are retried on the next link, without blame.
- Slack may ask the app to reconnect, `{"type": "disconnect", "reason": "refresh_requested" |
  "warning"}`, and then closes the link; links can also just drop (`drop()`, through the relay).

While `enabled`, SlackStandIn's `send_*` methods deliver over the newest link instead of POSTing to
the bot, and get the ack back as a `SlackReply` (status 200, the ack payload as JSON body), so callers
work unchanged in both modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl

import httpx
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from sandbox.slack import payloads
from sandbox.slack.records import ApiError, SlackReply

if TYPE_CHECKING:
    from sandbox.relay import Relay
    from sandbox.slack.workspace import Workspace

EnvelopeType = Literal["slash_commands", "interactive", "events_api"]
Outcome = Literal["pending", "acked", "late", "lost"]
DisconnectReason = Literal["refresh_requested", "warning", "link_disabled"]

APP_TOKEN = "xapp-1-A0SANDBOX0-1-sandbox"
LINK_PATH = "/link/"
HOST = "applink-sandbox.slack.test"
RETRY_REASON = "timeout"
# Payload types whose ack may carry an answer (a slash command reply, response_action, options).
ANSWERED_INTERACTIONS = ("view_submission", "block_suggestion")


class NoAck(httpx.TimeoutException):
    """Slack gave up on an envelope: never acked, retries included. An httpx error, so callers
    that handle a bot not answering over HTTP handle this too."""


class NoConnection(httpx.ConnectError):
    """Socket Mode is on but the app has no open link to deliver over."""


@dataclass
class Delivery:
    """One envelope sent over a link, and what became of it (`deliveries` keeps them all)."""

    envelope_id: str
    type: EnvelopeType
    payload: dict[str, Any]
    retry_attempt: int
    link: int  # which connection carried it: 1 is the first the app opened
    outcome: Outcome = "pending"
    ack: dict[str, Any] | None = None  # the ack's payload
    elapsed: float = 0.0


@dataclass
class Link:
    """One open WebSocket connection from the app."""

    number: int
    websocket: WebSocket
    client_port: int
    draining: bool = False  # told to reconnect, or being cut: no new envelopes
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, message: dict[str, Any]) -> bool:
        async with self.lock:
            if self.closed.is_set():
                return False
            try:
                await self.websocket.send_text(json.dumps(message))
            except (RuntimeError, OSError, WebSocketDisconnect):
                return False
            return True


_LOST = object()  # what a pending ack resolves to when its link goes away


class SocketMode:
    """The stand-in's Socket Mode server; `standin.socket` is one, `enabled` switches delivery."""

    def __init__(self, standin: Workspace, *, app_token: str = APP_TOKEN) -> None:
        self.standin = standin
        self.app_token = app_token
        self.enabled = False
        self.url = ""  # ws://host:port/link/ (through the relay), set by run_slack
        self.relay: Relay | None = None
        self.links: list[Link] = []  # open links, oldest first
        self.opened = 0  # links accepted so far
        self.deliveries: list[Delivery] = []
        self.max_retries = 3  # Slack retries a failed envelope three times
        self.connect_timeout = 10.0  # how long a delivery waits for the app to (re)connect
        self._tickets: set[str] = set()
        self._pending: dict[str, tuple[Delivery, asyncio.Future[object]]] = {}
        self._lose: list[Literal["abrupt", "disconnect"]] = []

    # ---- what tests and the sandbox use ---------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.live_link() is not None

    def live_link(self) -> Link | None:
        """The newest link that takes envelopes."""
        for link in reversed(self.links):
            if not link.draining and not link.closed.is_set():
                return link
        return None

    async def wait_connected(self, *, opened: int = 1, timeout: float = 10.0) -> Link:
        """Wait until the app has opened `opened` links in all and one of them is live."""
        link: Link = await self.standin.wait_for(
            lambda: self.opened >= opened and self.live_link(), timeout
        )
        return link

    def lose_acks(self, count: int = 1, *, how: Literal["abrupt", "disconnect"] = "abrupt") -> None:
        """Lose the app's next `count` acks: each time, drop the link as the ack arrives (abruptly,
        or with a `disconnect` message), as if it had never reached Slack; Slack then retries."""
        self._lose += [how] * count

    async def disconnect(
        self, reason: DisconnectReason = "refresh_requested", *, close_after: float = 0.0
    ) -> None:
        """Ask every open link to reconnect, then close each once the app has left it or
        `close_after` seconds have passed."""
        await asyncio.gather(*(self._disconnect(link, reason, close_after) for link in self.links))

    def drop(self) -> None:
        """Cut every open link abruptly (no close frame), as a network failure would."""
        for link in list(self.links):
            self._cut(link)

    # ---- apps.connections.open and the link ------------------------------------------------

    def open_connection(self) -> dict[str, Any]:
        """apps.connections.open, once the app-level token has been checked (webapi.py)."""
        if not self.url:
            raise ApiError("internal_error")
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        return {"ok": True, "url": f"{self.url}?ticket={ticket}&app_id={payloads.API_APP_ID}"}

    async def serve_link(self, websocket: WebSocket) -> None:
        """The WebSocket endpoint: one ticket, one connection."""
        ticket = websocket.query_params.get("ticket", "")
        if ticket not in self._tickets:
            await websocket.close(code=1008)  # before accept: the handshake is refused (403)
            return
        self._tickets.discard(ticket)
        await websocket.accept()
        self.opened += 1
        link = Link(self.opened, websocket, websocket.client.port if websocket.client else 0)
        self.links.append(link)
        await link.send(self._hello())
        self.standin.changed()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode("utf-8", "replace")
                if text:
                    self._received(link, text)
        except WebSocketDisconnect:
            pass
        finally:
            self._closed(link)

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": len([link for link in self.links if not link.closed.is_set()]),
            "debug_info": {
                "host": HOST,
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": payloads.API_APP_ID},
        }

    def _received(self, link: Link, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            self.standin.problem(f"Socket Mode link {link.number}: sent something not JSON")
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        if not envelope_id:
            return  # nothing else is expected from the app; Slack ignores it too
        pending = self._pending.get(str(envelope_id))
        if pending is None:
            self.standin.problem(f"Socket Mode: ack for an unknown envelope {envelope_id}")
            return
        _, future = pending
        if not future.done():
            answer = message.get("payload")
            future.set_result(answer if isinstance(answer, dict) else None)
        # else: a late ack; the delivery already says so and the envelope was retried

    def _closed(self, link: Link) -> None:
        link.closed.set()
        if link in self.links:
            self.links.remove(link)
        for delivery, future in self._pending.values():
            if delivery.link == link.number and not future.done():
                future.set_result(_LOST)
        self.standin.changed()

    async def _disconnect(self, link: Link, reason: DisconnectReason, close_after: float) -> None:
        link.draining = True
        await link.send({"type": "disconnect", "reason": reason, "debug_info": {"host": HOST}})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(link.closed.wait(), close_after)
        if not link.closed.is_set():
            with contextlib.suppress(RuntimeError, OSError):
                async with link.lock:
                    if link.websocket.application_state != WebSocketState.DISCONNECTED:
                        await link.websocket.close(code=1000)

    def _cut(self, link: Link) -> None:
        link.draining = True
        if self.relay is None or not self.relay.cut(link.client_port):
            return
        # The server side learns of it when its reads fail; the link is gone for delivery now.
        self._closed(link)

    # ---- delivery -----------------------------------------------------------------------------

    async def deliver(self, body: str, content_type: str, *, retry_num: int | None) -> SlackReply:
        """Send what would have been POSTed to the bot as an envelope; retry as Slack does."""
        kind, payload = envelope_of(body, content_type)
        what = describe(kind, payload)
        attempt = retry_num or 0
        for _ in range(self.max_retries + 1):
            link = await self._link_for(what)
            delivery = Delivery(str(uuid.uuid4()), kind, payload, attempt, link.number)
            if await self._send(link, delivery):
                return SlackReply(
                    200,
                    json.dumps(delivery.ack) if delivery.ack is not None else "",
                    delivery.ack,
                    delivery.elapsed,
                )
            if delivery.outcome == "late":
                self.standin.problem(
                    f"{what}: no ack within {self.standin.ack_deadline:g}s over Socket Mode; "
                    "Slack retries the envelope"
                )
            attempt += 1
        self.standin.problem(f"{what}: never acked over Socket Mode; Slack gives up")
        raise NoAck(f"{what}: never acked over Socket Mode ({self.max_retries} retries)")

    async def _link_for(self, what: str) -> Link:
        try:
            return await self.wait_connected(timeout=self.connect_timeout)
        except TimeoutError:
            raise NoConnection(
                f"{what}: Socket Mode is on but the app has no open connection "
                f"(waited {self.connect_timeout:.0f}s)"
            ) from None

    async def _send(self, link: Link, delivery: Delivery) -> bool:
        """Send one envelope and wait for its ack; True when acked in time and not lost on purpose."""
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._pending[delivery.envelope_id] = (delivery, future)
        self.deliveries.append(delivery)
        envelope = {
            "envelope_id": delivery.envelope_id,
            "type": delivery.type,
            "payload": delivery.payload,
            "accepts_response_payload": accepts_answer(delivery.type, delivery.payload),
            "retry_attempt": delivery.retry_attempt,
            "retry_reason": RETRY_REASON if delivery.retry_attempt else "",
        }
        started = time.perf_counter()
        if not await link.send(envelope):
            future.set_result(_LOST)
        try:
            answer = await asyncio.wait_for(asyncio.shield(future), self.standin.ack_deadline)
        except TimeoutError:
            delivery.outcome = "late"
            return False
        delivery.elapsed = time.perf_counter() - started
        del self._pending[delivery.envelope_id]  # a late ack stays pending, to be recognised
        if answer is _LOST:
            delivery.outcome = "lost"
            return False
        if self._lose:
            delivery.outcome = "lost"
            how = self._lose.pop(0)
            if how == "abrupt":
                self._cut(link)
            else:
                await self._disconnect(link, "refresh_requested", 0.0)
            return False
        delivery.outcome = "acked"
        delivery.ack = answer if isinstance(answer, dict) else None
        return True

    def routes(self) -> list[WebSocketRoute]:
        return [WebSocketRoute(LINK_PATH, self.serve_link)]


def envelope_of(body: str, content_type: str) -> tuple[EnvelopeType, dict[str, Any]]:
    """(envelope type, payload) of a request the stand-in would have POSTed to the bot."""
    if content_type == "application/json":
        event = json.loads(body)
        return "events_api", dict(event)
    form = dict(parse_qsl(body, keep_blank_values=True))
    if set(form) == {"payload"}:
        return "interactive", dict(json.loads(form["payload"]))
    return "slash_commands", form


def accepts_answer(kind: EnvelopeType, payload: dict[str, Any]) -> bool:
    if kind == "slash_commands":
        return True
    return kind == "interactive" and payload.get("type") in ANSWERED_INTERACTIONS


def describe(kind: EnvelopeType, payload: dict[str, Any]) -> str:
    """How problems name an envelope, in the words the HTTP path uses."""
    if kind == "slash_commands":
        return f"{payload.get('command', '')} {payload.get('text', '')}".strip()
    if kind == "events_api":
        return f"event {payload.get('event', {}).get('type')}"
    what = str(payload.get("type"))
    if payload.get("actions"):
        return f"{what} {payload['actions'][0].get('action_id', '')}"
    if payload.get("action_id"):
        return f"{what} {payload['action_id']}"
    return f"{what} {payload.get('view', {}).get('callback_id', '')}".strip()
