"""Block Kit builders: pure functions of records, so a card is a value (hashable, comparable).

Every builder keeps within Slack's limits (50 blocks a message, 100 a view, 3000 characters a section,
2000 a field, 75 an option label, 24 a modal title): text is cut with an ellipsis, never refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from servicenow.records import Choice, Incident, IncidentState

SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
MESSAGE_TEXT_MAX = 4000
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
BUTTON_TEXT_MAX = 75
TITLE_MAX = 24
COMMENT_PREVIEW_MAX = 500
SHORT_DESCRIPTION_MAX = 160
PAGE_SIZE = 10

STATE_MARKERS: dict[int, str] = {
    IncidentState.NEW: ":new:",
    IncidentState.IN_PROGRESS: ":large_blue_circle:",
    IncidentState.ON_HOLD: ":double_vertical_bar:",
    IncidentState.RESOLVED: ":white_check_mark:",
    IncidentState.CLOSED: ":lock:",
    IncidentState.CANCELED: ":no_entry_sign:",
}
IMPACT_URGENCY = (("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low"))

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


@dataclass(frozen=True)
class Comment:
    """The newest customer-visible comment on a record."""

    text: str
    author: str
    created_on: datetime | None


# -- text ------------------------------------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """At most `limit` characters; cut text ends with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def escape(text: str) -> str:
    """Make user text safe inside mrkdwn: no accidental links, mentions or markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str, limit: int = SECTION_TEXT_MAX) -> Block:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def plain(text: str, limit: int = OPTION_TEXT_MAX) -> Block:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def option(label: str, value: str) -> Block:
    return {"text": plain(label, OPTION_TEXT_MAX), "value": value[:OPTION_VALUE_MAX]}


def button(label: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "action_id": action_id,
        "text": plain(label, BUTTON_TEXT_MAX),
        "value": value[:2000],
    }
    if style:
        element["style"] = style
    return element


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


# -- the incident card ---------------------------------------------------------------------------


def incident_card(incident: Incident, record_url: str, latest: Comment | None = None) -> Card:
    state = incident.state
    marker = STATE_MARKERS.get(state, ":grey_question:")
    title = escape(incident.short_description) or "_(no short description)_"
    state_text = f"{marker} {state.label}"
    if state == IncidentState.ON_HOLD and incident.hold_reason:
        state_text += f" ({HOLD_LABELS.get(incident.hold_reason, incident.hold_reason)})"
    fields = [
        mrkdwn(f"*State*\n{state_text}", FIELD_TEXT_MAX),
        mrkdwn(
            f"*Priority*\n{incident.priority.value} - {incident.priority.label}", FIELD_TEXT_MAX
        ),
        mrkdwn(f"*Caller*\n{escape(incident.caller_name) or '—'}", FIELD_TEXT_MAX),
        mrkdwn(
            f"*Assigned to*\n{escape(incident.assigned_to_name) or '_Unassigned_'}", FIELD_TEXT_MAX
        ),
        mrkdwn(f"*Group*\n{escape(incident.assignment_group_name) or '—'}", FIELD_TEXT_MAX),
        mrkdwn(f"*Updated*\n{when(incident.sys_updated_on)}", FIELD_TEXT_MAX),
    ]
    blocks: list[Block] = [
        {
            "type": "section",
            "text": mrkdwn(f"*<{record_url}|{incident.number}>*  {title}"),
            "fields": fields,
        }
    ]
    if state == IncidentState.RESOLVED and incident.close_notes:
        resolution = f"*Resolution* ({escape(incident.close_code)})\n" + _quote(
            incident.close_notes
        )
        blocks.append(section(resolution))
    if latest is not None:
        heading = f":speech_balloon: *Latest comment* · {escape(latest.author)} · {when(latest.created_on)}"
        blocks.append(section(heading + "\n" + _quote(latest.text)))
    blocks.append(
        {
            # A new block_id per version of the record: Slack resets menus on update, and a
            # double click on one version is recognisably the same click.
            "type": "actions",
            "block_id": f"incident:{incident.sys_id}:{incident.sys_mod_count}",
            "elements": _card_actions(incident, record_url),
        }
    )
    text = clip(
        f"{incident.number}: {escape(incident.short_description)} ({state.label})", MESSAGE_TEXT_MAX
    )
    return Card(text=text, blocks=tuple(blocks))


def _quote(text: str) -> str:
    lines = clip(text.strip(), COMMENT_PREVIEW_MAX).splitlines() or [""]
    return "\n".join("> " + escape(line) for line in lines)


def _card_actions(incident: Incident, record_url: str) -> list[Block]:
    sys_id = incident.sys_id
    elements: list[Block] = []
    if incident.state.is_open:
        elements.append(button("Assign to me", "incident_assign_me", sys_id))
    if incident.state != IncidentState.CLOSED and incident.state != IncidentState.CANCELED:
        elements.append(button("Comment", "incident_comment", sys_id))
    if incident.state.is_open:
        elements.append(button("Resolve", "incident_resolve", sys_id, style="primary"))
    transitions = state_transitions(incident.state)
    if transitions:
        elements.append(
            {
                "type": "static_select",
                "action_id": "incident_state",
                "placeholder": plain("Change state"),
                "options": [option(label, f"{sys_id}:{value}") for value, label in transitions],
            }
        )
    elements.append(
        {
            "type": "button",
            "action_id": "incident_open",
            "text": plain("Open in ServiceNow"),
            "url": record_url[:3000],
        }
    )
    return elements


def state_transitions(state: IncidentState) -> list[tuple[str, str]]:
    """The state menu: (target, label) pairs that make sense from `state`."""
    if state in (IncidentState.NEW, IncidentState.IN_PROGRESS, IncidentState.ON_HOLD):
        moves = [("2", "In Progress"), ("3", "On Hold…"), ("6", "Resolved…")]
        if state == IncidentState.NEW:
            moves.append(("8", "Canceled"))
        return [(value, label) for value, label in moves if value != str(int(state))]
    if state == IncidentState.RESOLVED:
        return [("reopen", "Reopen"), ("7", "Closed")]
    return []


HOLD_LABELS = {
    "1": "Awaiting Caller",
    "3": "Awaiting Problem",
    "4": "Awaiting Vendor",
    "5": "Awaiting Change",
}


# -- lists -----------------------------------------------------------------------------------------

LIST_TITLES = {
    "mine": "Your open incidents",
    "assigned": "Open incidents assigned to you",
    "group": "Your groups' open queue",
}


def incident_list(
    scope: str,
    incidents: Sequence[Incident],
    urls: Sequence[str],
    *,
    page: int,
    total: int,
) -> Card:
    title = LIST_TITLES.get(scope, "Incidents")
    pages = max(1, -(-total // PAGE_SIZE))
    if not incidents:
        message = f"*{title}*: none." if page == 1 else f"*{title}*: no page {page}."
        return Card(text=message, blocks=(section(message),))
    blocks: list[Block] = [section(f"*{title}* — {total} in all, page {page} of {pages}")]
    for incident, url in zip(incidents, urls, strict=True):
        marker = STATE_MARKERS.get(incident.state, "")
        line = (
            f"*<{url}|{incident.number}>*  {escape(clip(incident.short_description, 150))}\n"
            f"{marker} {incident.state.label} · P{incident.priority.value} · "
            f"{escape(incident.assigned_to_name) or 'unassigned'} · opened {when(incident.opened_at)}"
        )
        blocks.append(
            {
                "type": "section",
                "text": mrkdwn(line),
                "accessory": button("Post card", "incident_post", incident.sys_id),
            }
        )
    navigation: list[Block] = []
    if page > 1:
        navigation.append(button("◀ Previous", "incident_list_page", f"{scope}:{page - 1}"))
    if page < pages:
        navigation.append(button("Next ▶", "incident_list_page", f"{scope}:{page + 1}"))
    if navigation:
        blocks.append(
            {"type": "actions", "block_id": f"list:{scope}:{page}", "elements": navigation}
        )
    return Card(text=f"{title}: page {page} of {pages}", blocks=tuple(blocks[:MESSAGE_BLOCKS_MAX]))


# -- modals ----------------------------------------------------------------------------------------


def modal(
    callback_id: str,
    title: str,
    blocks: Sequence[Block],
    *,
    submit: str | None = "Submit",
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, TITLE_MAX),
        "close": plain("Cancel", TITLE_MAX),
        "blocks": list(blocks)[:VIEW_BLOCKS_MAX],
        "private_metadata": json.dumps(metadata or {})[:3000],
    }
    if submit:
        view["submit"] = plain(submit, TITLE_MAX)
    return view


def text_input(
    block_id: str,
    label: str,
    *,
    multiline: bool = False,
    max_length: int | None = None,
    optional: bool = False,
    placeholder: str | None = None,
    initial: str | None = None,
) -> Block:
    element: Block = {"type": "plain_text_input", "action_id": "value", "multiline": multiline}
    if max_length:
        element["max_length"] = max_length
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    if initial:
        element["initial_value"] = initial[: max_length or 3000]
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "optional": optional,
        "element": element,
    }


def select_input(
    block_id: str,
    label: str,
    options: Sequence[tuple[str, str]],
    *,
    initial: str | None = None,
    optional: bool = False,
) -> Block:
    element: Block = {
        "type": "static_select",
        "action_id": "value",
        "placeholder": plain(f"Choose {label.lower()}"),
        "options": [option(text, value) for value, text in options][:100],
    }
    chosen = next((option(text, value) for value, text in options if value == initial), None)
    if chosen:
        element["initial_option"] = chosen
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "optional": optional,
        "element": element,
    }


def create_modal(channel: str, categories: Sequence[Choice] | None) -> dict[str, Any]:
    """The create form; `categories` None means still loading (filled by views.update)."""
    blocks: list[Block] = [
        text_input(
            "short_description",
            "Short description",
            max_length=SHORT_DESCRIPTION_MAX,
            placeholder="What is wrong, in a line",
        ),
        text_input("description", "Description", multiline=True, optional=True, max_length=3000),
        select_input("impact", "Impact", IMPACT_URGENCY, initial="3"),
        select_input("urgency", "Urgency", IMPACT_URGENCY, initial="3"),
    ]
    if categories is None:
        blocks.append({"type": "context", "elements": [mrkdwn(":hourglass: Loading categories…")]})
    else:
        blocks.append(
            select_input(
                "category",
                "Category",
                [(c.value, c.label) for c in categories],
                initial="inquiry",
                optional=True,
            )
        )
    blocks.append(
        {
            "type": "input",
            "block_id": "assignment_group",
            "label": plain("Assignment group"),
            "optional": True,
            "element": {
                "type": "external_select",
                "action_id": "group",
                "placeholder": plain("Type to search groups"),
                "min_query_length": 0,
            },
        }
    )
    return modal(
        "incident_create", "New incident", blocks, submit="Open", metadata={"channel": channel}
    )


def comment_modal(incident: Incident, *, public: bool, channel: str | None) -> dict[str, Any]:
    kind = "Comment" if public else "Work note"
    hint = (
        "The caller sees comments."
        if public
        else "Work notes are internal: the caller doesn't see them."
    )
    return modal(
        "incident_comment",
        f"{kind} on {incident.number}",
        [
            section(f"*{incident.number}*  {escape(incident.short_description)}\n_{hint}_"),
            text_input("text", kind, multiline=True, max_length=3000),
        ],
        submit="Add",
        metadata={
            "sys_id": incident.sys_id,
            "public": "1" if public else "",
            "channel": channel or "",
        },
    )


def resolve_modal(
    incident: Incident, close_codes: Sequence[Choice], channel: str | None
) -> dict[str, Any]:
    return modal(
        "incident_resolve",
        f"Resolve {incident.number}",
        [
            section(f"*{incident.number}*  {escape(incident.short_description)}"),
            select_input(
                "close_code", "Resolution code", [(c.value, c.label) for c in close_codes]
            ),
            text_input("close_notes", "Resolution notes", multiline=True, max_length=3000),
        ],
        submit="Resolve",
        metadata={"sys_id": incident.sys_id, "channel": channel or ""},
    )


def hold_modal(incident: Incident, channel: str | None) -> dict[str, Any]:
    return modal(
        "incident_hold",
        f"Put {incident.number} on hold",
        [
            section(f"*{incident.number}*  {escape(incident.short_description)}"),
            select_input("hold_reason", "Reason", list(HOLD_LABELS.items())),
            text_input(
                "text",
                "Comment to the caller",
                multiline=True,
                optional=True,
                max_length=3000,
                placeholder="Needed when waiting for the caller",
            ),
        ],
        submit="Put on hold",
        metadata={"sys_id": incident.sys_id, "channel": channel or ""},
    )


# -- answers ---------------------------------------------------------------------------------------

USAGE = "\n".join(
    [
        "*/incident* — work ServiceNow incidents from Slack",
        "• `/incident` — open the form for a new incident",
        "• `/incident <what is wrong>` (or `new <what is wrong>`) — open an incident in one line",
        "• `/incident INC0010001` (or `show INC…`) — post the incident's card here",
        "• `/incident list` · `list assigned` · `list group` — your open incidents, your queue",
        "• `/incident assign INC… @someone` (or `me`)",
        "• `/incident comment INC… <text>` — a comment the caller sees",
        "• `/incident note INC… <text>` — an internal work note",
        "• `/incident resolve INC…` · `close INC…` · `reopen INC…`",
        "• `/incident hold INC… caller|vendor|problem|change <text>`",
        "• `/incident help` — this message",
    ]
)


def usage(problem: str | None = None) -> Card:
    lead = f":information_source: {problem}\n\n" if problem else ""
    return Card(text=lead + USAGE, blocks=(section(lead + USAGE),))


def notice(text: str) -> Card:
    """A one-paragraph answer (errors and confirmations)."""
    return Card(text=clip(text, MESSAGE_TEXT_MAX), blocks=(section(text),))
