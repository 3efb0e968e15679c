"""Pace: a burst goes out at once, the rest at the tier's rate, and a 429 holds everyone."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.feed.pace import Pace


async def test_a_burst_goes_at_once_and_the_next_call_waits_for_the_rate() -> None:
    pace = Pace(per_minute=300, burst=3)  # 3 at once, then one every 0.2 s
    started = time.monotonic()
    for _ in range(3):
        await pace.acquire()
    burst = time.monotonic() - started
    await pace.acquire()
    assert time.monotonic() - started >= 0.15 > burst


async def test_a_back_off_holds_every_caller_until_it_is_over() -> None:
    pace = Pace(per_minute=6000, burst=10)
    pace.back_off(0.5)
    started = time.monotonic()
    await asyncio.gather(*(pace.acquire() for _ in range(3)))
    assert time.monotonic() - started >= 0.5


def test_a_pace_needs_a_rate_and_a_burst() -> None:
    with pytest.raises(ValueError):
        Pace(per_minute=0, burst=1)
    with pytest.raises(ValueError):
        Pace(per_minute=50, burst=0)
