"""What a subscription is and what it decides, as pure functions of records and snapshots.

A record kind offers itself for subscriptions with a `Subscribable`: its table, its label, the
fields a channel can filter on (each with where its choices come from in the instance) and the
snapshot fields its events are read from. `decide` is the whole rule: given a channel's
subscriptions, one change (the previous and current snapshot, the record as the feed read it)
and the channel's card of the record if there is one, it says whether to post a card, mark it,
or add a line to its thread. No I/O: the feed evaluates it on the record it already read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from storage.subscriptions import ChannelCardState, StoredSubscription

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # ServiceNow's UTC dates


class Event(StrEnum):
    CREATED = "created"
    STATE = "state"
    PRIORITY = "priority"
    ASSIGNED = "assigned"
    COMMENTED = "commented"
    DONE = "done"

    @property
    def label(self) -> str:
        return EVENT_LABELS[self]


EVENT_LABELS: dict[Event, str] = {
    Event.CREATED: "Created",
    Event.STATE: "State changed",
    Event.PRIORITY: "Priority changed",
    Event.ASSIGNED: "Assigned or reassigned",
    Event.COMMENTED: "Commented",
    Event.DONE: "Resolved or closed",
}


@dataclass(frozen=True)
class Choices:
    """A filter's options from the instance's `sys_choice` list of `table`.`element`."""

    table: str
    element: str


@dataclass(frozen=True)
class Rows:
    """A filter's options from the rows of a table (`value` is their sys_id)."""

    table: str
    label_field: str = "name"


@dataclass(frozen=True)
class FilterField:
    field: str  # the field of the record the feed reads (a dot-walk is fine)
    label: str
    source: Choices | Rows


@dataclass(frozen=True)
class Flag:
    """A yes/no filter ("only major incidents"): the record's `field` is one of `values`. With
    `present_if`, offered only where the instance has that choice list (a plugin's field)."""

    key: str
    label: str
    field: str
    values: tuple[str, ...]
    present_if: Choices | None = None


@dataclass(frozen=True)
class Subscribable:
    """A record kind channels can subscribe to (one per table); see the module docstring."""

    table: str
    label: str  # plural, for people: "Incidents"
    filters: tuple[FilterField, ...]
    flags: tuple[Flag, ...] = ()
    # Snapshot fields (what its tracker remembers) the events are read from.
    state_field: str = "state"
    priority_field: str | None = "priority"
    assignee_fields: tuple[str, ...] = ("assigned_to", "assignment_group")
    comment_field: str | None = "latest_comment"
    done_states: tuple[str, ...] = ()
    # The filter that limits records to groups (who may read them without a read role).
    group_field: str | None = "assignment_group"
    unknown: str = "?"  # a snapshot value that says "not read" (no event from it)

    @property
    def events(self) -> tuple[Event, ...]:
        found = [Event.CREATED, Event.STATE]
        if self.priority_field:
            found.append(Event.PRIORITY)
        if self.assignee_fields:
            found.append(Event.ASSIGNED)
        if self.comment_field:
            found.append(Event.COMMENTED)
        if self.done_states:
            found.append(Event.DONE)
        return tuple(found)

    @property
    def fields(self) -> tuple[str, ...]:
        """The record fields its filters and events read (the tracker must read them)."""
        return (
            tuple(f.field for f in self.filters)
            + tuple(f.field for f in self.flags)
            + ("sys_mod_count", "sys_created_on", "sys_updated_on")
        )


NEW_FOR = timedelta(minutes=10)  # first seen this soon after its creation: a new record


def is_new(record: Mapping[str, str]) -> bool:
    """A record first seen as inserted, or changed only within minutes of its creation (the
    poller may see a new record after its first few updates); not an old record seen late."""
    if str(record.get("sys_mod_count", "")) == "0":
        return True
    try:
        created = datetime.strptime(str(record.get("sys_created_on", "")), DATE_FORMAT)
        updated = datetime.strptime(str(record.get("sys_updated_on", "")), DATE_FORMAT)
    except ValueError:
        return False
    return updated - created <= NEW_FOR


def events(
    kind: Subscribable,
    previous: Mapping[str, str] | None,
    current: Mapping[str, str],
    record: Mapping[str, str] | None = None,
) -> set[Event]:
    """What happened between two snapshots (previous None: first sight; a new record is
    `created`, an older one seen for the first time is no event)."""
    if previous is None:
        return {Event.CREATED} if record is None or is_new(record) else set()

    def changed(name: str | None) -> bool:
        if not name:
            return False
        before, now = previous.get(name, ""), current.get(name, "")
        return before != now and kind.unknown not in (before, now)

    found: set[Event] = set()
    if changed(kind.state_field):
        found.add(Event.STATE)
        if current.get(kind.state_field, "") in kind.done_states:
            found.add(Event.DONE)
    if changed(kind.priority_field):
        found.add(Event.PRIORITY)
    if any(changed(name) for name in kind.assignee_fields):
        found.add(Event.ASSIGNED)
    if changed(kind.comment_field) and current.get(kind.comment_field or ""):
        found.add(Event.COMMENTED)
    return found


def matches(kind: Subscribable, rule: StoredSubscription, record: Mapping[str, str]) -> bool:
    """Whether the record passes every filter the rule sets (an empty filter lets all through)."""
    for name, wanted in rule.filters.items():
        if not wanted:
            continue
        flag = next((f for f in kind.flags if f.key == name), None)
        if flag is not None:
            if "yes" in wanted and _value(record, flag.field) not in flag.values:
                return False
            continue
        if _value(record, name) not in wanted:
            return False
    return True


def _value(record: Mapping[str, str], field: str) -> str:
    value = record.get(field, "")
    if isinstance(value, Mapping):  # a reference fetched with its link
        return str(value.get("value", ""))
    return str(value)


@dataclass(frozen=True)
class Decision:
    """What one change means for one channel's card of the record."""

    channel: str
    rule: StoredSubscription  # the subscription the card is kept for (the first that matches)
    post: bool  # post the card (the channel has none yet)
    matching: bool  # the record matches one of the channel's subscriptions now
    restyle: bool  # the card's footer changes (it stopped, or started again, matching)
    history: tuple[Event, ...]  # lines to add to the card's thread


def decide(
    kind: Subscribable,
    rules: Sequence[StoredSubscription],
    previous: Mapping[str, str] | None,
    current: Mapping[str, str],
    record: Mapping[str, str],
    cards: Mapping[str, ChannelCardState],
) -> list[Decision]:
    """For each channel with subscriptions on this table: what this change does to its card."""
    happened = events(kind, previous, current, record)
    by_channel: dict[str, list[StoredSubscription]] = {}
    for rule in rules:
        if rule.table == kind.table:
            by_channel.setdefault(rule.channel, []).append(rule)
    decisions: list[Decision] = []
    for channel, channel_rules in by_channel.items():
        matching = [rule for rule in channel_rules if matches(kind, rule, record)]
        card = cards.get(channel)
        if card is None:
            fired = [rule for rule in matching if happened & set(rule.events)]
            if fired:
                decisions.append(Decision(channel, fired[0], True, True, False, ()))
            continue
        keeper = next(
            (rule for rule in matching if rule.id == card.subscription_id),
            matching[0] if matching else None,
        )
        if keeper is None:
            # No longer matches: the card says so (once), and stays.
            if card.matching:
                owner = next((r for r in channel_rules if r.id == card.subscription_id), None)
                decisions.append(
                    Decision(channel, owner or channel_rules[0], False, False, True, ())
                )
            continue
        wanted = tuple(e for e in kind.events if e in happened and e in keeper.events)
        restyle = not card.matching or keeper.id != card.subscription_id
        lines = wanted if keeper.history else ()
        if restyle or lines:
            decisions.append(Decision(channel, keeper, False, True, restyle, lines))
    return decisions
