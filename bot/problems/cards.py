"""The problem's card: pure function of a `View`."""

from __future__ import annotations

from bot.records.cards import field, live_card
from bot.records.kind import Kind, View
from bot.slack.kit import Card

LINKED = "linked_incidents"  # View.extra: how many incidents name the problem


def card(kind: Kind, view: View) -> Card:
    known = view.get("known_error") == "true"
    fields = [
        field("State", view.label("state")),
        field("Known error", "Yes" if known else "No"),
        field("Group", view.get("assignment_group.name")),
        field("Assigned to", view.get("assigned_to.name") or "Unassigned"),
        field("Linked incidents", view.extra.get(LINKED, "")),
        field("Priority", view.label("priority")),
    ]
    notes = [("Workaround", view.get("workaround")), ("Cause", view.get("cause_notes"))]
    return live_card(kind, view, fields, notes=notes)
