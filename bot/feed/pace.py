"""Pacing a Slack Web API method to its rate-limit tier, and standing still when Slack says 429.

Slack counts Web API calls per method, per workspace, per app, in tiers
(https://docs.slack.dev/apis/web-api/rate-limits): `chat.update` is Tier 3, "50+ per minute",
where "sporadic bursts are welcome" (how large a burst is not published). A `Pace` is a leaky
bucket (aiolimiter's `AsyncLimiter`) holding `burst` calls that refills at `per_minute`: a burst
of card rewrites goes out at once, and a sustained stream settles at the tier's rate. When Slack
answers 429 anyway, `back_off(retry_after)` stops every caller of the method until Retry-After
has passed, instead of letting each pending call find out for itself.

One `Pace` per process: replicas of the bot each pace themselves (their sum can exceed the tier;
Slack's 429s, honoured, cover that).
"""

from __future__ import annotations

import asyncio
import time

from aiolimiter import AsyncLimiter


class Pace:
    def __init__(self, per_minute: float, burst: int) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("a pace needs a positive rate and a burst of at least 1")
        self.per_minute = per_minute
        self.burst = burst
        # AsyncLimiter(max_rate, time_period): up to max_rate at once, refilled over time_period.
        self._bucket = AsyncLimiter(burst, burst * 60.0 / per_minute)
        self._resume_at = 0.0  # monotonic: no call before this (a 429's Retry-After)

    async def acquire(self) -> None:
        """Wait until this call may go: not during a back-off, and not beyond the tier's rate."""
        await self._resumed()
        await self._bucket.acquire()
        await self._resumed()  # a 429 may have arrived while this waited for the bucket

    async def _resumed(self) -> None:
        wait = self._resume_at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
            await self._resumed()  # the back-off may have been extended meanwhile

    def back_off(self, seconds: float) -> None:
        """Slack answered 429 with Retry-After: hold every call of this method that long."""
        self._resume_at = max(self._resume_at, time.monotonic() + seconds)
