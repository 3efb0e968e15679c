"""The client's transport (httpx over aiohttp) against the emulator over loopback HTTP, with a
relay in front that can drop connections and raw TCP servers for what no HTTP server sends:
each network failure must reach the retry code as the httpx error it decides by."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.relay import Relay, run_relay
from sandbox.servicenow import Emulator, Fault, run_emulator
from servicenow.auth import self_signed_certificate
from servicenow.client import ServiceNowClient
from servicenow.errors import UnavailableError, WriteUncertainError
from servicenow.retry import RetryPolicy
from tests.support import Sleeps, eventually

BOT_USER, BOT_PASSWORD = "incident.bot", "incident-bot"
AUTH = httpx.BasicAuth(BOT_USER, BOT_PASSWORD)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with run_emulator(Emulator()) as running:
        yield running


@pytest.fixture
async def relay(emu: Emulator) -> AsyncIterator[Relay]:
    address = urlsplit(emu.instance_url)
    assert address.hostname is not None and address.port is not None
    async with run_relay(address.hostname, address.port) as running:
        yield running


def through(relay: Relay) -> str:
    return f"http://127.0.0.1:{relay.port}"


def posts(emu: Emulator) -> list[object]:
    return [r for r in emu.requests if r.method == "POST" and r.path.endswith("/incident")]


async def test_a_connection_dropped_after_a_post_was_sent_is_looked_up_not_sent_again(
    emu: Emulator, relay: Relay
) -> None:
    """The POST committed, then the connection dropped before its answer: the client must find
    the incident by correlation id, never POST again (httpx-aiohttp alone calls the drop a
    ConnectTimeout, "never sent", and the POST went out twice)."""
    correlation_id = "slack:C1:1700.9"
    emu.faults.add(Fault.commits_unanswered(method="POST"))

    async def landed() -> list[dict[str, str]]:
        return emu.query("incident", f"correlation_id={correlation_id}")

    async with ServiceNowClient(through(relay), AUTH) as sn:
        creating = asyncio.create_task(
            sn.create("incident", {"short_description": "dropped"}, correlation_id=correlation_id)
        )
        await eventually(landed)
        assert relay.cut_all() == 1
        record = await creating
    assert [row["sys_id"] for row in await landed()] == [record["sys_id"]]
    assert len(posts(emu)) == 1


@asynccontextmanager
async def raw_server(
    answer: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[str]:
    """A TCP server that reads one request's head and then does `answer`; yields its URL."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await answer(reader, writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    try:
        scheme = "http" if tls is None else "https"
        yield f"{scheme}://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def close_at_once(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def answer_garbage(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"garbage\r\n\r\n")
    await writer.drain()
    writer.close()


async def cut_the_body(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b'HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\n{"result":')
    await writer.drain()
    writer.close()


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (close_at_once, httpx.RemoteProtocolError),
        (answer_garbage, httpx.RemoteProtocolError),
        (cut_the_body, httpx.ReadError),
    ],
)
async def test_a_post_that_reached_the_server_and_got_no_answer_may_have_created(
    answer: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    kind: type[httpx.TransportError],
) -> None:
    async with raw_server(answer) as url, ServiceNowClient(url, AUTH) as sn:
        with pytest.raises(WriteUncertainError) as caught:
            await sn.create("incident", {"short_description": "no answer"})
    failure = caught.value.__cause__
    assert isinstance(failure, UnavailableError)
    assert "could not talk to ServiceNow" in str(failure)
    assert type(failure.__cause__) is kind
    assert sn.calls == 1


async def test_a_refused_connection_sent_nothing_so_a_create_is_sent_again(sleeps: Sleeps) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with ServiceNowClient(
        f"http://127.0.0.1:{port}", AUTH, retry=RetryPolicy(max_attempts=2), sleep=sleeps
    ) as sn:
        with pytest.raises(UnavailableError, match=r"could not talk to ServiceNow \(ConnectError"):
            await sn.create("incident", {"short_description": "x"}, correlation_id="slack:C1:1")
        assert sn.calls == 2 and len(sleeps.delays) == 1


async def test_a_certificate_nobody_vouches_for_is_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "cert.pem").write_text(self_signed_certificate(key))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    heads: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(b"a request")
        writer.close()

    async with (
        raw_server(record, tls) as url,
        ServiceNowClient(url, AUTH, retry=RetryPolicy.never()) as sn,
    ):
        with pytest.raises(UnavailableError, match=r"could not talk to ServiceNow \(ConnectError"):
            await sn.create("incident", {"short_description": "x"})
    assert heads == []


async def test_connections_are_kept_alive_and_never_more_than_the_bound(
    emu: Emulator, relay: Relay
) -> None:
    async with ServiceNowClient(through(relay), AUTH, max_in_flight=4) as sn:
        for _ in range(5):
            await sn.list("incident", limit=1)
        assert relay.accepted == 1  # one after the other: one connection, reused
        emu.faults.add(Fault(status=0, delay=0.05, times=-1))
        await asyncio.gather(*(sn.list("incident", limit=1) for _ in range(20)))
    assert relay.accepted == 4
    assert emu.peak_in_flight == 4
