"""The parts every record kind's cards share: headline, fields, buttons, DMs, lists, forms.

Pure functions of a `View` (no I/O); each kind's own `cards.py` only picks its fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.records.ids import RecordId, value
from bot.records.kind import Kind, View
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
    link,
    link_button,
    modal,
    mrkdwn,
    quote,
    section,
    text_input,
    when,
)

PAGE_SIZE = 10
NONE = "—"


def headline(view: View) -> str:
    title = escape(view.get("short_description")) or "_(no short description)_"
    return f"*{link(view.url, view.number)}*  {title}"


def preview(view: View) -> Card:
    """The compact card a link to any record unfurls into: number, short description, state,
    priority (when the kind has one) and assignee; no buttons (it belongs to the person's
    message)."""
    facts = [view.label("state") or NONE]
    if view.get("priority"):
        facts.append(f"Priority {view.label('priority')}")
    facts.append(f"Assigned to {view.get('assigned_to.name') or 'nobody yet'}")
    text = clip(escape(f"{view.number}: {view.get('short_description')}"), MESSAGE_TEXT_MAX)
    return Card(text=text, blocks=(section(headline(view)), context(escape(" · ".join(facts)))))


def field(label: str, text: str) -> Block:
    """One `*Label*\\nvalue` field (the value escaped here; empty shows as —)."""
    return mrkdwn(f"*{escape(label)}*\n{escape(text) or NONE}", FIELD_TEXT_MAX)


def open_button(url: str) -> Block:
    return link_button("Open in ServiceNow", RecordId.OPEN, url)


def live_card(
    kind: Kind,
    view: View,
    fields: Sequence[Block],
    *,
    notes: Sequence[tuple[str, str]] = (),
    comment: bool = True,
    extra_buttons: Sequence[Block] = (),
) -> Card:
    """A kind's live card: headline and fields, notes (label, text) when present, the newest
    comment, then Comment (unless closed), Follow, the kind's own buttons and Open in ServiceNow."""
    blocks: list[Block] = [
        {"type": "section", "text": mrkdwn(headline(view)), "fields": list(fields)[:10]}
    ]
    for label, text in notes:
        if text.strip():
            blocks.append(section(f"*{escape(label)}*\n" + quote(text)))
    if view.latest is not None:
        latest = view.latest
        heading = f":speech_balloon: *Latest comment* · {escape(latest.author)} · {when(latest.created_on)}"
        blocks.append(section(heading + "\n" + quote(latest.text)))
    elements: list[Block] = []
    if comment and not kind.closed(view.record):
        elements.append(button("Comment", RecordId.COMMENT, value(view.sys_id, kind.table)))
    elements.append(button("Follow", RecordId.FOLLOW, value(view.sys_id, kind.table)))
    elements += list(extra_buttons)
    elements.append(open_button(view.url))
    # A new block_id per version: a double click on one version is recognisably the same click.
    blocks.append(actions(elements, f"{kind.table}:{view.sys_id}:{view.version}"))
    state = view.label("state")
    text = f"{view.number}: {view.get('short_description')} ({state})"
    return Card(text=clip(escape(text), MESSAGE_TEXT_MAX), blocks=tuple(blocks))


def change_dm(kind: Kind, view: View, lines: Sequence[str], *, lead: str = "") -> Card:
    """What changed on a record, one line each (plain text, escaped here), to one person."""
    body = "\n".join(f"• {escape(line)}" for line in lines)
    opening = lead or f":eyes: {headline(view)} changed:"
    blocks: list[Block] = [section(f"{opening}\n{body}")]
    closing = view.get("close_notes")
    if kind.closed(view.record) and closing:
        blocks.append(section("*Closing notes*\n" + quote(closing)))
    blocks.append(actions([open_button(view.url)], f"dm:{view.sys_id}:{view.version}"))
    text = f"{view.number} changed: " + "; ".join(lines)
    return Card(text=clip(escape(text), MESSAGE_TEXT_MAX), blocks=tuple(blocks))


def record_list(
    kind: Kind,
    title: str,
    scope: str,
    lines: Sequence[tuple[View, str]],
    *,
    page: int,
    total: int,
    page_action: str,
) -> Card:
    """One page of a kind's list, each line with Post card; Previous / Next when there are more."""
    pages = max(1, -(-total // PAGE_SIZE))
    if not lines:
        message = f"*{title}*: none." if page == 1 else f"*{title}*: no page {page}."
        return Card(text=message, blocks=(section(message),))
    blocks: list[Block] = [section(f"*{title}* — {total} in all, page {page} of {pages}")]
    for view, summary in lines:
        blocks.append(
            {
                "type": "section",
                "text": mrkdwn(f"*{link(view.url, view.number)}*  {summary}"),
                "accessory": button("Post card", RecordId.POST, value(view.sys_id, kind.table)),
            }
        )
    navigation: list[Block] = []
    if page > 1:
        navigation.append(button("◀ Previous", page_action, f"{scope}:{page - 1}"))
    if page < pages:
        navigation.append(button("Next ▶", page_action, f"{scope}:{page + 1}"))
    if navigation:
        blocks.append(actions(navigation, f"list:{scope}:{page}"))
    return Card(text=f"{title}: page {page} of {pages}", blocks=tuple(blocks[:MESSAGE_BLOCKS_MAX]))


def comment_modal(kind: Kind, view: View, carry: dict[str, str]) -> dict[str, Any]:
    return modal(
        RecordId.COMMENT_FORM,
        f"Comment on {view.number}",
        [
            section(f"{headline(view)}\n_Everyone on the {escape(kind.label)} sees comments._"),
            text_input("text", "Comment", multiline=True, max_length=3000),
        ],
        submit="Add",
        metadata={**carry, "sys_id": view.sys_id, "table": kind.table},
    )


def follow_confirmation(kind: Kind, number: str, sys_id: str, following: bool) -> Card:
    if following:
        text = f":eyes: You follow {escape(number)}: you'll get a DM whenever it changes."
        control = button("Unfollow", RecordId.UNFOLLOW, value(sys_id, kind.table))
    else:
        text = f"You don't follow {escape(number)}: no more DMs about its changes."
        control = button("Follow", RecordId.FOLLOW, value(sys_id, kind.table))
    return Card(text=text, blocks=(section(text), actions([control])))
