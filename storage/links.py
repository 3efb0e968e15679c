"""Account linking's storage: "Connect ServiceNow" states in progress and the linked accounts.

Tokens and verifiers arrive here already encrypted (bot/linking.py); this module only stores them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import LinkedAccount, LinkState, as_utc, utcnow

StateProblem = Literal["unknown", "used", "expired", "other browser"]


@dataclass(frozen=True)
class TakenState:
    slack_user_id: str
    verifier: str = field(repr=False)  # encrypted


@dataclass(frozen=True)
class StoredAccount:
    slack_user_id: str
    sys_user_id: str
    user_name: str
    display_name: str
    email: str
    access_token: str = field(repr=False)  # encrypted
    refresh_token: str = field(repr=False)  # encrypted, "" when none
    expires_at: datetime
    version: int


def _account(row: LinkedAccount) -> StoredAccount:
    return StoredAccount(
        row.slack_user_id,
        row.sys_user_id,
        row.user_name,
        row.display_name,
        row.email,
        row.access_token,
        row.refresh_token,
        as_utc(row.expires_at),
        row.version,
    )


class LockedAccount:
    """A linked account's row, locked (SELECT … FOR UPDATE on PostgreSQL) until the block ends:
    the one replica refreshing its tokens at a time."""

    def __init__(self, session: AsyncSession, row: LinkedAccount | None) -> None:
        self._session = session
        self._row = row

    @property
    def account(self) -> StoredAccount | None:
        return _account(self._row) if self._row is not None else None

    def store(self, access_token: str, refresh_token: str, expires_at: datetime) -> StoredAccount:
        row = self._row
        if row is None:
            raise LookupError("no linked account to store tokens in")
        row.access_token = access_token
        row.refresh_token = refresh_token
        row.expires_at = expires_at
        row.version += 1
        row.updated_at = utcnow()
        return _account(row)

    async def forget(self) -> None:
        if self._row is not None:
            await self._session.delete(self._row)
            self._row = None


class LinkedAccounts:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- states ------------------------------------------------------------------------------------

    async def add_state(
        self,
        state_hash: str,
        slack_user_id: str,
        browser_hash: str,
        verifier: str,
        expires_at: datetime,
    ) -> None:
        async with self._db.session() as session:
            session.add(
                LinkState(
                    state_hash=state_hash,
                    slack_user_id=slack_user_id,
                    browser_hash=browser_hash,
                    verifier=verifier,
                    expires_at=expires_at,
                )
            )

    async def take_state(
        self, state_hash: str, browser_hash: str, now: datetime | None = None
    ) -> TakenState | StateProblem:
        """Use a state once: one UPDATE marks it used only if it is unused, unexpired and this
        browser's; whoever's UPDATE changed no row is told why (and nothing is taken)."""
        now = now or utcnow()
        async with self._db.session() as session:
            result = await session.execute(
                update(LinkState)
                .where(
                    LinkState.state_hash == state_hash,
                    LinkState.browser_hash == browser_hash,
                    LinkState.used_at.is_(None),
                    LinkState.expires_at > now,
                )
                .values(used_at=now)
            )
            row = await session.get(LinkState, state_hash)
            if row is None:
                return "unknown"
            if getattr(result, "rowcount", 0) == 1:
                return TakenState(row.slack_user_id, row.verifier)
            if row.used_at is not None:
                return "used"
            if as_utc(row.expires_at) <= now:
                return "expired"
            return "other browser"

    async def prune_states(self, now: datetime | None = None) -> int:
        async with self._db.session() as session:
            result = await session.execute(
                delete(LinkState).where(LinkState.expires_at < (now or utcnow()))
            )
            return int(getattr(result, "rowcount", 0) or 0)

    # -- accounts ----------------------------------------------------------------------------------

    async def get(self, slack_user_id: str) -> StoredAccount | None:
        async with self._db.session() as session:
            row = await session.get(LinkedAccount, slack_user_id)
            return _account(row) if row is not None else None

    async def link(
        self,
        slack_user_id: str,
        *,
        sys_user_id: str,
        user_name: str,
        display_name: str,
        email: str,
        access_token: str,
        refresh_token: str,
        expires_at: datetime,
    ) -> StoredAccount:
        """Link (or re-link) a Slack user: their tokens replace any earlier ones."""
        async with self._db.session() as session:
            row = await session.get(LinkedAccount, slack_user_id, with_for_update=True)
            if row is None:
                row = LinkedAccount(slack_user_id=slack_user_id, version=0, linked_at=utcnow())
                session.add(row)
            row.sys_user_id = sys_user_id
            row.user_name = user_name
            row.display_name = display_name
            row.email = email
            row.access_token = access_token
            row.refresh_token = refresh_token
            row.expires_at = expires_at
            row.version = (row.version or 0) + 1
            row.updated_at = utcnow()
            await session.flush()
            return _account(row)

    async def by_sys_user(self, sys_user_id: str) -> StoredAccount | None:
        """The Slack user most recently linked to this ServiceNow user (for DMs and mentions)."""
        async with self._db.session() as session:
            row = await session.scalar(
                select(LinkedAccount)
                .where(LinkedAccount.sys_user_id == sys_user_id)
                .order_by(LinkedAccount.linked_at.desc())
                .limit(1)
            )
            return _account(row) if row is not None else None

    @asynccontextmanager
    async def locked(self, slack_user_id: str) -> AsyncIterator[LockedAccount]:
        async with self._db.session() as session:
            row = await session.scalar(
                select(LinkedAccount)
                .where(LinkedAccount.slack_user_id == slack_user_id)
                .with_for_update()
            )
            yield LockedAccount(session, row)

    async def forget(self, slack_user_id: str) -> StoredAccount | None:
        async with self._db.session() as session:
            row = await session.get(LinkedAccount, slack_user_id)
            if row is None:
                return None
            account = _account(row)
            await session.delete(row)
            return account
