"""ServiceNow → Slack: a record's new comments as replies in its live cards' threads.

Called by a kind's tracker with the comments it read for the change (one Table API call it makes
anyway for the card), and queued in the same transaction as the change: the feed's compare-and-set
makes each comment go out once, whichever of webhook and poller saw the change first, and the
outbox keeps them in order per channel. Comments the bot wrote from Slack never come back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from bot.feed.changes import Outgoing
from bot.threads.cards import Comment, comment_reply
from servicenow.records import parse_datetime
from storage import Threads

C = TypeVar("C", bound=Comment)
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # ServiceNow's UTC dates
UNKNOWN = "?"  # a snapshot that never read the record's comments (a baseline)
MAX_REPLIES = 10  # comments relayed for one change (a flood goes to ServiceNow's own view)


def comment_marks(recent: Sequence[Comment]) -> dict[str, str]:
    """What a snapshot remembers of the comments it read (newest first): the newest one's time,
    and every comment of that second (ServiceNow's journal is ordered to the second only)."""
    if not recent or recent[0].created_on is None:
        return {"comment_time": "", "comment_ids": ""}
    newest = recent[0].created_on
    return {
        "comment_time": newest.strftime(DATE_FORMAT),
        "comment_ids": ",".join(c.id for c in recent if c.created_on == newest),
    }


def new_comments(recent: Sequence[C], previous: Mapping[str, str]) -> list[C]:
    """Comments in `recent` (newest first) that the `previous` snapshot had not seen, oldest first.

    Newer than the newest second it saw, or of that second but not among the ids it saw then. A
    snapshot that read no comments yet (a baseline): what was written after that version."""
    if previous.get("latest_comment") == UNKNOWN or "comment_time" not in previous:
        since = parse_datetime(previous.get("sys_updated_on"))
        if since is None:
            return []
        fresh = [c for c in recent if c.created_on is not None and c.created_on > since]
    else:
        since = parse_datetime(previous.get("comment_time"))
        seen = set(previous.get("comment_ids", "").split(","))
        fresh = [
            c
            for c in recent
            if since is None
            or (c.created_on is not None and c.created_on > since)
            or (c.created_on == since and c.id not in seen)
        ]
    return list(reversed(fresh))[-MAX_REPLIES:]


class ThreadRelay:
    def __init__(self, threads: Threads) -> None:
        self._threads = threads

    async def replies(
        self, table: str, sys_id: str, number: str, url: str, comments: Sequence[Comment]
    ) -> list[Outgoing]:
        """One reply per comment (oldest first) in each live card's thread, except comments
        that came from Slack and channels that turned threads off."""
        if not comments:
            return []
        slack = await self._threads.from_slack(
            table, sys_id, [(c.id, c.text) for c in comments if c.id]
        )
        foreign = [c for c in comments if c.id not in slack]
        if not foreign:
            return []
        roots = await self._threads.roots(table, sys_id)
        return [
            Outgoing("post", root.channel, comment_reply(number, url, comment), ts=root.ts)
            for comment in foreign
            for root in roots
        ]
