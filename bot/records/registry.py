"""Which record kinds the bot knows: the one place to find a kind by table or by number.

Filled by each kind's `install` (through `install_kind`); a link preview or a channel
subscription looks a record up here (`services.kinds.for_number("RITM0010001")`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.records.service import LiveRecords


class Kinds:
    """The record kinds the bot knows, by table and by number prefix (filled by `install`s)."""

    def __init__(self) -> None:
        self._by_table: dict[str, LiveRecords] = {}

    def add(self, records: LiveRecords) -> None:
        self._by_table[records.kind.table] = records

    def get(self, table: str) -> LiveRecords | None:
        return self._by_table.get(table)

    def for_number(self, number: str) -> LiveRecords | None:
        """The kind whose numbers look like `number` (RITM0000001 → requested items)."""
        return next(
            (r for r in self._by_table.values() if r.kind.number.match(number.strip())), None
        )

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self._by_table)

    def numbers(self, text: str) -> list[str]:
        """The record numbers of known kinds in a text, first seen first, each once."""
        found: list[str] = []
        for word in re.findall(r"[A-Za-z]+\d+", text):
            number = word.upper()
            if number not in found and self.for_number(number):
                found.append(number)
        return found

    def __iter__(self) -> Iterator[LiveRecords]:
        return iter(list(self._by_table.values()))

    def __len__(self) -> int:
        return len(self._by_table)
