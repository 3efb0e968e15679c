"""`incident-bot outbox`: what has not been delivered, one line each; `outbox retry` requeues."""

from __future__ import annotations

import asyncio
import os
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import main
from storage import Database, FeedStore, SlackWrite


@pytest.fixture
def queued_at() -> float:
    """When `store` queued its messages (monotonic): taken before it does."""
    return time.monotonic()


@pytest.fixture
async def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, queued_at: float) -> FeedStore:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("SLACK_", "SERVICENOW_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SERVICENOW_INSTANCE_URL", "https://dev1.service-now.com")
    db = Database.from_url(url)
    await db.migrate()
    store = FeedStore(db)
    await store.queue(
        [
            SlackWrite("dm", "U0ALICE000", {"text": "gone"}),
            SlackWrite("dm", "U0BOB00000", {"text": "waiting"}),
        ]
    )
    [gone, waiting] = await store.claim(10, timedelta(seconds=30))
    await store.give_up(gone, "user_not_found\nsecond line")
    await store.retry_later(waiting, 600, "ratelimited")
    await db.dispose()
    return store


async def run(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_outbox_lists_undelivered_and_dead_messages_one_line_each(
    store: FeedStore, queued_at: float, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run("outbox") == 0
    elapsed = time.monotonic() - queued_at
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:4] for line in lines] == [
        ["2", "pending", "dm", "U0BOB00000"],
        ["1", "dead", "dm", "U0ALICE000"],
    ]
    attempts, age = lines[0].split("\t")[4:6]
    assert attempts == "attempts=1"
    # In whole seconds, at most the time since it was queued (0 s unless this machine is loaded).
    assert (seconds := re.fullmatch(r"age=(\d+)s", age)) and int(seconds[1]) <= elapsed + 0.5, age
    assert lines[1].endswith("user_not_found second line")


async def test_outbox_retry_requeues_one_or_every_dead_message(
    store: FeedStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run("outbox", "retry", "2") == 1  # pending, not given up
    assert capsys.readouterr().err.startswith("incident-bot: outbox: no given-up message 2")
    assert await run("outbox", "retry", "1") == 0
    assert capsys.readouterr().out == "requeued 1: 1\n"
    assert await run("outbox") == 0
    assert "dead" not in capsys.readouterr().out
    assert await run("outbox", "retry", "--all-dead") == 0
    assert capsys.readouterr().out == "requeued 0\n"


@pytest.mark.parametrize(
    "argv",
    [("outbox", "retry"), ("outbox", "retry", "x1"), ("outbox", "retry", "1", "--all-dead")],
)
async def test_bad_outbox_requests_are_one_line(
    store: FeedStore, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    assert await run(*argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.startswith("incident-bot: outbox")
