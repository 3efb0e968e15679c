"""What the bot knows of one record kind: its table, its number, what it reads and shows.

A `Kind` is a value (no I/O): the plumbing in `bot/records/` reads, tracks, posts and lists any
kind from it; `bot/records/registry.py: Kinds` (on `Services.kinds`) says which kinds there are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.permissions import Subject
from bot.slack.kit import Card
from servicenow.query import validate_number
from servicenow.records import parse_datetime

Record = Mapping[str, str]


@dataclass(frozen=True)
class Comment:
    """The newest customer-visible comment on a record."""

    text: str
    author: str
    created_on: datetime | None
    id: str = ""  # the journal entry's sys_id


@dataclass(frozen=True)
class View:
    """Everything a card of one version of a record shows: the record, its choice labels (from
    `sys_choice`), its URL, its newest comment and what the kind counted besides (`extra`)."""

    record: Record
    url: str
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    latest: Comment | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.record.get(name, "") or ""

    def label(self, name: str) -> str:
        """The field's display label as the instance words it (its value when it has none)."""
        value = self.get(name)
        return self.labels.get(name, {}).get(value, value)

    def moment(self, name: str) -> datetime | None:
        return parse_datetime(self.get(name) or None)

    @property
    def sys_id(self) -> str:
        return self.get("sys_id")

    @property
    def number(self) -> str:
        return self.get("number")

    @property
    def version(self) -> str:
        return self.get("sys_mod_count") or "0"


# What the shared plumbing reads of every kind (the feed, the cards' header and footer, channel
# subscriptions' "new record" test); each kind's `fields` starts with these.
TASK_FIELDS = (
    "sys_id",
    "number",
    "sys_mod_count",
    "sys_updated_on",
    "sys_created_on",
    "short_description",
)


def task_subject(table: str, record: Record, owner: str = "") -> Subject:
    """A task record as the permission table sees it; `owner` names the field saying whose it is
    (`requested_for`, `requested_by`: its "caller"), besides who opened it."""
    watchers = record.get("watch_list", "")
    return Subject(
        table,
        record.get("number", ""),
        caller=record.get(owner, "") if owner else "",
        caller_name=record.get(f"{owner}.name", "") if owner else "",
        opened_by=record.get("opened_by", ""),
        watch_list=frozenset(e.strip().lower() for e in watchers.split(",") if e.strip()),
        assigned_to=record.get("assigned_to", ""),
        assigned_to_name=record.get("assigned_to.name", ""),
        assignment_group=record.get("assignment_group", ""),
        assignment_group_name=record.get("assignment_group.name", ""),
    )


@dataclass(frozen=True)
class Party:
    """Someone a record names, who hears of the changes in `hears` (field names)."""

    sys_user_id: str
    email: str
    name: str
    hears: frozenset[str]
    role: str  # "the person it is for", "its requester"… (for the DM's wording)

    @classmethod
    def named_by(cls, record: Record, field: str, hears: frozenset[str], role: str) -> Party:
        """The user a reference `field` names, with the `.email` and `.name` read beside it."""
        return cls(
            record.get(field, ""),
            record.get(f"{field}.email", ""),
            record.get(f"{field}.name", ""),
            hears,
            role,
        )


@dataclass(frozen=True)
class Kind:
    """One record kind: everything else about it is built from this."""

    table: str  # "sc_req_item"
    label: str  # "requested item"
    prefix: str  # "RITM"
    fields: tuple[str, ...]  # sysparm_fields of every read (dot-walked names included)
    choices: tuple[str, ...]  # fields whose labels come from sys_choice
    news: tuple[str, ...]  # fields whose changes are news (followers hear of each)
    closed_states: tuple[str, ...]  # `state`s after which it is done with
    card: Callable[[View], Card]  # the live card (pure)
    subject: Callable[[Record], Subject]  # the record as the permission rules see it
    audience: Callable[[Record], tuple[Party, ...]] = lambda _: ()  # who hears, besides followers
    # The compact card a link to it unfurls into (pure; None: bot/records/cards.py's preview).
    preview: Callable[[View], Card] | None = None
    example: str = ""  # a number for help texts
    plural: str = ""

    @property
    def number(self) -> re.Pattern[str]:
        return re.compile(rf"^{self.prefix}\d{{7}}$", re.IGNORECASE)

    def validate(self, number: str) -> str:
        """The number, upper-cased, or UnsafeQueryValue: never anything else reaches a query."""
        return validate_number(number, self.prefix)

    def closed(self, record: Record) -> bool:
        return record.get("state", "") in self.closed_states
