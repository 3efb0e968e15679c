"""Housekeeping forgets records that are done with and people who stopped using the bot, and
nothing about an open record however old."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import func, select

from storage import Database, Retention
from storage.models import (
    ChannelCard,
    Follower,
    PostedMessage,
    Snapshot,
    Unfurl,
    UserLink,
    utcnow,
)

CLOSED = {"incident": ("7", "8"), "sysapproval_approver": ("approved", "rejected")}


async def seed(db: Database, table: str, sys_id: str, state: str | None, age: timedelta) -> None:
    at = utcnow() - age
    async with db.session() as session:
        if state is not None:
            session.add(
                Snapshot(
                    table_name=table,
                    sys_id=sys_id,
                    sys_mod_count=3,
                    data=json.dumps({"state": state}),
                    updated_at=at,
                )
            )
            session.add(Follower(table_name=table, sys_id=sys_id, slack_user_id="U0ALICE000"))
        session.add(
            PostedMessage(
                table_name=table,
                sys_id=sys_id,
                channel="C0GENERAL0",
                ts=f"{sys_id}.1",
                rendered_hash="h",
                rendered="{}",
                posted_at=at,
                updated_at=at,
            )
        )


async def remaining(db: Database, model: type[Snapshot] | type[PostedMessage]) -> set[str]:
    async with db.session() as session:
        return set((await session.scalars(select(model.sys_id))).all())


async def test_closed_records_lose_their_cards_then_everything_and_open_ones_keep_all(
    db: Database,
) -> None:
    days = timedelta(days=1)
    await seed(db, "incident", "open-old", "2", 400 * days)
    await seed(db, "incident", "resolved-old", "6", 400 * days)  # Resolved can still reopen
    await seed(db, "incident", "closed-new", "7", 2 * days)
    await seed(db, "incident", "closed-10d", "7", 10 * days)
    await seed(db, "incident", "canceled-40d", "8", 40 * days)
    await seed(db, "sysapproval_approver", "approved-40d", "approved", 40 * days)
    await seed(db, "sysapproval_approver", "requested-40d", "requested", 40 * days)
    await seed(db, "incident", "no-snapshot-40d", None, 40 * days)
    await seed(db, "incident", "no-snapshot-new", None, 2 * days)

    pruned = await Retention(db).prune(CLOSED, closed_days=7, days=30)

    assert await remaining(db, PostedMessage) == {
        "open-old",
        "resolved-old",
        "closed-new",
        "requested-40d",
        "no-snapshot-new",
    }
    assert await remaining(db, Snapshot) == {
        "open-old",
        "resolved-old",
        "closed-new",
        "closed-10d",
        "requested-40d",
    }
    assert (pruned.cards, pruned.snapshots, pruned.followers) == (4, 2, 2)
    # Again: nothing more to do.
    assert await Retention(db).prune(CLOSED, closed_days=7, days=30) == type(pruned)()


async def test_identities_unused_for_the_retention_time_are_forgotten(db: Database) -> None:
    now: datetime = utcnow()
    async with db.session() as session:
        for user, age in (("U0RECENT00", 1), ("U0STALE000", 31)):
            session.add(
                UserLink(
                    slack_user_id=user,
                    email=f"{user}@example.com",
                    sys_user_id="a" * 32,
                    resolved_at=now - timedelta(days=age),
                )
            )
    pruned = await Retention(db).prune(CLOSED, closed_days=7, days=30)
    assert pruned.identities == 1
    async with db.session() as session:
        assert (await session.scalars(select(UserLink.slack_user_id))).all() == ["U0RECENT00"]
        assert await session.scalar(select(func.count()).select_from(UserLink)) == 1


async def test_previews_of_closed_records_and_old_previews_are_no_longer_refreshed(
    db: Database,
) -> None:
    days = timedelta(days=1)
    await seed(db, "incident", "closed-10d", "7", 10 * days)
    await seed(db, "incident", "open-new", "2", 2 * days)
    async with db.session() as session:
        for sys_id, age in (
            ("closed-10d", 10 * days),
            ("open-new", 2 * days),
            ("open-new", 40 * days),
        ):
            session.add(
                Unfurl(
                    channel="C0GENERAL0",
                    ts=f"{age.days}.1",
                    url=f"https://x/{sys_id}/{age.days}",
                    table_name="incident",
                    sys_id=sys_id,
                    slack_user_id="U0ALICE000",
                    created_at=utcnow() - age,
                )
            )
    pruned = await Retention(db).prune(CLOSED, closed_days=7, days=30)
    assert pruned.previews == 2
    async with db.session() as session:
        assert (await session.scalars(select(Unfurl.url))).all() == ["https://x/open-new/2"]


async def test_a_forgotten_records_channel_cards_go_with_it(db: Database) -> None:
    days = timedelta(days=1)
    await seed(db, "incident", "canceled-40d", "8", 40 * days)
    await seed(db, "incident", "open-old", "2", 400 * days)
    async with db.session() as session:
        for sys_id in ("canceled-40d", "open-old"):
            session.add(
                ChannelCard(
                    channel="C0GENERAL0",
                    table_name="incident",
                    sys_id=sys_id,
                    subscription_id=1,
                    matching=True,
                    footer="[]",
                )
            )
    await Retention(db).prune(CLOSED, closed_days=7, days=30)
    async with db.session() as session:
        kept = set((await session.scalars(select(ChannelCard.sys_id))).all())
    assert kept == {"open-old"}  # a change of the forgotten one later is news again
