"""Pending change events: stored before the webhook answers 202, deleted once acted on.

One row per record; more events for it only raise `sys_mod_count` (the highest version wins).
A worker claims due rows for a lease (other replicas skip them meanwhile), and either deletes
the row (`done`, unless a newer version arrived meanwhile) or pushes it back (`retry_later`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select, update

from storage.db import Database
from storage.models import PendingEvent, as_utc, utcnow


@dataclass(frozen=True)
class Pending:
    table_name: str
    sys_id: str
    sys_mod_count: int
    attempts: int


class PendingEvents:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self, table: str, sys_id: str, sys_mod_count: int, *, delay: float = 0.0, error: str = ""
    ) -> None:
        """Remember that this version of the record is to be acted on (durably, on return)."""
        now = utcnow()
        statement = self._db.insert(PendingEvent).values(
            table_name=table,
            sys_id=sys_id,
            sys_mod_count=sys_mod_count,
            received_at=now,
            available_at=now + timedelta(seconds=delay),
            attempts=0,
            last_error=error[:2000],
        )
        newer = statement.excluded.sys_mod_count > PendingEvent.sys_mod_count
        statement = statement.on_conflict_do_update(
            index_elements=[PendingEvent.table_name, PendingEvent.sys_id],
            set_={
                "sys_mod_count": case(
                    (newer, statement.excluded.sys_mod_count), else_=PendingEvent.sys_mod_count
                )
            },
        )
        async with self._db.engine.begin() as conn:
            await conn.execute(statement)

    async def claim(self, limit: int, lease: timedelta) -> list[Pending]:
        """Take up to `limit` due events for `lease`."""
        if limit <= 0:
            return []
        now = utcnow()
        due = (
            select(PendingEvent.id)
            .where(PendingEvent.available_at <= now)
            .order_by(PendingEvent.available_at, PendingEvent.id)
            .limit(limit)
        )
        if self._db.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(PendingEvent)
            .where(PendingEvent.id.in_(due.scalar_subquery()))
            .values(available_at=now + lease, attempts=PendingEvent.attempts + 1)
            .returning(
                PendingEvent.table_name,
                PendingEvent.sys_id,
                PendingEvent.sys_mod_count,
                PendingEvent.attempts,
            )
        )
        async with self._db.engine.begin() as conn:
            rows = (await conn.execute(statement)).all()
        return [Pending(r.table_name, r.sys_id, r.sys_mod_count, r.attempts) for r in rows]

    async def done(self, event: Pending) -> None:
        """Acted on up to `event.sys_mod_count`: forget it, or make a newer version due at once."""
        key = (PendingEvent.table_name == event.table_name, PendingEvent.sys_id == event.sys_id)
        async with self._db.engine.begin() as conn:
            gone = await conn.execute(
                delete(PendingEvent).where(*key, PendingEvent.sys_mod_count <= event.sys_mod_count)
            )
            if not gone.rowcount:
                await conn.execute(
                    update(PendingEvent).where(*key).values(available_at=utcnow(), attempts=0)
                )

    async def retry_later(self, event: Pending, delay: float, error: str) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(
                update(PendingEvent)
                .where(
                    PendingEvent.table_name == event.table_name,
                    PendingEvent.sys_id == event.sys_id,
                )
                .values(available_at=utcnow() + timedelta(seconds=delay), last_error=error[:2000])
            )

    async def next_due(self) -> datetime | None:
        async with self._db.engine.connect() as conn:
            due: datetime | None = await conn.scalar(select(func.min(PendingEvent.available_at)))
        return as_utc(due) if due else None

    async def count(self) -> int:
        async with self._db.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(PendingEvent)) or 0)
