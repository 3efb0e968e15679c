"""Reading what a person submitted in a modal: its private metadata and its input values."""

from __future__ import annotations

import json
from typing import Any

Values = dict[str, dict[str, dict[str, Any]]]


def metadata(body: dict[str, Any]) -> dict[str, str]:
    """The view's private_metadata (a JSON object of strings); {} if absent or malformed."""
    try:
        data = json.loads(body["view"].get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def values(body: dict[str, Any]) -> Values:
    state: Values = body["view"]["state"]["values"]
    return state


def text(values: Values, block_id: str, action_id: str = "value") -> str:
    """A text input's value, stripped; "" when empty or absent."""
    return str((values.get(block_id, {}).get(action_id) or {}).get("value") or "").strip()


def selected(values: Values, block_id: str, action_id: str = "value") -> str:
    """A select's chosen value; "" when nothing is chosen."""
    chosen = (values.get(block_id, {}).get(action_id) or {}).get("selected_option") or {}
    return str(chosen.get("value") or "")
