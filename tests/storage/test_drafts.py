"""Incident drafts: kept for the person who wrote them, forgotten when old."""

from __future__ import annotations

from datetime import timedelta

from storage import Database, Drafts


async def test_a_draft_is_read_back_only_by_its_author_and_pruned_when_old(db: Database) -> None:
    drafts = Drafts(db)
    new = {"new": {"short_description": "printer on fire"}, "caller": "U1"}
    draft = await drafts.add("U1", "C1", "1.000001", "slack:trigger", new)
    found = await drafts.get(draft.id, "U1")
    assert found == draft and found.data == new and found.thread_ts == "1.000001"
    assert await drafts.get(draft.id, "U2") is None
    assert await drafts.prune(timedelta(days=7)) == 0
    assert await drafts.prune(timedelta(seconds=-1)) == 1
    assert await drafts.get(draft.id, "U1") is None
