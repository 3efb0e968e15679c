"""Problems (PRB…): live cards with linked incidents, workaround and cause; DMs on state."""

from __future__ import annotations

from bot.problems.kind import KIND, linked_incidents
from bot.problems.subscribable import PROBLEMS
from bot.records import install as records
from bot.records.parts import RecordParts
from bot.records.tracker import channel_lines
from bot.services import Services


def install(services: Services) -> RecordParts:
    parts = records.install_kind(services, KIND, linked_incidents)
    services.channels.offer(PROBLEMS, channel_lines(parts.records))
    return parts
