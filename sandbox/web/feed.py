"""A change counter that browsers follow over server-sent events.

The Slack stand-in and the ServiceNow emulator call `bump()` (synchronously, on the event loop)
whenever they record something; each open page waits on `wait_past(version)` and then fetches a
fresh snapshot. Bursts coalesce: a waiter only learns that the version moved on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


class ChangeFeed:
    def __init__(self) -> None:
        self.version = 0
        self.closed = False
        self._waiters: list[asyncio.Future[None]] = []

    def bump(self, *_: object) -> None:
        """Something changed (accepts and ignores any listener arguments)."""
        self.version += 1
        self._wake()

    def close(self) -> None:
        """End every open stream (so the server can stop without waiting on them)."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_past(self, seen: int, timeout: float) -> int:
        """The version once it differs from `seen`, or the current one after `timeout` seconds."""
        if self.version != seen or self.closed:
            return self.version
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait({waiter}, timeout=timeout)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        return self.version

    async def stream(self, keepalive: float = 15.0) -> AsyncIterator[str]:
        """Server-sent events: `event: change` with the version, and a comment as keep-alive."""
        seen = self.version
        yield f"retry: 1000\nevent: change\ndata: {seen}\n\n"
        while not self.closed:
            version = await self.wait_past(seen, keepalive)
            if self.closed:
                break
            if version == seen:
                yield ": keep-alive\n\n"
                continue
            seen = version
            yield f"event: change\ndata: {seen}\n\n"
