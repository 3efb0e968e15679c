"""Which comments a change brings (bot/threads/relay.py): ServiceNow orders its journal to the
second, so comments of one second are told apart by the ids the last snapshot saw."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.incidents.cards import Comment
from bot.threads.relay import comment_marks, new_comments

NINE = datetime(2026, 12, 3, 9, 0, 0, tzinfo=UTC)
NINE_ONE = datetime(2026, 12, 3, 9, 0, 1, tzinfo=UTC)


def comment(id: str, at: datetime) -> Comment:
    return Comment(text=id, author="bob.martin", created_on=at, id=id)


def test_a_comment_of_the_same_second_as_the_last_seen_is_new_whatever_the_order() -> None:
    alice = comment("alice", NINE)
    seen = {"latest_comment": "alice", "sys_updated_on": "2026-12-03 09:00:00"} | comment_marks(
        [alice]
    )
    bob = comment("bob", NINE)
    for recent in ([alice, bob], [bob, alice]):  # ServiceNow may list a tie either way
        assert new_comments(recent, seen) == [bob]


def test_new_comments_come_oldest_first_and_seen_ones_never_again() -> None:
    old = comment("old", NINE)
    seen = {"latest_comment": "old"} | comment_marks([old])
    first, second = comment("first", NINE_ONE), comment("second", NINE_ONE)
    later = [second, first, old]
    assert {c.id for c in new_comments(later, seen)} == {"first", "second"}
    again = {"latest_comment": "second"} | comment_marks(later)
    assert new_comments(later, again) == []


def test_no_comment_before_means_every_comment_is_new() -> None:
    seen = {"latest_comment": ""} | comment_marks([])
    assert [c.id for c in new_comments([comment("b", NINE_ONE), comment("a", NINE)], seen)] == [
        "a",
        "b",
    ]


def test_a_baseline_counts_what_was_written_after_its_version() -> None:
    seen = {"latest_comment": "?", "sys_updated_on": "2026-12-03 09:00:00"}
    assert new_comments([comment("b", NINE_ONE), comment("a", NINE)], seen) == [
        comment("b", NINE_ONE)
    ]


def test_a_flood_of_comments_brings_the_newest_ten() -> None:
    seen = {"latest_comment": ""} | comment_marks([])
    flood = [comment(f"c{n:02d}", datetime(2026, 12, 3, 9, 0, n, tzinfo=UTC)) for n in range(15)]
    newest_first = list(reversed(flood))
    assert [c.id for c in new_comments(newest_first, seen)] == [c.id for c in flood[5:]]
