"""`incident-bot serve` with SERVE_WORKERS=1: a lean front process and the bot in a worker process.

Each command's completion work (create the incident, reconcile, outbox, post: 5–7 ms of CPU) runs
on the event loop that also answers Slack; at 100 commands a second that is most of a core, and the
acks wait behind it (docs/benchmarks.md, "Ack latency"). With the GIL, the way past one core is a
second process, so the front answers what must be answered at once and the worker does the rest:

- The front is Starlette, slack_sdk's SignatureVerifier and the `/incident` grammar (the same
  subcommand lists the app installs, `grammar`): no database, no ServiceNow, no Slack client. A
  signed `/incident` command is answered at once with what the app's listener would ack
  (`router.acknowledge`), and the original request (headers and raw body) is queued for the
  worker (`Handoff`): retried until the worker takes it, bounded in memory.
- Everything else (interactivity, options, events, `/servicenow/events`, `/healthz`, the linking
  pages, `/metrics`) is proxied to the worker, whose answer depends on its work.
- The worker is the whole bot (`create_app`) on a unix socket in a private folder, started and
  restarted by the front (`WorkerProcess`). It checks Slack's signature again; a handed-over
  command carries `HANDOFF` set to a secret the front made at start and gave the worker on its
  stdin, so its ack (already sent by the front) is discarded and counted as the front's. The
  front drops `HANDOFF` from every request it receives: only the front can set it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncAck
from slack_bolt.request.internals import build_normalized_headers, extract_content_type
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Lifespan

from bot.approvals import commands as approval_commands
from bot.bodies import SLACK_LIMIT, TooLarge, read_body, too_large
from bot.changes.kind import KIND as CHANGE
from bot.changes.lists import CHANGES
from bot.commands.router import COMMAND, Router, Subcommand, acknowledge
from bot.home import commands as home_commands
from bot.incidents import commands as incident_commands
from bot.problems.kind import KIND as PROBLEM
from bot.records import lists as listing
from bot.records.commands import record_subcommands
from bot.requested_items.kind import KIND as REQUESTED_ITEM
from bot.requested_items.lists import REQUESTS
from bot.settings import Settings
from bot.slack.interactions import Interaction, handle_http
from bot.slack.request import parse_body
from bot.subscriptions import commands as subscription_commands
from bot.threads import commands as thread_commands

log = logging.getLogger(__name__)

HANDOFF = "x-incident-bot-handoff"  # the front's secret: this command's ack already went
ACK_SECONDS = "x-incident-bot-ack-seconds"  # how long the front took to ack it (for /metrics)
INTERNAL = (HANDOFF, ACK_SECONDS)
# Not forwarded either way: they describe one connection, not the request.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te"}
# What reaching the worker can raise: it is down, restarting, or too slow (30 s).
UNREACHABLE = (aiohttp.ClientError, TimeoutError)


def grammar(settings: Settings) -> Router:
    """The `/incident` grammar the app installs (bot/app.py: `build`), in its order, with nothing
    wired to do the work. `tests/e2e/test_front.py` holds the two together."""
    groups: list[Sequence[Subcommand[Any, Any]]] = [
        incident_commands.SUBCOMMANDS,
        approval_commands.SUBCOMMANDS,
        record_subcommands(REQUESTED_ITEM),
        (listing.subcommand(REQUESTS),),
        record_subcommands(CHANGE),
        (listing.subcommand(CHANGES),),
        record_subcommands(PROBLEM),
        subscription_commands.SUBCOMMANDS,
    ]
    if settings.servicenow_linking:
        groups.append(home_commands.SUBCOMMANDS)
    groups.append(thread_commands.SUBCOMMANDS)
    return Router.grammar(*groups)


def handed_over(request: Request, secret: str | None) -> float | None:
    """The front's ack time (seconds) if the front handed this request over, else None: only a
    request carrying the secret the front gave this worker (`hmac`-compared) counts."""
    given = request.headers.get(HANDOFF)
    if secret is None or given is None or not secrets.compare_digest(given, secret):
        return None
    try:
        return max(float(request.headers.get(ACK_SECONDS, "0")), 0.0)
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class Handed:
    """A command the front acked, on its way to the worker."""

    headers: tuple[tuple[str, str], ...]
    body: bytes
    ack_seconds: float


class Handoff:
    """Commands acked by the front and not yet taken by the worker: at most `limit` in memory,
    each sent until the worker answers it (a failure — the worker restarting — is retried; the
    worker's idempotency key, `command:<trigger_id>`, makes a repeated handoff act once)."""

    def __init__(
        self,
        worker: aiohttp.ClientSession,
        secret: str,
        *,
        limit: int = 10_000,
        senders: int = 16,
        max_backoff: float = 1.0,
    ) -> None:
        self._worker = worker
        self._secret = secret
        self._queue: asyncio.Queue[Handed] = asyncio.Queue(limit)
        self._senders = senders
        self._max_backoff = max_backoff

    def offer(self, handed: Handed) -> bool:
        """Queue a command; False when the queue is full (then nothing was acked)."""
        try:
            self._queue.put_nowait(handed)
        except asyncio.QueueFull:
            return False
        return True

    async def drain(self, timeout: float) -> bool:
        """Wait until every queued command was taken (True), or `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._queue.join()
        except TimeoutError:
            return False
        return True

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Handoff]:
        tasks = [asyncio.create_task(self._send_forever()) for _ in range(self._senders)]
        try:
            yield self
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _send_forever(self) -> None:
        while True:
            handed = await self._queue.get()
            try:
                await self._send(handed)
            finally:
                self._queue.task_done()

    async def _send(self, handed: Handed) -> None:
        headers = [
            *handed.headers,
            (HANDOFF, self._secret),
            (ACK_SECONDS, f"{handed.ack_seconds:.6f}"),
        ]
        backoff = 0.05
        while True:
            try:
                async with self._worker.post(
                    "/slack/events", data=handed.body, headers=headers
                ) as answer:
                    await answer.read()
                    status: int | None = answer.status
            except UNREACHABLE:
                status = None
            if status is not None and status < 500:
                if status != 200:  # refused for good (its signature went stale)
                    log.warning("the worker refused a handed-over command (HTTP %d)", status)
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)


def forwarded(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """A request's or response's headers as passed on: without the hop-by-hop ones and without
    the front's own (which nobody outside may set)."""
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() not in INTERNAL]


def create_front(
    settings: Settings,
    worker: aiohttp.ClientSession,
    handoff: Handoff,
    lifespan: Lifespan[Starlette] | None = None,
) -> Starlette:
    """The front's HTTP app: `/incident` answered here and handed over, everything else proxied."""
    router = grammar(settings)
    verifier = SignatureVerifier(settings.slack_signing_secret or "")

    async def command_or_proxy(request: Request) -> Response:
        started = time.perf_counter()
        try:
            raw = await read_body(request, SLACK_LIMIT)
        except TooLarge:
            return too_large()
        # Read as the app reads it (a form, JSON, or a form carrying a JSON `payload`).
        content_type = extract_content_type(build_normalized_headers(dict(request.headers)))
        body = parse_body(raw.decode(), content_type)
        if body.get("ssl_check") is not None or body.get("command") != COMMAND:
            return await proxy(request, raw)  # the worker answers as the app does
        if not verifier.is_valid(
            raw,
            request.headers.get("x-slack-request-timestamp"),
            request.headers.get("x-slack-signature"),
        ):  # as Bolt refuses it (and, like the app, not logged)
            return to_starlette_response(
                BoltResponse(status=401, body={"error": "invalid request"})
            )
        ack = AsyncAck()  # type: ignore[no-untyped-call]
        await acknowledge(ack, router, router.parse(Interaction.of_command(body).value))
        headers = tuple(forwarded(request.headers.items()))
        if not handoff.offer(Handed(headers, raw, time.perf_counter() - started)):
            log.error("the handoff queue is full: a command was refused (503)")
            return JSONResponse({"error": "busy"}, status_code=503)
        assert ack.response is not None  # acknowledge() always acks
        return to_starlette_response(ack.response)

    async def slack_events(request: Request) -> Response:
        return await handle_http(command_or_proxy, request)

    async def proxy(request: Request, body: bytes | None = None) -> Response:
        if body is None:
            try:
                body = await read_body(request, SLACK_LIMIT)
            except TooLarge:
                return too_large()
        try:
            async with worker.request(
                request.method,
                request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                data=body,
                headers=forwarded(request.headers.items()),
            ) as answer:
                response = Response(await answer.read(), status_code=answer.status)
                response.raw_headers += [  # as many as came (a page may set several cookies)
                    (name.lower().encode("latin-1"), value.encode("latin-1"))
                    for name, value in forwarded(list(answer.headers.items()))
                ]
                return response
        except UNREACHABLE as exc:
            log.warning("the worker did not answer %s (%s)", request.url.path, type(exc).__name__)
            if request.url.path == "/healthz":
                return JSONResponse({"ok": False, "worker": "not running"}, status_code=503)
            return JSONResponse({"error": "the worker is not running"}, status_code=503)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/{path:path}", proxy, methods=methods),
        ],
        lifespan=lifespan,
    )


class WorkerProcess:
    """The worker, `python -m bot worker <socket>`, started and restarted by the front.

    The front's secret reaches it on its stdin (never in its command line or environment), and
    stdin stays open: when the front is gone, however it ended, the worker sees the end of it and
    stops. The worker runs in its own session so a Ctrl-C reaches the front alone, which hands
    over what it queued before it stops the worker.
    """

    def __init__(self, socket_path: str, secret: str, *, start_timeout: float = 120.0) -> None:
        self.socket_path = socket_path
        self._secret = secret
        self._start_timeout = start_timeout
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> int | None:
        """Start it and wait until it serves; None once it does, else its exit code."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)  # a crashed worker's socket
        if self.process is not None and self.process.stdin is not None:
            self.process.stdin.close()  # a crashed worker's pipe
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "worker",
            self.socket_path,
            stdin=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        self.process = process
        assert process.stdin is not None
        process.stdin.write(self._secret.encode() + b"\n")
        await process.stdin.drain()
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if process.returncode is not None:
                return process.returncode
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_unix_connection(self.socket_path)
                writer.close()
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 0.05)
        log.error("the worker did not serve within %.0f s; stopping it", self._start_timeout)
        await self.stop()
        return 1

    async def supervise(self, stop: asyncio.Event, tries: int = 5) -> int:
        """Restart the worker whenever it exits, until `stop`; 0 then, or 1 once it failed to
        start `tries` times in a row (waiting 1, 2, 4… s between tries)."""
        while not stop.is_set():
            process = self.process
            assert process is not None
            waiting = asyncio.create_task(stop.wait())
            exited = asyncio.create_task(process.wait())
            await asyncio.wait({waiting, exited}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if stop.is_set():
                exited.cancel()
                return 0
            log.error("the worker exited (%s); starting it again", process.returncode)
            for attempt in range(tries):
                code = await self.start()
                if code is None:
                    break
                if stop.is_set():
                    return 0
                log.error("the worker did not start (exit %s)", code)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2**attempt)
            else:
                log.error("the worker failed to start %d times in a row; stopping", tries)
                return 1
        return 0

    async def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (it finishes what it serves, as `serve` does on a signal), then SIGKILL."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            log.error("the worker did not stop within %.0f s; killing it", timeout)
            process.kill()
            await process.wait()
        if process.stdin is not None:
            process.stdin.close()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def worker_session(
    socket_path: str | None = None, url: str = "http://worker"
) -> aiohttp.ClientSession:
    """HTTP to the worker over its unix socket (or at `url`), answers passed on as they came
    (not decompressed, no headers of its own added); a slow worker is waited for, up to 30 s.
    aiohttp, not httpx: a handoff costs the front about a fifth of the CPU."""
    connector = (
        aiohttp.UnixConnector(path=socket_path, limit=32)
        if socket_path
        else aiohttp.TCPConnector(limit=32)
    )
    return aiohttp.ClientSession(
        url,
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=30),
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
    )


def watch_parent() -> str:
    """In the worker: read the front's secret from stdin, then stop (SIGTERM to itself, a clean
    shutdown) when stdin ends — the front is gone."""
    import threading

    secret = sys.stdin.readline().strip()

    def wait_for_end() -> None:
        sys.stdin.read()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait_for_end, name="front-watch", daemon=True).start()
    return secret
