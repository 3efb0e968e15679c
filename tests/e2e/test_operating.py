"""The bot as an operator runs it (`python -m bot serve`, a real process on loopback):

- bodies over the limit are refused (413) before they are held whole, so a flood of large
  unsigned POSTs leaves the process's memory where it was;
- what a request carried (its body, response_url, trigger_id, token) never reaches the log, every
  log line is one line, and `LOG_FORMAT=json` gives one JSON object per line.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from sandbox.servicenow import Emulator, run_emulator
from sandbox.slack import SlackStandIn, run_slack
from sandbox.stack import BOT_TOKEN, SERVICENOW_PASSWORD, SERVICENOW_USER, SIGNING_SECRET
from tests.support import eventually

MiB = 1024 * 1024
REPO = Path(__file__).resolve().parents[2]
TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process
    url: str

    def rss(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the bot process in bytes: now, and the most it ever held."""
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        )
        return tuple(int(fields[name].split()[0]) * 1024 for name in ("VmRSS", "VmHWM"))  # type: ignore[return-value]

    async def stop(self) -> str:
        """SIGINT, then everything it logged."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(self.process.communicate(), 30)
        return out.decode()


@asynccontextmanager
async def bot_process(tmp_path: Path, **env: str) -> AsyncIterator[BotProcess]:
    """The stand-ins, and `python -m bot serve` configured against them, serving once healthy."""
    slack = SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    async with run_emulator(Emulator()) as emulator, run_slack(slack):
        port = free_port()
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": f"{slack.url}/api/",
            "SERVICENOW_INSTANCE_URL": emulator.instance_url,
            "SERVICENOW_USERNAME": SERVICENOW_USER,
            "SERVICENOW_PASSWORD": SERVICENOW_PASSWORD,
            "SERVICENOW_WEBHOOK_SECRET": "webhook-secret",
            "SERVICENOW_POLL_SECONDS": "0",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            **env,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            env=environment,
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        running = BotProcess(process, f"http://127.0.0.1:{port}")

        async def healthy() -> bool:
            if process.returncode is not None:
                raise AssertionError(f"the bot exited: {(await process.communicate())[0]!r}")
            try:
                async with httpx.AsyncClient() as http:
                    return (await http.get(f"{running.url}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        try:
            await eventually(healthy, timeout=30)
            yield running
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def fifty_megabytes() -> AsyncIterator[bytes]:
    chunk = b"x" * MiB
    for _ in range(50):
        yield chunk


async def post_large(http: httpx.AsyncClient, url: str) -> int | str:
    """POST 50 MB, streamed (chunked); the status, or how the bot hung up mid-body."""
    try:
        response = await http.post(url, content=fifty_megabytes())
    except httpx.TransportError as exc:
        return type(exc).__name__
    return response.status_code


async def test_a_flood_of_large_unsigned_bodies_leaves_memory_where_it_was(
    tmp_path: Path,
) -> None:
    async with bot_process(tmp_path) as bot:
        async with httpx.AsyncClient(timeout=60) as http:
            # Warm every path a refused request takes, then measure.
            for path in ("/slack/events", "/servicenow/events"):
                assert (await http.post(bot.url + path, content=b"x" * 300_000)).status_code == 413
                assert (await post_large(http, bot.url + path)) in (
                    413,
                    "WriteError",
                    "ReadError",
                    "RemoteProtocolError",
                )
            idle, idle_peak = bot.rss()
            started = time.monotonic()
            answers = await asyncio.gather(
                *(
                    post_large(http, bot.url + ("/slack/events" if n % 2 else "/servicenow/events"))
                    for n in range(8)
                )
            )
            elapsed = time.monotonic() - started
            after, peak = bot.rss()
            # Still serving afterwards.
            assert (await http.get(bot.url + "/healthz")).status_code == 200
        log = await bot.stop()
    print(
        f"idle {idle / MiB:.0f} MiB (peak {idle_peak / MiB:.0f}), after 8 x 50 MB "
        f"{after / MiB:.0f} MiB (peak {peak / MiB:.0f}) in {elapsed:.1f} s: {answers}"
    )
    assert all(
        answer in (413, "WriteError", "ReadError", "RemoteProtocolError") for answer in answers
    )
    assert peak - max(idle, idle_peak) < 40 * MiB
    assert after - idle < 40 * MiB
    assert "Traceback" not in log


async def test_bodies_over_the_limit_are_refused_and_within_it_still_judged(
    tmp_path: Path,
) -> None:
    async with bot_process(tmp_path) as bot, httpx.AsyncClient(timeout=30) as http:
        slack, events = bot.url + "/slack/events", bot.url + "/servicenow/events"
        assert (await http.post(slack, content=b"a" * (256 * 1024 + 1))).status_code == 413
        assert (await http.post(events, content=b"a" * (64 * 1024 + 1))).status_code == 413
        # Within the limit: judged on its signature (401) as before.
        assert (await http.post(slack, content=b"a" * (256 * 1024))).status_code == 401
        assert (await http.post(events, content=b"{}")).status_code == 401


def forged_command(timestamp: int) -> tuple[bytes, dict[str, str], dict[str, str]]:
    """A slash command signed with the right secret, its secrets, and a forged log line in it."""
    secrets = {
        "response_url": "http://127.0.0.1:9/commands/T0SECRET/RESPONSE-URL-SECRET",
        "trigger_id": "TRIGGER-ID-SECRET-4242",
        "token": "VERIFICATION-TOKEN-SECRET",
    }
    fields = {
        "token": secrets["token"],
        "team_id": "T0SANDBOX0",
        "channel_id": "C0GENERAL0",
        "user_id": "U0ALICE000",
        "command": "/incident",
        "text": "printer\n2030-01-01 00:00:00,000 INFO bot.app: FORGED-LINE admin logged in\r\n",
        "response_url": secrets["response_url"],
        "trigger_id": secrets["trigger_id"],
    }
    body = urlencode(fields).encode()
    ts = str(timestamp)
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body)
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature or "",
    }
    return body, headers, secrets


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_refused_requests_leave_no_secret_and_no_forged_line_in_the_log(
    tmp_path: Path, log_format: str
) -> None:
    async with bot_process(tmp_path, LOG_FORMAT=log_format) as bot:
        async with httpx.AsyncClient(timeout=30) as http:
            slack = bot.url + "/slack/events"
            # Genuine, but its clock is 10 minutes off: Bolt refuses it (and used to log it whole).
            body, headers, secrets = forged_command(int(time.time()) - 600)
            assert (await http.post(slack, content=body, headers=headers)).status_code == 401
            # Unsigned, and signed with a wrong secret.
            assert (await http.post(slack, content=body)).status_code == 401
            wrong = {**headers, "x-slack-signature": "v0=" + "0" * 64}
            assert (await http.post(slack, content=body, headers=wrong)).status_code == 401
            # Signed and fresh, but not a Slack payload at all.
            junk = b"payload=%7Bnot%20json%0AFORGED-LINE"
            _, signed, _ = forged_command(int(time.time()))
            signed["x-slack-signature"] = (
                SignatureVerifier(SIGNING_SECRET).generate_signature(
                    timestamp=signed["x-slack-request-timestamp"], body=junk
                )
                or ""
            )
            assert (await http.post(slack, content=junk, headers=signed)).status_code == 400
            # A change event with a newline and a forged line in it, unsigned.
            event = b'{"table": "incident\\n2030 INFO FORGED-LINE", "sys_id": "x"}\n FORGED-LINE'
            answer = await http.post(bot.url + "/servicenow/events", content=event)
            assert answer.status_code == 401
        log = await bot.stop()
    assert log.strip(), "the bot logged nothing at all"
    for secret in secrets.values():
        assert secret not in log
    assert "FORGED-LINE" not in log
    assert "Traceback" not in log
    for line in log.splitlines():
        if log_format == "json":
            entry = json.loads(line)
            assert {"time", "level", "logger", "message"} <= set(entry), line
        else:
            assert TEXT_LINE.match(line), line
