"""Change requests (`change_request`, CHG…): what the bot reads of them, who hears of changes.

Its requester and its assignee hear of state and approval changes; followers of any change.
"""

from __future__ import annotations

from bot.changes import cards
from bot.permissions import Subject
from bot.records.ids import value
from bot.records.kind import TASK_FIELDS, Kind, Party, Record, task_subject

TABLE = "change_request"
APPROVAL_ACTION = "change_my_approval"
FIELDS = (
    *TASK_FIELDS,
    "type",
    "state",
    "risk",
    "impact",
    "approval",
    "start_date",
    "end_date",
    "active",
    "assignment_group",
    "assignment_group.name",
    "assigned_to",
    "assigned_to.name",
    "assigned_to.email",
    "requested_by",
    "requested_by.name",
    "requested_by.email",
    "opened_by",
    "cmdb_ci",
    "cmdb_ci.name",
    "watch_list",
    "close_notes",
)
HEARS = frozenset({"state", "approval"})


def subject(record: Record) -> Subject:
    return task_subject(TABLE, record, "requested_by")


def audience(record: Record) -> tuple[Party, ...]:
    return (
        Party.named_by(record, "requested_by", HEARS, "you requested"),
        Party.named_by(record, "assigned_to", HEARS, "assigned to you"),
    )


KIND: Kind = Kind(
    table=TABLE,
    label="change",
    plural="changes",
    prefix="CHG",
    example="CHG0000001",
    fields=FIELDS,
    choices=("type", "state", "risk", "impact", "approval"),
    news=("state", "approval", "assigned_to", "start_date", "end_date", "risk"),
    closed_states=("3", "4"),
    card=lambda view: cards.card(
        KIND, view, cards.approval_button(value(view.sys_id, TABLE), APPROVAL_ACTION)
    ),
    subject=subject,
    audience=audience,
)
