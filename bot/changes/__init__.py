"""Change requests (CHG…): live cards with the window, DMs to requester and assignee, `/incident changes`."""

from __future__ import annotations

from bot.changes import listeners
from bot.changes.kind import KIND
from bot.changes.lists import CHANGES
from bot.changes.subscribable import CHANGE_REQUESTS
from bot.records import install as records
from bot.records import lists as listing
from bot.records.parts import RecordParts
from bot.records.tracker import channel_lines
from bot.services import Services


def install(services: Services) -> RecordParts:
    parts = records.install_kind(services, KIND)
    services.channels.offer(CHANGE_REQUESTS, channel_lines(parts.records))
    services.commands.add((listing.subcommand(CHANGES),), parts)
    listing.install(parts, CHANGES)
    listeners.install(parts)
    services.home_sections.append(listing.home_section(parts, CHANGES))
    return parts
