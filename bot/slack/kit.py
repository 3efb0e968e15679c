"""The Block Kit kit: Slack's limits and small pure builders every card, list and modal is made of.

Every builder keeps within Slack's limits (50 blocks a message, 100 a view, 3000 characters a section,
2000 a field, 75 an option label, 24 a modal title): text is cut with an ellipsis, never refused.
A card is a value (hashable, comparable), so it can be stored, diffed and snapshot-tested.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
MESSAGE_TEXT_MAX = 4000
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
BUTTON_TEXT_MAX = 75
TITLE_MAX = 24
QUOTE_MAX = 500
URL_MAX = 3000

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


# -- text ------------------------------------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """At most `limit` characters; cut text ends with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def escape(text: str) -> str:
    """The one way text from ServiceNow or from people goes into mrkdwn (and a Card's text).

    `&`, `<` and `>` become entities, so `<!channel>`, `<@U…>` or `<https://x|y>` written in a
    ServiceNow field shows as written: never a broadcast, a mention or a disguised link. Only the bot
    writes control sequences (`<url|INC…>` links through `link`, `<@U…>` for people it names).
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A mrkdwn link to `url` (the bot's own, never a record's text) showing `label`, escaped."""
    return f"<{url}|{escape(label)}>"


def quote(text: str, limit: int = QUOTE_MAX) -> str:
    """Text as a mrkdwn block quote, escaped and clipped."""
    lines = clip(text.strip(), limit).splitlines() or [""]
    return "\n".join("> " + escape(line) for line in lines)


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


# -- blocks and elements ---------------------------------------------------------------------------


BLANK = "—"  # what an empty text object shows: Slack refuses empty text


def mrkdwn(text: str, limit: int = SECTION_TEXT_MAX) -> Block:
    return {"type": "mrkdwn", "text": clip(text, limit) if text.strip() else BLANK}


def plain(text: str, limit: int = OPTION_TEXT_MAX) -> Block:
    return {
        "type": "plain_text",
        "text": clip(text, limit) if text.strip() else BLANK,
        "emoji": True,
    }


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text)]}


def actions(elements: Sequence[Block], block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)}
    if block_id:
        block["block_id"] = block_id
    return block


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


def link_button(label: str, action_id: str, url: str) -> Block:
    """A button that opens `url` (Slack still tells the app, which must ack)."""
    return {
        "type": "button",
        "action_id": action_id,
        "text": plain(label, BUTTON_TEXT_MAX),
        "url": url[:URL_MAX],
    }


def notice(text: str) -> Card:
    """A one-paragraph answer (errors and confirmations)."""
    return Card(text=clip(text, MESSAGE_TEXT_MAX), blocks=(section(text),))


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
    return input_block(block_id, label, element, optional=optional)


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
    return input_block(block_id, label, element, optional=optional)


def input_block(block_id: str, label: str, element: Block, *, optional: bool = False) -> Block:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "optional": optional,
        "element": element,
    }
