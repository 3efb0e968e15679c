"""Incidents: the service, cards, tracker, listeners and `/incident` subcommands, installed together."""

from __future__ import annotations

import re

from bot.identity import Person
from bot.incidents import commands, listeners
from bot.incidents.cards import incident_preview
from bot.incidents.parts import Parts
from bot.incidents.service import TABLE, Incidents
from bot.incidents.tracker import IncidentTracker
from bot.kinds import Kind
from bot.services import Services
from bot.slack.kit import Card
from bot.threads import ThreadRelay
from servicenow.records import Incident
from storage import Followers, NotificationSettings, Threads


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
            incident_channel=services.settings.incident_channel,
            relay=ThreadRelay(threads),
        )
    )
    services.kinds.add(kind(incidents))
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


def kind(incidents: Incidents) -> Kind:
    """Incidents in threads, link previews and mentions (bot/kinds.py)."""

    async def live_card(incident: Incident) -> Card:
        return (await incidents.render(incident.sys_id, incident))[1]

    async def comment(person: Person, incident: Incident, text: str) -> Incident:
        return await incidents.comment(person, incident, text, public=True)

    return Kind(
        table=TABLE,
        number=re.compile(r"INC\d{7}"),
        by_sys_id=incidents.by_sys_id,
        by_number=incidents.by_number,
        from_record=Incident.from_record,
        preview=lambda incident: incident_preview(incident, incidents.url(incident.sys_id)),
        live_card=live_card,
        sys_id_of=lambda incident: incident.sys_id,
        comment=comment,
    )
