"""Problems (`problem`, PRB…): what the bot reads of them, and who hears of changes.

Its assignee hears of state changes; followers of any change (a new workaround or cause too).
"""

from __future__ import annotations

from bot.permissions import Subject
from bot.problems import cards
from bot.records.kind import TASK_FIELDS, Kind, Party, Record, task_subject
from servicenow.client import ServiceNowClient
from servicenow.query import Query, validate_sys_id

TABLE = "problem"
FIELDS = (
    *TASK_FIELDS,
    "state",
    "priority",
    "known_error",
    "workaround",
    "cause_notes",
    "active",
    "assignment_group",
    "assignment_group.name",
    "assigned_to",
    "assigned_to.name",
    "assigned_to.email",
    "opened_by",
    "watch_list",
    "close_notes",
)


def subject(record: Record) -> Subject:
    return task_subject(TABLE, record)


def audience(record: Record) -> tuple[Party, ...]:
    return (Party.named_by(record, "assigned_to", frozenset({"state"}), "assigned to you"),)


async def linked_incidents(servicenow: ServiceNowClient, record: Record) -> dict[str, str]:
    """How many incidents name the problem (one call: X-Total-Count of a one-row page)."""
    page = await servicenow.list(
        "incident",
        Query().eq("problem_id", validate_sys_id(record.get("sys_id", ""))),
        fields=("sys_id",),
        limit=1,
    )
    total = page.total if page.total is not None else len(page.records)
    return {cards.LINKED: str(total)}


KIND: Kind = Kind(
    table=TABLE,
    label="problem",
    plural="problems",
    prefix="PRB",
    example="PRB0000001",
    fields=FIELDS,
    choices=("state", "priority"),
    news=("state", "known_error", "assigned_to", "workaround", "cause_notes"),
    closed_states=("107",),
    card=lambda view: cards.card(KIND, view),
    subject=subject,
    audience=audience,
)
