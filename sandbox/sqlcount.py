"""Count the SQL a request costs on the bot's real engine (tests and `bench/sql_cost.py`).

SQLAlchemy's own engine events see every statement the driver is handed (`before_cursor_execute`;
an executemany is one) and every transaction begun (`begin`: explicit, or the autobegin of a
read). What the background workers do meanwhile — the outbox delivering, stored events, the
poller — runs with `bot.health.CURRENT_WORKER` set (inherited by every task a worker starts) and
is counted apart, so a request's own cost is what is left.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.health import CURRENT_WORKER


@dataclass
class SqlCount:
    """Statements (their SQL, first line) and transactions of requests, and of the workers."""

    statements: list[str] = field(default_factory=list)
    transactions: int = 0
    worker_statements: int = 0
    worker_transactions: int = 0
    worker_sql: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.statements.clear()
        self.transactions = 0
        self.worker_statements = 0
        self.worker_transactions = 0
        self.worker_sql.clear()

    def summary(self) -> str:
        lines = [f"{len(self.statements)} statements in {self.transactions} transactions:"]
        return "\n".join(lines + [f"  {sql[:200]}" for sql in self.statements])


@contextlib.contextmanager
def counting(engine: AsyncEngine) -> Iterator[SqlCount]:
    """Count on `engine` while the block runs."""
    count = SqlCount()
    sync_engine = engine.sync_engine

    def statement(
        _conn: Any, _cursor: Any, sql: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        if CURRENT_WORKER.get() is None:
            count.statements.append(" ".join(sql.split()))
        else:
            count.worker_statements += 1
            count.worker_sql.append(" ".join(sql.split()))

    def begin(_conn: Any) -> None:
        if CURRENT_WORKER.get() is None:
            count.transactions += 1
        else:
            count.worker_transactions += 1

    event.listen(sync_engine, "before_cursor_execute", statement)
    event.listen(sync_engine, "begin", begin)
    try:
        yield count
    finally:
        event.remove(sync_engine, "before_cursor_execute", statement)
        event.remove(sync_engine, "begin", begin)
