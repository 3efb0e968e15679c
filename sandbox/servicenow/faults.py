"""Injected answers: rate limits, saturated semaphores, queued sessions, quota cancels, slowness."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

RATE_LIMIT_BODY = {
    "error": {
        "message": "Rate limit exceeded",
        "detail": "Rate limit of 100 requests per hour for Table API exceeded",
    },
    "status": "failure",
}
TRANSACTION_CANCELLED_BODY = {
    "error": {
        "message": "Transaction cancelled: maximum execution time exceeded",
        "detail": "Transaction cancelled: maximum execution time exceeded. "
        "Check the transaction quota rule 'REST Table API request timeout'",
    },
    "status": "failure",
}
NOT_AUTHENTICATED_BODY = {
    "error": {
        "message": "User is not authenticated",
        "detail": "Required to provide Auth information",
    },
    "status": "failure",
}
ACL_BODY = {
    "error": {
        "message": "Operation Failed",
        "detail": "ACL Exception Update Failed due to security constraints",
    },
    "status": "failure",
}
NOT_FOUND_BODY = {
    "error": {
        "message": "No Record found",
        "detail": "Record doesn't exist or ACL restricts the record retrieval",
    },
    "status": "failure",
}
# The documented body for each status a fault may answer with when `body` is None.
DOCUMENTED_BODIES: dict[int, Any] = {
    401: NOT_AUTHENTICATED_BODY,
    403: ACL_BODY,
    404: NOT_FOUND_BODY,
    429: RATE_LIMIT_BODY,
    500: TRANSACTION_CANCELLED_BODY,
}
RATE_LIMIT_RULE = "0f7b7e2c1b2a6d10a3c1e9f0604bcb01"


@dataclass
class Fault:
    """One injected answer.

    `status=0` answers normally after `delay`: the request is handled (a write commits) only once
    `delay` has passed, as on an instance whose transaction runs that long, and it still commits
    when the client has given up waiting. `hold` waits after handling, before answering: the write
    has committed but the answer comes late (`math.inf`: never, until the emulator stops).
    `body=None` uses the documented body for the
    status (none for statuses without one); `body=""` forces an empty body; a str/bytes body is
    sent raw, anything else as JSON. `times=-1` never wears out. `method` and `path_contains`
    narrow which requests it applies to (path only, without the query string).
    """

    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hold: float = 0.0
    times: int = 1
    method: str | None = None
    path_contains: str | None = None

    @classmethod
    def rate_limited(cls, retry_after: int = 1, **narrow: Any) -> Fault:
        """429 with the documented body, `X-RateLimit-*` headers and `Retry-After`."""
        headers = {
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Reset": str(int(time.time()) + retry_after),
            "X-RateLimit-Rule": RATE_LIMIT_RULE,
            "Retry-After": str(retry_after),
        }
        return cls(status=429, body=None, headers=headers, **narrow)

    @classmethod
    def semaphore_full(cls, **narrow: Any) -> Fault:
        """429 with no body and no headers (API_INT semaphore queue full, KB0635398)."""
        return cls(status=429, body="", **narrow)

    @classmethod
    def session_queued(cls, **narrow: Any) -> Fault:
        """202 with an empty body (too many requests queued on one session)."""
        return cls(status=202, body="", **narrow)

    @classmethod
    def quota_cancelled(cls, **narrow: Any) -> Fault:
        """500 'Transaction cancelled: maximum execution time exceeded'."""
        return cls(status=500, body=None, **narrow)

    @classmethod
    def slow(cls, seconds: float, **narrow: Any) -> Fault:
        """Answer normally, but only after `seconds`."""
        return cls(status=0, delay=seconds, **narrow)

    @classmethod
    def commits_unanswered(cls, delay: float = 0.0, **narrow: Any) -> Fault:
        """Handle the request (a write commits) after `delay`, then never answer."""
        return cls(status=0, delay=delay, hold=math.inf, **narrow)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """Build from `POST /sandbox/faults`: Fault fields, or {"kind": "rate_limited", ...}."""
        data = dict(data)
        kind = data.pop("kind", None)
        if kind is None:
            names = {f.name for f in fields(cls)}
            unknown = set(data) - names
            if unknown:
                raise ValueError(f"unknown fault fields: {sorted(unknown)}")
            return cls(**data)
        constructors: dict[str, Callable[..., Fault]] = {
            "rate_limited": cls.rate_limited,
            "semaphore_full": cls.semaphore_full,
            "session_queued": cls.session_queued,
            "quota_cancelled": cls.quota_cancelled,
            "slow": cls.slow,
            "commits_unanswered": cls.commits_unanswered,
        }
        if kind not in constructors:
            raise ValueError(f"unknown fault kind {kind!r}")
        return constructors[kind](**data)

    def applies_to(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_contains is None or self.path_contains in path

    def response_body(self) -> bytes:
        body = DOCUMENTED_BODIES.get(self.status) if self.body is None else self.body
        if body is None or body == "":
            return b""
        if isinstance(body, bytes):
            return body
        if isinstance(body, str):
            return body.encode()
        return json.dumps(body).encode()


class FaultPlan:
    """Faults matched in the order added; each is consumed `times` times."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._released: asyncio.Event | None = None

    async def hold(self, fault: Fault) -> None:
        """Wait `fault.hold` seconds before answering, or until `release()` (the emulator stops)."""
        if fault.hold <= 0:
            return
        if self._released is None:
            self._released = asyncio.Event()
        timeout = None if math.isinf(fault.hold) else fault.hold
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), timeout)

    def release(self) -> None:
        """Let every held answer go (so a server can stop)."""
        if self._released is not None:
            self._released.set()
            self._released = None

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def __len__(self) -> int:
        return len(self._faults)

    def __iter__(self) -> Iterator[Fault]:
        return iter(list(self._faults))

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault that applies, with one use consumed; None when none applies."""
        for fault in self._faults:
            if fault.times != 0 and fault.applies_to(method, path):
                if fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return fault
        return None
