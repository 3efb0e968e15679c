"""Which record kinds the bot knows: the one place to find a kind by table or by number.

Filled by each kind's `install` (through `install_kind`); a link preview or a channel
subscription looks a record up here (`services.kinds.for_number("RITM0010001")`).
"""

from __future__ import annotations

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

    def __iter__(self) -> Iterator[LiveRecords]:
        return iter(list(self._by_table.values()))

    def __len__(self) -> int:
        return len(self._by_table)
