"""The bot's Slack surface, declared once, and the app manifest made from it.

`incident-bot manifest --url https://bot.example.org` prints the manifest for a bot served at that
address (every request URL is `<url>/slack/events`); `incident-bot manifest --socket` prints the one
for Socket Mode (no URLs); `--instance https://dev12345.service-now.com` (default:
SERVICENOW_INSTANCE_URL) makes that instance's host the unfurl domain, so its record links get
previews. manifest.yml is the `--url https://bot.example.com --instance
https://example.service-now.com` output. Change what the bot asks of Slack here, never in a manifest: tests hold this declaration to what the bot registers
with Bolt and to the Web API calls it really makes (limits: slack-notes.md §6).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

UNFURL_DOMAIN = re.compile(r"(?![.-])[-a-z0-9.]+[a-z0-9]")  # Slack's manifest schema
REQUEST_PATH = "/slack/events"  # Bolt routes commands, events and interactions from one URL
URL_MAX = 3000  # the strictest limit on a request URL (a slash command's `url`)


@dataclass(frozen=True)
class SlashCommand:
    command: str
    description: str
    usage_hint: str = ""
    should_escape: bool = True  # `@bob` reaches the bot as `<@U…|bob>`, which it understands


@dataclass(frozen=True)
class Shortcut:
    callback_id: str
    name: str
    description: str
    type: Literal["global", "message"] = "global"


# ---- the declaration ---------------------------------------------------------------------------

NAME = "incident-bot"
DESCRIPTION = "Open, find and work ServiceNow incidents and approvals without leaving Slack."
BACKGROUND_COLOR = "#1d3b53"

COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand(
        "/incident", "Open, look up and work ServiceNow incidents", "<what is wrong> | help"
    ),
)
SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut(
        "incident_from_message",
        "Open an incident",
        "Open a ServiceNow incident from this message; its card goes in the thread",
        type="message",
    ),
)

# Bot events, each with what the bot does with it.
BOT_EVENTS: dict[str, str] = {
    "app_home_opened": "publish the Home tab when someone opens it",
    "user_change": "check again at once who someone is in ServiceNow when their profile changes",
    "message.channels": "replies in a card's thread (public channels) become comments",
    "message.groups": "replies in a card's thread (private channels) become comments",
    "link_shared": "preview links to ServiceNow records",
    "app_mention": "@incident-bot INC0010001 answers in the thread with the live card",
}

# The scopes Slack requires to send each event (docs.slack.dev/reference/events/<event>).
EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "app_home_opened": (),
    "user_change": ("users:read",),
    "message.channels": ("channels:history",),
    "message.groups": ("groups:history",),
    "link_shared": ("links:read",),
    "app_mention": ("app_mentions:read",),
}


def event_type(subscription: str) -> str:
    """The event a subscription delivers (`message.channels` delivers `message` events)."""
    return subscription.partition(".")[0]


# App Home: the Home tab (views.publish) and the Messages tab, where the bot's DMs land. Nobody
# listens to messages people send there (no message.im event), so that tab is read-only.
HOME_TAB = True
MESSAGES_TAB = True
MESSAGES_TAB_READ_ONLY = True

# Buttons, menus and modals: Slack sends block_actions and view_submission only when enabled.
INTERACTIVITY = True
# External selects (the assignment group in the create modal) ask the bot for their options.
OPTIONS_LOAD = True

# Bot token scopes, each with why the bot needs it.
SCOPES: dict[str, str] = {
    "commands": "/incident and the message shortcut Open an incident",
    "chat:write": "post, update and answer with the bot's own cards and DMs",
    "chat:write.public": "post cards in public channels without being invited",
    "users:read": "users.info for who typed a command or pressed a button",
    "users:read.email": "their profile e-mail, which finds their ServiceNow user (and back)",
    "channels:history": "message.channels: replies in card threads in public channels",
    "groups:history": "message.groups: replies in card threads in private channels",
    "links:read": "link_shared: links to ServiceNow records",
    "links:write": "chat.unfurl: previews of those links",
    "app_mentions:read": "app_mention: @incident-bot INC0010001",
    "channels:read": "conversations.members: only members of a public channel may subscribe it",
    "groups:read": "conversations.members: the same for a private channel the bot was invited to",
}

# Every Web API method the bot calls, with the scopes it relies on for it (the required ones, and
# chat:write.public / users:read.email for what they add: public channels, profile e-mails).
METHODS: dict[str, tuple[str, ...]] = {
    "auth.test": (),  # Bolt, on the first request; `incident-bot check`
    "chat.postMessage": ("chat:write", "chat:write.public"),
    "chat.postEphemeral": ("chat:write",),
    "chat.getPermalink": (),  # the message shortcut's link back to the message (no scope)
    "chat.update": ("chat:write",),
    "chat.unfurl": ("links:write",),
    "users.info": ("users:read", "users:read.email"),
    "users.lookupByEmail": ("users:read.email",),
    "conversations.members": ("channels:read", "groups:read"),
    "views.open": (),
    "views.update": (),
    "views.publish": (),
}


# ---- the manifest ------------------------------------------------------------------------------


class ManifestError(ValueError):
    """The address given for the bot cannot be a request URL."""


def request_url(public_url: str) -> str:
    """`<public_url>/slack/events`, or ManifestError saying what is wrong with the address."""
    base = public_url.strip()
    try:
        parts = urlsplit(base)
        _ = parts.port  # raises on a bad port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or re.search(r"\s", base)
    ):
        raise ManifestError(
            f"--url must be the bot's public address, like https://bot.example.org (got {public_url!r})"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ManifestError(
            f"--url must be a plain address without query, fragment or credentials (got {public_url!r})"
        )
    path = parts.path.rstrip("/")
    if path.endswith(REQUEST_PATH):
        raise ManifestError(
            f"--url is the bot's base address: {REQUEST_PATH} is added (got {public_url!r})"
        )
    url = f"{parts.scheme.lower()}://{parts.netloc}{path}{REQUEST_PATH}"
    if len(url) > URL_MAX:
        raise ManifestError(f"--url is too long: Slack takes request URLs up to {URL_MAX} chars")
    return url


def unfurl_domain(instance_url: str) -> str:
    """The domain Slack sends link_shared for: the ServiceNow instance's host name."""
    try:
        host = (urlsplit(instance_url.strip()).hostname or "").lower()
    except ValueError:
        host = ""
    if not UNFURL_DOMAIN.fullmatch(host) or len(host) > 255:
        raise ManifestError(
            "the ServiceNow instance must be an address like https://dev12345.service-now.com "
            f"(got {instance_url!r})"
        )
    return host


def build(public_url: str | None, instance_url: str | None = None) -> dict[str, Any]:
    """The manifest for a bot served at `public_url`, or for Socket Mode when it is None; with
    `instance_url`, links to that ServiceNow instance unfurl (its host is the unfurl domain)."""
    url = request_url(public_url) if public_url is not None else None
    at: dict[str, str] = {"request_url": url} if url else {}

    features: dict[str, Any] = {
        "bot_user": {"display_name": NAME, "always_online": True},
        "app_home": {
            "home_tab_enabled": HOME_TAB,
            "messages_tab_enabled": MESSAGES_TAB,
            "messages_tab_read_only_enabled": MESSAGES_TAB_READ_ONLY,
        },
    }
    if COMMANDS:
        features["slash_commands"] = [
            {
                "command": c.command,
                **({"url": url} if url else {}),
                "description": c.description,
                **({"usage_hint": c.usage_hint} if c.usage_hint else {}),
                "should_escape": c.should_escape,
            }
            for c in COMMANDS
        ]
    if instance_url is not None:
        features["unfurl_domains"] = [unfurl_domain(instance_url)]
    if SHORTCUTS:
        features["shortcuts"] = [
            {
                "name": s.name,
                "type": s.type,
                "callback_id": s.callback_id,
                "description": s.description,
            }
            for s in SHORTCUTS
        ]

    settings: dict[str, Any] = {}
    if BOT_EVENTS:
        settings["event_subscriptions"] = {**at, "bot_events": list(BOT_EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": INTERACTIVITY}
    if INTERACTIVITY and url:
        interactivity["request_url"] = url
        if OPTIONS_LOAD:
            interactivity["message_menu_options_url"] = url
    settings["interactivity"] = interactivity
    settings["org_deploy_enabled"] = False
    settings["socket_mode_enabled"] = url is None
    settings["token_rotation_enabled"] = False

    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": NAME,
            "description": DESCRIPTION,
            "background_color": BACKGROUND_COLOR,
        },
        "features": features,
        "oauth_config": {"scopes": {"bot": list(SCOPES)}},
        "settings": settings,
    }


def render(public_url: str | None, instance_url: str | None = None) -> str:
    """`build(public_url, instance_url)` as commented YAML: what `incident-bot manifest` prints."""
    how = f"--url {public_url.strip()}" if public_url is not None else "--socket"
    if instance_url is not None:
        how += f" --instance {instance_url.strip()}"
    header = (
        f"Slack app manifest for {NAME}: the output of `incident-bot manifest {how}`.\n"
        "Generated from bot/manifest.py; change that, never this text. Paste it at\n"
        "https://api.slack.com/apps -> Create New App -> From a manifest."
    )
    notes: dict[tuple[str, ...], str] = {
        ("features", "app_home", "home_tab_enabled"): "my incidents and approvals",
        ("features", "app_home", "messages_tab_enabled"): "the bot's DMs",
        (
            "features",
            "app_home",
            "messages_tab_read_only_enabled",
        ): "the bot reads nothing sent there",
        ("settings", "interactivity", "is_enabled"): "buttons, menus and modals",
        ("settings", "interactivity", "message_menu_options_url"): "external select options",
    }
    notes.update({("oauth_config", "scopes", "bot", s): why for s, why in SCOPES.items()})
    notes.update(
        {("settings", "event_subscriptions", "bot_events", e): w for e, w in BOT_EVENTS.items()}
    )
    if instance_url is not None:
        notes[("features", "unfurl_domains", unfurl_domain(instance_url))] = (
            "links to records here get previews"
        )
    return to_yaml(build(public_url, instance_url), notes=notes, header=header)


# ---- YAML --------------------------------------------------------------------------------------
# A manifest is nested mappings and lists of strings, booleans and integers, so it is written here
# rather than with a YAML library: the output is deterministic (key order as built, strings quoted
# only when they must be), carries comments, and needs no runtime dependency. Tests read it back
# with PyYAML.

KeyPath = tuple[str, ...]
PLAIN = re.compile(r"[A-Za-z/][A-Za-z0-9 ._/:,()'+-]*")
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Plain scalars YAML 1.1 (and so PyYAML) would read as something other than a string.
NOT_STRINGS = re.compile(
    r"y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|null|Null|NULL"
)
ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def to_yaml(
    data: Mapping[str, Any], *, notes: Mapping[KeyPath, str] | None = None, header: str = ""
) -> str:
    """Block-style YAML for `data`; `notes` puts a comment after a key or a list item (by path)."""
    lines = [(f"# {_comment(line)}".rstrip(), "") for line in header.splitlines()]
    _mapping(data, (), 0, notes or {}, lines, first_prefix=None)
    return _align(lines)


def _mapping(
    data: Mapping[str, Any],
    path: KeyPath,
    indent: int,
    notes: Mapping[KeyPath, str],
    lines: list[tuple[str, str]],
    first_prefix: str | None,
) -> None:
    for n, (key, value) in enumerate(data.items()):
        if not KEY.fullmatch(key):
            raise ValueError(f"unsupported manifest key {key!r}")
        lead = first_prefix if n == 0 and first_prefix is not None else " " * indent
        note = notes.get((*path, key), "")
        if isinstance(value, Mapping) and value:
            lines.append((f"{lead}{key}:", note))
            _mapping(value, (*path, key), indent + 2, notes, lines, None)
        elif isinstance(value, list) and value:
            lines.append((f"{lead}{key}:", note))
            _sequence(value, (*path, key), indent + 2, notes, lines)
        else:
            lines.append((f"{lead}{key}: {scalar(value)}", note))


def _sequence(
    items: list[Any],
    path: KeyPath,
    indent: int,
    notes: Mapping[KeyPath, str],
    lines: list[tuple[str, str]],
) -> None:
    for item in items:
        prefix = " " * indent + "- "
        if isinstance(item, Mapping) and item:
            _mapping(item, path, indent + 2, notes, lines, first_prefix=prefix)
        elif isinstance(item, (Mapping, list)):
            lines.append((prefix + ("{}" if isinstance(item, Mapping) else "[]"), ""))
        else:
            note = notes.get((*path, str(item)), "") if isinstance(item, str) else ""
            lines.append((prefix + scalar(item), note))


def scalar(value: Any) -> str:
    """One YAML scalar: booleans, integers, and strings (plain when safe, else double-quoted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list):
        return "[]"
    if not isinstance(value, str):
        raise ValueError(f"unsupported manifest value {value!r}")
    if (
        PLAIN.fullmatch(value)
        and not NOT_STRINGS.fullmatch(value)
        and not value.endswith((" ", ":"))
        and ": " not in value
    ):
        return value
    return '"' + "".join(_escape(c) for c in value) + '"'


def _escape(char: str) -> str:
    if char in ESCAPES:
        return ESCAPES[char]
    code = ord(char)
    printable = code == 0x09 or 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF
    printable = printable or 0xE000 <= code <= 0xFFFD or code >= 0x10000
    if printable and char not in "\u2028\u2029\ufeff":
        return char
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def _comment(text: str) -> str:
    """Comment text kept on its line: line breaks and unprintable characters as escapes."""
    return "".join(c if c in '"\\' or _escape(c) == c else repr(c)[1:-1] for c in text)


def _align(lines: list[tuple[str, str]]) -> str:
    """Join lines; comments on neighbouring lines of one indentation start in one column."""
    out: list[str] = []
    n = 0
    while n < len(lines):
        end = n + 1
        if lines[n][1]:
            depth = _depth(lines[n][0])
            while end < len(lines) and lines[end][1] and _depth(lines[end][0]) == depth:
                end += 1
        width = max(len(text) for text, _ in lines[n:end])
        for text, note in lines[n:end]:
            out.append(f"{text.ljust(width)}  # {_comment(note)}".rstrip() if note else text)
        n = end
    return "\n".join(out) + "\n"


def _depth(text: str) -> int:
    return len(text) - len(text.lstrip(" -"))
