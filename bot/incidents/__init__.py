"""Incidents: the service, cards, tracker, listeners and `/incident` subcommands, installed together."""

from __future__ import annotations

from bot.incidents import commands, listeners
from bot.incidents.parts import Parts
from bot.incidents.service import Incidents
from bot.incidents.subscribable import INCIDENTS
from bot.incidents.tracker import IncidentTracker, describe_changes
from bot.services import Services
from storage import Followers, NotificationSettings


def install(services: Services) -> Incidents:
    incidents = Incidents(
        services.servicenow,
        services.identity,
        services.messenger,
        services.choices,
        services.feed,
        services.acting,
    )
    followers, notifications = Followers(services.db), NotificationSettings(services.db)
    services.feed.track(
        IncidentTracker(
            incidents,
            services.identity,
            followers,
            notifications,
            extra_fields=INCIDENTS.fields,
        )
    )
    services.channels.offer(INCIDENTS, describe_changes)
    parts = Parts(
        incidents,
        services.interactions,
        services.identity,
        followers,
        notifications,
        services.slack,
        services.settings.incident_channel,
    )
    listeners.install(parts)
    services.commands.add(commands.SUBCOMMANDS, parts)
    return incidents
