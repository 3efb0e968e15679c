"""The App Home tab: my pending approvals, my open incidents, the subscriptions I made."""

from __future__ import annotations

from bot.approvals.service import Approvals
from bot.home import commands, listeners
from bot.home.service import Home
from bot.incidents.service import Incidents
from bot.services import Services


def install(services: Services, incidents: Incidents, approvals: Approvals) -> Home:
    home = Home(
        services.slack,
        services.identity,
        incidents,
        approvals,
        services.acting.linking,
        sections=services.home_sections,
        channels=services.channels,
    )
    listeners.install(services.interactions, home)
    if services.acting.linking is not None:
        services.commands.add(commands.SUBCOMMANDS, home)
    return home
