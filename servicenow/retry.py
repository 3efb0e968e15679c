"""When and how long to wait before trying a ServiceNow call again.

Retried: 429 (rate-limit rule or full semaphore queue), 502/503/504, an empty 202 (session queue),
connection errors and timeouts. Never retried: 400, 401 (the auth flow refreshes once), 403, 404, and
any other status. Backoff is exponential with full jitter; a ``Retry-After`` header wins when present,
but never beyond the total budget: if the server asks for longer than is left, the caller gets a
RateLimitedError at once with ``retry_after`` set.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from servicenow.errors import RateLimitedError, ServiceNowError

__all__ = [
    "Backoff",
    "RetryPolicy",
    "Sleep",
    "WritePolicy",
    "is_retryable",
    "may_still_commit",
    "was_not_processed",
]

Sleep = Callable[[float], Awaitable[None]]

RETRY_STATUSES = frozenset({202, 429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_attempts`` counts the first try; ``max_total`` caps the seconds spent on one call."""

    max_attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_total: float = 20.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_total) < 0:
            raise ValueError("delays must not be negative")

    @classmethod
    def never(cls) -> RetryPolicy:
        return cls(max_attempts=1)


@dataclass(frozen=True, slots=True)
class WritePolicy:
    """How long a write that got no answer may still commit on the instance, and how often to look.

    ServiceNow runs a Table API transaction for up to 60 s (the "REST Table API request timeout"
    quota) and commits it even when the caller has given up; ``horizon`` adds a margin for the time
    a request can wait in the API_INT semaphore queue first. Until the horizon has passed since the
    request was sent, the client only looks (by ``correlation_id``, or the record's version and
    journal); it never sends the write again. Look-ups start ``first_check`` seconds apart and
    double up to ``max_check_interval``.
    """

    horizon: float = 90.0
    first_check: float = 0.5
    max_check_interval: float = 10.0

    @classmethod
    def within(cls, horizon: float) -> WritePolicy:
        """Look-ups spread over `horizon`: about 20 of them, at most 10 s apart."""
        return cls(
            horizon=horizon,
            first_check=min(0.5, max(horizon / 40, 0.01)),
            max_check_interval=min(10.0, max(horizon / 8, 0.01)),
        )

    def __post_init__(self) -> None:
        if self.horizon < 0 or self.first_check <= 0 or self.max_check_interval <= 0:
            raise ValueError(
                "the horizon must not be negative and check intervals must be positive"
            )


def may_still_commit(error: ServiceNowError) -> bool:
    """True when a write may have reached the instance and still be running (or have committed)
    although no success came back: no answer in time, a connection dropped after the request was
    sent, or a gateway that gave up on the node (502, 504)."""
    if was_not_processed(error):
        return False
    if error.status is None:
        return isinstance(error.__cause__, httpx.TransportError)
    return error.status in (502, 504)


def is_retryable(error: ServiceNowError) -> bool:
    """A failure worth another try: throttling, a gateway error, a dropped session, no answer."""
    if error.status is None:
        return isinstance(error.__cause__, httpx.TransportError)
    return error.status in RETRY_STATUSES


def was_not_processed(error: ServiceNowError) -> bool:
    """True when the instance certainly did not act on the request (safe to resend even a POST).

    A 429 is refused before the transaction runs; a connect failure never sent the request.
    """
    if isinstance(error, RateLimitedError):
        return True
    return isinstance(
        error.__cause__, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
    )


@dataclass
class Backoff:
    """The retry state of one logical call."""

    policy: RetryPolicy
    sleep: Sleep = asyncio.sleep
    jitter: Callable[[float, float], float] = random.uniform
    clock: Callable[[], float] = time.monotonic
    attempts: int = 0
    slept: float = 0.0
    _started: float = field(default=-1.0)

    def __post_init__(self) -> None:
        self._started = self.clock()

    @property
    def spent(self) -> float:
        # Wall time, or the sum of requested sleeps when the sleep function is a fake clock.
        return max(self.clock() - self._started, self.slept)

    def delay_for(self, error: ServiceNowError) -> float | None:
        """Seconds to wait before the next attempt, or None when no attempt is left.

        Raises RateLimitedError when the server's Retry-After exceeds the remaining budget.
        """
        if self.attempts >= self.policy.max_attempts:
            return None
        remaining = self.policy.max_total - self.spent
        retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
        if retry_after is not None:
            if retry_after > remaining:
                raise RateLimitedError(
                    error.message,
                    status=error.status,
                    detail=error.detail,
                    retry_after=retry_after,
                ) from error
            return retry_after
        ceiling = min(self.policy.max_delay, self.policy.base_delay * 2 ** (self.attempts - 1))
        delay = self.jitter(0.0, ceiling)
        if delay > remaining:
            return None
        return delay

    async def wait(self, error: ServiceNowError) -> bool:
        """Sleep before the next attempt; False when the budget or the attempts are used up."""
        delay = self.delay_for(error)
        if delay is None:
            return False
        self.slept += delay
        await self.sleep(delay)
        return True
