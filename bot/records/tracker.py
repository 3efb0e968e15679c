"""What a change of any record kind means in Slack: its live card, and who hears of it by DM.

- the people the kind names (`Kind.audience`: say the person a requested item is for), of a
  change in the fields each of them `hears`;
- everyone who pressed Follow, of any change in the kind's `news` (a new public comment too);
- never the person who made the change, nor anyone who said `/incident notify off`;
- DMs about one record to one person within the feed's fold window become one DM.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from bot.feed.changes import Observation, Outgoing
from bot.identity import Identity
from bot.records.cards import change_dm, headline
from bot.records.kind import Comment, Kind, View
from bot.records.service import LiveRecords
from bot.slack.kit import Card
from bot.threads.relay import ThreadRelay, comment_marks, new_comments
from servicenow.records import parse_datetime
from storage import Followers, NotificationSettings

UNKNOWN = "?"  # the newest comment was not read for this snapshot
COMMENT = "latest_comment"


def describe(
    kind: Kind, view: View, previous: Mapping[str, str], current: Mapping[str, str]
) -> dict[str, str]:
    """One human line per field of `kind.news` that differs, keyed by field."""
    lines: dict[str, str] = {}
    for name in kind.news:
        before, after = previous.get(name, ""), current.get(name, "")
        if before == after:
            continue
        labels = view.labels.get(name, {})
        title = name.replace("_", " ").capitalize()
        shown = current.get(f"{name}.name", "") or labels.get(after, after) or "none"
        if name in view.labels and before:
            lines[name] = f"{title}: {labels.get(before, before)} → {shown}"
        else:
            lines[name] = f"{title}: {shown}"
    before, after = previous.get(COMMENT, ""), current.get(COMMENT, "")
    if after and before != after and (before != UNKNOWN or _newer(view, previous)):
        lines[COMMENT] = "New comment"
    return lines


def channel_lines(
    records: LiveRecords,
) -> Callable[[Mapping[str, str], Mapping[str, str]], Awaitable[list[str]]]:
    """The lines a channel's card thread gets for one change (subscriptions with history): the
    same as a follower's DM, labelled from `sys_choice` (cached: the change's card read them)."""

    async def lines(previous: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
        view = View(dict(current), "", await records.labels())
        return list(describe(records.kind, view, previous, current).values())

    return lines


def _newer(view: View, previous: Mapping[str, str]) -> bool:
    """Whether the newest comment came after the version `previous` remembers (when that
    version's own newest comment was never read: a record first seen by a look-up)."""
    seen = parse_datetime(previous.get("sys_updated_on") or None)
    written = view.latest.created_on if view.latest else None
    return bool(seen and written and written > seen)


def snapshot(
    kind: Kind, record: Mapping[str, str], latest: Comment | None, *, read: bool
) -> dict[str, str]:
    names = ("number", "state", "sys_updated_on", *kind.news)
    data = {name: record.get(name, "") for name in names}
    for name in kind.news:
        if f"{name}.name" in kind.fields:
            data[f"{name}.name"] = record.get(f"{name}.name", "")
    data[COMMENT] = (latest.id if latest else "") if read else UNKNOWN
    return data


class RecordTracker:
    # On the very first start, remember every open record, so their next change is news.
    initial_query: str | None = "active=true"
    baseline_initial = True

    def __init__(
        self,
        records: LiveRecords,
        identity: Identity,
        followers: Followers,
        settings: NotificationSettings,
        *,
        relay: ThreadRelay | None = None,
    ) -> None:
        self._records = records
        self._relay = relay  # new ServiceNow comments as replies in its cards' threads
        self.kind = records.kind
        self.table = records.kind.table
        self.fields = records.kind.fields
        self.closed_states = records.kind.closed_states
        self._identity = identity
        self._followers = followers
        self._settings = settings

    async def observe(
        self,
        record: Mapping[str, str],
        previous: Mapping[str, str] | None,
        actor: str | None,
        *,
        baseline: bool = False,
    ) -> Observation:
        if baseline:
            return Observation(snapshot(self.kind, record, None, read=False))
        inserted = record.get("sys_mod_count") == "0"
        # One read of its newest comments: the card shows the newest, threads get the new ones.
        sys_id = record.get("sys_id", "")
        recent = [] if inserted else await self._records.recent_comments(sys_id)
        view = await self._records.view(
            record, latest=recent[0] if recent else None, read_comment=False
        )
        card = self._records.card(view)
        current = snapshot(self.kind, record, view.latest, read=True) | comment_marks(recent)
        if previous is None:
            return Observation(current, card)  # first sight: the baseline for the next change
        messages = await self._messages(view, previous, current, actor)
        muted = await self._settings.muted(list(messages))
        memo = {"since": dict(previous)}
        effects = [
            Outgoing("dm", user, dm, fold=memo)
            for user, dm in messages.items()
            if user not in muted
        ]
        if self._relay is not None:
            effects += await self._relay.replies(
                self.table, sys_id, view.number, view.url, new_comments(recent, previous)
            )
        return Observation(current, card, tuple(effects))

    async def refold(
        self,
        record: Mapping[str, str],
        memo: Mapping[str, Any],
        current: Mapping[str, str],
        actor: str | None,
        target: str,
    ) -> tuple[Card | None, dict[str, Any]]:
        """One DM for a burst: from the state before it to this version."""
        since: dict[str, str] = dict(memo.get("since") or {})
        view = await self._records.view(record, read_comment=False)
        messages = await self._messages(view, since, current, actor)
        return messages.get(target), {"since": since}

    async def _messages(
        self,
        view: View,
        previous: Mapping[str, str],
        current: Mapping[str, str],
        actor: str | None,
    ) -> dict[str, Card]:
        lines = describe(self.kind, view, previous, current)
        if not lines:
            return {}
        messages: dict[str, Card] = {}
        for party in self.kind.audience(view.record):
            heard = [line for name, line in lines.items() if name in party.hears]
            if not heard or not party.sys_user_id or party.sys_user_id == actor:
                continue
            slack_user = await self._identity.slack_user(party.sys_user_id, party.email, party.name)
            if slack_user and slack_user not in messages:
                messages[slack_user] = self._dm(view, heard, party.role)
        everything = list(lines.values())
        for slack_user, sys_user_id in await self._followers.of(self.table, view.sys_id):
            if sys_user_id != actor and slack_user not in messages:
                messages[slack_user] = self._dm(view, everything, "")
        return messages

    def _dm(self, view: View, lines: Sequence[str], role: str) -> Card:
        lead = f":bell: {headline(view)} — the {self.kind.label} {role} — changed:" if role else ""
        return change_dm(self.kind, view, lines, lead=lead)
