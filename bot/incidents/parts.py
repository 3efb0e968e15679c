"""What the incident listeners and subcommands work with (built once by `bot.incidents.install`)."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.identity import Identity
from bot.incidents.opening import Opening
from bot.incidents.service import Incidents
from bot.slack.interactions import Interactions
from storage import Followers, NotificationSettings


@dataclass(frozen=True)
class Parts:
    incidents: Incidents
    interactions: Interactions
    identity: Identity
    followers: Followers
    notifications: NotificationSettings
    slack: AsyncWebClient
    incident_channel: str | None
    opening: Opening  # the duplicate check before opening
