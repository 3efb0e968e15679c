"""The feed keeps no per-record state after it is done with a record (it runs for months)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from bot.feed.changes import Feed, Observation
from servicenow.client import ServiceNowClient
from storage import Database, FeedStore


class Quiet:
    table = "incident"
    fields: tuple[str, ...] = ("sys_id", "sys_mod_count")
    initial_query: str | None = None
    baseline_initial = False
    closed_states: tuple[str, ...] = ()

    async def observe(
        self,
        record: Mapping[str, str],
        previous: Mapping[str, str] | None,
        actor: str | None,
        *,
        baseline: bool = False,
    ) -> Observation:
        await asyncio.sleep(0)
        return Observation({})


async def test_locks_and_actor_hints_are_forgotten_once_done(tmp_path: Path) -> None:
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'feed.db'}")
    await db.migrate()
    async with ServiceNowClient("http://127.0.0.1:9", auth=None) as servicenow:  # type: ignore[arg-type]
        feed = Feed(servicenow, FeedStore(db), db, [Quiet()])
        records = [{"sys_id": f"{n:032x}", "sys_mod_count": "1"} for n in range(50)]
        results = await asyncio.gather(
            *(feed.reconcile("incident", r) for r in records + records)  # each twice, concurrently
        )
        assert sum(results) == 50
        assert feed._locks == {}
        feed.expect_actor("incident", "a" * 32, "someone")
        feed._actors[("incident", "a" * 32)] = (0.0, "someone")  # long expired
        feed.expect_actor("incident", "b" * 32, "someone")
        assert list(feed._actors) == [("incident", "b" * 32)]
    await db.dispose()
