"""The feed's storage guarantees, on SQLite and PostgreSQL: exactly-once acceptance and coalescing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from storage import Card, Database, FeedStore, Fold, PostedMessages, SlackWrite

SYS_ID = "a" * 32
LEASE = timedelta(seconds=30)


def dm(text: str, to: str = "U1") -> SlackWrite:
    return SlackWrite("dm", to, {"text": text, "blocks": []})


def card(text: str) -> Card:
    return Card({"text": text, "blocks": []}, digest=text)


async def test_a_change_is_accepted_once_however_often_it_is_delivered(db: Database) -> None:
    store = FeedStore(db)
    first = await store.accept_change(
        "incident", SYS_ID, previous=None, current=1, data={"state": "1"}, writes=[], card=None
    )
    results = await asyncio.gather(
        *(
            store.accept_change(
                "incident",
                SYS_ID,
                previous=1,
                current=2,
                data={"state": "2"},
                writes=[dm("now 2")],
                card=None,
            )
            for _ in range(5)
        )
    )
    assert first is True and sorted(results) == [False, False, False, False, True]
    snapshot = await store.snapshot("incident", SYS_ID)
    assert snapshot is not None and (snapshot.sys_mod_count, snapshot.data) == (2, {"state": "2"})
    assert [m.payload["text"] for m in await store.claim(10, LEASE)] == ["now 2"]


async def test_updates_of_one_message_coalesce_and_the_newest_card_wins(db: Database) -> None:
    store = FeedStore(db, update_interval=timedelta(0))
    await PostedMessages(db).add(
        table_name="incident",
        sys_id=SYS_ID,
        channel="C1",
        ts="1.1",
        rendered="{}",
        rendered_hash="old",
    )
    for n in range(10):
        await store.queue_card("incident", SYS_ID, card(f"v{n}"))
    [update] = await store.claim(10, LEASE)
    assert (update.kind, update.target, update.ts, update.payload["text"]) == (
        "update",
        "C1",
        "1.1",
        "v9",
    )


async def test_a_card_rewritten_while_in_flight_goes_out_again_with_the_newer_version(
    db: Database,
) -> None:
    store = FeedStore(db, update_interval=timedelta(0))
    posted = PostedMessages(db)
    await posted.add(
        table_name="incident",
        sys_id=SYS_ID,
        channel="C1",
        ts="1.1",
        rendered="{}",
        rendered_hash="old",
    )
    await store.queue_card("incident", SYS_ID, card("v1"))
    [in_flight] = await store.claim(10, LEASE)
    await store.queue_card("incident", SYS_ID, card("v2"))  # arrives while v1 is being sent
    await store.delivered(in_flight, channel="C1", ts="1.1", digest="v1")
    [again] = await store.claim(10, LEASE)
    assert again.id == in_flight.id and again.payload["text"] == "v2"
    await store.delivered(again, channel="C1", ts="1.1", digest="v2")
    assert await store.pending() == 0
    assert (await posted.for_record("incident", SYS_ID))[0].rendered_hash == "v2"


async def test_a_claimed_message_is_not_claimed_twice_until_its_lease_ends(db: Database) -> None:
    store = FeedStore(db)
    await store.queue([dm(f"m{n}", to=f"U{n}") for n in range(6)])
    batches = await asyncio.gather(*(store.claim(2, LEASE) for _ in range(5)))
    ids = [m.id for batch in batches for m in batch]
    assert len(ids) == 6 and len(set(ids)) == 6
    expired = await store.claim(10, timedelta(seconds=-1))  # nothing left unclaimed
    assert expired == []


async def test_a_delivered_live_copy_is_remembered_for_later_rewrites(db: Database) -> None:
    store = FeedStore(db)
    await store.queue([SlackWrite("post", "C9", {"text": "new", "blocks": []}, "incident", SYS_ID)])
    await store.queue_card("incident", SYS_ID, card("newer"))  # before it was even posted
    [post] = await store.claim(10, LEASE)
    assert post.payload["text"] == "newer"
    await store.delivered(post, channel="C9", ts="9.9", digest="newer")
    [copy] = await PostedMessages(db).for_record("incident", SYS_ID)
    assert (copy.channel, copy.ts, copy.rendered_hash) == ("C9", "9.9", "newer")


async def test_retry_later_and_give_up(db: Database) -> None:
    store = FeedStore(db)
    await store.queue([dm("x"), dm("y", to="U2")])
    first, second = await store.claim(10, LEASE)
    await store.retry_later(first, 3600, "ratelimited")
    await store.give_up(second, "channel_not_found")
    assert await store.claim(10, LEASE) == []
    assert await store.pending() == 1
    due = await store.next_due()
    assert due is not None


async def test_prune_forgets_finished_messages_and_keeps_pending_ones(db: Database) -> None:
    store = FeedStore(db)
    await store.queue([dm("sent"), dm("waiting", to="U2")])
    sent, _ = await store.claim(10, LEASE)
    await store.delivered(sent, channel="D1", ts="1.1", digest="x")
    await store.prune(timedelta(days=2))
    assert await store.pending() == 1  # too recent: nothing pruned, and pending is never pruned
    await store.prune(timedelta(seconds=-1))
    assert await store.pending() == 1
    async with db.engine.connect() as conn:
        from sqlalchemy import text

        assert await conn.scalar(text("SELECT count(*) FROM outbox")) == 1


async def test_messages_to_one_target_keep_their_order_across_retries(db: Database) -> None:
    store = FeedStore(db)
    await store.queue([dm("first"), dm("elsewhere", to="U2"), dm("second")])
    first, elsewhere = await store.claim(10, LEASE)
    assert (first.payload["text"], elsewhere.payload["text"]) == ("first", "elsewhere")
    await store.retry_later(first, 0, "internal_error")  # due again at once
    await store.delivered(elsewhere, channel="D2", ts="1.1", digest="x")
    [again] = await store.claim(10, LEASE)
    assert again.payload["text"] == "first"  # "second" waits behind it
    await store.retry_later(again, 3600, "internal_error")
    assert await store.claim(10, LEASE) == []  # still waiting: so is "second"
    due = await store.next_due()
    assert due is not None and (due - first.created_at) > timedelta(minutes=59)


async def test_a_rate_limit_is_not_an_attempt(db: Database) -> None:
    store = FeedStore(db)
    await store.queue([dm("x")])
    for _ in range(20):
        [message] = await store.claim(10, LEASE)
        await store.retry_later(message, 0, "ratelimited", counts=False)
    [message] = await store.claim(10, LEASE)
    assert message.attempts == 1


async def test_a_claim_kept_alive_is_not_taken_over_and_a_lapsed_one_is(db: Database) -> None:
    store = FeedStore(db)
    short = timedelta(seconds=0.3)
    await store.queue([dm("x"), dm("y", to="U2")])
    mine = await store.claim(10, short)
    for _ in range(4):
        await asyncio.sleep(0.15)  # the heartbeat's rhythm: well inside the lease
        assert await store.extend(mine, short) == 2
        assert await store.claim(10, short) == []
    await asyncio.sleep(0.4)  # the holder stopped (crashed): the claims lapse
    theirs = await store.claim(10, short)
    assert sorted(m.id for m in theirs) == sorted(m.id for m in mine)
    assert await store.extend(mine, short) == 0  # the old holder can't take them back


async def test_a_waiting_dm_folds_and_a_net_nothing_drops_it(db: Database) -> None:
    store = FeedStore(db)
    key = "dm:U1:incident:" + SYS_ID
    first = SlackWrite("dm", "U1", {"text": "on hold"}, delay=60, fold=Fold(key, {"since": "2"}))
    await store.queue([first])
    [waiting] = (await store.pending_folds([key])).values()
    assert waiting.state == {"since": "2"}
    fallback = SlackWrite("dm", "U1", {"text": "in progress (was on hold)"})
    replaced = SlackWrite(
        "dm", "U1", {"text": "net"}, fold=Fold(key, {"since": "2"}, waiting, fallback)
    )
    await store.queue([replaced])
    assert await store.pending() == 1
    [again] = (await store.pending_folds([key])).values()
    dropped = SlackWrite("dm", "U1", None, fold=Fold(key, {}, again, fallback))
    await store.queue([dropped])
    assert await store.pending() == 0
    # Folding into a DM that left meanwhile queues the change on its own instead.
    await store.queue([dropped])
    assert await store.pending() == 1


async def test_deliveries_recorded_together_each_claim_their_targets_next_message(
    db: Database,
) -> None:
    """Deliveries recorded while others are written share a transaction (a group commit): each
    is done, a post rewritten in flight becomes an update of what was posted, and each target's
    next DM is claimed for its own delivery — one transaction for all of them after the first."""
    from sandbox.sqlcount import counting

    store = FeedStore(db, update_interval=timedelta(0))
    await store.queue([dm(f"first to U{n}", to=f"U{n}") for n in range(10)])
    await store.queue([dm(f"second to U{n}", to=f"U{n}") for n in range(0, 10, 2)])
    await store.queue([SlackWrite("post", "C1", {"text": "v1", "blocks": []}, "incident", SYS_ID)])
    firsts = await store.claim(20, LEASE)
    assert len(firsts) == 11  # the second DMs wait for the first ones
    await store.queue_card("incident", SYS_ID, card("v2"))  # the post is rewritten in flight
    with counting(db.engine) as count:
        following = await asyncio.gather(
            *(
                store.delivered(m, channel=m.target, ts=f"{n}.1", digest="d", then_claim=LEASE)
                for n, m in enumerate(firsts)
            )
        )
    assert count.transactions <= 2, count.summary()
    assert [f.payload["text"] if f else None for f in following] == [
        f"second to U{n}" if n % 2 == 0 else None for n in range(10)
    ] + [None]
    assert len({f.token for f in following if f}) == 1  # claimed together, under one token
    [update] = await store.claim(20, LEASE)  # the rewritten post: an update of what was posted
    assert (update.kind, update.target, update.ts, update.payload["text"]) == (
        "update",
        "C1",
        "10.1",
        "v2",
    )
    [copy] = await PostedMessages(db).for_record("incident", SYS_ID)
    assert (copy.channel, copy.ts) == ("C1", "10.1")
