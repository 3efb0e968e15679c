"""Incidents: the service, cards, tracker, listeners and `/incident` subcommands, installed together."""

from __future__ import annotations

from bot.incidents import commands, from_message, listeners, opening
from bot.incidents.duplicates import Duplicates
from bot.incidents.kind import KIND
from bot.incidents.parts import Parts
from bot.incidents.service import Incidents
from bot.incidents.subscribable import INCIDENTS
from bot.incidents.tracker import IncidentTracker, describe_changes
from bot.records.service import LiveRecords
from bot.services import Services
from bot.threads.relay import ThreadRelay
from storage import Drafts, Followers, NotificationSettings, Threads


def install(services: Services) -> Incidents:
    threads = Threads(services.db)
    incidents = Incidents(
        services.servicenow,
        services.identity,
        services.messenger,
        services.choices,
        services.feed,
        services.acting,
        threads,
    )
    followers, notifications = Followers(services.db), NotificationSettings(services.db)
    services.feed.track(
        IncidentTracker(
            incidents,
            services.identity,
            followers,
            notifications,
            extra_fields=INCIDENTS.fields,
            relay=ThreadRelay(threads),
        )
    )
    services.channels.offer(INCIDENTS, describe_changes)
    opens = opening.Opening(
        incidents,
        Duplicates(incidents, services.interactions.guard),
        Drafts(services.db),
        services.identity,
    )
    parts = Parts(
        incidents,
        services.interactions,
        services.identity,
        followers,
        notifications,
        services.slack,
        services.settings.incident_channel,
        opens,
    )
    listeners.install(parts)
    opening.install(opens, services.interactions, followers)
    from_message.install(opens, services.interactions, services.identity, services.slack)
    services.commands.add(commands.SUBCOMMANDS, parts)
    # Found by table or number like every kind (its own tracker and subcommands stay above):
    # threads, link previews and mentions reach incidents through this.
    services.kinds.add(
        LiveRecords(
            KIND,
            services.servicenow,
            services.choices,
            services.feed,
            services.messenger,
            services.acting,
            threads=threads,
        )
    )
    return incidents
