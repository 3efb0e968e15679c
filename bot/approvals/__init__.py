"""Approvals: decide ServiceNow approvals from Slack; the approver's DM stays true."""

from __future__ import annotations

from bot.approvals import commands, listeners
from bot.approvals.service import Approvals
from bot.approvals.tracker import ApprovalTracker
from bot.services import Services


def install(services: Services) -> Approvals:
    approvals = Approvals(
        services.servicenow,
        services.identity,
        services.messenger,
        services.keys,
        services.feed,
        signature_tables=services.settings.e_signature_table_set,
        acting=services.acting,
    )
    services.feed.track(ApprovalTracker(approvals))
    listeners.install(services.interactions, approvals)
    services.commands.add(commands.SUBCOMMANDS, commands.Parts(approvals, services.interactions))
    return approvals
