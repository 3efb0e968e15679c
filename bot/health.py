"""Supervised background workers and what `/healthz` reports about them.

Each worker runs under `supervise`: an exception restarts it after a backoff (one log line each
time), so a database that is away for a few seconds at start-up delays the poller instead of
ending it. `Health` answers `/healthz` from cheap checks: the database, a ServiceNow ping cached
for a few seconds (fifty probes cost one call), the poller's last success, the oldest message
still in the outbox, and the workers' state.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.feed.changes import Feed
from servicenow.client import ServiceNowClient
from storage import Database, FeedStore

log = logging.getLogger(__name__)

FIRST_RESTART = 0.5  # seconds before the first restart; doubled each time, up to MAX_RESTART
MAX_RESTART = 30.0
STEADY = 60.0  # a worker that ran this long before failing starts again from FIRST_RESTART

# The background worker the running code belongs to (inherited by the tasks it starts), or None
# for the work of a request: what tells a command's own cost from the workers' (tests, benches).
CURRENT_WORKER: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_worker", default=None
)


@dataclass
class Worker:
    """A background worker's state, as `/healthz` reports it."""

    name: str
    running: bool = False
    restarts: int = 0
    last_error: str = ""


async def supervise(
    worker: Worker, run: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> None:
    """Run `run()` until `stop`; after an exception, log one line and start it again later."""
    CURRENT_WORKER.set(worker.name)
    delay = FIRST_RESTART
    while not stop.is_set():
        started = time.monotonic()
        worker.running = True
        try:
            await run()
            return  # finished on its own (stopped, or nothing to do: polling off)
        except Exception as exc:
            worker.running = False
            worker.restarts += 1
            worker.last_error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() - started >= STEADY:
                delay = FIRST_RESTART
            log.warning(
                "worker %s failed (%s); restarting in %.1f s", worker.name, worker.last_error, delay
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(MAX_RESTART, delay * 2)
        finally:
            if stop.is_set():
                worker.running = False


@dataclass
class CachedPing:
    """A check shared by concurrent callers and remembered for `ttl` seconds."""

    check: Callable[[], Awaitable[None]]
    ttl: float = 5.0
    _at: float = -1e9
    _error: str | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def __call__(self) -> str | None:
        """None when it answered, else why not."""
        async with self._lock:
            if time.monotonic() - self._at >= self.ttl:
                try:
                    await self.check()
                    self._error = None
                except Exception as exc:
                    self._error = str(exc) or type(exc).__name__
                self._at = time.monotonic()
            return self._error


MARKUP = re.compile(r"<[^>]*>")
REASON_MAX = 160


class Health:
    def __init__(
        self,
        db: Database,
        servicenow: ServiceNowClient,
        feed: Feed,
        store: FeedStore,
        workers: dict[str, Worker],
        *,
        outbox_age: timedelta = timedelta(minutes=5),
        poll_periods: float = 4.0,
    ) -> None:
        self._db = db
        self._feed = feed
        self._store = store
        self._workers = workers
        self._servicenow = CachedPing(servicenow.ping)
        self._outbox_age = outbox_age
        self._poll_periods = poll_periods
        self._started = time.monotonic()

    async def problems(self) -> dict[str, str]:
        """What is wrong, by part (empty: healthy)."""
        problems: dict[str, str] = {}
        try:
            await self._db.ping()
            oldest = await self._store.oldest_pending_age()
            if oldest is not None and oldest > self._outbox_age:
                problems["outbox"] = f"a message has waited {oldest.total_seconds():.0f} s"
        except Exception as exc:
            problems["database"] = f"{type(exc).__name__}: {exc}"
        error = await self._servicenow()
        if error is not None:
            problems["servicenow"] = error
        for worker in self._workers.values():
            if not worker.running and worker.restarts:
                problems[worker.name] = f"restarting after {worker.last_error}"
        poll = self._feed.poll_seconds
        if poll > 0:
            last = self._feed.last_poll or self._started
            stale = max(self._poll_periods * poll, 10.0)
            if time.monotonic() - last > stale and self._feed.leading:
                problems["poller"] = f"no successful poll for {time.monotonic() - last:.0f} s"
        return {part: one_line(why) for part, why in problems.items()}


def one_line(text: str, limit: int = REASON_MAX) -> str:
    """A reason fit for /healthz: markup (say, a proxy's HTML error page) and line breaks gone,
    whitespace collapsed, at most `limit` characters."""
    plain = " ".join(MARKUP.sub(" ", text).split())
    return plain if len(plain) <= limit else plain[: limit - 1].rstrip() + "…"
