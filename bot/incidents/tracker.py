"""What an incident change means in Slack: the live card, and who hears about it by DM.

- the caller, on every state change (Resolved: with the resolution and a Reopen button);
- the new assignee, on assignment;
- everyone who pressed Follow, on any change of state, assignee, group, priority, resolution or a
  new public comment;
- never the person who made the change, nor anyone who said `/incident notify off`;
- channels hear through their subscriptions (bot/subscriptions; INCIDENT_CHANNEL is one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.feed.changes import Observation, Outgoing
from bot.identity import Identity
from bot.incidents.cards import Comment, assigned_dm, follower_dm, state_change_dm
from bot.incidents.service import TABLE, Incidents
from bot.slack.kit import Card
from bot.threads.relay import ThreadRelay, comment_marks, new_comments
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
    "sys_updated_on",
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
    # Done with: housekeeping forgets its cards and snapshot some days after (RETENTION_*).
    closed_states: tuple[str, ...] = (
        str(int(IncidentState.CLOSED)),
        str(int(IncidentState.CANCELED)),
    )

    def __init__(
        self,
        incidents: Incidents,
        identity: Identity,
        followers: Followers,
        settings: NotificationSettings,
        *,
        extra_fields: tuple[str, ...] = (),
        relay: ThreadRelay | None = None,
    ) -> None:
        self._relay = relay
        self._incidents = incidents
        self._identity = identity
        self._followers = followers
        self._settings = settings
        # What it reads: the incident's fields, and what channel subscriptions filter on.
        self.fields = Incident.FIELDS + tuple(f for f in extra_fields if f not in Incident.FIELDS)

    async def observe(
        self,
        record: Mapping[str, str],
        previous: Mapping[str, str] | None,
        actor: str | None,
        *,
        baseline: bool = False,
    ) -> Observation:
        if baseline:
            return Observation(snapshot(record, None, read=False))
        # A record as inserted has no comment from the bot yet: opening an incident costs its
        # single Table API call.
        inserted = record.get("sys_mod_count") == "0"
        recent = [] if inserted else await self._incidents.recent_comments(record["sys_id"])
        latest = recent[0] if recent else None
        incident = Incident.from_record(record)
        card = self._incidents.card(incident, latest)
        current = snapshot(record, latest, read=True) | comment_marks(recent)
        effects = await self._effects(incident, card, previous, current, actor)
        if self._relay is not None and previous is not None:
            effects += await self._relay.replies(
                TABLE,
                incident.sys_id,
                incident.number,
                self._incidents.url(incident.sys_id),
                new_comments(recent, previous),
            )
        return Observation(current, card, tuple(effects))

    async def _effects(
        self,
        incident: Incident,
        card: Card,
        previous: Mapping[str, str] | None,
        current: Mapping[str, str],
        actor: str | None,
    ) -> list[Outgoing]:
        if previous is None:
            return []  # a new record, or first sight of an older one: the baseline
        messages = await self._messages(incident, previous, current, actor, resolved=False)
        muted = await self._settings.muted(list(messages))
        # Each DM folds with the others of its burst; the memo says where the burst started.
        memo = {"since": dict(previous), "resolved": _resolved(current)}
        return [
            Outgoing("dm", user, dm, fold=memo)
            for user, dm in messages.items()
            if user not in muted
        ]

    async def refold(
        self,
        record: Mapping[str, str],
        memo: Mapping[str, Any],
        current: Mapping[str, str],
        actor: str | None,
        target: str,
    ) -> tuple[Card | None, dict[str, Any]]:
        """One DM for a burst: from the state before it to this version. A resolution within the
        burst is never folded away (Resolved → Closed still shows it, with Reopen)."""
        since: dict[str, str] = dict(memo.get("since") or {})
        resolved = bool(memo.get("resolved")) or _resolved(current)
        incident = Incident.from_record(record)
        messages = await self._messages(incident, since, current, actor, resolved=resolved)
        return messages.get(target), {"since": since, "resolved": resolved}

    async def _messages(
        self,
        incident: Incident,
        previous: Mapping[str, str],
        current: Mapping[str, str],
        actor: str | None,
        *,
        resolved: bool,
    ) -> dict[str, Card]:
        """Who hears of the change from `previous` to `current`, and what (one DM each)."""
        url = self._incidents.url(incident.sys_id)
        messages: dict[str, Card] = {}

        async def to(sys_user_id: str, email: str, name: str, dm: Card) -> None:
            if not sys_user_id or sys_user_id == actor:
                return
            slack_user = await self._identity.slack_user(sys_user_id, email, name)
            if slack_user and slack_user not in messages:
                messages[slack_user] = dm

        if previous.get("state") != current.get("state"):
            dm = state_change_dm(
                incident,
                url,
                _state(previous.get("state")),
                # Closed without the caller having heard of the resolution (folded, or the
                # versions in between never seen): the resolution still goes with it.
                resolved_meanwhile=previous.get("state") not in (_RESOLVED, _CLOSED)
                and (resolved or current.get("state") == _CLOSED),
            )
            await to(incident.caller_id, incident.caller_email, incident.caller_name, dm)
        if previous.get("assigned_to") != current.get("assigned_to"):
            dm = assigned_dm(incident, url)
            await to(
                incident.assigned_to, incident.assigned_to_email, incident.assigned_to_name, dm
            )
        lines = describe_changes(previous, current)
        if lines:
            dm = follower_dm(incident, url, lines)
            for slack_user, sys_user_id in await self._followers.of(TABLE, incident.sys_id):
                if sys_user_id != actor and slack_user not in messages:
                    messages[slack_user] = dm
        return messages


_RESOLVED = str(int(IncidentState.RESOLVED))
_CLOSED = str(int(IncidentState.CLOSED))


def _resolved(current: Mapping[str, str]) -> bool:
    return current.get("state") == _RESOLVED


def snapshot(record: Mapping[str, str], latest: Comment | None, *, read: bool) -> dict[str, str]:
    """What is remembered of a version; `read` says whether its newest comment was read."""
    data = {field: record.get(field, "") for field in SNAPSHOT_FIELDS if field != "latest_comment"}
    data["latest_comment"] = (latest.id if latest else "") if read else UNKNOWN
    return data
