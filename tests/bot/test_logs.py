"""The log: one line per record whatever a message holds, JSON on request, no tokens, and a
failure that repeats every second costs one line a minute."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.logs import Throttle, configure


@pytest.fixture
def restore_root() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield None
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_every_record_is_one_line_even_a_traceback(restore_root: object) -> None:
    out = io.StringIO()
    configure("INFO", "text", out)
    log = logging.getLogger("bot.test")
    log.info("hello %s", "world\n2030-01-01 00:00:00,000 INFO bot: forged\r")
    try:
        raise ValueError("bad\nworse")
    except ValueError:
        log.exception("it failed")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("hello world\\n2030-01-01 00:00:00,000 INFO bot: forged\\r")
    assert "Traceback (most recent call last):\\n" in lines[1]
    assert "ValueError: bad\\nworse" in lines[1]


def test_json_gives_one_object_per_line_with_extras(restore_root: object) -> None:
    out = io.StringIO()
    configure("INFO", "json", out)
    log = logging.getLogger("bot.test")
    log.warning("two\nlines for %s", "xoxb-1234-secret", extra={"table": "incident"})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["level"] == "WARNING" and first["logger"] == "bot.test"
    assert first["message"] == "two\nlines for xoxb-…"  # escaped by JSON, the token masked
    assert first["table"] == "incident"
    assert "time" in first
    assert "RuntimeError: boom" in second["exc"]


def test_bolt_never_logs_a_refused_request_and_tokens_stay_out_at_debug(
    restore_root: object,
) -> None:
    out = io.StringIO()
    configure("DEBUG", "text", out)
    logging.getLogger("slack_bolt.AsyncRequestVerification").warning(
        "Invalid request signature detected (signature: x, timestamp: 1, body: response_url=y)"
    )
    logging.getLogger("slack_bolt.AsyncApp").warning("Unhandled request ({'token': 'z'})")
    logging.getLogger("slack_sdk.web.async_base_client").debug("Authorization: Bearer xoxb-9")
    assert out.getvalue().count("\n") == 1
    assert "a Slack request was not handled (body not logged)" in out.getvalue()
    assert "response_url" not in out.getvalue() and "xoxb" not in out.getvalue()


def test_a_failure_repeating_every_second_is_one_line_a_minute_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    throttle = Throttle(logging.getLogger("bot.test"), interval=60, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, "bot.test"):
        for second in range(125):
            now[0] = float(second)
            try:
                raise ConnectionRefusedError("database away")
            except ConnectionRefusedError as exc:
                throttle.failed("outbox", "outbox delivery failed (%s)", exc, exc=exc)
        throttle.recovered("outbox", "outbox delivery works again")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "outbox delivery failed (database away)",
        "outbox delivery failed (database away) (and 59 more times in the last 60 s)",
        "outbox delivery failed (database away) (and 59 more times in the last 60 s)",
        "outbox delivery works again (after 4 more failures)",
    ]
    assert caplog.records[0].exc_info is not None  # the traceback once, when it starts
    assert all(record.exc_info is None for record in caplog.records[1:])


async def test_uvicorn_access_lines_never_carry_a_query_string(
    restore_root: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `incident-bot serve` runs uvicorn (its access log on, through the bot's handler): a
    Connect ServiceNow callback's `code` and `state` stay out of the log."""
    import asyncio

    import httpx
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from sandbox.server import bind
    from tests.support import eventually

    out = io.StringIO()
    configure("INFO", "text", out)
    # As in a fresh `incident-bot serve` process: uvicorn's access logger goes to the root's
    # handler (another server in this test process may have given it its own).
    for name in ("uvicorn", "uvicorn.access"):
        monkeypatch.setattr(logging.getLogger(name), "handlers", [])
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)

    async def page(_: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/servicenow/oauth/callback", page)])
    sock = bind()
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="info"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:

        async def started() -> bool:
            return server.started

        await eventually(started)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/servicenow/oauth/callback"
        async with httpx.AsyncClient() as client:
            assert (await client.get(url, params={"code": "c0de", "state": "st4te"})).text == "ok"
    finally:
        server.should_exit = True
        await task
        sock.close()
    logged = out.getvalue()
    assert "GET /servicenow/oauth/callback?… HTTP/1.1" in logged
    assert "c0de" not in logged and "st4te" not in logged
