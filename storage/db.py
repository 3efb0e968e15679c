"""The async engine, sessions and schema migration."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, exc, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

log = logging.getLogger(__name__)


class PatientPool(AsyncAdaptedQueuePool):
    """A pool whose checkouts wait in line for a free connection however long it takes.

    SQLAlchemy's pool gives up after `pool_timeout` ("QueuePool limit ... reached"), which under
    a burst dropped work half done: an incident created in ServiceNow whose card was never
    queued. Here a checkout that waits `pool_timeout` says so in the log (a leak or a stuck
    transaction still shows) and goes on waiting, in the order it came (the pool's queue is
    FIFO). The database being unreachable still fails at once: that is a connect error.
    """

    def _do_get(self) -> ConnectionPoolEntry:
        started = time.monotonic()
        while True:
            try:
                return super()._do_get()
            except exc.TimeoutError:
                log.warning(
                    "waiting for a database connection: all %d busy for %.1f s",
                    self.size() + max(0, self.overflow()),
                    time.monotonic() - started,
                )


def create_engine(
    url: str, *, pool_size: int = 10, pool_timeout: float = 30, **kwargs: Any
) -> AsyncEngine:
    """An engine for `sqlite+aiosqlite://` or `postgresql+asyncpg://`."""
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=pool_timeout,
            poolclass=PatientPool,
            **kwargs,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        pool_timeout=pool_timeout,
        poolclass=PatientPool,
        **kwargs,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL is durable against application crashes (a power cut can lose the last
    # commits, never corrupt the file) and spares an fsync on every commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """Owns the engine and hands out sessions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 10, pool_timeout: float = 30) -> Database:
        return cls(create_engine(url, pool_size=pool_size, pool_timeout=pool_timeout))

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed when the block ends without an error."""
        async with self._sessions.begin() as session:
            yield session

    def insert(self, table: Any) -> Any:
        """This dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
        if self.engine.dialect.name == "sqlite":
            return sqlite_insert(table)
        return postgresql_insert(table)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.run_sync(_current_revision)

    async def dispose(self) -> None:
        await self.engine.dispose()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("storage") / "migrations"))
    return config


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()
