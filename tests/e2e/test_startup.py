"""`incident-bot check | serve | socket` against the stand-ins: a bad setting stops start-up at once
with one line naming it (no traceback); a good configuration serves, in Socket Mode too.

The matrix runs `main()` in-process (in a thread: it runs its own event loop); the tests that
matter most for "one line, no traceback" run the real command as a process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from sandbox.servicenow import Emulator, run_emulator
from sandbox.slack import SlackStandIn, run_slack
from sandbox.stack import (
    APP_TOKEN,
    BOT_TOKEN,
    SERVICENOW_PASSWORD,
    SERVICENOW_USER,
    SIGNING_SECRET,
)

ALICE, GENERAL = "U0ALICE000", "C0GENERAL0"
QUICKLY = 10.0  # seconds a refused start-up may take, at most


@dataclass
class StandIns:
    slack: SlackStandIn
    emulator: Emulator
    database_url: str

    def environment(self, **overrides: str) -> dict[str, str]:
        """A complete, working configuration (plus `overrides`), as environment variables."""
        values = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": f"{self.slack.url}/api/",
            "SERVICENOW_INSTANCE_URL": self.emulator.instance_url,
            "SERVICENOW_USERNAME": SERVICENOW_USER,
            "SERVICENOW_PASSWORD": SERVICENOW_PASSWORD,
            "SERVICENOW_POLL_SECONDS": "0",
            "DATABASE_URL": self.database_url,
            "HOST": "127.0.0.1",
            "PORT": str(free_port()),
        }
        return {**values, **overrides}


def free_port() -> int:
    """A port nobody listens on (the kernel's pick, released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def standins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StandIns]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(os.environ):
        if name.startswith(("SLACK_", "SERVICENOW_")) or name in (
            "DATABASE_URL",
            "HOST",
            "PORT",
            "TOKEN_ENCRYPTION_KEYS",
            "PUBLIC_URL",
        ):
            monkeypatch.delenv(name)
    slack = SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, socket_mode=True)
    slack.socket.app_token = APP_TOKEN
    async with run_emulator(Emulator()) as emulator, run_slack(slack):
        yield StandIns(slack, emulator, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")


BAD = {
    "bot token": (
        {"SLACK_BOT_TOKEN": "xoxb-not-the-token"},
        "incident-bot: SLACK_BOT_TOKEN was refused by Slack (invalid_auth)",
    ),
    "database": (
        {"DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"},
        "incident-bot: DATABASE_URL: cannot connect (",
    ),
    "servicenow": (
        {"SERVICENOW_INSTANCE_URL": f"http://127.0.0.1:{free_port()}"},
        "incident-bot: SERVICENOW_INSTANCE_URL: http://127.0.0.1:",
    ),
    "servicenow password": (
        {"SERVICENOW_PASSWORD": "wrong"},
        "incident-bot: SERVICENOW_USERNAME/SERVICENOW_PASSWORD refused by ServiceNow (",
    ),
}
CASES = [
    *((command, bad) for command in ("check", "serve", "socket") for bad in BAD),
    ("check", "app token"),
    ("socket", "app token"),
]
APP_TOKEN_REFUSED = "incident-bot: SLACK_APP_TOKEN was refused by Slack (invalid_auth)"


@pytest.mark.parametrize(("command", "bad"), CASES, ids=[f"{c}-{b}" for c, b in CASES])
async def test_a_bad_setting_stops_start_up_with_one_line_naming_it(
    standins: StandIns,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    bad: str,
) -> None:
    overrides, expected = (
        ({"SLACK_APP_TOKEN": "xapp-1-A0SANDBOX0-1-wrong"}, APP_TOKEN_REFUSED)
        if bad == "app token"
        else BAD[bad]
    )
    for name, value in standins.environment(**overrides).items():
        monkeypatch.setenv(name, value)
    started = time.monotonic()
    code = await asyncio.to_thread(main, [command])
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 1
    [line] = err.splitlines()
    assert line.startswith(expected), line
    assert "Traceback" not in out + err
    assert elapsed < QUICKLY
    if command != "check":
        assert standins.slack.socket.opened == 0  # nothing was served


async def test_check_says_what_works(
    standins: StandIns, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in standins.environment().items():
        monkeypatch.setenv(name, value)
    assert await asyncio.to_thread(main, ["check"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "✓ Slack",
        "✓ Socket Mode",
        "✓ ServiceNow",
        "✓ database",
    ]


async def run_process(command: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        command,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_socket_with_a_refused_app_token_exits_with_one_line_as_a_process(
    standins: StandIns, tmp_path: Path
) -> None:
    env = standins.environment(SLACK_APP_TOKEN="xapp-1-A0SANDBOX0-1-wrong")
    process = await run_process("socket", env, tmp_path)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    assert err.decode().splitlines() == [APP_TOKEN_REFUSED]
    assert out == b""
    assert standins.slack.socket.opened == 0


async def test_serve_with_an_unreachable_database_exits_with_one_line_as_a_process(
    standins: StandIns, tmp_path: Path
) -> None:
    env = standins.environment(DATABASE_URL=BAD["database"][0]["DATABASE_URL"])
    process = await run_process("serve", env, tmp_path)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    [line] = err.decode().splitlines()
    assert line.startswith("incident-bot: DATABASE_URL: cannot connect (ConnectionRefusedError")


async def test_incident_bot_socket_serves_slack_over_socket_mode_as_a_process(
    standins: StandIns, tmp_path: Path
) -> None:
    env = standins.environment()
    process = await run_process("socket", env, tmp_path)
    try:
        await standins.slack.socket.wait_connected(timeout=30)
        await standins.slack.send_command(ALICE, "printer on fire")
        [card] = await standins.slack.wait_for(lambda: standins.slack.messages_in(GENERAL))
        assert "printer on fire" in card.text
        assert len(standins.emulator.query("incident", "short_description=printer on fire")) == 1
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{env['PORT']}") as http:
            assert (await http.get("/healthz")).json()["ok"] is True
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    assert b"Traceback" not in out + err
    await standins.slack.wait_for(lambda: not standins.slack.socket.links)  # it hung up
    assert standins.slack.problems == []


async def test_check_names_the_redirect_url_and_refuses_linking_beside_a_jwt_key(
    standins: StandIns,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from sandbox.servicenow import seed
    from sandbox.stack import ENCRYPTION_KEY
    from servicenow.auth import generate_key_pair

    linking = {
        "SERVICENOW_LINKING": "true",
        "TOKEN_ENCRYPTION_KEYS": ENCRYPTION_KEY,
        "PUBLIC_URL": "https://bot.example.com",
        "SERVICENOW_CLIENT_ID": seed.OAUTH_CLIENT_ID,
        "SERVICENOW_CLIENT_SECRET": seed.OAUTH_CLIENT_SECRET,
    }
    for name, value in standins.environment(**linking).items():
        monkeypatch.setenv(name, value)
    assert await asyncio.to_thread(main, ["check"]) == 0
    out, _ = capsys.readouterr()
    assert (
        "✓ account linking: people come back to "
        "https://bot.example.com/servicenow/oauth/callback" in out
    )

    key = tmp_path / "jwt.pem"
    key.write_text(generate_key_pair()[0])
    monkeypatch.setenv("SERVICENOW_JWT_PRIVATE_KEY", str(key))
    monkeypatch.setenv("SERVICENOW_JWT_KEY_ID", "k")
    assert await asyncio.to_thread(main, ["serve"]) == 2  # a settings problem
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("incident-bot: SERVICENOW_LINKING: choose one way of acting")
