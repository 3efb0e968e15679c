"""Every record kind offers itself to channel subscriptions, and its tracker reads what its
filters and events need (else a record would never match, or stop matching for no reason)."""

from __future__ import annotations

import pytest

from bot.changes.kind import KIND as CHANGE
from bot.changes.subscribable import CHANGE_REQUESTS
from bot.feed.changes import CHANNEL_CARDS
from bot.feed.filters import Event, Subscribable, events, matches
from bot.problems.kind import KIND as PROBLEM
from bot.problems.subscribable import PROBLEMS
from bot.records.kind import Kind, View
from bot.records.tracker import describe, snapshot
from bot.requested_items.kind import KIND as REQUESTED_ITEM
from bot.requested_items.subscribable import REQUESTED_ITEMS
from storage.subscriptions import StoredSubscription

PAIRS = [(CHANGE, CHANGE_REQUESTS), (PROBLEM, PROBLEMS), (REQUESTED_ITEM, REQUESTED_ITEMS)]


@pytest.mark.parametrize(("kind", "offered"), PAIRS, ids=lambda v: getattr(v, "table", ""))
def test_the_kind_reads_every_field_its_filters_and_events_need(
    kind: Kind, offered: Subscribable
) -> None:
    assert offered.table == kind.table
    assert set(offered.fields) <= set(kind.fields)
    record = {name: f"v-{name}" for name in kind.fields}
    remembered = snapshot(kind, record, None, read=True)
    for name in (offered.state_field, offered.priority_field, *offered.assignee_fields):
        if name:
            assert name in remembered, f"{kind.table}: its snapshot lacks {name}"


def test_changes_awaiting_approval_match_until_approved() -> None:
    rule = StoredSubscription(
        1, "C1", "change_request", ("created", "state"),
        {"approval": ["requested"], "state": ["-4", "-3"]}, False, "U1",
    )  # fmt: skip
    waiting = {"approval": "requested", "state": "-3"}
    assert matches(CHANGE_REQUESTS, rule, waiting)
    assert not matches(CHANGE_REQUESTS, rule, {"approval": "approved", "state": "-3"})
    assert not matches(CHANGE_REQUESTS, rule, {"approval": "requested", "state": "-2"})
    closed = events(CHANGE_REQUESTS, {"state": "-1"}, {"state": "3"})
    assert closed == {Event.STATE, Event.DONE}


def test_only_known_errors_lets_known_errors_through() -> None:
    rule = StoredSubscription(
        1, "C1", "problem", ("created",), {"known_error": ["yes"]}, False, "U1"
    )
    assert matches(PROBLEMS, rule, {"known_error": "true"})
    assert not matches(PROBLEMS, rule, {"known_error": "false"})
    everything = StoredSubscription(2, "C1", "problem", ("created",), {}, False, "U1")
    assert matches(PROBLEMS, everything, {"known_error": "false"})


@pytest.mark.parametrize("kind", [CHANGE, PROBLEM, REQUESTED_ITEM], ids=lambda k: k.table)
def test_the_channel_cards_mark_in_a_snapshot_is_no_change_of_the_record(kind: Kind) -> None:
    """The feed adds `~channel_cards` to a snapshot; the tracker's lines (DMs, thread history)
    never read it, so a snapshot with and without it say the same."""
    record = {name: f"v-{name}" for name in kind.fields}
    before = snapshot(kind, record, None, read=True)
    after = {**before, "state": "other"}
    view = View(record, "")
    marked = describe(kind, view, {**before, CHANNEL_CARDS: "1"}, after)
    assert marked == describe(kind, view, before, after) and list(marked) == ["state"]
