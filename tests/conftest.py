"""Fixtures shared by every suite: databases on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from storage import Database
from tests.support import BROWSER_SKIPPED


def postgres_url() -> str:
    """TEST_DATABASE_URL, or a skip; in CI a missing PostgreSQL is a failure, never a skip."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail("TEST_DATABASE_URL is not set: the PostgreSQL suite must run in CI")
    pytest.skip("TEST_DATABASE_URL is not set (run `make test` or .ci/run for PostgreSQL)")


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated database: a fresh SQLite file, or a fresh schema in the test PostgreSQL."""
    if request.param == "sqlite":
        database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
        await database.migrate()
        yield database
        await database.dispose()
        return
    async with isolated_postgres_url() as url:
        database = Database.from_url(url)
        await database.migrate()
        yield database
        await database.dispose()


def isolated_postgres_url() -> _PostgresDatabase:
    return _PostgresDatabase(postgres_url())


class _PostgresDatabase:
    """A throw-away database on the test server, dropped afterwards."""

    def __init__(self, url: str) -> None:
        self.base = make_url(url)
        self.name = f"incident_bot_{uuid.uuid4().hex[:12]}"

    async def _admin(self, statement: str) -> None:
        admin = create_async_engine(self.base, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(statement))
        await admin.dispose()

    async def __aenter__(self) -> str:
        await self._admin(f'CREATE DATABASE "{self.name}"')
        return self.base.set(database=self.name).render_as_string(hide_password=False)

    async def __aexit__(self, *exc: object) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly, last, when the browser tests did not run (no Chromium here) and how to run them."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if BROWSER_SKIPPED in str(getattr(report, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_sep("*", f"{len(skipped)} BROWSER TESTS WERE SKIPPED", red=True)
        terminalreporter.write_line(
            "Install Chromium (Debian/Ubuntu: `sudo apt-get install chromium`) or set"
            " CHROMIUM=/path/to/chromium, then run `make test` again.",
            red=True,
        )
