"""The change request's card and list line: pure functions of a `View`."""

from __future__ import annotations

from bot.records.cards import field, live_card
from bot.records.kind import Kind, View
from bot.slack.kit import Block, Card, button, clip, escape, when


def window(view: View) -> str:
    start, end = view.moment("start_date"), view.moment("end_date")
    if not start and not end:
        return "no window yet"
    return f"{when(start) if start else '?'} → {when(end) if end else '?'}"


def card(kind: Kind, view: View, approval_button: Block | None) -> Card:
    fields = [
        field("Type", view.label("type")),
        field("State", view.label("state")),
        field("Risk / impact", f"{view.label('risk') or '—'} / {view.label('impact') or '—'}"),
        field("Approval", view.label("approval")),
        field("Planned start", when(view.moment("start_date")) if view.get("start_date") else ""),
        field("Planned end", when(view.moment("end_date")) if view.get("end_date") else ""),
        field("Group", view.get("assignment_group.name")),
        field("Assigned to", view.get("assigned_to.name") or "Unassigned"),
        field("Requested by", view.get("requested_by.name")),
        field("Configuration item", view.get("cmdb_ci.name")),
    ]
    # While approvals are asked for, an approver can reach theirs from the card.
    extra = [approval_button] if approval_button and view.get("approval") == "requested" else []
    return live_card(kind, view, fields, extra_buttons=extra)


def approval_button(sys_id_value: str, action_id: str) -> Block:
    return button("My approval", action_id, sys_id_value)


def summary(view: View) -> str:
    return (
        f"{escape(clip(view.get('short_description'), 150))}\n"
        f"{escape(view.label('type'))} · {escape(view.label('state'))} · "
        f"approval {escape(view.label('approval')).lower() or '—'} · {window(view)}"
    )
