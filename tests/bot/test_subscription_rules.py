"""The subscription rule as pure functions: events from snapshots, filters on the record, and
what one change does to each channel's card."""

from __future__ import annotations

from bot.feed.filters import Event, decide, events, is_new, matches
from bot.incidents.subscribable import INCIDENTS
from storage.subscriptions import ChannelCardState, StoredSubscription

NETWORK, HARDWARE = "a" * 32, "b" * 32


def rule(
    id: int = 1,
    channel: str = "C1",
    events: tuple[str, ...] = ("created",),
    history: bool = False,
    **filters: list[str],
) -> StoredSubscription:
    return StoredSubscription(id, channel, "incident", events, dict(filters), history, "U1")


def snap(**values: str) -> dict[str, str]:
    base = {
        "state": "1",
        "priority": "3",
        "assigned_to": "",
        "assignment_group": "",
        "latest_comment": "",
    }
    return base | values


def record(**values: str) -> dict[str, str]:
    base = {"sys_id": "1" * 32, "number": "INC0000001", "sys_mod_count": "1"}
    base |= {"sys_created_on": "2026-12-01 10:00:00", "sys_updated_on": "2026-12-03 10:00:00"}
    return base | values


def test_events_are_read_from_the_snapshot_diff() -> None:
    before = snap()
    assert events(INCIDENTS, before, snap(state="2")) == {Event.STATE}
    assert events(INCIDENTS, before, snap(state="6")) == {Event.STATE, Event.DONE}
    assert events(INCIDENTS, before, snap(priority="1")) == {Event.PRIORITY}
    assert events(INCIDENTS, before, snap(assignment_group=NETWORK)) == {Event.ASSIGNED}
    assert events(INCIDENTS, before, snap(latest_comment="x")) == {Event.COMMENTED}
    # A comment not read before ("?") is no new comment.
    assert events(INCIDENTS, snap(latest_comment="?"), snap(latest_comment="x")) == set()


def test_first_sight_is_created_only_for_a_new_record() -> None:
    assert events(INCIDENTS, None, snap(), record(sys_mod_count="0")) == {Event.CREATED}
    young = record(sys_created_on="2026-12-03 09:55:00")
    assert is_new(young) and events(INCIDENTS, None, snap(), young) == {Event.CREATED}
    assert not is_new(record()) and events(INCIDENTS, None, snap(), record()) == set()


def test_filters_are_all_of_their_fields_and_any_of_their_values() -> None:
    p1_network = record(priority="1", assignment_group=NETWORK)
    assert matches(INCIDENTS, rule(), p1_network)  # no filter: everything
    assert matches(INCIDENTS, rule(priority=["1", "2"]), p1_network)
    assert not matches(INCIDENTS, rule(priority=["2"]), p1_network)
    both = rule(priority=["1"], assignment_group=[NETWORK])
    assert matches(INCIDENTS, both, p1_network)
    assert not matches(INCIDENTS, both, record(priority="1", assignment_group=HARDWARE))
    # A reference fetched with its link is read by its value.
    linked = record(priority="1") | {"assignment_group": {"value": NETWORK, "link": "x"}}
    assert matches(INCIDENTS, both, linked)  # type: ignore[arg-type]


def test_a_channel_gets_one_card_when_one_of_its_subscriptions_fires() -> None:
    rules = [rule(1, priority=["1"]), rule(2, priority=["1", "2"]), rule(3, "C2", priority=["4"])]
    [decision] = decide(
        INCIDENTS, rules, None, snap(priority="1"), record(sys_mod_count="0", priority="1"), {}
    )
    assert (decision.channel, decision.rule.id, decision.post) == ("C1", 1, True)


def test_an_event_the_subscription_did_not_choose_posts_nothing() -> None:
    rules = [rule(events=("created",), priority=["1"])]
    assert decide(INCIDENTS, rules, snap(), snap(state="2"), record(priority="1"), {}) == []
    rules = [rule(events=("state",), priority=["1"])]
    [decision] = decide(INCIDENTS, rules, snap(), snap(state="2"), record(priority="1"), {})
    assert decision.post


def test_a_card_that_stops_matching_is_marked_once_then_again_when_it_matches() -> None:
    rules = [rule(events=("created", "priority"), priority=["1"])]
    card = ChannelCardState("C1", 1, True)
    lowered = record(priority="4")
    [decision] = decide(
        INCIDENTS, rules, snap(priority="1"), snap(priority="4"), lowered, {"C1": card}
    )
    assert (decision.post, decision.matching, decision.restyle) == (False, False, True)
    marked = ChannelCardState("C1", 1, False)
    # Still not matching: nothing more to say.
    assert (
        decide(INCIDENTS, rules, snap(priority="4"), snap(priority="5"), lowered, {"C1": marked})
        == []
    )
    raised = record(priority="1")
    [back] = decide(
        INCIDENTS, rules, snap(priority="4"), snap(priority="1"), raised, {"C1": marked}
    )
    assert (back.post, back.matching, back.restyle) == (False, True, True)


def test_history_adds_the_events_the_subscription_chose() -> None:
    rules = [rule(events=("created", "state"), history=True)]
    card = ChannelCardState("C1", 1, True)
    [decision] = decide(
        INCIDENTS, rules, snap(), snap(state="2", priority="1"), record(), {"C1": card}
    )
    assert decision.history == (Event.STATE,) and not decision.post


def test_only_major_incidents_lets_through_accepted_major_incidents() -> None:
    major = StoredSubscription(1, "C1", "incident", ("created",), {"major": ["yes"]}, False, "U1")
    assert matches(INCIDENTS, major, record(major_incident_state="accepted"))
    assert not matches(INCIDENTS, major, record(major_incident_state="proposed"))
    assert not matches(INCIDENTS, major, record())  # an instance without the plugin: none is
    assert "major_incident_state" in INCIDENTS.fields  # the tracker reads it
