"""The change feed: ServiceNow changes in, one reconcile step, Slack writes queued exactly once.

Two sources, one path. Signed events from a Business Rule (stored by `accept_event` before the
webhook answers 202, acted on by `run_events`) and the delta poller (`poll_once`) both end in `reconcile(table, record)`, which diffs the record against the stored
snapshot, asks the table's Tracker what to send, and — in one transaction — advances the snapshot
(compare-and-set on `sys_mod_count`) and queues the writes in the outbox. The bot's own changes go
through the same step at once, with the person who made them as `actor`.

Nothing answered 202 is forgotten: a stored event is deleted only once its record was reconciled,
and a record whose reconcile fails (ServiceNow down, a value the tracker cannot read) is stored the
same way, logged once, and tried again later with backoff while the poll cursor moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

from sqlalchemy import text

from bot.feed.wake import first_of
from bot.logs import Throttle
from bot.slack.kit import Card
from servicenow.client import ServiceNowClient
from servicenow.errors import NotFoundError, ServiceNowError
from servicenow.query import Query
from servicenow.records import parse_datetime
from servicenow.webhook import ChangeEvent
from storage import Card as StoredCard
from storage import Database, FeedStore, Fold, Pending, PendingEvents, SlackWrite
from storage.subscriptions import CardNote

log = logging.getLogger(__name__)

Record = dict[str, str]
POLL_LOCK_ID = 0x1C1DE27  # the advisory lock that elects the one poller among replicas
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
POLL_BATCH = 200  # records reconciled side by side, POLL_CONCURRENCY at a time
POLL_CONCURRENCY = 8
EVENT_CONCURRENCY = 16  # stored events handled side by side
EVENT_LEASE = timedelta(minutes=5)  # a claimed event is left to its claimer this long
MAX_RETRY_SECONDS = 300.0
CHANNEL_CARDS = "~channel_cards"  # snapshot key: some channel has a subscription card of it


def retry_delay(attempts: int) -> float:
    """1, 2, 4 … seconds after the attempts so far, at most five minutes."""
    return min(MAX_RETRY_SECONDS, 2.0 ** max(0, attempts - 1))


@dataclass(frozen=True)
class Outgoing:
    """One Slack write, delivered later by the durable outbox (never lost, never duplicated)."""

    kind: Literal["post", "dm", "unfurl"]
    target: str  # channel id (post, unfurl) or Slack user id (dm)
    card: Card
    table: str | None = None  # with sys_id: the message becomes a live copy of that record
    sys_id: str | None = None
    # A DM that folds: the tracker's memo of where this change started (see `Folds`). DMs
    # about one record to one person within the feed's fold window become one DM.
    fold: Mapping[str, Any] | None = None
    # A post: the thread it is a reply in. An unfurl: the message whose link it previews.
    ts: str | None = None
    url: str | None = None  # an unfurl: the link it previews


# Effects every change of a record may have beyond its tracker's (link previews to refresh):
# (table, record) -> writes. Registered with `Feed.also`.
Extra = Callable[[str, Mapping[str, str]], Awaitable[Sequence[Outgoing]]]


@dataclass(frozen=True)
class Observation:
    """What one version of a record means in Slack, as its tracker sees it."""

    snapshot: dict[str, str]  # what is remembered, to diff the next version against
    card: Card | None = None  # every posted copy is rewritten to this (None: leave them)
    effects: tuple[Outgoing, ...] = ()  # DMs and posts this change causes


class Tracker(Protocol):
    table: str
    fields: tuple[str, ...]
    # Polled once when the table has no cursor yet (None: start from now); with
    # `baseline_initial` what it finds is only remembered, so the first change after is news.
    initial_query: str | None
    baseline_initial: bool
    # The snapshot `state`s after which a record is done with (housekeeping forgets it later).
    closed_states: tuple[str, ...]

    async def observe(
        self,
        record: Mapping[str, str],
        previous: Mapping[str, str] | None,
        actor: str | None,
        *,
        baseline: bool = False,
    ) -> Observation:
        """This version of the record against the last snapshot (None: first sight), changed by
        `actor` (a sys_user id, when known). With `baseline`, the record is only being
        remembered: no card, no effects, and no reads beyond the record itself."""
        ...


@dataclass(frozen=True)
class ChannelChange:
    """What channel subscriptions make of one change: posts and thread lines, notes on each
    channel's card (stored with the change), and every channel's footer once they apply
    (None: not known, read when the copies are rewritten)."""

    writes: Sequence[SlackWrite] = ()
    notes: Sequence[CardNote] = ()
    footers: Mapping[str, list[Any]] | None = None


class ChannelWrites(Protocol):
    """What channel subscriptions make of a change (bot/subscriptions): posts, thread lines, and
    notes on each channel's card, queued in the change's own transaction."""

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
    ) -> ChannelChange: ...

    async def following(self, table: str) -> bool:
        """Whether any channel subscribes to this table (else its cards carry no footers)."""
        ...


@runtime_checkable
class Folds(Protocol):
    """A tracker whose DMs fold: it can say what one DM for a whole burst is."""

    async def refold(
        self,
        record: Mapping[str, str],
        memo: Mapping[str, Any],
        current: Mapping[str, str],
        actor: str | None,
        target: str,
    ) -> tuple[Card | None, dict[str, Any]]:
        """The one DM `target` gets for the change from where `memo` says the burst started to
        this version (None: the net change is nothing for them), and the memo to keep."""
        ...


def stored(card: Card) -> StoredCard:
    return StoredCard({"text": card.text, "blocks": list(card.blocks)}, card.digest())


def write(outgoing: Outgoing) -> SlackWrite:
    if outgoing.kind == "unfurl":
        url = outgoing.url or ""
        link = hashlib.sha256(url.encode()).hexdigest()[:24]
        return SlackWrite(
            kind="unfurl",
            target=outgoing.target,
            payload={"unfurls": {url: {"blocks": list(outgoing.card.blocks)}}},
            ts=outgoing.ts,
            coalesce=f"unfurl:{outgoing.target}:{outgoing.ts}:{link}",
        )
    return SlackWrite(
        kind=outgoing.kind,
        target=outgoing.target,
        payload={"text": outgoing.card.text, "blocks": list(outgoing.card.blocks)},
        table_name=outgoing.table,
        sys_id=outgoing.sys_id,
        ts=outgoing.ts,
    )


class Feed:
    def __init__(
        self,
        servicenow: ServiceNowClient,
        store: FeedStore,
        db: Database,
        trackers: Sequence[Tracker],
        events: PendingEvents | None = None,
        *,
        poll_seconds: float = 30.0,
        overlap: timedelta = timedelta(seconds=60),
        wake: asyncio.Event | None = None,
        fold_window: float = 3.0,
    ) -> None:
        self._servicenow = servicenow
        self._store = store
        self._db = db
        self.events = events or PendingEvents(db)
        self.events_wake = asyncio.Event()
        self._handling: dict[tuple[str, str], asyncio.Task[None]] = {}
        # Records whose reconcile failed, with the error: logged when they enter, not every poll.
        self.set_aside: dict[tuple[str, str], str] = {}
        self.set_aside_total = 0
        self.last_poll: float | None = None  # time.monotonic() of the last poll of every table
        self.leading = False  # this replica is the one polling
        self._poll_trouble = Throttle(log)
        # For /metrics: change events stored (answered 202) and acted on (reconciled).
        self.events_received = 0
        self.events_acted = 0
        self.trackers = {tracker.table: tracker for tracker in trackers}
        self.poll_seconds = poll_seconds
        self.overlap = overlap
        self._wake = wake  # the outbox worker's doorbell
        self.fold_window = fold_window  # seconds a folding DM waits for the rest of its burst
        # Per record being reconciled: a lock and how many want it (gone when nobody does).
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, list[int]]] = {}
        self._actors: dict[tuple[str, str], tuple[float, str]] = {}
        self._fetching: set[tuple[str, str]] = set()
        self._wanted: dict[tuple[str, str], int] = {}
        self._extras: list[Extra] = []
        self.channels: ChannelWrites | None = None  # subscriptions (bot/subscriptions), if any

    @property
    def store(self) -> FeedStore:
        return self._store

    def track(self, tracker: Tracker) -> None:
        self.trackers[tracker.table] = tracker

    def also(self, extra: Extra) -> None:
        """`extra`'s writes go with every change of a record (not a record's first, baseline or
        just-created version), queued in the same transaction as the tracker's."""
        self._extras.append(extra)

    # -- the one path ------------------------------------------------------------------------------

    def expect_actor(self, table: str, sys_id: str, actor: str) -> None:
        """The bot is about to change this record for `actor`: credit the next change to them.

        Covers the race where the Business Rule's event for the bot's own write arrives first.
        """
        now = time.monotonic()
        for key in [key for key, (until, _) in self._actors.items() if until <= now]:
            del self._actors[key]
        self._actors[(table, sys_id)] = (now + 30, actor)

    async def reconcile(
        self,
        table: str,
        record: Mapping[str, str],
        actor: str | None = None,
        *,
        baseline: bool = False,
        created: bool = False,
        also: Sequence[SlackWrite] = (),
    ) -> bool:
        """Act on this version of the record once; False if it was not newer than the last seen.

        With `baseline`, a record seen for the first time is only remembered (nothing is sent):
        for records the bot reads rather than learns about as changes. `created`: the caller
        has just created the record, and this is its first version (`sys_mod_count` 0): a stored
        snapshot could only say "not newer", which storing this one finds out by itself, so none
        is read, and no posted copy can exist yet. `also`: writes queued in the same transaction
        as the change (the card a command posts); the caller queues them itself on False.
        """
        tracker = self.trackers.get(table)
        sys_id = record.get("sys_id", "")
        if tracker is None or not sys_id:
            return False
        if actor is None:
            expected = self._actors.get((table, sys_id))
            actor = expected[1] if expected and expected[0] > time.monotonic() else None
        async with self._record_lock((table, sys_id)):
            current = int(record.get("sys_mod_count") or 0)
            fresh = created and current == 0
            previous = None if fresh else await self._store.snapshot(table, sys_id)
            if previous is not None and previous.sys_mod_count >= current:
                return False
            # First sight of a record the bot only read: remember it, send nothing, and leave
            # posted copies alone (there are none yet).
            seen = await tracker.observe(
                record,
                previous.data if previous else None,
                actor,
                baseline=previous is None and baseline,
            )
            if self._extras and not fresh and not (previous is None and baseline):
                more = [o for extra in self._extras for o in await extra(table, record)]
                seen = dataclasses.replace(seen, effects=(*seen.effects, *more))
            change = ChannelChange()
            following = self.channels is not None and await self.channels.following(table)
            if self.channels is not None and following and seen.card is not None:
                change = await self.channels.writes(
                    table,
                    record,
                    previous.data if previous else None,
                    seen.snapshot,
                    seen.card,
                    fresh=fresh,
                    # A card the caller posts in a channel is that channel's card of it.
                    posted_to=frozenset(w.target for w in also if w.kind == "post"),
                )
            # A record some channel has a card of says so in its snapshot, for good: the next
            # change looks its channel cards up only then.
            data = seen.snapshot
            if (previous and previous.data.get(CHANNEL_CARDS)) or change.footers:
                data = {**seen.snapshot, CHANNEL_CARDS: "1"}
            accepted = await self._store.accept_change(
                table,
                sys_id,
                previous=previous.sys_mod_count if previous else None,
                current=current,
                data=data,
                writes=[*await self._writes(tracker, record, seen, actor), *change.writes, *also],
                # A record just created has no posted copy to rewrite: its card's digest is
                # not worked out for nothing.
                card=stored(seen.card) if seen.card is not None and not fresh else None,
                fresh=fresh,
                notes=change.notes,
                # What the channels' cards carry, known already (nothing to read again).
                footers=change.footers if following else {},
            )
        if accepted and self._wake is not None:
            self._wake.set()
        return accepted

    async def _writes(
        self, tracker: Tracker, record: Mapping[str, str], seen: Observation, actor: str | None
    ) -> list[SlackWrite]:
        """The change's writes; a folding DM waits out the window, and replaces one about the
        same record to the same person still waiting (or, netting to nothing, drops it)."""
        table, sys_id = tracker.table, record.get("sys_id", "")
        folding = self.fold_window > 0 and isinstance(tracker, Folds)
        keys = {e.target: f"dm:{e.target}:{table}:{sys_id}" for e in seen.effects if e.fold}
        waiting = await self._store.pending_folds(list(keys.values())) if folding else {}
        writes: list[SlackWrite] = []
        for effect in seen.effects:
            plain = write(effect)
            if not folding or effect.fold is None:
                writes.append(plain)
                continue
            key = keys[effect.target]
            plain = dataclasses.replace(
                plain, delay=self.fold_window, fold=Fold(key, dict(effect.fold))
            )
            earlier = waiting.get(key)
            if earlier is None or not isinstance(tracker, Folds):
                writes.append(plain)
                continue
            card, memo = await tracker.refold(
                record, earlier.state, seen.snapshot, actor, effect.target
            )
            writes.append(
                SlackWrite(
                    kind="dm",
                    target=effect.target,
                    payload={"text": card.text, "blocks": list(card.blocks)} if card else None,
                    fold=Fold(key, memo, replaces=earlier, fallback=plain),
                )
            )
        return writes

    @contextlib.asynccontextmanager
    async def _record_lock(self, key: tuple[str, str]) -> AsyncIterator[None]:
        """One reconcile of a record at a time; the lock is dropped when nobody holds or awaits it."""
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[key]

    async def handle_event(self, event: ChangeEvent) -> None:
        """A signed change event: fetch the record unless this version was already handled.

        Single flight per record: while one fetch is under way, later events only raise the
        version wanted, and that fetcher goes round again until it has caught up. A burst of a
        hundred events costs a couple of reads, not a hundred.
        """
        tracker = self.trackers.get(event.table)
        if tracker is None:
            return
        key = (event.table, event.sys_id)
        self._wanted[key] = max(self._wanted.get(key, 0), event.sys_mod_count)
        if key in self._fetching:
            return
        self._fetching.add(key)
        try:
            while True:
                wanted = self._wanted[key]
                seen = await self._store.snapshot(event.table, event.sys_id)
                if seen is None or seen.sys_mod_count < wanted:
                    try:
                        record = await self._servicenow.get(
                            event.table, event.sys_id, fields=tracker.fields
                        )
                    except NotFoundError:
                        log.info("event for %s/%s: the record is gone", event.table, event.sys_id)
                        return
                    await self.reconcile(event.table, record)
                if self._wanted[key] == wanted:
                    return  # nothing newer arrived meanwhile
        finally:
            self._fetching.discard(key)
            self._wanted.pop(key, None)

    async def accept_event(self, event: ChangeEvent) -> bool:
        """Store the event durably (False: its table is not tracked); `run_events` acts on it."""
        if event.table not in self.trackers:
            return False
        await self.events.add(event.table, event.sys_id, event.sys_mod_count)
        self.events_received += 1
        self.events_wake.set()
        return True

    async def run_events(self, stop: asyncio.Event) -> None:
        """Act on stored events until `stop`: at once when woken, else when a retry is due.

        Each record is handled by one task at a time; its row goes only when the reconcile
        succeeded, so a crash or an outage leaves it for the next try (or the next process).
        """
        try:
            while not stop.is_set():
                self.events_wake.clear()
                claimed = await self.events.claim(
                    EVENT_CONCURRENCY - len(self._handling), EVENT_LEASE
                )
                for pending in claimed:
                    key = (pending.table_name, pending.sys_id)
                    task = asyncio.create_task(self._handle_pending(pending))
                    self._handling[key] = task
                    task.add_done_callback(functools.partial(self._handled, key))
                if claimed:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(first_of(self.events_wake, stop), 1.0)
        finally:
            await asyncio.gather(*self._handling.values(), return_exceptions=True)

    def _handled(self, key: tuple[str, str], _: asyncio.Task[None]) -> None:
        self._handling.pop(key, None)
        self.events_wake.set()

    async def _handle_pending(self, pending: Pending) -> None:
        key = (pending.table_name, pending.sys_id)
        event = ChangeEvent(
            table=pending.table_name, sys_id=pending.sys_id, sys_mod_count=pending.sys_mod_count
        )
        try:
            await self.handle_event(event)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            delay = retry_delay(pending.attempts)
            self._note_failure(key, error, f"retrying in {delay:.0f} s")
            with contextlib.suppress(Exception):  # the lease brings it back otherwise
                await self.events.retry_later(pending, delay, error)
            return
        self._note_success(key)
        self.events_acted += 1
        await self.events.done(pending)

    def _note_failure(self, key: tuple[str, str], error: str, then: str) -> None:
        """Log a record's trouble once, when it starts; count it."""
        if key not in self.set_aside:
            self.set_aside_total += 1
            log.warning("%s/%s set aside: %s; %s", key[0], key[1], error, then)
        self.set_aside[key] = error

    def _note_success(self, key: tuple[str, str]) -> None:
        if self.set_aside.pop(key, None) is not None:
            log.info("%s/%s reconciled after being set aside", *key)

    async def drain(self) -> None:
        """Wait until every stored event that is due has been tried (tests and benchmarks)."""
        while True:
            if self._handling:
                await asyncio.gather(*list(self._handling.values()), return_exceptions=True)
                continue
            due = await self.events.next_due()
            if due is None or due > datetime.now(UTC):
                return
            self.events_wake.set()
            await asyncio.sleep(0.01)

    # -- polling -----------------------------------------------------------------------------------

    async def poll_once(self) -> int:
        """One delta poll of every tracked table; returns how many changes were accepted."""
        accepted, failed = 0, []
        for table, tracker in self.trackers.items():
            try:
                accepted += await self._poll_table(table, tracker)
            except Exception as exc:  # one table's trouble is not the others'
                failed.append(table)
                self._poll_trouble.failed(
                    table,
                    "poll of %s failed: %s",
                    table,
                    exc if isinstance(exc, ServiceNowError) else f"{type(exc).__name__}: {exc}",
                    exc=None if isinstance(exc, ServiceNowError) else exc,
                )
        for table in self.trackers:
            if table not in failed:
                self._poll_trouble.recovered(table, f"poll of {table} works again")
        if not failed:
            self.last_poll = time.monotonic()
        return accepted

    async def _poll_table(self, table: str, tracker: Tracker) -> int:
        cursor = await self._store.cursor(table)
        now = datetime.now(UTC)
        if cursor is None:
            newest = now - self.overlap
            query: Query | str | None = tracker.initial_query
            baseline = tracker.baseline_initial
        else:
            newest = parse_datetime(cursor) or now
            since = (newest - self.overlap).strftime(DATE_FORMAT)
            query = (
                Query().gte("sys_updated_on", since).order_by("sys_updated_on").order_by("sys_id")
            )
            baseline = False
        accepted = 0
        if query is not None:
            batch: list[Record] = []
            async for record in self._servicenow.iterate(
                table, query, fields=tracker.fields, page_size=200
            ):
                batch.append(record)
                updated = parse_datetime(record.get("sys_updated_on"))
                if cursor is not None and updated and updated > newest:
                    newest = updated
                if len(batch) >= POLL_BATCH:
                    accepted += await self._reconcile_all(table, batch, baseline)
                    batch = []
            accepted += await self._reconcile_all(table, batch, baseline)
        await self._store.set_cursor(table, min(newest, now).strftime(DATE_FORMAT))
        return accepted

    async def _reconcile_all(self, table: str, records: list[Record], baseline: bool) -> int:
        """Reconcile distinct records side by side (each waits on its own reads)."""
        gate = asyncio.Semaphore(POLL_CONCURRENCY)

        async def one(record: Record) -> bool:
            async with gate:
                key = (table, record.get("sys_id", ""))
                try:
                    accepted = await self.reconcile(table, record, baseline=baseline)
                except Exception as exc:
                    # Set aside: stored to be tried again later; the cursor moves on.
                    error = f"{type(exc).__name__}: {exc}"
                    self._note_failure(key, error, "will try again later")
                    count = int(record.get("sys_mod_count") or 0)
                    await self.events.add(table, key[1], count, delay=retry_delay(1), error=error)
                    return False
                self._note_success(key)
                return accepted

        return sum(await asyncio.gather(*(one(record) for record in records)))

    async def run_poller(self, stop: asyncio.Event) -> None:
        """Poll every `poll_seconds` while this replica holds the poller lock (PostgreSQL)."""
        if self.poll_seconds <= 0:
            return
        async with self._poller_lock(stop) as leading:
            if not leading:
                return
            self.leading = True
            try:
                while not stop.is_set():
                    await self.poll_once()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.poll_seconds)
            finally:
                self.leading = False

    @contextlib.asynccontextmanager
    async def _poller_lock(self, stop: asyncio.Event) -> AsyncIterator[bool]:
        """Yield True once this process is the poller; False if asked to stop before that."""
        if self._db.engine.dialect.name != "postgresql":
            yield True  # SQLite: one process owns the file
            return
        async with self._db.engine.connect() as conn:
            while not stop.is_set():
                if await conn.scalar(
                    text("SELECT pg_try_advisory_lock(:id)"), {"id": POLL_LOCK_ID}
                ):
                    try:
                        yield True
                    finally:
                        await conn.execute(
                            text("SELECT pg_advisory_unlock(:id)"), {"id": POLL_LOCK_ID}
                        )
                        await conn.commit()
                    return
                await conn.commit()  # do not sit idle in a transaction between attempts
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(self.poll_seconds, 1.0))
            yield False
