"""What an incident change means in Slack: the live card, and who hears about it by DM.

- the caller, on every state change (Resolved: with the resolution and a Reopen button);
- the new assignee, on assignment;
- everyone who pressed Follow, on any change of state, assignee, group, priority, resolution or a
  new public comment;
- never the person who made the change, nor anyone who said `/incident notify off`;
- with INCIDENT_CHANNEL set, every new incident is announced there as a live card.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot import blocks
from bot.identity import Identity
from bot.incidents import TABLE, Incidents
from bot.sync import Outgoing
from servicenow.records import Incident, IncidentState, Priority
from storage import Followers, NotificationSettings

SNAPSHOT_FIELDS = (
    "number",
    "state",
    "assigned_to",
    "assigned_to.name",
    "assignment_group",
    "assignment_group.name",
    "priority",
    "close_code",
    "latest_comment",
)


UNKNOWN = "?"


def describe_changes(previous: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """One human line per meaningful difference between two snapshots."""
    lines: list[str] = []

    def changed(field: str) -> bool:
        return previous.get(field, "") != current.get(field, "")

    if changed("state"):
        lines.append(f"State: {_state(previous.get('state'))} → {_state(current.get('state'))}")
    if changed("assigned_to"):
        lines.append(f"Assigned to: {current.get('assigned_to.name') or 'nobody'}")
    if changed("assignment_group"):
        lines.append(f"Group: {current.get('assignment_group.name') or 'none'}")
    if changed("priority"):
        lines.append(
            f"Priority: {_priority(previous.get('priority'))} → {_priority(current.get('priority'))}"
        )
    if changed("close_code") and current.get("close_code"):
        lines.append(f"Resolution code: {current['close_code']}")
    if (
        changed("latest_comment")
        and current.get("latest_comment")
        and previous.get("latest_comment") != UNKNOWN
    ):
        lines.append("New comment")
    return lines


def _state(value: str | None) -> str:
    return IncidentState(int(value)).label if value and value.isdigit() else "—"


def _priority(value: str | None) -> str:
    return Priority(int(value)).label if value and value.isdigit() else "—"


class IncidentTracker:
    table = TABLE
    # On the very first start, remember every open incident, so their next change is news.
    initial_query: str | None = "active=true"
    baseline_initial = True

    def __init__(
        self,
        incidents: Incidents,
        identity: Identity,
        followers: Followers,
        settings: NotificationSettings,
        *,
        incident_channel: str | None = None,
    ) -> None:
        self._incidents = incidents
        self._identity = identity
        self._followers = followers
        self._settings = settings
        self._channel = incident_channel
        self.fields = Incident.FIELDS
        # One reconcile asks effects, render and snapshot about the same version: fetch its
        # newest comment once (reconciles of different records run side by side).
        self._comments: dict[tuple[str, str], blocks.Comment | None] = {}

    async def _latest(self, record: Mapping[str, str]) -> blocks.Comment | None:
        key = (record["sys_id"], record.get("sys_mod_count", ""))
        if key not in self._comments:
            if len(self._comments) > 10_000:  # reconciles that failed halfway leave entries
                self._comments.clear()
            # A record as inserted has no comment from the bot: opening an incident costs its
            # single Table API call.
            inserted = record.get("sys_mod_count") == "0"
            self._comments[key] = (
                None if inserted else await self._incidents.latest_comment(record["sys_id"])
            )
        return self._comments[key]

    def snapshot(self, record: Mapping[str, str]) -> dict[str, str]:
        """Called last in a reconcile: it also forgets the comment fetched for this version."""
        data = self._current(record)
        self._comments.pop((record["sys_id"], record.get("sys_mod_count", "")), None)
        return data

    def _current(self, record: Mapping[str, str]) -> dict[str, str]:
        key = (record["sys_id"], record.get("sys_mod_count", ""))
        data = {
            field: record.get(field, "") for field in SNAPSHOT_FIELDS if field != "latest_comment"
        }
        if key in self._comments:
            latest = self._comments[key]
            data["latest_comment"] = latest.id if latest else ""
        else:
            data["latest_comment"] = UNKNOWN  # a baseline: the journal was not read
        return data

    async def render(self, record: Mapping[str, str]) -> blocks.Card:
        incident = Incident.from_record(record)
        return self._incidents.card(incident, await self._latest(record))

    async def effects(
        self, record: Mapping[str, str], previous: Mapping[str, str] | None, actor: str | None
    ) -> list[Outgoing]:
        incident = Incident.from_record(record)
        url = self._incidents.url(incident.sys_id)
        await self._latest(record)
        if previous is None:
            if incident.sys_mod_count == 0 and self._channel:
                card = await self.render(record)
                return [Outgoing("post", self._channel, card, TABLE, incident.sys_id)]
            return []  # first sight of an older record: the baseline for the next change
        current = self._current(record)
        messages: dict[str, blocks.Card] = {}

        async def to(sys_user_id: str, email: str, name: str, card: blocks.Card) -> None:
            if not sys_user_id or sys_user_id == actor:
                return
            slack_user = await self._identity.slack_user(sys_user_id, email, name)
            if slack_user and slack_user not in messages:
                messages[slack_user] = card

        if previous.get("state") != current.get("state"):
            card = blocks.state_change_dm(incident, url, _state(previous.get("state")))
            await to(incident.caller_id, incident.caller_email, incident.caller_name, card)
        if previous.get("assigned_to") != current.get("assigned_to"):
            card = blocks.assigned_dm(incident, url)
            await to(
                incident.assigned_to, incident.assigned_to_email, incident.assigned_to_name, card
            )
        lines = describe_changes(previous, current)
        if lines:
            card = blocks.follower_dm(incident, url, lines)
            for slack_user, sys_user_id in await self._followers.of(TABLE, incident.sys_id):
                if sys_user_id != actor and slack_user not in messages:
                    messages[slack_user] = card
        muted = await self._settings.muted(list(messages))
        return [Outgoing("dm", user, card) for user, card in messages.items() if user not in muted]
