"""manifest.yml is a valid Slack app manifest for what the bot actually serves (limits: slack-notes §6)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
TOP_LEVEL = {"_metadata", "display_information", "features", "oauth_config", "settings"}


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return data


def test_manifest_has_only_known_keys_and_required_fields_within_limits() -> None:
    manifest = load()
    assert set(manifest) <= TOP_LEVEL
    info = manifest["display_information"]
    assert 1 <= len(info["name"]) <= 35
    assert 1 <= len(info.get("description", "x")) <= 140
    assert 1 <= len(manifest["features"]["bot_user"]["display_name"]) <= 80
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    for scope in manifest["oauth_config"]["scopes"]["bot"]:
        assert len(scope) <= 50


def test_slash_command_and_every_request_url_point_at_slack_events() -> None:
    manifest = load()
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/incident"
    assert re.fullmatch(r"/[a-z0-9_-]{1,31}", command["command"])
    assert len(command["description"]) <= 2000
    urls = [command["url"], manifest["settings"]["interactivity"]["request_url"]]
    events = manifest["settings"].get("event_subscriptions")
    if events:
        urls.append(events["request_url"])
    assert all(re.fullmatch(r"https://[^/]+/slack/events", url) for url in urls)


def test_scopes_cover_what_the_bot_calls() -> None:
    scopes = set(load()["oauth_config"]["scopes"]["bot"])
    # /incident, chat.postMessage/chat.update, users.info with the profile e-mail
    assert {"commands", "chat:write", "users:read", "users:read.email"} <= scopes
