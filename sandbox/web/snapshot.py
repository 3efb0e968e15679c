"""What one person sees, as JSON for the page: their Slack (channels, DM, modal, Home) and ServiceNow.

Pure functions of the stand-in's and the emulator's state: no I/O, nothing changed.
"""

from __future__ import annotations

from typing import Any

from sandbox.servicenow import Emulator
from sandbox.slack import Ephemeral, Message, SlackStandIn, SlackUser, View

JSON = dict[str, Any]
JOURNAL_SHOWN = 5


# ---- Slack ----------------------------------------------------------------------------------


def slack_state(slack: SlackStandIn, emulator: Emulator, user_id: str) -> JSON:
    """The workspace as `user_id` sees it: public channels, their DM with the bot, their views."""
    me = slack.user(user_id)
    dm = slack.dm_channel(me.id)  # the id only: opening it would change the workspace
    channels = [c for c in slack.channels.values() if not c.is_im]
    conversations: dict[str, list[JSON]] = {}
    for channel_id in [*(c.id for c in channels), dm]:
        items = [message_item(slack, m) for m in slack.messages.get(channel_id, [])]
        latest: dict[str, Ephemeral] = {}
        for ephemeral in slack.ephemerals_for(me.id):
            if ephemeral.channel == channel_id:
                latest[ephemeral.ts] = ephemeral  # replace_original keeps the ts: last one wins
        items += [ephemeral_item(e) for e in latest.values()]
        conversations[channel_id] = sorted(items, key=lambda item: float(item["ts"] or 0))
    stack = slack.view_stack(me.id)
    home = slack.home_view(me.id)
    return {
        "me": me.id,
        "bot": {"id": slack.bot.id, "name": slack.bot.real_name},
        # the app's message shortcuts: each message's "More actions" menu lists them
        "message_shortcuts": [
            {"callback_id": callback_id, "name": name}
            for callback_id, name in (slack.app.message_shortcuts if slack.app else {}).items()
        ],
        "users": [user_item(user, emulator) for user in slack.users.values() if not user.is_bot],
        "channels": [{"id": c.id, "name": c.name, "kind": "channel"} for c in channels]
        + [{"id": dm, "name": slack.bot.name, "kind": "dm"}],
        "conversations": conversations,
        "modal": view_item(stack[-1], depth=len(stack)) if stack else None,
        "home": view_item(home) if home is not None else None,
    }


def user_item(user: SlackUser, emulator: Emulator) -> JSON:
    account = servicenow_account(emulator, user.email)
    return {
        "id": user.id,
        "name": user.name,
        "real_name": user.real_name,
        "email": user.email,
        "servicenow_user": account["user_name"] if account else None,
        "servicenow_active": bool(account and account["active"] == "true"),
    }


def servicenow_account(emulator: Emulator, email: str | None) -> dict[str, str] | None:
    """The sys_user with this e-mail (case-insensitive), as the bot's identity lookup finds it."""
    if not email:
        return None
    for record in emulator.rows("sys_user"):
        if record["email"].casefold() == email.casefold():
            return record
    return None


def message_item(slack: SlackStandIn, message: Message) -> JSON:
    author = slack.users.get(message.user)
    return {
        "kind": "message",
        "channel": message.channel,
        "ts": message.ts,
        "thread_ts": message.thread_ts,
        "user": message.user,
        "author": author.real_name if author else message.user,
        "is_bot": bool(author and author.is_bot),
        "text": message.text,
        "blocks": message.blocks,
        "attachments": message.attachments,
        "unfurls": message.unfurls,
        "edited": message.edited,
    }


def ephemeral_item(ephemeral: Ephemeral) -> JSON:
    return {
        "kind": "ephemeral",
        "channel": ephemeral.channel,
        "ts": ephemeral.ts,
        "source": ephemeral.source,
        "text": ephemeral.text,
        "blocks": ephemeral.blocks,
    }


def view_item(view: View, depth: int = 1) -> JSON:
    spec = view.view
    return {
        "id": view.id,
        "type": view.type,
        "hash": view.hash,
        "depth": depth,
        "callback_id": spec.get("callback_id", ""),
        "title": spec.get("title"),
        "submit": spec.get("submit"),
        "close": spec.get("close"),
        "blocks": spec.get("blocks", []),
        "errors": view.errors or {},
    }


# ---- ServiceNow -----------------------------------------------------------------------------


def servicenow_state(emulator: Emulator) -> JSON:
    """Incidents (newest first) and approvals with display values, and the choices the forms need."""
    users = {u["sys_id"]: u for u in emulator.rows("sys_user")}
    groups = {g["sys_id"]: g for g in emulator.rows("sys_user_group")}

    def name_of(sys_id: str) -> str:
        found = users.get(sys_id) or groups.get(sys_id)
        return found["name"] if found else ""

    labels = {
        key: dict(values) for key, values in choices(emulator, "incident", "state", "hold_reason")
    }
    approval_labels = dict(choices(emulator, "sysapproval_approver", "state")[0][1])
    incidents = sorted(emulator.rows("incident"), key=lambda r: r["number"], reverse=True)
    approvals = emulator.rows("sysapproval_approver")
    return {
        "url": emulator.instance_url,
        "users": [
            {
                "sys_id": u["sys_id"],
                "user_name": u["user_name"],
                "name": u["name"],
                "email": u["email"],
                "active": u["active"] == "true",
            }
            for u in users.values()
        ],
        "groups": [{"sys_id": g["sys_id"], "name": g["name"]} for g in groups.values()],
        "choices": {
            element: [{"value": v, "label": label} for v, label in values]
            for element, values in choices(
                emulator, "incident", "state", "close_code", "hold_reason"
            )
        },
        "incidents": [
            {
                "sys_id": r["sys_id"],
                "number": r["number"],
                "short_description": r["short_description"],
                "state": r["state"],
                "state_label": labels["state"].get(r["state"], r["state"]),
                "priority": r["priority"],
                "caller": name_of(r["caller_id"]),
                "assigned_to": r["assigned_to"],
                "assigned_to_name": name_of(r["assigned_to"]),
                "assignment_group": r["assignment_group"],
                "group_name": name_of(r["assignment_group"]),
                "hold_reason": r["hold_reason"],
                "hold_reason_label": labels["hold_reason"].get(r["hold_reason"], r["hold_reason"]),
                "close_code": r["close_code"],
                "close_notes": r["close_notes"],
                "updated_on": r["sys_updated_on"],
                "updated_by": r["sys_updated_by"],
                "journal": journal(emulator, r["sys_id"]),
            }
            for r in incidents
        ],
        "approvals": [approval_item(emulator, r, name_of, approval_labels) for r in approvals],
        **record_state(emulator, name_of),
    }


# The other record kinds the panel moves: table, label, and the choice fields its form offers.
RECORD_TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("sc_req_item", "Requested item", ("stage", "state")),
    ("change_request", "Change", ("state",)),
    ("problem", "Problem", ("state",)),
)


def record_state(emulator: Emulator, name_of: Any) -> JSON:
    """Requested items, changes and problems with their labels, and each table's choices."""
    found: list[JSON] = []
    forms: JSON = {}
    for table, label, elements in RECORD_TABLES:
        options = {}
        for element in elements:
            own = (
                choices(emulator, table, element)[0][1] or choices(emulator, "task", element)[0][1]
            )
            options[element] = own
        forms[table] = {
            element: [{"value": v, "label": text} for v, text in values]
            for element, values in options.items()
        }
        for r in sorted(emulator.rows(table), key=lambda r: r["number"]):
            labels = {
                element: dict(values).get(r[element], r[element])
                for element, values in options.items()
            }
            found.append(
                {
                    "table": table,
                    "table_label": label,
                    "sys_id": r["sys_id"],
                    "number": r["number"],
                    "short_description": r["short_description"],
                    "state": r["state"],
                    "state_label": labels.get("state", r["state"]),
                    "stage": r.get("stage", ""),
                    "stage_label": labels.get("stage", ""),
                    "assigned_to_name": name_of(r["assigned_to"]),
                    "close_notes": r["close_notes"],
                }
            )
    return {"records": found, "record_choices": forms}


def approval_item(
    emulator: Emulator, record: dict[str, str], name_of: Any, labels: dict[str, str]
) -> JSON:
    task = emulator.get("task", record["sysapproval"]) or {}
    return {
        "sys_id": record["sys_id"],
        "approver": record["approver"],
        "approver_name": name_of(record["approver"]),
        "state": record["state"],
        "state_label": labels.get(record["state"], record["state"]),
        "task_number": task.get("number", ""),
        "task_short_description": task.get("short_description", ""),
        "task": record["sysapproval"],
        "task_table": record["source_table"],
        "due_date": record.get("due_date", ""),
        "journal": journal(emulator, record["sys_id"]),
    }


def journal(emulator: Emulator, sys_id: str) -> list[JSON]:
    entries = [
        {**entry, "kind": element}
        for element in ("comments", "work_notes")
        for entry in emulator.journal(sys_id, element)
    ]
    entries.sort(key=lambda e: e["sys_created_on"], reverse=True)
    return [
        {
            "kind": e["kind"],
            "value": e["value"],
            "by": e["sys_created_by"],
            "on": e["sys_created_on"],
        }
        for e in entries[:JOURNAL_SHOWN]
    ]


def choices(
    emulator: Emulator, table: str, *elements: str
) -> list[tuple[str, list[tuple[str, str]]]]:
    """(element, [(value, label)…]) in sys_choice order, for each element of `table`."""
    found: list[tuple[str, list[tuple[str, str]]]] = []
    for element in elements:
        rows = [
            r
            for r in emulator.rows("sys_choice")
            if r["name"] == table and r["element"] == element and r["inactive"] != "true"
        ]
        rows.sort(key=lambda r: int(r["sequence"] or 0))
        found.append((element, [(r["value"], r["label"]) for r in rows]))
    return found
