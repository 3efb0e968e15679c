"""JSON and form bodies in the shapes Slack uses (fixtures/slack/): pure functions, no I/O."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sandbox.slack.records import Channel, Message, SlackUser, View

API_APP_ID = "A0SANDBOX0"
TEAM_DOMAIN = "sandbox"
TEAM_NAME = "Sandbox Workspace"
VERIFICATION_TOKEN = "sandboxVerificationToken"  # deprecated field Slack still sends
AVATAR_SIZES = (24, 32, 48, 72, 192, 512)


def team(team_id: str) -> dict[str, Any]:
    return {"id": team_id, "domain": TEAM_DOMAIN}


def user_ref(user: SlackUser, team_id: str) -> dict[str, Any]:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": team_id}


def channel_ref(channel: Channel) -> dict[str, Any]:
    return {"id": channel.id, "name": "directmessage" if channel.is_im else channel.name}


def timezone(tz: str) -> tuple[str, int]:
    """(label, offset in seconds) of `tz` now."""
    try:
        now = datetime.now(ZoneInfo(tz))
    except ZoneInfoNotFoundError:
        now = datetime.now(UTC)
    offset = now.utcoffset()
    return now.tzname() or "UTC", int(offset.total_seconds()) if offset else 0


def user_object(user: SlackUser, team_id: str, *, image_original: bool = False) -> dict[str, Any]:
    """A user as users.info (image_original=True) / users.lookupByEmail return it."""
    digest = hashlib.sha1(user.id.encode()).hexdigest()
    label, offset = timezone(user.tz)
    profile: dict[str, Any] = {
        "avatar_hash": digest[:12],
        "status_text": "",
        "status_emoji": "",
        "real_name": user.real_name,
        "display_name": user.name,
        "real_name_normalized": user.real_name,
        "display_name_normalized": user.name,
    }
    if user.email is not None:
        profile["email"] = user.email
    if user.bot_id is not None:
        profile["bot_id"] = user.bot_id
    for size in AVATAR_SIZES:
        profile[f"image_{size}"] = f"https://avatars.slack-edge.com/sandbox/{digest}_{size}.png"
    profile["team"] = team_id
    if image_original:
        profile["image_original"] = f"https://avatars.slack-edge.com/sandbox/{digest}_original.png"
    return {
        "id": user.id,
        "team_id": team_id,
        "name": user.name,
        "deleted": user.deleted,
        "color": digest[12:18],
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": label,
        "tz_offset": offset,
        "profile": profile,
        "is_admin": False,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": 1700000000,
        "has_2fa": False,
    }


def view_object(view: View, team_id: str, bot_id: str) -> dict[str, Any]:
    """A view as views.* return it and as interaction payloads carry it."""
    spec = view.view
    body: dict[str, Any] = {
        "id": view.id,
        "team_id": team_id,
        "type": view.type,
        "blocks": spec.get("blocks", []),
        "private_metadata": spec.get("private_metadata", ""),
        "callback_id": spec.get("callback_id", ""),
        "state": {"values": view.state},
        "hash": view.hash,
    }
    if "title" in spec:
        body["title"] = spec["title"]
    body.update(
        {
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "close": spec.get("close"),
            "submit": spec.get("submit"),
            "previous_view_id": view.previous_view_id,
            "root_view_id": view.root_view_id or view.id,
            "app_id": API_APP_ID,
            "external_id": view.external_id,
            "app_installed_team_id": team_id,
            "bot_id": bot_id,
        }
    )
    return body


def message_object(message: Message, bot: SlackUser) -> dict[str, Any]:
    """A message as block_actions payloads carry it."""
    body: dict[str, Any] = {"type": "message"}
    if message.user == bot.id:
        body.update({"subtype": "bot_message", "bot_id": bot.bot_id})
    body.update({"text": message.text, "user": message.user, "ts": message.ts})
    if message.thread_ts:
        body["thread_ts"] = message.thread_ts
    if message.blocks:
        body["blocks"] = message.blocks
    if message.attachments:
        body["attachments"] = message.attachments
    return body


def slash_command_form(
    *,
    team_id: str,
    channel: Channel,
    user: SlackUser,
    command: str,
    text: str,
    response_url: str,
    trigger_id: str,
) -> str:
    """The form body of a slash command, fields in Slack's order."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel.id,
        "channel_name": channel_ref(channel)["name"],
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    return urlencode(fields)


def interaction_form(payload: dict[str, Any]) -> str:
    """Interactive payloads travel as `payload=<url-encoded JSON>`."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def find_element(blocks: list[dict[str, Any]], action_id: str) -> tuple[str, dict[str, Any]] | None:
    """(block_id, element) of the interactive element with `action_id`."""
    for block in blocks:
        candidates: list[Any] = []
        if isinstance(block.get("elements"), list):
            candidates += block["elements"]
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                candidates.append(block[key])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block.get("block_id", "")), element
    return None


def action(
    *,
    action_id: str,
    block_id: str,
    value: str | None,
    selected_option: dict[str, Any] | None,
    element: dict[str, Any] | None,
    action_ts: str,
) -> dict[str, Any]:
    element = element or {}
    kind = element.get("type") or ("static_select" if selected_option is not None else "button")
    body: dict[str, Any] = {"action_id": action_id, "block_id": block_id}
    if "text" in element:
        body["text"] = element["text"]
    if selected_option is not None:
        body["selected_option"] = selected_option
        if "placeholder" in element:
            body["placeholder"] = element["placeholder"]
    else:
        chosen = value if value is not None else element.get("value")
        if chosen is not None:
            body["value"] = chosen
    if "style" in element:
        body["style"] = element["style"]
    body.update({"type": kind, "action_ts": action_ts})
    return body


def event_envelope(
    event: dict[str, Any], *, team_id: str, bot_user_id: str, event_id: str, event_time: int
) -> dict[str, Any]:
    """An Events API `event_callback` envelope around `event`."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": API_APP_ID,
        "event": event,
        "type": "event_callback",
        "authorizations": [
            {
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "event_id": event_id,
        "event_time": event_time,
    }


def permalink(message: Message) -> str:
    """chat.getPermalink's link: `p` and the ts without its dot; a reply names its thread."""
    link = (
        f"https://{TEAM_DOMAIN}.slack.com/archives/{message.channel}/p{message.ts.replace('.', '')}"
    )
    if message.thread_ts and message.thread_ts != message.ts:
        link += f"?thread_ts={message.thread_ts}&cid={message.channel}"
    return link


def message_action(
    *,
    team_id: str,
    user: SlackUser,
    channel: Channel,
    message: Message,
    bot: SlackUser,
    callback_id: str,
    trigger_id: str,
    response_url: str,
    action_ts: str,
) -> dict[str, Any]:
    """A message shortcut's payload (`type: message_action`), as Slack sends it."""
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": action_ts,
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": {"id": user.id, "name": user.name, "username": user.name, "team_id": team_id},
        "channel": {"id": channel.id, "name": channel.name},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
        "response_url": response_url,
        "message_ts": message.ts,
        "message": message_object(message, bot),
    }
