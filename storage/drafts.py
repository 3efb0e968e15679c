"""Incident drafts waiting on a choice (the duplicate check found similar open incidents)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from storage.db import Database
from storage.models import IncidentDraft, utcnow


@dataclass(frozen=True)
class Draft:
    id: str
    slack_user_id: str
    channel: str
    thread_ts: str | None
    correlation_id: str
    data: dict[str, Any]


class Drafts:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        slack_user_id: str,
        channel: str,
        thread_ts: str | None,
        correlation_id: str,
        data: dict[str, Any],
    ) -> Draft:
        draft = Draft(
            secrets.token_hex(16), slack_user_id, channel, thread_ts, correlation_id[:100], data
        )
        statement = self._db.insert(IncidentDraft).values(
            id=draft.id,
            slack_user_id=slack_user_id,
            channel=channel,
            thread_ts=thread_ts,
            correlation_id=draft.correlation_id,
            data=json.dumps(data),
            created_at=utcnow(),
        )
        async with self._db.engine.begin() as conn:
            await conn.execute(statement)
        return draft

    async def get(self, draft_id: str, slack_user_id: str) -> Draft | None:
        """The draft, only for the person who wrote it."""
        async with self._db.session() as session:
            row = await session.scalar(
                select(IncidentDraft).where(
                    IncidentDraft.id == draft_id[:32],
                    IncidentDraft.slack_user_id == slack_user_id,
                )
            )
        if row is None:
            return None
        return Draft(
            row.id,
            row.slack_user_id,
            row.channel,
            row.thread_ts,
            row.correlation_id,
            json.loads(row.data),
        )

    async def prune(self, older_than: timedelta) -> int:
        async with self._db.session() as session:
            result = await session.execute(
                delete(IncidentDraft).where(IncidentDraft.created_at < utcnow() - older_than)
            )
            return int(getattr(result, "rowcount", 0) or 0)
