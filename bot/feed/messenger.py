"""Everything the bot writes to Slack goes through here.

Answers to the person in front of the screen (an ephemeral, a card where they typed) go straight
out. Everything caused by a change — card rewrites, DMs, channel announcements — goes through the
durable outbox: queued in the database with the change, delivered by `run()`, retried after a 429
or an outage, never lost and never sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from datetime import UTC, datetime, timedelta

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.kit import Card, digest_of
from storage import Claimed, FeedStore, PostedMessages

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
}
MAX_ATTEMPTS = 12


class Messenger:
    def __init__(
        self,
        slack: AsyncWebClient,
        posted: PostedMessages,
        store: FeedStore,
        *,
        batch: int = 20,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self._slack = slack
        self._posted = posted
        self._store = store
        self._batch = batch
        self._lease = lease
        self.wake = asyncio.Event()
        self._inflight: dict[str, asyncio.Task[None]] = {}

    # -- straight out ------------------------------------------------------------------------------

    async def post_card(self, channel: str, card: Card, *, table: str, sys_id: str) -> str:
        """Post a live card for a record and remember where it is; returns the message ts."""
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

    async def deliver_once(self) -> tuple[int, int]:
        """Start delivering what is due; returns (taken, handed back because its target is busy).

        Each channel or user gets one delivery task at a time, so their messages keep their
        order; targets run side by side, so a DM waiting out a 429 holds up nobody else, and
        this loop never waits for a delivery to finish.
        """
        claimed = await self._store.claim(self._batch, self._lease)
        busy = [message for message in claimed if message.target in self._inflight]
        if busy:
            await self._store.release(busy)
        by_target: dict[str, list[Claimed]] = {}
        for message in claimed:
            if message.target not in self._inflight:
                by_target.setdefault(message.target, []).append(message)
        for target, messages in by_target.items():
            task = asyncio.create_task(self._deliver_all(messages))
            self._inflight[target] = task
            task.add_done_callback(functools.partial(self._finished, target))
        return len(claimed) - len(busy), len(busy)

    async def _deliver_all(self, messages: list[Claimed]) -> None:
        for message in messages:
            try:
                await self._deliver(message)
            except Exception:
                log.exception("delivering %s to %s failed", message.kind, message.target)
                await self._store.retry_later(
                    message, _backoff(message.attempts), "unexpected error"
                )

    def _finished(self, target: str, _: asyncio.Task[None]) -> None:
        self._inflight.pop(target, None)
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set: at once when woken, else when the next retry is due."""
        while not stop.is_set():
            try:
                taken, busy = await self.deliver_once()
                if taken:
                    continue
                wait = 1.0 if busy else await self._idle_time()
            except Exception:
                log.exception("outbox delivery failed; retrying shortly")
                wait = 1.0
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(self.wake, stop), wait)
        await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    async def prune(self) -> None:
        """Forget delivered and abandoned messages after two days (kept meanwhile for diagnosis)."""
        await self._store.prune(timedelta(days=2))

    async def _idle_time(self) -> float:
        due = await self._store.next_due()
        if due is None:
            return 1.0  # other replicas may queue work too
        return min(1.0, max(0.0, (due - datetime.now(UTC)).total_seconds()))

    async def _deliver(self, message: Claimed) -> None:
        text, blocks = message.payload.get("text", ""), message.payload.get("blocks", [])
        try:
            if message.kind == "update":
                channel, ts = message.target, message.ts or ""
                await self._slack.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
            else:
                response = await self._slack.chat_postMessage(
                    channel=message.target, text=text, blocks=blocks, unfurl_links=False
                )
                channel, ts = str(response["channel"]), str(response["ts"])
        except SlackApiError as exc:
            await self._failed(message, exc)
            return
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            await self._store.retry_later(
                message, _backoff(message.attempts), f"{type(exc).__name__}: {exc}"
            )
            return
        await self._store.delivered(
            message, channel=channel, ts=ts, digest=digest_of(message.payload)
        )

    async def _failed(self, message: Claimed, exc: SlackApiError) -> None:
        error = str(exc.response.get("error") or "")
        if error in UNDELIVERABLE or message.attempts >= MAX_ATTEMPTS:
            log.info("giving up on %s to %s: %s", message.kind, message.target, error)
            await self._store.give_up(message, error, forget_card=error in GONE)
            return
        retry_after = exc.response.headers.get("Retry-After") if exc.response is not None else None
        delay = (
            float(retry_after)
            if retry_after and str(retry_after).isdigit()
            else _backoff(message.attempts)
        )
        log.info(
            "%s to %s failed (%s); retrying in %.1f s", message.kind, message.target, error, delay
        )
        await self._store.retry_later(message, delay, error)


def _backoff(attempts: int) -> float:
    return float(min(300, 2 ** max(0, attempts - 1)))


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
