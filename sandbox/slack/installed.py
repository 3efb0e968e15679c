"""The app as Slack knows it once installed from its manifest: scopes, commands, events, URLs.

Real Slack only sends what the manifest declares (a slash command it lists, an event it subscribes
to, interactions when interactivity is on) to the URL the manifest gives for it, and answers a Web
API call whose scope was not granted with `missing_scope`. The stand-in does the same once
`SlackStandIn.install_app(manifest)` has been called; before that it lets everything through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MESSAGE_SUBSCRIPTIONS = {"channel": "channels", "group": "groups", "im": "im", "mpim": "mpim"}
MESSAGE_SCOPES = {
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
}


class NotInManifest(ValueError):
    """Slack would not send this: the installed app's manifest does not declare it."""


@dataclass(frozen=True)
class InstalledApp:
    scopes: tuple[str, ...]
    commands: dict[str, str | None]  # command -> its request URL (None in Socket Mode)
    bot_events: frozenset[str]
    events_url: str | None
    interactivity: bool
    interactivity_url: str | None
    options_url: str | None  # Slack's "Options Load URL", for external selects
    socket_mode: bool
    home_tab: bool
    messages_tab: bool
    # `type: message` shortcuts: callback_id -> name (the "More actions" menu entry)
    message_shortcuts: Mapping[str, str] = field(default_factory=dict)
    unfurl_domains: tuple[str, ...] = ()

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> InstalledApp:
        """Read a manifest (as parsed from YAML or JSON); ValueError for what Slack refuses."""
        features = manifest.get("features") or {}
        settings = manifest.get("settings") or {}
        events = settings.get("event_subscriptions") or {}
        interactivity = settings.get("interactivity") or {}
        app_home = features.get("app_home") or {}
        socket_mode = bool(settings.get("socket_mode_enabled"))
        app = cls(
            scopes=tuple(((manifest.get("oauth_config") or {}).get("scopes") or {}).get("bot", [])),
            commands={
                str(c["command"]): c.get("url") for c in features.get("slash_commands") or []
            },
            bot_events=frozenset(events.get("bot_events") or []),
            events_url=events.get("request_url"),
            interactivity=bool(interactivity.get("is_enabled")),
            interactivity_url=interactivity.get("request_url"),
            options_url=interactivity.get("message_menu_options_url"),
            socket_mode=socket_mode,
            home_tab=bool(app_home.get("home_tab_enabled")),
            messages_tab=bool(app_home.get("messages_tab_enabled")),
            message_shortcuts={
                str(shortcut.get("callback_id")): str(shortcut.get("name"))
                for shortcut in features.get("shortcuts") or []
                if shortcut.get("type") == "message"
            },
            unfurl_domains=tuple(features.get("unfurl_domains") or ()),
        )
        if not socket_mode:
            unrouted = [name for name, url in app.commands.items() if not url]
            if app.bot_events and not app.events_url:
                unrouted.append("event_subscriptions")
            if app.interactivity and not app.interactivity_url:
                unrouted.append("interactivity")
            if unrouted:
                raise ValueError(
                    f"without Socket Mode, Slack needs a request URL for: {', '.join(unrouted)}"
                )
        return app

    def command_url(self, command: str) -> str | None:
        if command not in self.commands:
            declared = ", ".join(self.commands) or "none"
            raise NotInManifest(
                f"{command} is not a valid command: the app's manifest declares {declared}"
            )
        if "commands" not in self.scopes:
            raise NotInManifest(f"{command}: slash commands need the `commands` scope")
        return self.commands[command]

    def event_url(self, event: Mapping[str, Any]) -> str | None:
        kind = str(event.get("type"))
        if kind == "message":  # subscribed to per kind of conversation
            kind = (
                f"message.{MESSAGE_SUBSCRIPTIONS.get(str(event.get('channel_type')), 'channels')}"
            )
            scope = MESSAGE_SCOPES[kind]
            if kind in self.bot_events and scope not in self.scopes:
                raise NotInManifest(f"{kind} needs the {scope} scope")
        if kind == "link_shared" and "links:read" not in self.scopes:
            raise NotInManifest("link_shared needs the links:read scope")
        if kind == "app_mention" and "app_mentions:read" not in self.scopes:
            raise NotInManifest("app_mention needs the app_mentions:read scope")
        if kind not in self.bot_events:
            raise NotInManifest(
                f"the app is not subscribed to {kind} (bot_events: {', '.join(sorted(self.bot_events)) or 'none'})"
            )
        if kind == "user_change" and "users:read" not in self.scopes:
            raise NotInManifest("user_change needs the users:read scope")
        if kind == "app_home_opened":
            tab = event.get("tab", "home")
            if (tab == "home" and not self.home_tab) or (
                tab == "messages" and not self.messages_tab
            ):
                raise NotInManifest(f"the app's {tab} tab is not enabled")
        return self.events_url

    @staticmethod
    def event_scope(event: Mapping[str, Any]) -> str | None:
        """The scope Slack needs to send this event (None: none beyond the subscription)."""
        kind = str(event.get("type"))
        if kind == "message":
            channel_type = MESSAGE_SUBSCRIPTIONS.get(str(event.get("channel_type")), "channels")
            return MESSAGE_SCOPES[f"message.{channel_type}"]
        return {
            "link_shared": "links:read",
            "app_mention": "app_mentions:read",
            "user_change": "users:read",
        }.get(kind)

    def unfurls(self, domain: str) -> bool:
        """Whether Slack sends link_shared for links to `domain` (its unfurl domains and their
        subdomains)."""
        domain = domain.lower()
        return any(domain == d or domain.endswith(f".{d}") for d in self.unfurl_domains)

    def interaction_url(self, kind: str) -> str | None:
        if not self.interactivity:
            raise NotInManifest(f"{kind}: the app's manifest does not enable interactivity")
        if kind == "block_suggestion":
            if not self.socket_mode and not self.options_url:
                raise NotInManifest(
                    "block_suggestion: the manifest sets no "
                    "settings.interactivity.message_menu_options_url to load options from"
                )
            return self.options_url
        return self.interactivity_url

    def message_shortcut_url(self, callback_id: str) -> str | None:
        """Where a message shortcut goes: Slack lists only the ones the manifest declares."""
        if callback_id not in self.message_shortcuts:
            declared = ", ".join(sorted(self.message_shortcuts)) or "none"
            raise NotInManifest(
                f"no message shortcut {callback_id!r}: the app's manifest declares {declared}"
            )
        if "commands" not in self.scopes:
            raise NotInManifest("shortcuts need the `commands` scope")
        return self.interaction_url("message_action")
