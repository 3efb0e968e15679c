"""Threads' storage on SQLite and PostgreSQL: which thread is whose, the channel's choice, comments
that came from Slack, previews to refresh, and coalesced outbox writes."""

from __future__ import annotations

from datetime import timedelta

from storage import Database, FeedStore, SlackWrite, Threads
from storage.models import PostedMessage


async def post(
    db: Database, channel: str, ts: str, thread_ts: str | None = None, sys_id: str = "a" * 32
) -> None:
    async with db.session() as session:
        session.add(
            PostedMessage(
                table_name="incident",
                sys_id=sys_id,
                channel=channel,
                ts=ts,
                thread_ts=thread_ts,
                rendered="{}",
                rendered_hash="x",
            )
        )


async def test_a_thread_belongs_to_the_card_that_starts_it_where_threads_are_on(
    db: Database,
) -> None:
    threads = Threads(db)
    await post(db, "C1", "1.1")
    await post(db, "C2", "2.1")
    await post(db, "C1", "1.3", thread_ts="1.2")  # a card posted as a reply starts no thread
    assert await threads.record_of("C1", "1.1") == ("incident", "a" * 32)
    assert await threads.record_of("C1", "1.3") is None
    assert await threads.record_of("C1", "9.9") is None
    assert [(r.channel, r.ts) for r in await threads.roots("incident", "a" * 32)] == [
        ("C1", "1.1"),
        ("C2", "2.1"),
    ]
    await threads.set_enabled("C2", False)
    await threads.set_enabled("C2", False)  # again: still one row
    assert not await threads.enabled("C2") and await threads.enabled("C1")
    assert [r.channel for r in await threads.roots("incident", "a" * 32)] == ["C1"]
    await threads.set_enabled("C2", True)
    assert len(await threads.roots("incident", "a" * 32)) == 2


async def test_a_thread_a_card_was_posted_into_to_sync_it_is_its_records(db: Database) -> None:
    threads = Threads(db)
    a, b = "a" * 32, "b" * 32
    await threads.link("C1", "5.0", "incident", a)
    await threads.link("C1", "5.0", "incident", a)  # again: one link
    assert await threads.records_of("C1", "5.0") == []  # its card is not there yet
    assert await threads.roots("incident", a) == []
    await post(db, "C1", "5.1", thread_ts="5.0")
    assert await threads.record_of("C1", "5.0") == ("incident", a)
    assert [(r.channel, r.ts) for r in await threads.roots("incident", a)] == [("C1", "5.0")]
    # A second record's card linked into the same thread: about both, so about no one record.
    await threads.link("C1", "5.0", "incident", b)
    await post(db, "C1", "5.2", thread_ts="5.0", sys_id=b)
    assert await threads.records_of("C1", "5.0") == [("incident", a), ("incident", b)]
    assert await threads.record_of("C1", "5.0") is None
    # A card merely posted as a reply elsewhere (a mention's answer) links nothing.
    await post(db, "C1", "6.1", thread_ts="6.0")
    assert await threads.records_of("C1", "6.0") == []
    await threads.set_enabled("C1", False)
    assert await threads.roots("incident", b) == []
    # Links whose card is gone are forgotten; those with a card stay.
    await threads.link("C2", "7.0", "incident", a)
    await threads.prune(timedelta(0))
    await threads.set_enabled("C1", True)
    assert [(r.channel, r.ts) for r in await threads.roots("incident", a)] == [("C1", "5.0")]
    await post(db, "C2", "7.1", thread_ts="7.0")
    assert [(r.channel, r.ts) for r in await threads.roots("incident", a)] == [("C1", "5.0")]


async def test_a_comment_from_slack_is_claimed_by_the_first_entry_with_its_words(
    db: Database,
) -> None:
    threads = Threads(db)
    await threads.remember_origin("incident", "a" * 32, "ok\n\n— Alice (via Slack)")
    entries = [("e1", "ok\n\n— Alice (via Slack)"), ("e2", "ok\n\n— Alice (via Slack)")]
    # The first entry with those words is Slack's; the same words again are ServiceNow's.
    assert await threads.from_slack("incident", "a" * 32, entries) == {"e1"}
    assert await threads.from_slack("incident", "a" * 32, entries) == {"e1"}  # a second look
    assert await threads.from_slack("incident", "b" * 32, entries) == set()


async def test_previews_are_remembered_once_per_link_and_forgotten_with_their_message(
    db: Database,
) -> None:
    threads = Threads(db)
    for _ in range(2):
        await threads.add_unfurl(
            channel="C1", ts="1.1", url="https://x/a", table="incident", sys_id="a" * 32,
            slack_user_id="U1",
        )  # fmt: skip
    assert len(await threads.unfurls("incident", "a" * 32)) == 1
    await threads.forget_message("C1", "1.1")
    assert await threads.unfurls("incident", "a" * 32) == []


async def test_a_pending_write_with_the_same_key_takes_the_newer_payload(db: Database) -> None:
    store = FeedStore(db)
    older = SlackWrite("unfurl", "C1", {"v": 1}, ts="1.1", coalesce="unfurl:C1:1.1:k")
    newer = SlackWrite("unfurl", "C1", {"v": 2}, ts="1.1", coalesce="unfurl:C1:1.1:k")
    await store.queue([older])
    await store.queue([newer])
    assert await store.pending() == 1
    [claimed] = await store.claim(10, timedelta(seconds=10))
    assert claimed.payload == {"v": 2} and claimed.version == 2


async def test_which_comments_came_from_slack_is_forgotten_after_a_while(db: Database) -> None:
    threads = Threads(db)
    await threads.remember_origin("incident", "a" * 32, "old words")
    await threads.prune(timedelta(0))
    assert await threads.from_slack("incident", "a" * 32, [("e1", "old words")]) == set()
    await threads.remember_origin("incident", "a" * 32, "new words")
    await threads.prune(timedelta(days=7))
    assert await threads.from_slack("incident", "a" * 32, [("e2", "new words")]) == {"e2"}
