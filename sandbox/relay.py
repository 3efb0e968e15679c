"""A TCP pass-through that can cut a connection the way a network does.

ASGI lets a server close a WebSocket only politely (with a close frame). To drop one abruptly — no
close frame, the TCP connection simply gone — the stand-ins put a `Relay` in front of the server:
clients connect to the relay, the relay connects to the server and copies bytes both ways, and
`cut(port)` aborts both halves of one connection. The server sees the relay's upstream socket as
its client, so `port` is the client port the server observed (`websocket.client.port`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

CHUNK = 64 * 1024


@dataclass
class _Pair:
    downstream: asyncio.StreamWriter  # to the client
    upstream: asyncio.StreamWriter  # to the server

    def abort(self) -> None:
        for writer in (self.downstream, self.upstream):
            writer.transport.abort()


class Relay:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.accepted = 0  # connections clients opened, ever
        self._pairs: dict[int, _Pair] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def cut(self, server_side_port: int) -> bool:
        """Abort the connection the server sees as coming from `server_side_port`; False if gone."""
        pair = self._pairs.pop(server_side_port, None)
        if pair is None:
            return False
        pair.abort()
        return True

    def cut_all(self) -> int:
        """Abort every open connection; how many there were."""
        ports = list(self._pairs)
        return sum(self.cut(port) for port in ports)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                writer.transport.abort()
                return
            key: int = up_writer.get_extra_info("sockname")[1]
            self._pairs[key] = pair = _Pair(writer, up_writer)
            pipes = {
                asyncio.create_task(_pipe(reader, up_writer)),
                asyncio.create_task(_pipe(up_reader, writer)),
            }
            try:
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pipe in pipes:
                    pipe.cancel()
                await asyncio.gather(*pipes, return_exceptions=True)
                self._pairs.pop(key, None)
                for side in (pair.downstream, pair.upstream):
                    side.close()
        finally:
            if task is not None:
                self._tasks.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()


@contextlib.asynccontextmanager
async def run_relay(
    target_host: str, target_port: int, *, host: str = "127.0.0.1"
) -> AsyncIterator[Relay]:
    """Listen on an ephemeral port of `host` and relay to the target until the block exits."""
    relay = Relay(target_host, target_port)
    server = await asyncio.start_server(relay._connection, host, 0)
    relay.port = server.sockets[0].getsockname()[1]
    try:
        yield relay
    finally:
        server.close()
        for pair in list(relay._pairs.values()):
            pair.abort()  # each connection's task then ends by itself (cancelling it upsets asyncio)
        await asyncio.gather(*relay._tasks, return_exceptions=True)
        await server.wait_closed()
