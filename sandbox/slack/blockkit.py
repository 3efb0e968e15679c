"""The Block Kit limits Slack enforces, reported the way Slack words them.

Each check returns a list of `[ERROR] ... [json-pointer:/...]` strings (empty when valid); the Web API
turns a non-empty list into `invalid_blocks` (messages) or `invalid_arguments` (views).
Limits: slack-notes.md §5.5.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_MAX = 10
BLOCK_ID_MAX = 255
ACTION_ID_MAX = 255
BUTTON_TEXT_MAX = 75
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTIONS_MAX = 100
HEADER_TEXT_MAX = 150
ACTIONS_ELEMENTS_MAX = 25
CONTEXT_ELEMENTS_MAX = 10
TITLE_MAX = 24
PRIVATE_METADATA_MAX = 3000
CALLBACK_ID_MAX = 255
INPUT_MAX_LENGTH = 3000

BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


# A `<…>` in mrkdwn is a control sequence (`<@U…>`, `<#C…>`, `<url|label>`, `<!here>`…): the bot
# writes only mentions of people and channels, and links. Anything else — a broadcast, a raw placeholder, a mention or a link
# smuggled in through a ServiceNow field — means some text skipped escaping on its way in.
CONTROL_SEQUENCE = re.compile(r"<[^<>]*>")
WELL_FORMED = re.compile(
    r"(?:@[UW][A-Z0-9]+|#C[A-Z0-9]+|(?:https?://|mailto:)[^\s|<>]+)(?:\|[^<>]*)?"
)
BROADCASTS = frozenset({"channel", "here", "everyone"})


def markup_problems(text: Any, blocks: Any, pointer: str = "") -> list[str]:
    """Control sequences the bot must never send, in a message's `text` and every mrkdwn text
    object of its blocks (sections, fields, context elements…); plain_text shows `<` as typed."""
    found: list[str] = []
    if isinstance(text, str):
        found += _sequence_problems(text, f"{pointer}/text")
    for where, body in _mrkdwn_texts(blocks, f"{pointer}/blocks"):
        found += _sequence_problems(body, where)
    return found


def view_markup_problems(view: Any) -> list[str]:
    if not isinstance(view, dict):
        return []
    return markup_problems(None, view.get("blocks"), "/view")


def _mrkdwn_texts(node: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield f"{pointer}/text", node["text"]
        for key, value in node.items():
            yield from _mrkdwn_texts(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _mrkdwn_texts(item, f"{pointer}/{index}")


def _sequence_problems(text: str, pointer: str) -> list[str]:
    problems: list[str] = []
    for match in CONTROL_SEQUENCE.finditer(text):
        inner = match.group()[1:-1]
        if inner.startswith("!") and inner[1:].split("|")[0] in BROADCASTS:
            problems.append(f"[ERROR] a broadcast {match.group()!r} [json-pointer:{pointer}]")
        elif not WELL_FORMED.fullmatch(inner):
            shown = match.group() if len(match.group()) <= 60 else match.group()[:57] + "…"
            problems.append(f"[ERROR] not a control sequence: {shown!r} [json-pointer:{pointer}]")
    return problems


def too_long(limit: int, pointer: str) -> str:
    return f"[ERROR] must be less than {limit + 1} characters [json-pointer:{pointer}]"


def message_problems(blocks: Any) -> list[str]:
    if not isinstance(blocks, list):
        return ["[ERROR] expected an array of blocks [json-pointer:/blocks]"]
    problems: list[str] = []
    if len(blocks) > MESSAGE_BLOCKS_MAX:
        problems.append(
            f"[ERROR] no more than {MESSAGE_BLOCKS_MAX} items allowed [json-pointer:/blocks]"
        )
    problems += blocks_problems(blocks, "/blocks")
    return problems


def view_problems(view: Any) -> list[str]:
    if not isinstance(view, dict):
        return ["[ERROR] expected an object [json-pointer:/view]"]
    problems: list[str] = []
    kind = view.get("type")
    if kind not in ("modal", "home"):
        problems.append("[ERROR] must be one of modal, home [json-pointer:/view/type]")
    if kind == "modal":
        title = view.get("title")
        if not isinstance(title, dict):
            problems.append("[ERROR] missing required field: title [json-pointer:/view]")
        else:
            problems += text_problems(title, "/view/title", TITLE_MAX, plain_only=True)
        for key in ("submit", "close"):
            if isinstance(view.get(key), dict):
                problems += text_problems(view[key], f"/view/{key}", TITLE_MAX, plain_only=True)
        has_input = any(
            isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks", [])
        )
        if has_input and not view.get("submit"):
            problems.append(
                "[ERROR] submit is required when an input block is present [json-pointer:/view/submit]"
            )
    blocks = view.get("blocks", [])
    if not isinstance(blocks, list):
        return [*problems, "[ERROR] expected an array of blocks [json-pointer:/view/blocks]"]
    if len(blocks) > VIEW_BLOCKS_MAX:
        problems.append(
            f"[ERROR] no more than {VIEW_BLOCKS_MAX} items allowed [json-pointer:/view/blocks]"
        )
    if len(str(view.get("private_metadata", ""))) > PRIVATE_METADATA_MAX:
        problems.append(too_long(PRIVATE_METADATA_MAX, "/view/private_metadata"))
    if len(str(view.get("callback_id", ""))) > CALLBACK_ID_MAX:
        problems.append(too_long(CALLBACK_ID_MAX, "/view/callback_id"))
    problems += blocks_problems(blocks, "/view/blocks")
    return problems


def blocks_problems(blocks: list[Any], pointer: str) -> list[str]:
    problems: list[str] = []
    seen_ids: set[str] = set()
    for index, block in enumerate(blocks):
        here = f"{pointer}/{index}"
        if not isinstance(block, dict):
            problems.append(f"[ERROR] expected an object [json-pointer:{here}]")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if len(block_id) > BLOCK_ID_MAX:
                problems.append(too_long(BLOCK_ID_MAX, f"{here}/block_id"))
            if block_id in seen_ids:
                problems.append(f"[ERROR] duplicate block_id {block_id!r} [json-pointer:{here}]")
            seen_ids.add(block_id)
        problems += block_problems(block, here)
    return problems


def block_problems(block: dict[str, Any], here: str) -> list[str]:
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        return [f"[ERROR] unsupported type: {kind} [json-pointer:{here}/type]"]
    problems: list[str] = []
    if kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and not fields:
            problems.append(f"[ERROR] must provide either text or fields [json-pointer:{here}]")
        if text is not None:
            problems += text_problems(text, f"{here}/text", SECTION_TEXT_MAX)
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > FIELDS_MAX:
                problems.append(
                    f"[ERROR] no more than {FIELDS_MAX} items allowed [json-pointer:{here}/fields]"
                )
            else:
                for i, item in enumerate(fields):
                    problems += text_problems(item, f"{here}/fields/{i}", FIELD_TEXT_MAX)
        if isinstance(block.get("accessory"), dict):
            problems += element_problems(block["accessory"], f"{here}/accessory")
    elif kind == "header":
        problems += text_problems(
            block.get("text"), f"{here}/text", HEADER_TEXT_MAX, plain_only=True
        )
    elif kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            problems.append(
                f"[ERROR] must provide at least 1 element [json-pointer:{here}/elements]"
            )
        elif len(elements) > ACTIONS_ELEMENTS_MAX:
            problems.append(
                f"[ERROR] no more than {ACTIONS_ELEMENTS_MAX} items allowed "
                f"[json-pointer:{here}/elements]"
            )
        else:
            for i, element in enumerate(elements):
                problems += element_problems(element, f"{here}/elements/{i}")
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            problems.append(
                f"[ERROR] must provide at least 1 element [json-pointer:{here}/elements]"
            )
        elif len(elements) > CONTEXT_ELEMENTS_MAX:
            problems.append(
                f"[ERROR] no more than {CONTEXT_ELEMENTS_MAX} items allowed "
                f"[json-pointer:{here}/elements]"
            )
    elif kind == "input":
        problems += text_problems(
            block.get("label"), f"{here}/label", FIELD_TEXT_MAX, plain_only=True
        )
        element = block.get("element")
        if not isinstance(element, dict):
            problems.append(f"[ERROR] missing required field: element [json-pointer:{here}]")
        else:
            problems += element_problems(element, f"{here}/element")
    return problems


def element_problems(element: Any, here: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"[ERROR] expected an object [json-pointer:{here}]"]
    problems: list[str] = []
    action_id = element.get("action_id")
    if isinstance(action_id, str) and len(action_id) > ACTION_ID_MAX:
        problems.append(too_long(ACTION_ID_MAX, f"{here}/action_id"))
    kind = element.get("type")
    if kind == "button":
        problems += text_problems(
            element.get("text"), f"{here}/text", BUTTON_TEXT_MAX, plain_only=True
        )
        value = element.get("value")
        if isinstance(value, str) and len(value) > 2000:
            problems.append(too_long(2000, f"{here}/value"))
    elif kind == "plain_text_input":
        max_length = element.get("max_length")
        if isinstance(max_length, int) and not 1 <= max_length <= INPUT_MAX_LENGTH:
            problems.append(
                f"[ERROR] must be between 1 and {INPUT_MAX_LENGTH} [json-pointer:{here}/max_length]"
            )
    options = element.get("options")
    if isinstance(options, list):
        if len(options) > OPTIONS_MAX:
            problems.append(
                f"[ERROR] no more than {OPTIONS_MAX} items allowed [json-pointer:{here}/options]"
            )
        for i, option in enumerate(options):
            problems += option_problems(option, f"{here}/options/{i}")
    return problems


def option_problems(option: Any, here: str) -> list[str]:
    if not isinstance(option, dict):
        return [f"[ERROR] expected an object [json-pointer:{here}]"]
    problems = text_problems(option.get("text"), f"{here}/text", OPTION_TEXT_MAX)
    value = option.get("value")
    if isinstance(value, str) and len(value) > OPTION_VALUE_MAX:
        problems.append(too_long(OPTION_VALUE_MAX, f"{here}/value"))
    return problems


def text_problems(text: Any, here: str, limit: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(text, dict):
        return [f"[ERROR] expected a text object [json-pointer:{here}]"]
    kind = text.get("type")
    allowed = {"plain_text"} if plain_only else TEXT_TYPES
    if kind not in allowed:
        return [f"[ERROR] must be one of {', '.join(sorted(allowed))} [json-pointer:{here}/type]"]
    body = text.get("text")
    if not isinstance(body, str) or not body:
        return [f"[ERROR] must be more than 0 characters [json-pointer:{here}/text]"]
    if len(body) > limit:
        return [too_long(limit, f"{here}/text")]
    return []
