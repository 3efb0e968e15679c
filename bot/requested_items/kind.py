"""Requested items (`sc_req_item`, RITM…): what the bot reads of them and who hears of changes.

The person an item is for hears of every stage and state change (approved, fulfilment started,
delivered, closed incomplete — with the closing notes); followers hear of any change.
"""

from __future__ import annotations

from bot.permissions import Subject
from bot.records.kind import TASK_FIELDS, Kind, Party, Record, task_subject
from bot.requested_items import cards

TABLE = "sc_req_item"
FIELDS = (
    *TASK_FIELDS,
    "state",
    "stage",
    "approval",
    "due_date",
    "active",
    "cat_item",
    "cat_item.name",
    "requested_for",
    "requested_for.name",
    "requested_for.email",
    "opened_by",
    "request",
    "request.number",
    "assignment_group",
    "assignment_group.name",
    "assigned_to",
    "assigned_to.name",
    "watch_list",
    "close_notes",
)


def subject(record: Record) -> Subject:
    return task_subject(TABLE, record, "requested_for")


def audience(record: Record) -> tuple[Party, ...]:
    hears = frozenset({"stage", "state", "approval"})
    return (Party.named_by(record, "requested_for", hears, "you asked for"),)


KIND: Kind = Kind(
    table=TABLE,
    label="requested item",
    plural="requested items",
    prefix="RITM",
    example="RITM0010001",
    fields=FIELDS,
    choices=("state", "stage", "approval"),
    news=("stage", "state", "approval", "assigned_to", "due_date"),
    closed_states=("3", "4", "7"),
    card=lambda view: cards.card(KIND, view),
    subject=subject,
    audience=audience,
)
