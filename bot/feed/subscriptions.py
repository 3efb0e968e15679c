"""Subscriptions on the change feed: the channel cards one change posts, marks or threads.

`ChannelFeed.writes` runs inside `Feed.reconcile` for every change that is news (not a baseline),
on the record the feed already read: the table's subscriptions (cached for a few seconds, and
forgotten at once when one changes here) and the channels' cards of the record (one query) are
all it reads. What it decides is queued in the change's own transaction, so a card is posted once
per channel whatever the number of deliveries of the change.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from bot.feed.changes import CHANNEL_CARDS, ChannelChange
from bot.feed.filters import Decision, Event, Subscribable, decide
from bot.feed.messenger import THREAD_OF
from bot.slack.kit import Block, Card, context, escape
from storage import SlackWrite
from storage.subscriptions import CardNote, StoredSubscription, Subscriptions

RULES_TTL = 5.0  # seconds a table's subscriptions are trusted (other replicas may change them)

# The thread's lines for one change (previous, current snapshot); may read cached choice labels.
Describe = Callable[[Mapping[str, str], Mapping[str, str]], list[str] | Awaitable[list[str]]]


def creator_text(rule: StoredSubscription) -> str:
    return f"<@{rule.creator}>" if rule.creator else "the INCIDENT_CHANNEL setting"


def footer(rule: StoredSubscription, *, matching: bool) -> list[Block]:
    """The line under a channel's subscription card: whose subscription put it there."""
    if matching:
        return [context(f":mega: Posted here by the subscription made by {creator_text(rule)}")]
    return [
        context(
            ":white_circle: *No longer matches* this channel's subscription made by "
            f"{creator_text(rule)}"
        )
    ]


def history_line(number: str, happened: Sequence[Event], lines: Sequence[str]) -> Card:
    """One threaded line for the events of one change."""
    what = "; ".join(escape(line) for line in lines) or ", ".join(e.label for e in happened)
    text = f"{escape(number)}: {what}"
    return Card(text=text, blocks=(context(text),))


class ChannelFeed:
    def __init__(
        self, subscriptions: Subscriptions, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.subscriptions = subscriptions
        self.kinds: dict[str, Subscribable] = {}
        self._describe: dict[str, Describe] = {}
        self._rules: dict[str, tuple[float, list[StoredSubscription]]] = {}
        # A table's subscriptions being read: the changes that find them stale meanwhile wait
        # for that read (a burst's hundred reconciles read once, not each for itself: #15).
        self._reading: dict[str, asyncio.Task[list[StoredSubscription]]] = {}
        self._clock = clock

    def offer(self, kind: Subscribable, describe: Describe | None = None) -> None:
        """A record kind channels can subscribe to (its `install` calls this once)."""
        self.kinds[kind.table] = kind
        if describe is not None:
            self._describe[kind.table] = describe

    def forget(self) -> None:
        """Subscriptions changed here: read them again on the next change (a read begun before
        is neither waited for nor remembered)."""
        self._rules.clear()
        self._reading.clear()

    async def rules(self, table: str) -> list[StoredSubscription]:
        cached = self._rules.get(table)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        reading = self._reading.get(table)
        if reading is None:
            reading = self._reading[table] = asyncio.create_task(self._read(table))
        # Shielded: one waiter cancelled does not cancel the read the others wait for.
        return await asyncio.shield(reading)

    async def _read(self, table: str) -> list[StoredSubscription]:
        read = asyncio.current_task()
        try:
            rules = await self.subscriptions.of_table(table)
        finally:
            current = self._reading.get(table) is read
            if current:
                del self._reading[table]
        if current:
            self._rules[table] = (self._clock() + RULES_TTL, rules)
        return rules

    async def following(self, table: str) -> bool:
        return table in self.kinds and bool(await self.rules(table))

    async def writes(
        self,
        table: str,
        record: Mapping[str, str],
        previous: Mapping[str, str] | None,
        snapshot: Mapping[str, str],
        card: Card,
        *,
        fresh: bool = False,
        posted_to: frozenset[str] = frozenset(),
    ) -> ChannelChange:
        """`fresh`: the bot has just created the record; no channel can have a card of it yet
        (nothing is read for them; nor for a record whose snapshot has no CHANNEL_CARDS mark). `posted_to`: channels the caller posts the card in with this
        change (a command's own card): that copy becomes the channel's card, none is added."""
        kind = self.kinds.get(table)
        if kind is None:
            return ChannelChange()
        rules = await self.rules(table)
        if not rules:
            return ChannelChange()
        sys_id = record.get("sys_id", "")
        # Only a record whose snapshot says a channel has a card of it (or one seen for the
        # first time) can have one: the others cost no query.
        unknown = previous is None and not fresh
        marked = previous is not None and bool(previous.get(CHANNEL_CARDS))
        cards = await self.subscriptions.cards(table, sys_id) if unknown or marked else {}
        decisions = decide(kind, rules, previous, snapshot, record, cards)
        # A channel without a subscription card may show the record's card all the same (a
        # command posted it there): that copy becomes its card, none is added. Read only when a
        # card would be posted, and never for a record just created (`posted_to` has its copies).
        wanted = [d.channel for d in decisions if d.post and d.channel not in posted_to]
        shown = (
            await self.subscriptions.copies_in(table, sys_id, wanted)
            if wanted and not fresh
            else set()
        )
        posted_to = posted_to | shown
        writes: list[SlackWrite] = []
        notes: list[CardNote] = []
        for decision in decisions:
            blocks = footer(decision.rule, matching=decision.matching)
            if decision.post or decision.restyle:
                notes.append(
                    CardNote(decision.channel, decision.rule.id, decision.matching, blocks)
                )
            if decision.post and decision.channel not in posted_to:
                writes.append(self._post(decision, card, blocks, table, sys_id))
            if decision.history:
                writes.append(await self._line(decision, table, record, previous, snapshot))
        footers = {channel: state.footer for channel, state in cards.items()}
        footers.update({note.channel: note.footer for note in notes})
        return ChannelChange(writes, notes, footers)

    @staticmethod
    def _post(
        decision: Decision, card: Card, blocks: list[Block], table: str, sys_id: str
    ) -> SlackWrite:
        payload: dict[str, Any] = {"text": card.text, "blocks": [*card.blocks, *blocks]}
        return SlackWrite("post", decision.channel, payload, table_name=table, sys_id=sys_id)

    async def _line(
        self,
        decision: Decision,
        table: str,
        record: Mapping[str, str],
        previous: Mapping[str, str] | None,
        snapshot: Mapping[str, str],
    ) -> SlackWrite:
        describe = self._describe.get(table)
        described = describe(previous, snapshot) if describe and previous is not None else []
        lines = await described if inspect.isawaitable(described) else described
        line = history_line(record.get("number", ""), decision.history, lines)
        payload: dict[str, Any] = {
            "text": line.text,
            "blocks": list(line.blocks),
            THREAD_OF: {"table": table, "sys_id": record.get("sys_id", "")},
        }
        return SlackWrite("post", decision.channel, payload)
