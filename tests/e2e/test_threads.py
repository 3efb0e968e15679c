"""Thread ↔ comments, both ways, over loopback (issue #17, point 3).

A reply in a live card's thread becomes one comment on the incident, however often Slack delivers
the event; a comment written in ServiceNow appears once in the thread of every live card, with its
author, whether the webhook or the poller (or both) saw the change; nothing travels back to where
it came from; work notes stay out of channels; a channel can opt out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import manifest
from sandbox.slack import Message
from sandbox.slack.records import ALICE, BOB, BOT, BOT_ID, DAVE, GENERAL, INCIDENTS
from sandbox.stack import WEBHOOK_SECRET, Stack, run_stack
from storage import Database, Threads
from tests.conftest import isolated_postgres_url
from tests.e2e.steps import bobs_incident, incident, jwt_settings, told, trust_jwt_key
from tests.support import eventually


@asynccontextmanager
async def feed_stack(tmp_path: Path, **settings: Any) -> AsyncIterator[Stack]:
    """The stack with both feeds on: the Business Rule's webhook and a fast poller."""
    settings.setdefault("servicenow_webhook_secret", WEBHOOK_SECRET)
    settings.setdefault("servicenow_poll_seconds", 0.2)
    settings.setdefault("database_url", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    async with run_stack(**settings) as stack:
        for channel in (GENERAL, INCIDENTS):  # Slack sends a channel's messages to its members only
            stack.slack.invite_bot(channel)
        yield stack
        assert stack.slack.problems == []
        # apps.connections.open: Socket Mode's, with the app-level token (not a bot method)
        methods = {call.method for call in stack.slack.calls} - {"apps.connections.open"}
        assert methods <= set(manifest.METHODS)


async def show(stack: Stack, number: str, channel: str = GENERAL) -> Message:
    """Bob posts the incident's live card in `channel`."""
    await stack.slack.send_command(BOB, number, channel_id=channel)
    card: Message = await stack.slack.wait_for(
        lambda: next(
            (m for m in stack.slack.messages_in(channel) if number in m.text and not m.thread_ts),
            None,
        )
    )
    # The bot has recorded where its card went (a person replies later than a machine could).
    await eventually(lambda: Threads(stack.bot.db).record_of(card.channel, card.ts))
    return card


def replies(stack: Stack, card: Message) -> list[Message]:
    return [m for m in stack.slack.thread(card.channel, card.ts) if m.ts != card.ts]


def bot_replies(stack: Stack, card: Message) -> list[Message]:
    return [m for m in replies(stack, card) if m.user == BOT]


def two_replies(stack: Stack, card: Message) -> Callable[[], bool]:
    return lambda: len(bot_replies(stack, card)) == 2


def comments(stack: Stack, sys_id: str, containing: str) -> list[dict[str, str]]:
    return [e for e in stack.emulator.journal(sys_id) if containing in e["value"]]


async def settled(stack: Stack, sys_id: str) -> None:
    """The bot has reconciled the incident's newest version and delivered everything queued."""
    version = int(stack.emulator.get("incident", sys_id)["sys_mod_count"])  # type: ignore[index]

    async def caught_up() -> bool:
        seen = await stack.bot.feed.store.snapshot("incident", sys_id)
        return (
            seen is not None
            and seen.sys_mod_count >= version
            and await stack.bot.feed.store.pending() == 0
        )

    await eventually(caught_up, timeout=10)


@asynccontextmanager
async def on(database: str, tmp_path: Path, **settings: Any) -> AsyncIterator[Stack]:
    """`feed_stack` on SQLite, on a fresh migrated PostgreSQL database, or over Socket Mode."""
    if database == "postgresql":
        async with isolated_postgres_url() as url:
            db = Database.from_url(url)
            await db.migrate()
            await db.dispose()
            async with feed_stack(tmp_path, database_url=url, **settings) as stack:
                yield stack
        return
    async with feed_stack(tmp_path, socket_mode=database == "socket", **settings) as stack:
        yield stack


@pytest.mark.parametrize("database", ["sqlite", "postgresql", "socket"])
async def test_a_reply_in_the_cards_thread_becomes_one_comment_and_never_comes_back(
    database: str, tmp_path: Path
) -> None:
    async with on(database, tmp_path) as stack:
        card = await show(stack, "INC0000001")
        sys_id = incident(stack, "INC0000001")["sys_id"]
        said = await stack.slack.say(
            ALICE, GENERAL, "Still broken after a reboot", thread_ts=card.ts
        )
        # Slack thought the first delivery timed out: the same event comes twice more.
        await stack.slack.conversation.resend(said, retry_num=1)
        await stack.slack.conversation.resend(said, retry_num=2)

        [entry] = await stack.slack.wait_for(
            lambda: comments(stack, sys_id, "Still broken after a reboot")
        )
        # Integration mode: written by the integration user, signed with the person's name.
        assert entry["sys_created_by"] == "incident.bot"
        assert "Alice Chen (via Slack)" in entry["value"]
        await stack.slack.wait_for(lambda: "Still broken after a reboot" in str(card.blocks))
        # A comment from the command line came from Slack too: it stays out of the thread.
        await stack.slack.send_command(
            BOB, "comment INC0000001 Looking into it", channel_id=GENERAL
        )
        await stack.slack.wait_for(lambda: comments(stack, sys_id, "Looking into it"))
        await stack.slack.wait_for(lambda: "Looking into it" in str(card.blocks))
        await settled(stack, sys_id)
        # Webhook and poller both saw the change; the comment stays out of every thread.
        assert len(comments(stack, sys_id, "Still broken after a reboot")) == 1
        assert [m.text for m in replies(stack, card)] == ["Still broken after a reboot"]


async def test_a_comment_written_in_servicenow_reaches_every_cards_thread_once_in_order(
    tmp_path: Path,
) -> None:
    async with feed_stack(tmp_path) as stack:
        in_general = await show(stack, "INC0000001", GENERAL)
        in_incidents = await show(stack, "INC0000001", INCIDENTS)
        sys_id = incident(stack, "INC0000001")["sys_id"]
        # ServiceNow orders its journal by the second: two comments a second apart.
        now = stack.emulator.clock()
        for seconds, values in (
            (2, {"comments": "Replacing the phone's profile"}),
            (1, {"comments": "Done, please try again"}),
            (0, {"work_notes": "internal: vendor ticket 42"}),
        ):
            at = now - timedelta(seconds=seconds)
            stack.emulator.update("incident", sys_id, values, as_user="bob.martin", at=at)
        for card in (in_general, in_incidents):
            await stack.slack.wait_for(two_replies(stack, card), timeout=10)
        await settled(stack, sys_id)
        for card in (in_general, in_incidents):
            texts = [m.text for m in bot_replies(stack, card)]
            assert len(texts) == 2
            assert "Replacing the phone's profile" in texts[0] and "bob.martin" in texts[0]
            assert "Done, please try again" in texts[1]
            assert "vendor ticket" not in str([m.blocks for m in replies(stack, card)])
        assert "vendor ticket" not in str(
            [m.text for c in (GENERAL, INCIDENTS) for m in stack.slack.messages_in(c)]
        )


async def test_a_channel_that_turned_threads_off_keeps_replies_and_comments_apart(
    tmp_path: Path,
) -> None:
    async with feed_stack(tmp_path) as stack:
        in_general = await show(stack, "INC0000001", GENERAL)
        in_incidents = await show(stack, "INC0000001", INCIDENTS)
        sys_id = incident(stack, "INC0000001")["sys_id"]
        await stack.slack.send_command(BOB, "threads off", channel_id=GENERAL)
        await stack.slack.wait_for(lambda: any("*off*" in t for t in told(stack, BOB)))

        await stack.slack.say(ALICE, GENERAL, "Just chatting here", thread_ts=in_general.ts)
        stack.emulator.update("incident", sys_id, {"comments": "Any news?"}, as_user="bob.martin")
        await stack.slack.wait_for(lambda: len(bot_replies(stack, in_incidents)) == 1, timeout=10)
        await settled(stack, sys_id)
        assert bot_replies(stack, in_general) == []
        assert comments(stack, sys_id, "Just chatting here") == []

        await stack.slack.send_command(BOB, "threads on", channel_id=GENERAL)
        await stack.slack.wait_for(lambda: any("*on*" in t for t in told(stack, BOB)))
        await stack.slack.say(ALICE, GENERAL, "Now it counts", thread_ts=in_general.ts)
        await stack.slack.wait_for(lambda: comments(stack, sys_id, "Now it counts"))


async def test_an_edited_reply_adds_a_correction_and_a_deleted_one_stays_in_the_journal(
    tmp_path: Path,
) -> None:
    async with feed_stack(tmp_path) as stack:
        card = await show(stack, "INC0000001")
        sys_id = incident(stack, "INC0000001")["sys_id"]
        said = await stack.slack.say(ALICE, GENERAL, "It broke at 9", thread_ts=card.ts)
        await stack.slack.wait_for(lambda: comments(stack, sys_id, "It broke at 9"))
        await stack.slack.edit(said.message, "It broke at 8")
        [correction] = await stack.slack.wait_for(
            lambda: comments(stack, sys_id, "Correction (edited in Slack): It broke at 8")
        )
        assert "Alice Chen (via Slack)" in correction["value"]
        # The same words again (Slack adding a preview is an edit too): nothing more.
        await stack.slack.edit(said.message, "It broke at 8")
        await stack.slack.delete(said.message)
        notice = await stack.slack.wait_for(
            lambda: [t for t in told(stack, ALICE) if "journal keeps every comment" in t]
        )
        assert notice
        await settled(stack, sys_id)
        assert len(comments(stack, sys_id, "It broke at")) == 2
        assert bot_replies(stack, card) == []


async def test_bots_channel_messages_and_people_without_an_account_make_no_comment(
    tmp_path: Path,
) -> None:
    async with feed_stack(tmp_path) as stack:
        card = await show(stack, "INC0000001")
        sys_id = incident(stack, "INC0000001")["sys_id"]
        before = len(stack.emulator.journal(sys_id))
        # Another bot (and this one) writing in the thread.
        for bot_id, user in (("B0OTHERBOT", "U0OTHERBOT"), (BOT_ID, BOT)):
            await stack.slack.send_event(
                {
                    "type": "message",
                    "subtype": "bot_message",
                    "bot_id": bot_id,
                    "user": user,
                    "text": "beep from a bot",
                    "ts": stack.slack.next_ts(),
                    "thread_ts": card.ts,
                    "channel": GENERAL,
                    "channel_type": "channel",
                }
            )
        # A message in the channel itself, not in the card's thread.
        await stack.slack.say(ALICE, GENERAL, "unrelated chatter")
        # Dave has no ServiceNow account: he hears why, nothing is written.
        await stack.slack.say(DAVE, GENERAL, "me too", thread_ts=card.ts)
        await stack.slack.wait_for(lambda: told(stack, DAVE))
        # Bob's incident: Alice may not comment on it.
        number = bobs_incident(stack)
        bobs = await show(stack, number)
        await stack.slack.say(ALICE, GENERAL, "not mine", thread_ts=bobs.ts)
        refusal = await stack.slack.wait_for(lambda: told(stack, ALICE))
        assert number in refusal[0]
        await settled(stack, sys_id)
        assert len(stack.emulator.journal(sys_id)) == before
        assert comments(stack, incident(stack, number)["sys_id"], "not mine") == []


async def test_a_channel_the_bot_is_not_in_sends_it_no_replies(tmp_path: Path) -> None:
    async with feed_stack(tmp_path) as stack:
        stack.slack.bot_channels.discard(INCIDENTS)
        card = await show(stack, "INC0000001", INCIDENTS)  # posted with chat:write.public
        sys_id = incident(stack, "INC0000001")["sys_id"]
        said = await stack.slack.say(ALICE, INCIDENTS, "nobody hears this", thread_ts=card.ts)
        assert "message" not in said.replies  # Slack did not send it
        stack.slack.invite_bot(INCIDENTS)
        await stack.slack.say(ALICE, INCIDENTS, "now I'm heard", thread_ts=card.ts)
        await stack.slack.wait_for(lambda: comments(stack, sys_id, "now I'm heard"))
        assert comments(stack, sys_id, "nobody hears this") == []


async def test_acting_as_the_person_the_reply_is_their_own_comment(tmp_path: Path) -> None:
    async with feed_stack(tmp_path, **jwt_settings(tmp_path)) as stack:
        trust_jwt_key(stack)
        card = await show(stack, "INC0000001")
        sys_id = incident(stack, "INC0000001")["sys_id"]
        await stack.slack.say(ALICE, GENERAL, "From my own account", thread_ts=card.ts)
        [entry] = await stack.slack.wait_for(lambda: comments(stack, sys_id, "From my own account"))
        assert entry["sys_created_by"] == "alice.chen"
        assert entry["value"] == "From my own account"
        await settled(stack, sys_id)
        assert bot_replies(stack, card) == []
