"""Incident cards, DMs, lists and forms: pure functions of records (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.incidents.ids import IncidentId
from bot.incidents.vocabulary import STEPS, HoldReason, moves_from
from bot.records.kind import Comment
from bot.slack.kit import (
    FIELD_TEXT_MAX,
    MESSAGE_BLOCKS_MAX,
    MESSAGE_TEXT_MAX,
    Block,
    Card,
    actions,
    button,
    clip,
    context,
    escape,
    input_block,
    link,
    link_button,
    modal,
    mrkdwn,
    option,
    plain,
    quote,
    section,
    select_input,
    text_input,
    when,
)
from servicenow.records import Choice, Incident, IncidentState

__all__ = ["Comment"]  # the newest comment, as every record kind reads it

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


def open_button(record_url: str) -> Block:
    return link_button("Open in ServiceNow", IncidentId.OPEN, record_url)


def headline(incident: Incident, record_url: str) -> str:
    return f"*{link(record_url, incident.number)}*  {escape(incident.short_description)}"


def summary_line(incident: Incident, url: str) -> str:
    """Two lines for a list or the Home tab: number and title; state, priority, assignee, age."""
    marker = STATE_MARKERS.get(incident.state, "")
    return (
        f"*{link(url, incident.number)}*  {escape(clip(incident.short_description, 150))}\n"
        f"{marker} {incident.state.label} · P{incident.priority.value} · "
        f"{escape(incident.assigned_to_name) or 'unassigned'} · opened {when(incident.opened_at)}"
    )


# -- the live card ---------------------------------------------------------------------------------


def incident_card(incident: Incident, record_url: str, latest: Comment | None = None) -> Card:
    state = incident.state
    marker = STATE_MARKERS.get(state, ":grey_question:")
    title = escape(incident.short_description) or "_(no short description)_"
    state_text = f"{marker} {state.label}"
    if state == IncidentState.ON_HOLD and incident.hold_reason:
        state_text += f" ({escape(HoldReason.label_of(incident.hold_reason))})"
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
            "text": mrkdwn(f"*{link(record_url, incident.number)}*  {title}"),
            "fields": fields,
        }
    ]
    if state == IncidentState.RESOLVED and incident.close_notes:
        resolution = f"*Resolution* ({escape(incident.close_code)})\n" + quote(incident.close_notes)
        blocks.append(section(resolution))
    if latest is not None:
        heading = f":speech_balloon: *Latest comment* · {escape(latest.author)} · {when(latest.created_on)}"
        blocks.append(section(heading + "\n" + quote(latest.text)))
    # A new block_id per version of the record: Slack resets menus on update, and a double
    # click on one version is recognisably the same click.
    blocks.append(
        actions(
            _card_actions(incident, record_url),
            f"incident:{incident.sys_id}:{incident.sys_mod_count}",
        )
    )
    text = clip(
        escape(f"{incident.number}: {incident.short_description} ({state.label})"), MESSAGE_TEXT_MAX
    )
    return Card(text=text, blocks=tuple(blocks))


def incident_preview(incident: Incident, record_url: str) -> Card:
    """The compact card a link to the incident unfurls into: number, short description, state,
    priority and assignee (no buttons: a preview belongs to the person's message)."""
    state = incident.state
    marker = STATE_MARKERS.get(state, ":grey_question:")
    title = escape(incident.short_description) or "_(no short description)_"
    assignee = escape(incident.assigned_to_name) or "Unassigned"
    facts = (
        f"{marker} {state.label} · Priority {incident.priority.value} - "
        f"{incident.priority.label} · Assigned to {assignee}"
    )
    blocks = (section(f"*{link(record_url, incident.number)}*  {title}"), context(facts))
    text = clip(escape(f"{incident.number}: {incident.short_description}"), MESSAGE_TEXT_MAX)
    return Card(text=text, blocks=blocks)


def _card_actions(incident: Incident, record_url: str) -> list[Block]:
    sys_id = incident.sys_id
    elements: list[Block] = []
    if incident.state.is_open:
        elements.append(button("Assign to me", IncidentId.ASSIGN_ME, sys_id))
    if incident.state not in (IncidentState.CLOSED, IncidentState.CANCELED):
        elements.append(button("Comment", IncidentId.COMMENT, sys_id))
    if incident.state.is_open:
        elements.append(button("Resolve", IncidentId.RESOLVE, sys_id, style="primary"))
    elements.append(button("Follow", IncidentId.FOLLOW, sys_id))
    moves = moves_from(incident.state)
    if moves:
        elements.append(
            {
                "type": "static_select",
                "action_id": IncidentId.STATE,
                "placeholder": plain("Change state"),
                "options": [option(STEPS[move].label, f"{sys_id}:{move}") for move in moves],
            }
        )
    elements.append(open_button(record_url))
    return elements


# -- DMs about changes -----------------------------------------------------------------------------


def state_change_dm(
    incident: Incident, record_url: str, previous_label: str, *, resolved_meanwhile: bool = False
) -> Card:
    """To the caller: their incident moved to another state (Resolved: the fix, and Reopen).

    `resolved_meanwhile`: it was resolved on the way here within one burst of changes (say
    Resolved → Closed in a moment): the resolution is shown all the same.
    """
    state = incident.state
    marker = STATE_MARKERS.get(state, "")
    resolved_meanwhile = resolved_meanwhile and state == IncidentState.CLOSED
    label = f"*{state.label}*"
    if resolved_meanwhile:
        label += f" (resolved with {escape(incident.close_code) or '—'})"
    lead = f"Your incident is now {marker} {label} (was {escape(previous_label)})."
    if state == IncidentState.ON_HOLD and incident.hold_reason:
        lead += f"\nWaiting: {escape(HoldReason.label_of(incident.hold_reason))}."
    blocks: list[Block] = [section(headline(incident, record_url)), section(lead)]
    elements = [open_button(record_url)]
    if state == IncidentState.RESOLVED or resolved_meanwhile:
        resolution = f"*Resolution* ({escape(incident.close_code) or '—'})\n" + quote(
            incident.close_notes or "—"
        )
        blocks.append(section(resolution + "\n\nIf this didn't fix it, press *Reopen*."))
        elements.insert(0, button("Reopen", IncidentId.REOPEN, incident.sys_id, style="danger"))
    blocks.append(actions(elements, f"dm:{incident.sys_id}:{incident.sys_mod_count}"))
    text = escape(f"{incident.number} is now {state.label}: {incident.short_description}")
    return Card(text=clip(text, MESSAGE_TEXT_MAX), blocks=tuple(blocks))


def assigned_dm(incident: Incident, record_url: str) -> Card:
    """To the new assignee."""
    detail = (
        f"{STATE_MARKERS.get(incident.state, '')} {incident.state.label} · "
        f"P{incident.priority.value} - {incident.priority.label} · caller {escape(incident.caller_name) or '—'}"
    )
    blocks = (
        section(f":inbox_tray: Assigned to you: {headline(incident, record_url)}\n{detail}"),
        actions([open_button(record_url)]),
    )
    return Card(
        text=clip(escape(f"{incident.number} was assigned to you"), MESSAGE_TEXT_MAX), blocks=blocks
    )


def follower_dm(incident: Incident, record_url: str, changes: list[str]) -> Card:
    """To someone following the incident: what changed, one line each (plain text, escaped here:
    names and codes in them come from ServiceNow)."""
    lines = "\n".join(f"• {escape(change)}" for change in changes)
    blocks = (
        section(f":eyes: {headline(incident, record_url)} changed:\n{lines}"),
        actions([open_button(record_url)]),
    )
    return Card(text=clip(escape(f"{incident.number} changed"), MESSAGE_TEXT_MAX), blocks=blocks)


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
        blocks.append(
            {
                "type": "section",
                "text": mrkdwn(summary_line(incident, url)),
                "accessory": button("Post card", IncidentId.POST, incident.sys_id),
            }
        )
    navigation: list[Block] = []
    if page > 1:
        navigation.append(button("◀ Previous", IncidentId.LIST_PAGE, f"{scope}:{page - 1}"))
    if page < pages:
        navigation.append(button("Next ▶", IncidentId.LIST_PAGE, f"{scope}:{page + 1}"))
    if navigation:
        blocks.append(actions(navigation, f"list:{scope}:{page}"))
    return Card(text=f"{title}: page {page} of {pages}", blocks=tuple(blocks[:MESSAGE_BLOCKS_MAX]))


# -- forms -----------------------------------------------------------------------------------------


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
        blocks.append(context(":hourglass: Loading categories…"))
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
    group = {
        "type": "external_select",
        "action_id": IncidentId.GROUP_OPTIONS,
        "placeholder": plain("Type to search groups"),
        "min_query_length": 0,
    }
    blocks.append(input_block("assignment_group", "Assignment group", group, optional=True))
    return modal(
        IncidentId.CREATE_FORM, "New incident", blocks, submit="Open", metadata={"channel": channel}
    )


def comment_modal(incident: Incident, *, public: bool, carry: dict[str, str]) -> dict[str, Any]:
    """`carry`: where the form was opened from (the interaction's metadata), kept for the answer."""
    kind = "Comment" if public else "Work note"
    hint = (
        "The caller sees comments."
        if public
        else "Work notes are internal: the caller doesn't see them."
    )
    return modal(
        IncidentId.COMMENT_FORM,
        f"{kind} on {incident.number}",
        [
            section(f"*{escape(incident.number)}*  {escape(incident.short_description)}\n_{hint}_"),
            text_input("text", kind, multiline=True, max_length=3000),
        ],
        submit="Add",
        metadata={**carry, "sys_id": incident.sys_id, "public": "1" if public else ""},
    )


def resolve_modal(
    incident: Incident, close_codes: Sequence[Choice], carry: dict[str, str]
) -> dict[str, Any]:
    return modal(
        IncidentId.RESOLVE_FORM,
        f"Resolve {incident.number}",
        [
            section(f"*{escape(incident.number)}*  {escape(incident.short_description)}"),
            select_input(
                "close_code", "Resolution code", [(c.value, c.label) for c in close_codes]
            ),
            text_input("close_notes", "Resolution notes", multiline=True, max_length=3000),
        ],
        submit="Resolve",
        metadata={**carry, "sys_id": incident.sys_id},
    )


def hold_modal(incident: Incident, carry: dict[str, str]) -> dict[str, Any]:
    return modal(
        IncidentId.HOLD_FORM,
        f"Put {incident.number} on hold",
        [
            section(f"*{escape(incident.number)}*  {escape(incident.short_description)}"),
            select_input("hold_reason", "Reason", [(r.value, r.label) for r in HoldReason]),
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
        metadata={**carry, "sys_id": incident.sys_id},
    )


def follow_confirmation(incident: Incident, following: bool) -> Card:
    """What the person sees after Follow or Unfollow: where they stand, and the way back."""
    if following:
        text = f":eyes: You follow {escape(incident.number)}: you'll get a DM whenever it changes."
        control = button("Unfollow", IncidentId.UNFOLLOW, incident.sys_id)
    else:
        text = f"You don't follow {escape(incident.number)}: no more DMs about its changes."
        control = button("Follow", IncidentId.FOLLOW, incident.sys_id)
    return Card(text=text, blocks=(section(text), actions([control])))
