"""Channel subscriptions: `/incident subscribe`, the channel's list, and the cards the feed keeps.

Generic over record kinds: a kind offers itself in its `install` with one line,
`services.channels.offer(SUBSCRIBABLE, describe)` (bot/subscriptions/rules.py: its table, label,
filters with their choice lists, the snapshot fields its events come from), and its tracker reads
the filter fields (`SUBSCRIBABLE.fields`). This package is installed after the kinds.
"""

from __future__ import annotations

from bot.services import Services
from bot.subscriptions import commands, listeners
from bot.subscriptions.service import ChannelSubscriptions


def install(services: Services) -> ChannelSubscriptions:
    subs = ChannelSubscriptions(
        services.slack,
        services.servicenow.urgent(),
        services.choices,
        services.channels,
        services.interactions.guard,
        services.messenger,
        services.interactions,
    )
    listeners.install(subs)
    services.commands.add(commands.SUBCOMMANDS, subs)
    return subs
