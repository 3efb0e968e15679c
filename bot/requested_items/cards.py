"""The requested item's card and list line: pure functions of a `View`."""

from __future__ import annotations

from bot.records.cards import field, live_card
from bot.records.kind import Kind, View
from bot.slack.kit import Card, clip, escape, when


def card(kind: Kind, view: View) -> Card:
    due = view.moment("due_date")
    assignee = view.get("assigned_to.name") or "Unassigned"
    fields = [
        field("Catalog item", view.get("cat_item.name")),
        field("Requested for", view.get("requested_for.name")),
        field("Stage", view.label("stage")),
        field("State", view.label("state")),
        field("Approval", view.label("approval")),
        field("Due", when(due) if due else ""),
        field("Group", view.get("assignment_group.name")),
        field("Assigned to", assignee),
        field("Request", view.get("request.number")),
    ]
    notes = [("Closing notes", view.get("close_notes"))] if view.get("close_notes") else []
    return live_card(kind, view, fields, notes=notes)


def summary(view: View) -> str:
    due = view.moment("due_date")
    return (
        f"{escape(clip(view.get('short_description'), 150))}\n"
        f"{escape(view.label('stage'))} · {escape(view.label('state'))} · "
        f"{escape(view.get('cat_item.name')) or '—'} · due {when(due) if due else '—'}"
    )
