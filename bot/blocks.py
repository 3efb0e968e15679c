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

from servicenow.records import Approval, ApprovalState, Choice, Incident, IncidentState

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
        return digest_of({"text": self.text, "blocks": list(self.blocks)})

    def __hash__(self) -> int:
        return hash(self.to_json())


def digest_of(payload: dict[str, Any]) -> str:
    """The digest of a message payload ({text, blocks}): equal payloads, equal digests."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Comment:
    """The newest customer-visible comment on a record."""

    text: str
    author: str
    created_on: datetime | None
    id: str = ""  # the journal entry's sys_id


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
    elements.append(button("Follow", "incident_follow", sys_id))
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


# -- DMs about changes -------------------------------------------------------------------------


def _headline(incident: Incident, record_url: str) -> str:
    return f"*<{record_url}|{incident.number}>*  {escape(incident.short_description)}"


def _open_button(record_url: str) -> Block:
    return {
        "type": "button",
        "action_id": "incident_open",
        "text": plain("Open in ServiceNow"),
        "url": record_url[:3000],
    }


def state_change_dm(incident: Incident, record_url: str, previous_label: str) -> Card:
    """To the caller: their incident moved to another state (Resolved: the fix, and Reopen)."""
    state = incident.state
    marker = STATE_MARKERS.get(state, "")
    lead = f"Your incident is now {marker} *{state.label}* (was {escape(previous_label)})."
    if state == IncidentState.ON_HOLD and incident.hold_reason:
        lead += f"\nWaiting: {HOLD_LABELS.get(incident.hold_reason, incident.hold_reason)}."
    blocks: list[Block] = [section(_headline(incident, record_url)), section(lead)]
    elements = [_open_button(record_url)]
    if state == IncidentState.RESOLVED:
        resolution = f"*Resolution* ({escape(incident.close_code) or '—'})\n" + _quote(
            incident.close_notes or "—"
        )
        blocks.append(section(resolution + "\n\nIf this didn't fix it, press *Reopen*."))
        elements.insert(0, button("Reopen", "incident_reopen", incident.sys_id, style="danger"))
    blocks.append(
        {
            "type": "actions",
            "block_id": f"dm:{incident.sys_id}:{incident.sys_mod_count}",
            "elements": elements,
        }
    )
    text = f"{incident.number} is now {state.label}: {escape(incident.short_description)}"
    return Card(text=clip(text, MESSAGE_TEXT_MAX), blocks=tuple(blocks))


def assigned_dm(incident: Incident, record_url: str) -> Card:
    """To the new assignee."""
    detail = (
        f"{STATE_MARKERS.get(incident.state, '')} {incident.state.label} · "
        f"P{incident.priority.value} - {incident.priority.label} · caller {escape(incident.caller_name) or '—'}"
    )
    blocks = (
        section(f":inbox_tray: Assigned to you: {_headline(incident, record_url)}\n{detail}"),
        {"type": "actions", "elements": [_open_button(record_url)]},
    )
    return Card(
        text=clip(f"{incident.number} was assigned to you", MESSAGE_TEXT_MAX), blocks=blocks
    )


def follower_dm(incident: Incident, record_url: str, changes: list[str]) -> Card:
    """To someone following the incident: what changed, one line each."""
    lines = "\n".join(f"• {change}" for change in changes)
    blocks = (
        section(f":eyes: {_headline(incident, record_url)} changed:\n{lines}"),
        {"type": "actions", "elements": [_open_button(record_url)]},
    )
    return Card(text=clip(f"{incident.number} changed", MESSAGE_TEXT_MAX), blocks=blocks)


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


def comment_modal(
    incident: Incident, *, public: bool, channel: str | None, origin: str = ""
) -> dict[str, Any]:
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
            "origin": origin,
        },
    )


def resolve_modal(
    incident: Incident, close_codes: Sequence[Choice], channel: str | None, origin: str = ""
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
        metadata={"sys_id": incident.sys_id, "channel": channel or "", "origin": origin},
    )


def hold_modal(incident: Incident, channel: str | None, origin: str = "") -> dict[str, Any]:
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
        metadata={"sys_id": incident.sys_id, "channel": channel or "", "origin": origin},
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
        "• `/incident approvals` — your pending approvals, with Approve / Reject",
        "• `/incident notify off` · `notify on` — mute or restore your DMs about changes",
        "• `/incident help` — this message",
    ]
)


def usage(problem: str | None = None) -> Card:
    lead = f":information_source: {problem}\n\n" if problem else ""
    return Card(text=lead + USAGE, blocks=(section(lead + USAGE),))


def notice(text: str) -> Card:
    """A one-paragraph answer (errors and confirmations)."""
    return Card(text=clip(text, MESSAGE_TEXT_MAX), blocks=(section(text),))


# -- approvals -------------------------------------------------------------------------------------

APPROVAL_TABLE_LABELS = {
    "change_request": "Change request",
    "sc_req_item": "Requested item",
    "sc_request": "Request",
}
APPROVAL_MARKERS: dict[str, str] = {
    ApprovalState.REQUESTED: ":hourglass_flowing_sand:",
    ApprovalState.APPROVED: ":white_check_mark:",
    ApprovalState.REJECTED: ":x:",
    ApprovalState.CANCELLED: ":no_entry_sign:",
    ApprovalState.NOT_REQUIRED: ":heavy_minus_sign:",
}
APPROVALS_SHOWN_MAX = 15  # in a list or the Home tab: 2 blocks each, well inside 50 and 100
REASON_MAX = 3000


@dataclass(frozen=True)
class ApprovalRequest:
    """An approval and what it is about: the parent record's page and who asked for it."""

    approval: Approval
    url: str  # the record being approved, in ServiceNow
    requester: str = ""

    @property
    def what(self) -> str:
        return approval_table_label(self.approval.source_table)

    @property
    def name(self) -> str:
        return self.approval.parent_number or f"this {self.what.lower()}"


def approval_table_label(table: str) -> str:
    if table in APPROVAL_TABLE_LABELS:
        return APPROVAL_TABLE_LABELS[table]
    return table.replace("_", " ").capitalize() if table else "Record"


def approval_outcome(approval: Approval) -> str:
    """Who decided and when ("Approved by Carol Diaz on …"); "" while the approval is pending."""
    state = approval.state
    if state == ApprovalState.REQUESTED:
        return ""
    moment = when(approval.sys_updated_on)
    if state in (ApprovalState.APPROVED, ApprovalState.REJECTED) and approval.approver_name:
        return f"{state.label} by {approval.approver_name} on {moment}"
    return f"{state.label} on {moment}"


def _approval_title(request: ApprovalRequest) -> str:
    approval = request.approval
    number = approval.parent_number or "Open in ServiceNow"
    title = escape(clip(approval.parent_short_description, 300))
    return f"*<{request.url}|{escape(number)}>*  {title}".rstrip()


def approval_buttons(request: ApprovalRequest) -> list[Block]:
    sys_id = request.approval.sys_id
    return [
        button("Approve", "approval_approve", sys_id, style="primary"),
        button("Reject", "approval_reject", sys_id, style="danger"),
        {
            "type": "button",
            "action_id": "approval_open",
            "text": plain("Open in ServiceNow"),
            "url": request.url[:3000],
        },
    ]


def approval_card(request: ApprovalRequest) -> Card:
    """The approver's DM: what is asked, by whom, by when; buttons while pending, the outcome after."""
    approval = request.approval
    state = approval.state
    marker = APPROVAL_MARKERS.get(state, ":grey_question:")
    pending = state == ApprovalState.REQUESTED
    heading = "*Your approval is requested*" if pending else f"*{state.label}*"
    fields = [
        mrkdwn(f"*What*\n{escape(request.what)}", FIELD_TEXT_MAX),
        mrkdwn(f"*Requested by*\n{escape(request.requester) or '—'}", FIELD_TEXT_MAX),
        mrkdwn(f"*Due*\n{when(approval.due_date)}", FIELD_TEXT_MAX),
        mrkdwn(f"*Approver*\n{escape(approval.approver_name) or '—'}", FIELD_TEXT_MAX),
    ]
    blocks: list[Block] = [
        {
            "type": "section",
            "text": mrkdwn(f"{marker} {heading}\n{_approval_title(request)}"),
            "fields": fields,
        }
    ]
    if pending:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"approval:{approval.sys_id}:{approval.sys_mod_count}",
                "elements": approval_buttons(request),
            }
        )
        text = f"Approval requested: {request.name} {approval.parent_short_description}"
    else:
        outcome = approval_outcome(approval)
        blocks.append({"type": "context", "elements": [mrkdwn(f"{marker} {escape(outcome)}")]})
        text = f"{request.name}: {outcome}"
    return Card(text=clip(text.strip(), MESSAGE_TEXT_MAX), blocks=tuple(blocks))


def approval_item(request: ApprovalRequest, where: str) -> list[Block]:
    """One pending approval in a list (`where` keeps block_ids unique per surface): 2 blocks."""
    approval = request.approval
    details = [request.what]
    if request.requester:
        details.append(f"requested by {request.requester}")
    if approval.due_date:
        details.append(f"due {when(approval.due_date)}")
    return [
        section(f"{_approval_title(request)}\n{escape(' · '.join(details))}"),
        {
            "type": "actions",
            "block_id": f"{where}:approval:{approval.sys_id}:{approval.sys_mod_count}",
            "elements": approval_buttons(request),
        },
    ]


def approval_list(requests: Sequence[ApprovalRequest], *, lead: str | None = None) -> Card:
    """`/incident approvals`: my pending approvals with their buttons (ephemeral)."""
    title = "Your pending approvals"
    blocks: list[Block] = [section(lead)] if lead else []
    if not requests:
        message = f"*{title}*: none, nothing is waiting for you."
        blocks.append(section(message))
        text = clip(f"{lead or ''} {message}".strip(), MESSAGE_TEXT_MAX)
        return Card(text=text, blocks=tuple(blocks))
    blocks.append(section(f"*{title}* — {len(requests)}"))
    for request in requests[:APPROVALS_SHOWN_MAX]:
        blocks += approval_item(request, "list")
    if len(requests) > APPROVALS_SHOWN_MAX:
        more = len(requests) - APPROVALS_SHOWN_MAX
        blocks.append({"type": "context", "elements": [mrkdwn(f"…and {more} more in ServiceNow.")]})
    text = f"{lead + ' ' if lead else ''}{title}: {len(requests)}"
    return Card(text=clip(text, MESSAGE_TEXT_MAX), blocks=tuple(blocks[:MESSAGE_BLOCKS_MAX]))


def reject_modal(request: ApprovalRequest, metadata: dict[str, str]) -> dict[str, Any]:
    """Ask why before rejecting; the reason becomes the approval's comment in ServiceNow."""
    approval = request.approval
    details = request.what + (f" · requested by {request.requester}" if request.requester else "")
    return modal(
        "approval_reject",
        "Reject approval",
        [
            section(f"{_approval_title(request)}\n{escape(details)}"),
            text_input(
                "reason",
                "Reason",
                multiline=True,
                max_length=REASON_MAX,
                placeholder="Why you reject it; it is written to ServiceNow",
            ),
        ],
        submit="Reject",
        metadata={**metadata, "sys_id": approval.sys_id},
    )


# -- App Home --------------------------------------------------------------------------------------

HOME_INCIDENTS_MAX = 10
HOME_TITLE = "Your ServiceNow work"


def _home_header(notice: str | None) -> list[Block]:
    blocks: list[Block] = [{"type": "header", "text": plain(HOME_TITLE, 150)}]
    if notice:
        blocks.append(section(notice))
    blocks.append(
        {
            "type": "actions",
            "block_id": "home:tools",
            "elements": [button("Refresh", "home_refresh", "refresh")],
        }
    )
    return blocks


def _home_incident(incident: Incident, url: str, scope: str) -> list[Block]:
    marker = STATE_MARKERS.get(incident.state, "")
    line = (
        f"*<{url}|{incident.number}>*  {escape(clip(incident.short_description, 150))}\n"
        f"{marker} {incident.state.label} · P{incident.priority.value} · "
        f"{escape(incident.assigned_to_name) or 'unassigned'} · opened {when(incident.opened_at)}"
    )
    elements = [button("Comment", "incident_comment", incident.sys_id)]
    if scope == "assigned":
        elements.append(button("Resolve", "incident_resolve", incident.sys_id, style="primary"))
    elements.append(
        {
            "type": "button",
            "action_id": "incident_open",
            "text": plain("Open in ServiceNow"),
            "url": url[:3000],
        }
    )
    return [
        section(line),
        {
            "type": "actions",
            "block_id": f"home:{scope}:{incident.sys_id}:{incident.sys_mod_count}",
            "elements": elements,
        },
    ]


def _home_incidents(
    title: str, scope: str, incidents: Sequence[tuple[Incident, str]], total: int, empty: str
) -> list[Block]:
    blocks: list[Block] = [{"type": "divider"}, section(f"*{title}* ({total})")]
    if not incidents:
        return [*blocks, {"type": "context", "elements": [mrkdwn(empty)]}]
    for incident, url in incidents[:HOME_INCIDENTS_MAX]:
        blocks += _home_incident(incident, url, scope)
    shown = min(len(incidents), HOME_INCIDENTS_MAX)
    if total > shown:
        command = "/incident list" + (" assigned" if scope == "assigned" else "")
        blocks.append(
            {
                "type": "context",
                "elements": [mrkdwn(f"…and {total - shown} more: `{command}` lists them all.")],
            }
        )
    return blocks


def home_view(
    *,
    approvals: Sequence[ApprovalRequest],
    opened: Sequence[tuple[Incident, str]],
    assigned: Sequence[tuple[Incident, str]],
    opened_total: int | None = None,
    assigned_total: int | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    """The Home tab: my pending approvals, my open incidents (as caller, as assignee), buttons."""
    blocks = _home_header(notice)
    blocks += [{"type": "divider"}, section(f"*Waiting for your approval* ({len(approvals)})")]
    if not approvals:
        blocks.append({"type": "context", "elements": [mrkdwn("Nothing is waiting for you.")]})
    for request in approvals[:APPROVALS_SHOWN_MAX]:
        blocks += approval_item(request, "home")
    if len(approvals) > APPROVALS_SHOWN_MAX:
        more = len(approvals) - APPROVALS_SHOWN_MAX
        blocks.append({"type": "context", "elements": [mrkdwn(f"…and {more} more in ServiceNow.")]})
    blocks += _home_incidents(
        "Your open incidents",
        "mine",
        opened,
        len(opened) if opened_total is None else opened_total,
        "You have no open incidents.",
    )
    blocks += _home_incidents(
        "Assigned to you",
        "assigned",
        assigned,
        len(assigned) if assigned_total is None else assigned_total,
        "Nothing is assigned to you.",
    )
    return {"type": "home", "callback_id": "home", "blocks": blocks[:VIEW_BLOCKS_MAX]}


def home_problem(reason: str) -> dict[str, Any]:
    """The Home tab when it can't be filled (no ServiceNow account, ServiceNow down): why, what next."""
    blocks = _home_header(None)
    blocks += [
        section(f":wave: {reason}"),
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    "Once that is sorted, press *Refresh*: your incidents and approvals show up here."
                )
            ],
        },
    ]
    return {"type": "home", "callback_id": "home", "blocks": blocks}
