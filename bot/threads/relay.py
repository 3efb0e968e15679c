"""ServiceNow → Slack: a record's new comments as replies in its live cards' threads.

Called by a kind's tracker with the comments it read for the change (one Table API call it makes
anyway for the card), and queued in the same transaction as the change: the feed's compare-and-set
makes each comment go out once, whichever of webhook and poller saw the change first, and the
outbox keeps them in order per channel. Comments the bot wrote from Slack never come back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from bot.feed.changes import Outgoing
from bot.threads.cards import Comment, comment_reply
from servicenow.records import parse_datetime
from storage import Threads

C = TypeVar("C", bound=Comment)
UNKNOWN = "?"  # a snapshot that never read the record's comments (a baseline)
MAX_REPLIES = 10  # comments relayed for one change (a flood goes to ServiceNow's own view)


def new_comments(
    recent: Sequence[C], previous: Mapping[str, str], *, field: str = "latest_comment"
) -> list[C]:
    """Comments in `recent` (newest first) that the `previous` snapshot had not seen, oldest first.

    The snapshot remembers its newest comment's id: everything newer is new. A baseline snapshot
    never read them: then what was written after that version (`sys_updated_on`) is new."""
    seen = previous.get(field, "")
    fresh: list[C] = []
    if seen == UNKNOWN:
        since = parse_datetime(previous.get("sys_updated_on"))
        if since is None:
            return []
        fresh = [c for c in recent if c.created_on is not None and _after(c.created_on, since)]
    else:
        for comment in recent:
            if seen and comment.id == seen:
                break
            fresh.append(comment)
    return list(reversed(fresh))[-MAX_REPLIES:]


def _after(moment: datetime, since: datetime) -> bool:
    return moment > since


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
