"""`/incident threads on|off`: whether this channel's card threads and comments stay in sync."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.commands.router import Help, Subcommand, Words
from bot.permissions import Action, Grant, Need
from bot.slack.interactions import Interaction
from storage import Threads


@dataclass(frozen=True)
class ThreadsSwitch:
    on: bool | None  # None: say how it is


def _threads(words: Words) -> ThreadsSwitch | Help:
    if not words.args:
        return ThreadsSwitch(None)
    if len(words.args) == 1 and words.args[0].lower() in ("on", "off"):
        return ThreadsSwitch(words.args[0].lower() == "on")
    return Help("`threads` takes `on` or `off`")


def _account(_: Threads, __: Any) -> Need[None]:
    return Need(Action.LIST)  # anyone with a ServiceNow account may choose for the channel


async def _run_threads(
    threads: Threads, it: Interaction, request: ThreadsSwitch, _: Grant[None]
) -> str:
    if not it.channel or it.origin == "dm":
        return "Threads are a channel's choice: use `/incident threads on|off` in a channel."
    if request.on is None:
        on = await threads.enabled(it.channel)
    else:
        on = request.on
        await threads.set_enabled(it.channel, on)
    if on:
        return (
            ":thread: Threads are *on* here: replies in a card's thread become comments on its "
            "record, and comments written in ServiceNow appear in the thread."
        )
    return (
        ":no_entry_sign: Threads are *off* here: replies in card threads stay in Slack, and "
        "ServiceNow comments are not posted here. `/incident threads on` turns them back on."
    )


SUBCOMMANDS: tuple[Subcommand[Threads, Any], ...] = (
    Subcommand(
        ("threads",),
        (
            "`/incident threads on|off` — whether replies in this channel's card threads become "
            "comments (and ServiceNow comments appear there)",
        ),
        _threads,
        _run_threads,
        _account,
    ),
)
