"""What a kind's listeners and subcommands work with (built once by `install_kind`)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.records.service import LiveRecords
from bot.slack.interactions import Interactions
from storage import Followers, NotificationSettings


@dataclass(frozen=True)
class RecordParts:
    records: LiveRecords
    interactions: Interactions
    followers: Followers
    notifications: NotificationSettings
