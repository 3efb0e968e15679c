"""Requested items (RITM…): live cards, DMs to the person they are for, `/incident requests`."""

from __future__ import annotations

from bot.records import install as records
from bot.records import lists as listing
from bot.records.parts import RecordParts
from bot.records.tracker import channel_lines
from bot.requested_items.kind import KIND
from bot.requested_items.lists import REQUESTS
from bot.requested_items.subscribable import REQUESTED_ITEMS
from bot.services import Services


def install(services: Services) -> RecordParts:
    parts = records.install_kind(services, KIND)
    services.channels.offer(REQUESTED_ITEMS, channel_lines(parts.records))
    services.commands.add((listing.subcommand(REQUESTS),), parts)
    listing.install(parts, REQUESTS)
    services.home_sections.append(listing.home_section(parts, REQUESTS))
    return parts
