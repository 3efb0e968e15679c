"""Installing live records: the shared buttons once, then each kind.

`install(services)` (once, in bot/app.py) registers the buttons every kind shares; a kind's own
`install` calls `install_kind(services, KIND)`, which reads, tracks, posts and looks up that kind
and adds it to `services.kinds`, and then adds what only that kind has (its lists, its buttons).
"""

from __future__ import annotations

from bot.records import commands, listeners
from bot.records.kind import Kind
from bot.records.parts import RecordParts
from bot.records.service import Extras, LiveRecords
from bot.records.tracker import RecordTracker
from bot.services import Services
from bot.threads.relay import ThreadRelay
from storage import Followers, NotificationSettings, Threads


def install(services: Services) -> None:
    listeners.install(
        listeners.Shared(
            services.kinds,
            services.interactions,
            Followers(services.db),
            NotificationSettings(services.db),
        )
    )


def install_kind(services: Services, kind: Kind, extras: Extras | None = None) -> RecordParts:
    """Read, track and look up `kind`: its live cards, DMs, follow, comment and `show`."""
    records = LiveRecords(
        kind,
        services.servicenow,
        services.choices,
        services.feed,
        services.messenger,
        services.acting,
        extras,
        Threads(services.db),
    )
    followers, notifications = Followers(services.db), NotificationSettings(services.db)
    relay = ThreadRelay(Threads(services.db))
    services.feed.track(
        RecordTracker(records, services.identity, followers, notifications, relay=relay)
    )
    services.kinds.add(records)
    parts = RecordParts(records, services.interactions, followers, notifications)
    services.commands.add(commands.record_subcommands(kind), parts)
    return parts
