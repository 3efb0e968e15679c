"""The HTTP transport under the ServiceNow client: httpx's API over aiohttp's connection pool.

httpx keeps what carries value (the auth flows: basic, OAuth, JWT bearer and their token refresh;
the exception types the retry code decides by; the tests), and aiohttp, the bot's Slack client
already, carries the bytes, through httpx-aiohttp's transport (the one openai-python uses). Under
a burst, httpcore's pools and anyio's socket streams cost the bot more CPU per request than the
whole aiohttp round trip (docs/benchmarks.md, "Throughput and CPU").

What this adds to httpx-aiohttp:
- the pool: one aiohttp connector of at most `max_in_flight` connections (the client's own queue,
  `InFlight`, keeps no more than that in flight, so nothing waits in the connector), idle ones kept
  `KEEPALIVE` seconds (httpx's default), TLS verified as httpx does by default (certifi, or
  SSL_CERT_FILE / SSL_CERT_DIR);
- no cookie jar: ServiceNow runs one session's requests one at a time, so a JSESSIONID sent back
  would serialise parallel calls (aiohttp keeps every cookie by default);
- aiohttp's failures as the httpx errors httpcore raises for the same failure, which
  servicenow/retry.py decides by. httpx-aiohttp 0.2.0 maps every ClientConnectionError to
  ConnectTimeout ("never sent"), a connection dropped after a POST was sent included, so the POST
  would be sent again while the first may still commit; and it lets other aiohttp errors (a
  malformed answer) through unmapped. Failures while the answer's body is read reach httpx through
  httpx-aiohttp's stream, which maps them as httpcore would (a body cut short or reset is
  aiohttp's ClientPayloadError: ReadError; no bytes within `read`: ReadTimeout).

Timeouts are httpx's, per request: `connect` bounds opening a connection, `read` each wait for
the answer's bytes, `pool` the wait for a connection and its opening together. aiohttp has no
write timeout: a request body (a few hundred bytes of JSON) is sent under none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

__all__ = ["KEEPALIVE", "ServiceNowTransport"]

KEEPALIVE = 5.0  # seconds an idle connection is kept (httpx's default keepalive_expiry)


def _as_httpx(error: aiohttp.ClientError | TimeoutError) -> httpx.TransportError:
    """The httpx error httpcore raises for the same failure."""
    kind: type[httpx.TransportError]
    if isinstance(error, aiohttp.ConnectionTimeoutError):  # opening, or waiting for, a connection
        kind = httpx.ConnectTimeout
    elif isinstance(error, TimeoutError):  # aiohttp.SocketTimeoutError: no bytes within `read`
        kind = httpx.ReadTimeout
    elif isinstance(error, aiohttp.ClientConnectorError):  # refused, DNS, TLS: nothing was sent
        kind = httpx.ConnectError
    elif isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        kind = httpx.RemoteProtocolError  # closed before answering, or answered malformed HTTP
    else:  # reset while sending or reading, a body cut short
        kind = httpx.ReadError
    return kind(str(error) or type(error).__name__)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except (httpx.TransportError, aiohttp.ClientError, TimeoutError) as error:
        # httpx-aiohttp's own mapping keeps the aiohttp error as the cause
        cause = error.__cause__ if isinstance(error, httpx.TransportError) else error
        if not isinstance(cause, aiohttp.ClientError | TimeoutError):
            raise
        raise _as_httpx(cause) from cause


class ServiceNowTransport(AiohttpTransport):
    """httpx requests over one aiohttp session of at most `max_in_flight` connections, without
    cookies. The session opens with the first request (aiohttp needs a running loop)."""

    def __init__(self, max_in_flight: int) -> None:
        super().__init__(client=self._session)
        self.max_connections = max_in_flight

    def _session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.max_connections, keepalive_timeout=KEEPALIVE, ssl=self.ssl_context
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _httpx_errors():
            return await super().handle_async_request(request)
