"""Thread ↔ comments: replies in a live card's thread become comments on its record, and comments
written in ServiceNow come back as replies in every live card's thread (see README, "Threads").

A thread is about the record whose live card starts it, and about each record whose card was
posted into it to sync it (`Threads.link`: an incident opened from a message, its card in that
message's thread) once that card is there. A thread about several records takes only replies
that name exactly one of them; a card merely answering in a thread (a mention's) links nothing."""

from __future__ import annotations

from bot.services import Services
from bot.threads import commands, listeners
from bot.threads.relay import ThreadRelay
from storage import Threads

__all__ = ["ThreadRelay", "install"]


def install(services: Services) -> None:
    """The `message` listener (replies, edits, deletions) and `/incident threads on|off`."""
    threads = Threads(services.db)
    listeners.install(services, threads)
    services.commands.add(commands.SUBCOMMANDS, threads)
