"""Typed views of the raw records the Table API returns.

Raw values are strings (``"4"``, ``"true"``, ``""``); dates are UTC ``YYYY-MM-DD HH:MM:SS``. Each model
has ``FIELDS``, the ``sysparm_fields`` to ask for (dot-walks included), and ``from_record(raw)``.
Reference or display-value objects (``{"value": ..., "display_value": ...}``) are read by their value,
so records fetched with other parameters parse too.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from servicenow.query import Query

if TYPE_CHECKING:
    from servicenow.client import ServiceNowClient

__all__ = [
    "Approval",
    "ApprovalState",
    "Choice",
    "ChoiceCache",
    "Group",
    "Incident",
    "IncidentState",
    "Priority",
    "User",
    "load_choices",
    "parse_datetime",
]

_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


_STORED_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


def parse_datetime(text: str | None) -> datetime | None:
    """A ServiceNow stored date-time (UTC ``YYYY-MM-DD HH:MM:SS``) as an aware datetime; "" is None."""
    if text is None or not (text := text.strip()):
        return None
    if _STORED_DATETIME.fullmatch(text):
        # What ServiceNow sends: fromisoformat reads it in a fraction of strptime's time (#15);
        # strptime still reads the rest (single-digit fields) and says why a value is wrong.
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
    return datetime.strptime(text, _DATETIME_FORMAT).replace(tzinfo=UTC)


class IncidentState(IntEnum):
    NEW = 1
    IN_PROGRESS = 2
    ON_HOLD = 3
    RESOLVED = 6
    CLOSED = 7
    CANCELED = 8

    @property
    def label(self) -> str:
        return _STATE_LABELS.get(self.value, f"State {self.value}")

    @property
    def is_open(self) -> bool:
        return self.value not in (6, 7, 8)

    @classmethod
    def _missing_(cls, value: object) -> IncidentState | None:
        # Instances add their own states; keep them as pseudo-members instead of failing.
        if isinstance(value, int) and not isinstance(value, bool):
            member = int.__new__(cls, value)
            member._name_ = f"STATE_{value}"
            member._value_ = value
            return member
        return None


_STATE_LABELS = {
    1: "New",
    2: "In Progress",
    3: "On Hold",
    6: "Resolved",
    7: "Closed",
    8: "Canceled",
}


class Priority(IntEnum):
    CRITICAL = 1
    HIGH = 2
    MODERATE = 3
    LOW = 4
    PLANNING = 5

    @property
    def label(self) -> str:
        return _PRIORITY_LABELS.get(self.value, f"Priority {self.value}")

    @classmethod
    def _missing_(cls, value: object) -> Priority | None:
        if isinstance(value, int) and not isinstance(value, bool):
            member = int.__new__(cls, value)
            member._name_ = f"PRIORITY_{value}"
            member._value_ = value
            return member
        return None


_PRIORITY_LABELS = {1: "Critical", 2: "High", 3: "Moderate", 4: "Low", 5: "Planning"}


class ApprovalState(StrEnum):
    NOT_REQUESTED = "not requested"
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    NOT_REQUIRED = "not_required"
    SKIPPED = "skipped"

    @property
    def label(self) -> str:
        return _APPROVAL_LABELS.get(self.value, self.value.replace("_", " ").capitalize())

    @classmethod
    def _missing_(cls, value: object) -> ApprovalState | None:
        if isinstance(value, str) and value:
            member = str.__new__(cls, value)
            member._name_ = value.upper().replace(" ", "_")
            member._value_ = value
            return member
        return None


_APPROVAL_LABELS = {
    "not requested": "Not Yet Requested",
    "requested": "Requested",
    "approved": "Approved",
    "rejected": "Rejected",
    "cancelled": "Cancelled",
    "not_required": "No Longer Required",
    "skipped": "Skipped",
}


# -- value converters ---------------------------------------------------------------------------


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _int(value: object) -> int:
    text = _text(value).strip()
    return int(text) if text else 0


def _opt_int(value: object) -> int | None:
    text = _text(value).strip()
    return int(text) if text else None


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0", ""):
        return False
    raise ValueError(f"{value!r} is not a boolean")


def _datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return parse_datetime(_text(value))


def _required_datetime(value: object) -> datetime:
    parsed = _datetime(value)
    if parsed is None:
        raise ValueError("a date-time is required")
    return parsed


def _incident_state(value: object) -> IncidentState:
    return value if isinstance(value, IncidentState) else IncidentState(int(_text(value)))


def _priority(value: object) -> Priority:
    return value if isinstance(value, Priority) else Priority(int(_text(value)))


def _approval_state(value: object) -> ApprovalState:
    return value if isinstance(value, ApprovalState) else ApprovalState(_text(value))


Text = Annotated[str, BeforeValidator(_text)]
Int = Annotated[int, BeforeValidator(_int)]
OptInt = Annotated[int | None, BeforeValidator(_opt_int)]
Bool = Annotated[bool, BeforeValidator(_bool)]
OptDateTime = Annotated[datetime | None, BeforeValidator(_datetime)]
DateTime = Annotated[datetime, BeforeValidator(_required_datetime)]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    FIELDS: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        flat: dict[str, object] = {}
        for key, value in data.items():
            # A string first: most values are, and a Mapping check (an ABC's) costs ~1 us a
            # field, 28 a record, twice per incident created (#15).
            if not isinstance(value, str) and isinstance(value, Mapping):
                value = value.get("value", value.get("display_value", ""))
            flat[str(key)] = value
        return flat

    @classmethod
    def from_record(cls, raw: Mapping[str, object]) -> Self:
        return cls.model_validate(raw)


class Incident(_Record):
    sys_id: str
    number: Text
    short_description: Text = ""
    description: Text = ""
    state: Annotated[IncidentState, BeforeValidator(_incident_state)]
    impact: OptInt = None
    urgency: OptInt = None
    priority: Annotated[Priority, BeforeValidator(_priority)]
    caller_id: Text = ""
    caller_name: Text = Field(default="", alias="caller_id.name")
    caller_email: Text = Field(default="", alias="caller_id.email")
    assigned_to: Text = ""
    assigned_to_name: Text = Field(default="", alias="assigned_to.name")
    assigned_to_email: Text = Field(default="", alias="assigned_to.email")
    assignment_group: Text = ""
    assignment_group_name: Text = Field(default="", alias="assignment_group.name")
    category: Text = ""
    close_code: Text = ""
    close_notes: Text = ""
    hold_reason: Text = ""
    sys_mod_count: Int = 0
    sys_updated_on: DateTime
    sys_updated_by: Text = ""
    opened_at: OptDateTime = None
    opened_by: Text = ""
    watch_list: Text = ""  # comma-separated sys_ids (or e-mails of people with no account)
    active: Bool = True

    FIELDS: ClassVar[tuple[str, ...]] = (
        "sys_id",
        "number",
        "short_description",
        "description",
        "state",
        "impact",
        "urgency",
        "priority",
        "caller_id",
        "caller_id.name",
        "caller_id.email",
        "assigned_to",
        "assigned_to.name",
        "assigned_to.email",
        "assignment_group",
        "assignment_group.name",
        "category",
        "close_code",
        "close_notes",
        "hold_reason",
        "sys_mod_count",
        "sys_updated_on",
        "sys_updated_by",
        "opened_at",
        "opened_by",
        "watch_list",
        "active",
    )


class User(_Record):
    sys_id: str
    user_name: Text = ""
    name: Text = ""
    email: Text = ""
    active: Bool = True

    FIELDS: ClassVar[tuple[str, ...]] = ("sys_id", "user_name", "name", "email", "active")


class Group(_Record):
    sys_id: str
    name: Text = ""

    FIELDS: ClassVar[tuple[str, ...]] = ("sys_id", "name")


class Approval(_Record):
    sys_id: str
    state: Annotated[ApprovalState, BeforeValidator(_approval_state)]
    approver: Text = ""
    approver_name: Text = Field(default="", alias="approver.name")
    document_id: Text = ""
    source_table: Text = ""
    sysapproval: Text = ""
    parent_number: Text = Field(default="", alias="sysapproval.number")
    parent_short_description: Text = Field(default="", alias="sysapproval.short_description")
    due_date: OptDateTime = None
    sys_mod_count: Int = 0
    sys_updated_on: OptDateTime = None

    FIELDS: ClassVar[tuple[str, ...]] = (
        "sys_id",
        "state",
        "approver",
        "approver.name",
        "document_id",
        "source_table",
        "sysapproval",
        "sysapproval.number",
        "sysapproval.short_description",
        "due_date",
        "sys_mod_count",
        "sys_updated_on",
    )

    @property
    def is_pending(self) -> bool:
        return self.state is ApprovalState.REQUESTED


# -- choice lists -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str


async def load_choices(client: ServiceNowClient, table: str, element: str) -> list[Choice]:
    """The active choices of ``table.element`` from sys_choice, in their display order.

    sys_choice holds one row per language; the first row of each value wins.
    """
    query = (
        Query()
        .eq("name", table)
        .eq("element", element)
        .eq("inactive", "false")
        .order_by("sequence")
        .order_by("sys_id")
    )
    choices: list[Choice] = []
    seen: set[str] = set()
    async for row in client.iterate(
        "sys_choice", query, fields=("value", "label", "sequence"), page_size=500
    ):
        value = row.get("value", "")
        if value in seen:
            continue
        seen.add(value)
        choices.append(Choice(value=value, label=row.get("label", "") or value))
    return choices


class ChoiceCache:
    """Choice lists kept for ``ttl`` seconds per (table, element); one load at a time per key."""

    def __init__(
        self,
        client: ServiceNowClient,
        *,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, list[Choice]]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def get(self, table: str, element: str) -> list[Choice]:
        key = (table, element)
        cached = self._fresh(key)
        if cached is not None:
            return list(cached)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._fresh(key)
            if cached is not None:
                return list(cached)
            choices = await load_choices(self._client, table, element)
            self._entries[key] = (self._clock() + self.ttl, choices)
            return list(choices)

    def _fresh(self, key: tuple[str, str]) -> list[Choice] | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def invalidate(self, table: str | None = None, element: str | None = None) -> None:
        """Forget cached lists (all of them, or one table's, or one element's)."""
        for key in list(self._entries):
            if (table is None or key[0] == table) and (element is None or key[1] == element):
                del self._entries[key]
