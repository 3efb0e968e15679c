"""Everything the bot writes to Slack goes through here.

Ephemeral answers to the person in front of the screen go straight out. Every message — the card
a command posts, card rewrites, DMs, channel announcements — goes through the durable outbox:
queued in the database (with the change that caused it), delivered by `run()`, never lost and
never sent twice:

- a claim is short (`lease`) and kept alive by a heartbeat while its delivery runs, so a slow
  Slack never lets another replica send the same message, and a crashed replica's work is taken
  over within one lease;
- a 429 waits out its Retry-After in the outbox's schedule (the outbox's Slack client has no
  retry handler sleeping inside a claim) and is not counted as an attempt;
- other failures back off (at most `max_backoff`) and give up only when the message is older
  than `give_up_after` (24 h), or on an error after which it can never succeed;
- posts and DMs to one channel or person go out in order, also across retries;
- card rewrites (`chat.update`) are not ordered per channel, only per message (a message has one
  pending update, which newer cards overwrite): they go out side by side, paced to chat.update's
  rate-limit tier (`Pace`, bot/feed/pace.py);
- deliveries that finish together, to any targets, are recorded in one transaction (a group
  commit: `FeedStore.delivered`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.feed.pace import Pace
from bot.feed.wake import first_of
from bot.logs import Throttle
from bot.slack.kit import Card, digest_of
from storage import Claimed, FeedStore, PostedMessages, SlackWrite

log = logging.getLogger(__name__)

# Errors after which a write can never succeed: stop trying (and forget a card that is gone).
GONE = {
    "message_not_found",
    "channel_not_found",
    "cant_update_message",
    "is_archived",
    "edit_window_closed",
}
UNDELIVERABLE = GONE | {
    "not_in_channel",
    "user_not_found",
    "user_disabled",
    "cannot_dm_bot",
    "invalid_blocks",
    "msg_too_long",
    "restricted_action",
    # chat.unfurl: the message, or its link, is no longer there to preview
    "cannot_unfurl_message",
    "cannot_unfurl_url",
    "cannot_find_message",
    "cannot_find_channel",
}
RATE_LIMITED = {"ratelimited", "rate_limited"}
NOTICE = "undeliverable"  # payload key: whom to tell, and what, if a post can never go out
THREAD_OF = "thread_of"  # payload key: post in the thread of this record's card in the channel


def card_post(
    channel: str,
    card: Card,
    *,
    table: str,
    sys_id: str,
    undeliverable: tuple[str, str] | None = None,
    thread_ts: str | None = None,
) -> SlackWrite:
    """The outbox write that posts a live card of a record in `channel`.

    `undeliverable`: (user, text) to DM if the card can never be posted there.
    `thread_ts`: post it as a reply in that message's thread (kept in the row's `ts`, which a
    post has no other use for, so a newer card rewriting the pending post keeps it).
    """
    payload: dict[str, Any] = {"text": card.text, "blocks": list(card.blocks)}
    if undeliverable is not None:
        payload[NOTICE] = {"user": undeliverable[0], "text": undeliverable[1]}
    return SlackWrite("post", channel, payload, table_name=table, sys_id=sys_id, ts=thread_ts)


class Messenger:
    def __init__(
        self,
        slack: AsyncWebClient,
        posted: PostedMessages,
        store: FeedStore,
        *,
        outbox_slack: AsyncWebClient | None = None,
        batch: int = 25,
        lease: timedelta = timedelta(seconds=10),
        give_up_after: timedelta = timedelta(hours=24),
        max_backoff: float = 300.0,
        update_pace: Pace | None = None,
        updates_in_flight: int = 200,
    ) -> None:
        self._slack = slack
        # Deliveries use a client that never sleeps on a 429 itself: the outbox schedules it.
        self.outbox_slack = outbox_slack or slack
        self._posted = posted
        self._store = store
        self._batch = batch
        self._lease = lease
        self._give_up_after = give_up_after
        self._max_backoff = max_backoff
        # chat.update is Tier 3 (50+ per minute per workspace, bursts welcome): see bot/feed/pace.py.
        self.update_pace = update_pace or Pace(per_minute=50, burst=200)
        self._updates_in_flight = updates_in_flight
        self.wake = asyncio.Event()
        self._inflight: dict[str, asyncio.Task[None]] = {}  # posts and DMs: one task per target
        self._updating: dict[asyncio.Task[None], int] = {}  # card rewrites: task -> how many
        self._rewriting: set[int] = set()  # outbox ids of the card rewrites in flight here
        self._trouble = Throttle(log)  # the database away: one line a minute, not one a second
        self._stopping = False  # set once `run` stops: deliveries in flight take no more work

    # -- straight out ------------------------------------------------------------------------------

    async def queue_card(
        self,
        channel: str,
        card: Card,
        *,
        table: str,
        sys_id: str,
        undeliverable: tuple[str, str] | None = None,
    ) -> None:
        """Post a live card for a record through the outbox, and wake the worker at once.

        `undeliverable`: (user, text) to DM if the card can never be posted there.
        """
        await self.queue(
            card_post(channel, card, table=table, sys_id=sys_id, undeliverable=undeliverable)
        )

    async def queue(self, *writes: SlackWrite) -> None:
        """Queue writes in the outbox, and wake the worker at once."""
        await self._store.queue(writes)
        self.wake.set()

    async def post_card(self, channel: str, card: Card, *, table: str, sys_id: str) -> str:
        """Post a live card now, bypassing the outbox, and remember where it is (a manual
        nudge, tests); returns the message ts."""
        response = await self._slack.chat_postMessage(
            channel=channel, text=card.text, blocks=list(card.blocks), unfurl_links=False
        )
        ts = str(response["ts"])
        await self._posted.add(
            table_name=table,
            sys_id=sys_id,
            channel=str(response["channel"]),
            ts=ts,
            rendered=card.to_json(),
            rendered_hash=card.digest(),
        )
        return ts

    async def ephemeral(self, channel: str | None, user: str, card: Card) -> None:
        """Tell one person something: in the channel only they see, or by DM where there's none."""
        if channel:
            try:
                await self._slack.chat_postEphemeral(
                    channel=channel, user=user, text=card.text, blocks=list(card.blocks)
                )
                return
            except SlackApiError as exc:
                log.info(
                    "ephemeral in %s failed (%s); sending a DM", channel, exc.response.get("error")
                )
        await self._slack.chat_postMessage(channel=user, text=card.text, blocks=list(card.blocks))

    # -- through the outbox ------------------------------------------------------------------------

    async def deliver_once(self) -> tuple[int, int, datetime | None]:
        """Start delivering what is due; returns (taken, handed back because its target is busy,
        when the next message is due: None if the claim was full and more may be due now).

        Each channel or user gets one task for its posts and DMs at a time, so they keep their
        order; targets run side by side, so a DM waiting out a 429 holds up nobody else. Card
        rewrites need no order but their message's (one pending row each): a claim's worth go out
        together in one task, at most `updates_in_flight` at a time. This loop never waits for a
        delivery to finish.
        """
        if sum(self._updating.values()) >= self._updates_in_flight:
            return 0, 0, datetime.now(UTC) + timedelta(seconds=1)  # a rewrite finishing wakes us
        claimed, due = await self._store.claim_or_next_due(self._batch, self._lease)
        ordered = [message for message in claimed if message.kind != "update"]
        # A rewrite still in flight here whose claim lapsed (this process stalled past its lease)
        # is ours already: handed back, never sent twice.
        updates = [m for m in claimed if m.kind == "update" and m.id not in self._rewriting]
        busy = [message for message in ordered if message.target in self._inflight] + [
            m for m in claimed if m.kind == "update" and m.id in self._rewriting
        ]
        if busy:
            await self._store.release(busy)
        by_target: dict[str, list[Claimed]] = {}
        for message in ordered:
            if message.target not in self._inflight:
                by_target.setdefault(message.target, []).append(message)
        for target, messages in by_target.items():
            task = asyncio.create_task(self._deliver_all(messages))
            self._inflight[target] = task
            task.add_done_callback(functools.partial(self._finished, target))
        if updates:
            self._rewriting.update(message.id for message in updates)
            rewrite = asyncio.create_task(self._deliver_updates(updates))
            self._updating[rewrite] = len(updates)
            rewrite.add_done_callback(self._rewritten)
        if len(claimed) >= self._batch:
            return len(claimed) - len(busy), len(busy), None
        # Nothing pending: look again within a second (other replicas may queue work too).
        return len(claimed) - len(busy), len(busy), due or datetime.now(UTC) + timedelta(seconds=1)

    async def _deliver_updates(self, messages: list[Claimed]) -> None:
        """Rewrite these cards side by side (each waits its turn in the pace), each recorded as
        it is done (deliveries finished together share a transaction: `FeedStore.delivered`)."""
        heartbeat = asyncio.create_task(self._heartbeat(messages))

        async def one(message: Claimed) -> None:
            try:
                await self._deliver(message)
            except Exception:
                log.exception("delivering update to %s failed", message.target)
                await self._retry_or_give_up(message, "unexpected error")

        try:
            await asyncio.gather(*(one(message) for message in messages))
        finally:
            heartbeat.cancel()
            self._rewriting.difference_update(message.id for message in messages)

    async def _deliver_all(self, messages: list[Claimed]) -> None:
        """Deliver one target's posts and DMs in order; after the last, go on with the next one
        queued to it meanwhile, claimed in the transaction that records the delivery (the target
        stays ours: no round through `run` and a claim of its own per message)."""
        heartbeat = asyncio.create_task(self._heartbeat(messages))  # those still to deliver
        try:
            while messages:
                message, last = messages[0], len(messages) == 1
                following = None
                try:
                    following = await self._deliver(message, chain=last and not self._stopping)
                except Exception:
                    log.exception("delivering %s to %s failed", message.kind, message.target)
                    await self._retry_or_give_up(message, "unexpected error")
                del messages[0]
                if following is not None:
                    messages.append(following)  # claimed under the same token
                elif messages and not await self._store.extend(messages, self._lease):
                    return  # the rest were taken over meanwhile (this process stalled)
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, messages: list[Claimed]) -> None:
        """Keep the claims alive while they are delivered (a third of a lease apart)."""
        interval = self._lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self._store.extend(messages, self._lease)
            except Exception:
                log.exception("keeping the outbox claims alive failed; trying again")

    def _finished(self, target: str, _: asyncio.Task[None]) -> None:
        self._inflight.pop(target, None)
        self.wake.set()

    def _rewritten(self, task: asyncio.Task[None]) -> None:
        self._updating.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("card rewrites failed", exc_info=task.exception())
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set: at once when woken, else when the next retry is due."""
        while not stop.is_set():
            # Cleared before looking, so a delivery finishing meanwhile still wakes us.
            self.wake.clear()
            try:
                _, busy, due = await self.deliver_once()
                if due is None:
                    continue  # a full claim: look again at once
                # Anything queued or finished meanwhile wakes the loop; else the next due time.
                wait = 1.0 if busy else _idle_time(due)
                self._trouble.recovered("run", "outbox delivery works again")
            except Exception as exc:
                self._trouble.failed(
                    "run",
                    "outbox delivery failed (%s: %s); retrying every second",
                    type(exc).__name__,
                    exc,
                    exc=exc,
                )
                wait = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(first_of(self.wake, stop), wait)
        self._stopping = True
        await asyncio.gather(*self._inflight.values(), *self._updating, return_exceptions=True)

    async def prune(self) -> None:
        """Forget delivered and abandoned messages after two days (kept meanwhile for diagnosis)."""
        await self._store.prune(timedelta(days=2))

    async def _deliver(self, message: Claimed, *, chain: bool = False) -> Claimed | None:
        """Send a post or DM and record it; with `chain`, also claim (and return) the next one
        to the same target, if it is due."""
        sent = await self._send(message)
        if sent is None:
            return None
        channel, ts = sent
        payload = {k: v for k, v in message.payload.items() if k != NOTICE}
        return await self._store.delivered(
            dataclasses.replace(message, payload=payload),
            channel=channel,
            ts=ts,
            digest=digest_of(payload),
            then_claim=self._lease if chain else None,
        )

    async def _send(self, message: Claimed) -> tuple[str, str] | None:
        """One Slack call for this message: where it is now (channel, ts), or None when it
        failed (then it has been scheduled again, or given up)."""
        notice = message.payload.get(NOTICE)
        message = dataclasses.replace(
            message, payload={k: v for k, v in message.payload.items() if k != NOTICE}
        )
        text, blocks = message.payload.get("text", ""), message.payload.get("blocks", [])
        slack = self.outbox_slack
        try:
            if message.kind == "update":
                channel, ts = message.target, message.ts or ""
                await self.update_pace.acquire()
                await slack.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
            elif message.kind == "unfurl":
                channel, ts = message.target, message.ts or ""
                await slack.chat_unfurl(
                    channel=channel, ts=ts, unfurls=message.payload.get("unfurls") or {}
                )
            else:
                thread = await self._thread(message) if message.kind == "post" else None
                response = await slack.chat_postMessage(
                    channel=message.target,
                    text=text,
                    blocks=blocks,
                    unfurl_links=False,
                    thread_ts=thread,
                )
                channel, ts = str(response["channel"]), str(response["ts"])
        except SlackApiError as exc:
            await self._failed(message, exc, notice)
            return None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            await self._retry_or_give_up(message, f"{type(exc).__name__}: {exc}")
            return None
        return channel, ts

    async def _thread(self, message: Claimed) -> str | None:
        """The thread a post goes to: its outbox row's `ts` (known when queued), or, for a line
        about a record's card in the channel (`THREAD_OF`, queued before that card may be out),
        the thread of that card, looked up now (posts to one channel go out in order, so the
        card is out before its first line); None: top level (no card there any more)."""
        if message.ts:
            return message.ts
        about = message.payload.get(THREAD_OF)
        if not isinstance(about, dict):
            return None
        copies = await self._posted.for_record(str(about.get("table")), str(about.get("sys_id")))
        here = sorted(
            (c for c in copies if c.channel == message.target), key=lambda c: bool(c.thread_ts)
        )
        return (here[0].thread_ts or here[0].ts) if here else None

    async def _failed(
        self, message: Claimed, exc: SlackApiError, notice: dict[str, str] | None = None
    ) -> None:
        error = str(exc.response.get("error") or "")
        if error in UNDELIVERABLE:
            log.info("giving up on %s to %s: %s", message.kind, message.target, error)
            await self._store.give_up(message, error, forget_card=error in GONE)
            if notice:
                text = f"{notice['text']} ({error})"
                await self._store.queue([SlackWrite("dm", notice["user"], {"text": text})])
            return
        if exc.response.status_code == 429 or error in RATE_LIMITED:
            # Slack's schedule, not a failure: wait as asked, and it costs no attempt.
            retry_after = str(exc.response.headers.get("Retry-After") or "")
            delay = float(retry_after) if retry_after.isdigit() else 1.0
            if message.kind == "update":
                self.update_pace.back_off(delay)  # the limit is the method's: all of them wait
            log.info(
                "%s to %s rate limited; retrying in %.0f s", message.kind, message.target, delay
            )
            await self._store.retry_later(message, delay, error or "ratelimited", counts=False)
            return
        await self._retry_or_give_up(message, error or f"HTTP {exc.response.status_code}")

    async def _retry_or_give_up(self, message: Claimed, error: str) -> None:
        """Back off and try again, until the message is older than `give_up_after`."""
        if datetime.now(UTC) - message.created_at >= self._give_up_after:
            log.warning(
                "giving up on %s to %s after %s: %s",
                message.kind,
                message.target,
                self._give_up_after,
                error,
            )
            await self._store.give_up(message, error)
            return
        delay = _backoff(message.attempts, self._max_backoff)
        log.info(
            "%s to %s failed (%s); retrying in %.1f s", message.kind, message.target, error, delay
        )
        await self._store.retry_later(message, delay, error)


def _idle_time(due: datetime) -> float:
    """How long to sleep until `due` (at most a second: other replicas may queue work too)."""
    return min(1.0, max(0.02, (due - datetime.now(UTC)).total_seconds()))


def _backoff(attempts: int, most: float) -> float:
    return float(min(most, 2 ** min(30, max(0, attempts - 1))))
