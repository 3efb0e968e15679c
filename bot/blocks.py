"""Block Kit builders: pure functions of records, so a card is a value (hashable, comparable)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from servicenow.records import Incident, IncidentState

SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
MESSAGE_TEXT_MAX = 4000
BUTTON_TEXT_MAX = 75

STATE_MARKERS: dict[IncidentState, str] = {
    IncidentState.NEW: ":new:",
    IncidentState.IN_PROGRESS: ":large_blue_circle:",
    IncidentState.ON_HOLD: ":double_vertical_bar:",
    IncidentState.RESOLVED: ":white_check_mark:",
    IncidentState.CLOSED: ":lock:",
    IncidentState.CANCELED: ":no_entry_sign:",
}

Block = dict[str, Any]


@dataclass(frozen=True)
class Card:
    """A message: fallback text (notifications, screen readers) and blocks."""

    text: str
    blocks: tuple[Block, ...] = field(default=())

    def to_json(self) -> str:
        return json.dumps({"text": self.text, "blocks": list(self.blocks)}, sort_keys=True)

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def __hash__(self) -> int:
        return hash(self.to_json())


def clip(text: str, limit: int) -> str:
    """At most `limit` characters; cut text ends with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def escape(text: str) -> str:
    """Make user text safe inside mrkdwn: no accidental links, mentions or markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str, limit: int = SECTION_TEXT_MAX) -> Block:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def incident_card(incident: Incident, record_url: str) -> Card:
    state = incident.state
    marker = STATE_MARKERS.get(state, ":grey_question:")
    title = escape(incident.short_description) or "_(no short description)_"
    headline = f"*<{record_url}|{incident.number}>*  {title}"
    caller = escape(incident.caller_name) if incident.caller_name else "—"
    assignee = escape(incident.assigned_to_name) if incident.assigned_to_name else "_Unassigned_"
    fields = [
        mrkdwn(f"*State*\n{marker} {state.label}", FIELD_TEXT_MAX),
        mrkdwn(
            f"*Priority*\n{incident.priority.value} - {incident.priority.label}", FIELD_TEXT_MAX
        ),
        mrkdwn(f"*Caller*\n{caller}", FIELD_TEXT_MAX),
        mrkdwn(f"*Assigned to*\n{assignee}", FIELD_TEXT_MAX),
    ]
    blocks: list[Block] = [
        {"type": "section", "text": mrkdwn(headline), "fields": fields},
    ]
    updated = (
        incident.sys_updated_on.strftime("%Y-%m-%d %H:%M UTC") if incident.sys_updated_on else ""
    )
    if updated:
        blocks.append({"type": "context", "elements": [mrkdwn(f"Updated {updated}")]})
    blocks.append(
        {
            "type": "actions",
            "block_id": f"incident:{incident.sys_id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": "incident_open",
                    "text": {"type": "plain_text", "text": "Open in ServiceNow"},
                    "url": record_url,
                }
            ],
        }
    )
    text = clip(
        f"{incident.number}: {incident.short_description} ({state.label})", MESSAGE_TEXT_MAX
    )
    return Card(text=text, blocks=tuple(blocks))


USAGE = "\n".join(
    [
        "*/incident* — work ServiceNow incidents from Slack",
        "• `/incident <what is wrong>` — open an incident for yourself",
        "• `/incident new <what is wrong>` — the same",
        "• `/incident help` — this message",
    ]
)


def usage(unknown: str | None = None) -> Card:
    lead = f"I didn't understand `{escape(unknown)}`.\n" if unknown else ""
    return Card(text=lead + USAGE, blocks=({"type": "section", "text": mrkdwn(lead + USAGE)},))


def notice(text: str) -> Card:
    """A one-paragraph answer (errors and confirmations)."""
    return Card(text=text, blocks=({"type": "section", "text": mrkdwn(text)},))
