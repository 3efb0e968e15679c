from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import manifest
from sandbox.stack import Stack, run_stack


@pytest.fixture
async def stack(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    """The bot (SQLite), the ServiceNow emulator and the Slack stand-in, over loopback HTTP.

    Afterwards, nothing the bot sent may have been something real Slack refuses (bad blocks, views
    over the limits, acks too late…): the stand-in records those as problems. The stand-in holds the
    bot to its generated manifest, and every Web API method it called must be declared there.
    """
    # No poller (tests that count ServiceNow requests stay exact); feed tests turn it on.
    # `@pytest.mark.stack_settings(name=value)`: settings of the bot for a module or a test.
    marker = request.node.get_closest_marker("stack_settings")
    settings = dict(marker.kwargs) if marker else {}
    settings.setdefault("servicenow_poll_seconds", 0)
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with run_stack(database_url=database_url, **settings) as running:
        yield running
        assert running.slack.problems == []
        assert {call.method for call in running.slack.calls} <= set(manifest.METHODS)
