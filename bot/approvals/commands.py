"""`/incident approvals`: my pending approvals, only to me, with their buttons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.approvals.cards import approval_list
from bot.approvals.service import Approvals
from bot.commands.router import Subcommand, Words
from bot.permissions import Action, Grant, Need
from bot.slack.interactions import Interaction, Interactions


@dataclass(frozen=True)
class ListApprovals:
    pass


@dataclass(frozen=True)
class Parts:
    approvals: Approvals
    interactions: Interactions


def _parse(words: Words) -> ListApprovals | None:
    return None if words.args else ListApprovals()  # "approvals for the new office" opens one


def _need(_: Parts, __: ListApprovals) -> Need[None]:
    return Need(Action.LIST)


async def _run(parts: Parts, it: Interaction, _: ListApprovals, grant: Grant[None]) -> None:
    card = approval_list(await parts.approvals.pending_for(grant.person))
    await parts.interactions.reply(it, card)


SUBCOMMANDS: tuple[Subcommand[Parts, Any], ...] = (
    Subcommand(
        ("approvals",),
        ("`/incident approvals` — your pending approvals, with Approve / Reject",),
        _parse,
        _run,
        _need,
    ),
)
