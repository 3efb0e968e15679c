from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.stack import Stack, run_stack


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The bot (SQLite), the ServiceNow emulator and the Slack stand-in, over loopback HTTP."""
    async with run_stack(database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}") as running:
        yield running
