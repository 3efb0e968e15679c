"""Serve an ASGI app on loopback inside the running event loop.

Tests and `python -m sandbox` use this to run the stand-ins and the bot as real HTTP servers.
Port 0 asks the kernel for a free port; the bound port is read back once uvicorn has started.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp


@dataclass(frozen=True)
class RunningServer:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A socket bound to `host:port` (0: a free port), for `serve`: its address is known before
    the app is built (the bot's public URL, when it must tell ServiceNow where to come back)."""
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on connections whose socket says TCP, and
    # without it every answer on a kept-alive connection waited ~40 ms for the client's delayed
    # ACK (Nagle): 44 ms per Slack call from the bot's shared aiohttp session, 1 ms now.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextlib.asynccontextmanager
async def serve(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, sock: socket.socket | None = None
) -> AsyncIterator[RunningServer]:
    """Run `app` with uvicorn until the block exits; yields the address it listens on."""
    sock = sock or bind(host, port)
    bound_port: int = sock.getsockname()[1]
    # A connection still open at the end (a Socket Mode link, the page's event stream) gets 5 s to
    # finish, so Ctrl-C and a test's teardown never wait on it for ever.
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # re-raise the start-up failure
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.005)
        yield RunningServer(host, bound_port)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()
