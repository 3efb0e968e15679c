"""Helpers for tests (importable as `tests.support`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# The one place that knows where the copied Slack and ServiceNow samples live (tests/fixtures/).
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SERVICENOW_FIXTURES = FIXTURES / "servicenow"
SLACK_FIXTURES = FIXTURES / "slack"

# The start of every browser test's skip reason; the end of the run repeats it in a banner.
BROWSER_SKIPPED = "browser test skipped"


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 5.0) -> T:
    """Await `check()` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {result!r})")
        await asyncio.sleep(0.01)
