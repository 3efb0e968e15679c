"""What the conversation features (thread sync, link previews, `@incident-bot INC…`) need of a
record kind, declared once per kind and looked up by table or by number.

A kind registers one `Kind` in its `install` (`services.kinds.add(...)`); thread replies become
its comments, its links unfurl and its numbers answer mentions with no other change.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.identity import Person
from bot.permissions import Need
from bot.slack.kit import Card


@dataclass(frozen=True)
class Kind:
    table: str
    number: re.Pattern[str]  # its numbers, matched whole (`INC\d{7}`)
    # Needs (permission + the record read as the person) by sys_id and by number.
    by_sys_id: Callable[[Any, str], Need[Any]]  # (action, sys_id)
    by_number: Callable[[Any, str], Need[Any]]  # (action, number)
    from_record: Callable[[Mapping[str, str]], Any]  # the feed's record as the kind's type
    preview: Callable[[Any], Card]  # the compact card of a link preview (pure)
    live_card: Callable[[Any], Awaitable[Card]]  # the full live card (reads its newest comment)
    sys_id_of: Callable[[Any], str]
    # A public comment written for the person (None: the kind takes no comments from threads).
    comment: Callable[[Person, Any, str], Awaitable[Any]] | None = None


class Kinds:
    def __init__(self) -> None:
        self._kinds: dict[str, Kind] = {}

    def add(self, kind: Kind) -> None:
        self._kinds[kind.table] = kind

    def of_table(self, table: str) -> Kind | None:
        return self._kinds.get(table)

    def of_number(self, number: str) -> Kind | None:
        return next((k for k in self._kinds.values() if k.number.fullmatch(number)), None)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def numbers(self, text: str) -> list[str]:
        """The record numbers in a text, first seen first, each once."""
        found: list[str] = []
        for word in re.findall(r"[A-Za-z]+\d+", text):
            number = word.upper()
            if number not in found and self.of_number(number):
                found.append(number)
        return found
