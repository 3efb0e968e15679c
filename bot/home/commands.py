"""`/incident connect` and `/incident disconnect` (account linking, SERVICENOW_LINKING only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.commands.router import Help, Subcommand, Words
from bot.home.service import Home
from bot.permissions import Action, Grant, Need
from bot.slack.interactions import Interaction
from bot.slack.kit import escape


@dataclass(frozen=True)
class Connect:
    pass


@dataclass(frozen=True)
class Disconnect:
    pass


def _connect(words: Words) -> Connect | Help:
    return Help("`connect` takes nothing after it") if words.args else Connect()


def _disconnect(words: Words) -> Disconnect | Help:
    return Help("`disconnect` takes nothing after it") if words.args else Disconnect()


def _account(_: Home, __: Any) -> Need[None]:
    # Someone not connected is refused here with the Connect ServiceNow button (NotLinked).
    return Need(Action.LIST)


async def _run_connect(_: Home, __: Interaction, ___: Connect, grant: Grant[None]) -> str:
    who = escape(grant.person.name or grant.person.email)
    return (
        f":white_check_mark: You're connected to ServiceNow as *{who}*. "
        "`/incident disconnect` undoes it."
    )


async def _run_disconnect(home: Home, it: Interaction, _: Disconnect, __: Grant[None]) -> str:
    return await home.disconnect(it.user)


SUBCOMMANDS: tuple[Subcommand[Home, Any], ...] = (
    Subcommand(
        ("connect",),
        ("`/incident connect` — connect your ServiceNow account, so I act as you",),
        _connect,
        _run_connect,
        _account,
    ),
    Subcommand(
        ("disconnect",),
        ("`/incident disconnect` — forget your ServiceNow connection (and end its tokens)",),
        _disconnect,
        _run_disconnect,
        _account,
    ),
)
