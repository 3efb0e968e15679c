"""Channel subscriptions end to end: the form, filters and events on the change feed, one live
card per record per channel, stop-matching, history threads, permissions, private channels,
Edit / Delete, App Home, and INCIDENT_CHANNEL turned into a subscription once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.servicenow import seed
from sandbox.slack import Message, View
from sandbox.slack.records import ALICE, BOB, CAROL, GENERAL, INCIDENTS
from sandbox.stack import WEBHOOK_SECRET, Stack, run_stack
from tests.e2e.steps import jwt_settings, trust_jwt_key
from tests.support import eventually

pytestmark = pytest.mark.stack_settings(servicenow_webhook_secret=WEBHOOK_SECRET)

FOOTER = "Posted here by the subscription made by"
NO_LONGER = "No longer matches"


def option(value: str, text: str = "") -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text or value}, "value": value}


def picked(kind: str, *options: dict[str, Any]) -> dict[str, Any]:
    return {"value": {"type": kind, "selected_options": list(options)}}


async def open_form(stack: Stack, user: str, channel: str = GENERAL) -> View:
    for open_view in stack.slack.view_stack(user):  # the person closed any earlier form
        stack.slack.close_view(open_view, clear=True)
    await stack.slack.send_command(user, "subscribe", channel_id=channel)
    return await stack.slack.wait_for(
        lambda: (
            (m := stack.slack.current_modal(user))
            and m.view.get("callback_id") in ("subscription:form", "error")
            and m
        )
    )


def form_values(
    events: tuple[str, ...] = ("created",),
    *,
    priority: tuple[str, ...] = (),
    group: tuple[str, ...] = (),
    history: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "events": picked("checkboxes", *(option(e) for e in events)),
        **(extra or {}),
    }
    if priority:
        values["filter:priority"] = picked(
            "multi_static_select", *(option(p, f"P{p}") for p in priority)
        )
    if group:
        values["filter:assignment_group"] = picked(
            "multi_static_select", *(option(g, "Network") for g in group)
        )
    if history:
        values["history"] = picked("checkboxes", option("thread", "History"))
    return values


async def subscribe(stack: Stack, user: str, channel: str = GENERAL, **form: Any) -> None:
    view = await open_form(stack, user, channel)
    assert view.view["callback_id"] == "subscription:form", str(view.view)
    before = len(stack.slack.messages_in(channel))
    await stack.slack.send_view_submission(user, view.id, form_values(**form))
    # The channel is told, naming who made it.
    await stack.slack.wait_for(
        lambda: any(
            "subscribed this channel" in m.text and f"<@{user}>" in m.text
            for m in stack.slack.messages_in(channel)[before:]
        )
    )


def cards(stack: Stack, channel: str, number: str) -> list[Message]:
    return [
        m
        for m in stack.slack.messages_in(channel)
        if number in str(m.blocks) and not m.thread_ts and "subscribed" not in m.text
    ]


def new_incident(
    stack: Stack, *, priority: str, group: str = "", caller: str = seed.ALICE, **more: str
) -> dict[str, str]:
    impact, urgency = {"1": ("1", "1"), "2": ("1", "2"), "3": ("2", "2"), "4": ("3", "2")}[priority]
    values = {
        "short_description": f"P{priority} trouble",
        "caller_id": caller,
        "impact": impact,
        "urgency": urgency,
        **more,
    }
    if group:
        values["assignment_group"] = group
    return stack.emulator.insert("incident", values, as_user="bob.martin")


async def test_the_form_offers_the_instances_own_choices(stack: Stack) -> None:
    view = await open_form(stack, BOB)
    text = str(view.view["blocks"])
    assert "1 - Critical" in text and "5 - Planning" in text  # sys_choice incident.priority
    assert "Network" in text and "Service Desk" in text  # sys_user_group
    assert "Hardware" in text and "Database" in text  # sys_choice incident.category
    # core_company and cmn_location rows, for the caller's and the CI's company and location
    for label in ("Caller's company", "Caller's location", "CI's company", "CI's location"):
        assert label in text
    assert "ACME North America" in text and "Globex Corporation" in text
    assert "Boston" in text and "London" in text
    # Major Incident Management's choice list is there: so is its flag.
    assert "Only major incidents" in text


async def test_an_instance_without_those_tables_or_the_plugin_is_not_offered_them(
    stack: Stack,
) -> None:
    for table in ("core_company", "cmn_location"):
        del stack.emulator.tables[table]  # ServiceNow answers "Invalid table"
    for choice in stack.emulator.query("sys_choice", "element=major_incident_state"):
        stack.emulator.delete("sys_choice", choice["sys_id"])
    view = await open_form(stack, BOB)
    text = str(view.view["blocks"])
    assert "1 - Critical" in text  # the rest of the form is there
    assert "company" not in text and "location" not in text
    assert "Only major incidents" not in text


async def test_only_major_incidents_posts_an_incident_once_it_is_promoted(stack: Stack) -> None:
    view = await open_form(stack, CAROL)
    await stack.slack.send_view_submission(
        CAROL,
        view.id,
        form_values(
            ("created", "priority"), extra={"flags": picked("checkboxes", option("major"))}
        ),
    )
    [rule] = await eventually(lambda: stack.bot.subscriptions.store.in_channel(GENERAL))
    assert rule.filters == {"major": ["yes"]} and "Only major incidents" in rule.summary
    ordinary = new_incident(stack, priority="3")
    candidate = new_incident(stack, priority="3", major_incident_state="proposed")
    stored = stack.emulator.get("incident", candidate["sys_id"])  # kept, not dropped on write
    assert stored is not None and stored["major_incident_state"] == "proposed"
    await stack.bot.feed.drain()
    await stack.bot.services.messenger.deliver_once()
    assert cards(stack, GENERAL, candidate["number"]) == []  # only proposed: not yet major
    # Both raised to P1; only the one accepted as a major incident is posted.
    stack.emulator.update("incident", ordinary["sys_id"], {"impact": "1", "urgency": "1"})
    stack.emulator.update(
        "incident",
        candidate["sys_id"],
        {"impact": "1", "urgency": "1", "major_incident_state": "accepted"},
    )
    [card] = await stack.slack.wait_for(lambda: cards(stack, GENERAL, candidate["number"]))
    assert FOOTER in str(card.blocks)
    await stack.bot.feed.drain()
    await stack.bot.services.messenger.deliver_once()
    assert cards(stack, GENERAL, ordinary["number"]) == []


async def test_a_company_filter_posts_the_incidents_of_callers_working_there(stack: Stack) -> None:
    globex = option(seed.GLOBEX, "Globex Corporation")
    form = {"filter:caller_id.company": picked("multi_static_select", globex)}
    view = await open_form(stack, CAROL)
    await stack.slack.send_view_submission(CAROL, view.id, form_values(extra=form))
    [rule] = await eventually(lambda: stack.bot.subscriptions.store.in_channel(GENERAL))
    assert rule.filters == {"caller_id.company": [seed.GLOBEX]}
    assert "Globex Corporation" in rule.summary
    acme = new_incident(stack, priority="3", caller=seed.BOB)  # Bob works for ACME
    globex_incident = new_incident(stack, priority="3", caller=seed.ALICE)  # Alice for Globex
    await stack.slack.wait_for(lambda: cards(stack, GENERAL, globex_incident["number"]))
    await stack.bot.feed.drain()
    await stack.bot.services.messenger.deliver_once()
    assert cards(stack, GENERAL, acme["number"]) == []


async def test_a_ci_location_filter_posts_the_incidents_on_cis_there(stack: Stack) -> None:
    boston = option(seed.BOSTON, "Boston")
    form = {"filter:cmdb_ci.location": picked("multi_static_select", boston)}
    view = await open_form(stack, CAROL)
    await stack.slack.send_view_submission(CAROL, view.id, form_values(extra=form))
    await eventually(lambda: stack.bot.subscriptions.store.in_channel(GENERAL))
    elsewhere = new_incident(stack, priority="3")  # no CI
    on_switch = new_incident(stack, priority="3", cmdb_ci=seed.CORE_SWITCH)  # in Boston
    await stack.slack.wait_for(lambda: cards(stack, GENERAL, on_switch["number"]))
    await stack.bot.feed.drain()
    await stack.bot.services.messenger.deliver_once()
    assert cards(stack, GENERAL, elsewhere["number"]) == []


async def test_a_matching_incident_is_posted_once_and_rewritten_then_marked_when_it_stops_matching(
    stack: Stack,
) -> None:
    await subscribe(
        stack, CAROL, events=("created", "priority", "state"), priority=("1", "2"),
        group=(seed.NETWORK,),
    )  # fmt: skip
    record = new_incident(stack, priority="1", group=seed.NETWORK)
    number = record["number"]
    [card] = await stack.slack.wait_for(lambda: cards(stack, GENERAL, number))
    assert FOOTER in str(card.blocks) and f"<@{CAROL}>" in str(card.blocks)
    # Another matching event rewrites the same card in place.
    stack.emulator.update("incident", record["sys_id"], {"state": "2"}, as_user="bob.martin")
    await stack.slack.wait_for(lambda: ":large_blue_circle: In Progress" in str(card.blocks))
    # Priority lowered: it stops matching; the card says so and stays.
    stack.emulator.update(
        "incident", record["sys_id"], {"impact": "3", "urgency": "3"}, as_user="bob.martin"
    )
    await stack.slack.wait_for(lambda: NO_LONGER in str(card.blocks))
    assert f"<@{CAROL}>" in str(card.blocks)
    # Still followed while it does not match: rewritten, and still marked.
    stack.emulator.update("incident", record["sys_id"], {"state": "3", "hold_reason": "1"})
    await stack.slack.wait_for(lambda: ":double_vertical_bar: On Hold" in str(card.blocks))
    assert NO_LONGER in str(card.blocks)
    # Raised again: it matches again, still the one card.
    stack.emulator.update(
        "incident", record["sys_id"], {"impact": "1", "urgency": "1"}, as_user="bob.martin"
    )
    await stack.slack.wait_for(lambda: NO_LONGER not in str(card.blocks))
    assert FOOTER in str(card.blocks)
    await stack.bot.feed.drain()
    assert len(cards(stack, GENERAL, number)) == 1


async def test_records_that_do_not_match_or_events_not_chosen_post_nothing(stack: Stack) -> None:
    await subscribe(stack, CAROL, events=("created",), priority=("1",))
    low = new_incident(stack, priority="4")
    other = new_incident(stack, priority="1", group=seed.HARDWARE)
    await stack.slack.wait_for(lambda: cards(stack, GENERAL, other["number"]))  # the P1 one…
    # …an existing P1 whose state changes is no "created": not posted.
    existing = stack.emulator.query("incident", "number=INC0000001")[0]
    stack.emulator.update("incident", existing["sys_id"], {"impact": "1", "urgency": "1"})
    await stack.bot.feed.drain()
    await stack.bot.services.messenger.deliver_once()
    assert cards(stack, GENERAL, low["number"]) == []
    assert cards(stack, GENERAL, "INC0000001") == []


async def test_history_adds_one_threaded_line_per_event(stack: Stack) -> None:
    await subscribe(stack, CAROL, events=("created", "state", "assigned"), history=True)
    record = new_incident(stack, priority="3")
    [card] = await stack.slack.wait_for(lambda: cards(stack, GENERAL, record["number"]))
    stack.emulator.update("incident", record["sys_id"], {"state": "2"}, as_user="bob.martin")
    replies = await stack.slack.wait_for(
        lambda: [m for m in stack.slack.messages_in(GENERAL) if m.thread_ts == card.ts]
    )
    assert "In Progress" in replies[0].text


async def test_only_members_of_a_channel_may_subscribe_it(stack: Stack) -> None:
    stack.slack.members[GENERAL].discard(BOB)
    view = await open_form(stack, BOB)
    assert "Only members of" in str(view.view)
    # Nor change or delete its subscriptions, even with a form opened while still a member.
    stack.slack.members[GENERAL].add(BOB)
    form = await open_form(stack, BOB)
    stack.slack.members[GENERAL].discard(BOB)
    await stack.slack.send_view_submission(BOB, form.id, form_values(priority=("1",)))
    await stack.slack.wait_for(
        lambda: [e for e in stack.slack.ephemerals_for(BOB) if "Only members of" in e.text]
    )
    assert await stack.bot.subscriptions.store.in_channel(GENERAL) == []


async def test_a_private_channel_works_once_the_bot_is_invited(stack: Stack) -> None:
    stack.slack.add_channel("C0PRIVATE0", "secret-ops", private=True, members=[CAROL])
    view = await open_form(stack, CAROL, "C0PRIVATE0")
    assert "invite me" in str(view.view)
    stack.slack.invite_bot("C0PRIVATE0")  # /invite @incident-bot
    await subscribe(stack, CAROL, "C0PRIVATE0", priority=("1",))
    record = new_incident(stack, priority="1")
    await stack.slack.wait_for(lambda: cards(stack, "C0PRIVATE0", record["number"]))


async def test_the_creator_must_be_able_to_read_what_it_posts(stack: Stack) -> None:
    # Alice has no role and no group: she may not subscribe a channel to every incident.
    view = await open_form(stack, ALICE)
    await stack.slack.send_view_submission(ALICE, view.id, form_values())
    text = await stack.slack.wait_for(
        lambda: [e.text for e in stack.slack.ephemerals_for(ALICE) if "can't subscribe" in e.text]
    )
    assert "your own groups" in text[0]
    assert await stack.bot.subscriptions.store.in_channel(GENERAL) == []


async def test_the_list_edits_and_deletes_and_says_who_made_each(stack: Stack) -> None:
    await subscribe(stack, CAROL, priority=("1",))
    await stack.slack.send_command(BOB, "subscriptions", channel_id=GENERAL)
    listing = await stack.slack.wait_for(
        lambda: [e for e in stack.slack.ephemerals_for(BOB) if "Subscriptions of" in e.text]
    )
    assert f"<@{CAROL}>" in str(listing[0].blocks)
    [rule] = await stack.bot.subscriptions.store.in_channel(GENERAL)
    # Edit: the form opens filled in; Bob widens it to P1 and P2.
    await stack.slack.send_block_action(
        BOB, action_id="subscription:edit", value=str(rule.id), channel_id=GENERAL
    )
    form = await stack.slack.wait_for(
        lambda: (m := stack.slack.current_modal(BOB)) and "subscription:form" in str(m.view) and m
    )
    assert "made by" in str(form.view) and f"<@{CAROL}>" in str(form.view)
    await stack.slack.send_view_submission(BOB, form.id, form_values(priority=("1", "2")))
    await stack.slack.wait_for(
        lambda: any(
            f"<@{BOB}> changed the subscription made by <@{CAROL}>" in m.text
            for m in stack.slack.messages_in(GENERAL)
        )
    )
    [changed] = await stack.bot.subscriptions.store.in_channel(GENERAL)
    assert changed.filters == {"priority": ["1", "2"]} and changed.creator == CAROL
    # Delete.
    await stack.slack.send_block_action(
        BOB, action_id="subscription:delete", value=str(rule.id), channel_id=GENERAL
    )
    await stack.slack.wait_for(
        lambda: any(
            f"<@{BOB}> deleted the subscription made by <@{CAROL}>" in m.text
            for m in stack.slack.messages_in(GENERAL)
        )
    )
    assert await stack.bot.subscriptions.store.in_channel(GENERAL) == []


async def test_app_home_lists_the_subscriptions_a_person_made(stack: Stack) -> None:
    await subscribe(stack, CAROL, priority=("1",))
    await stack.slack.send_event(stack.slack.app_home_opened(CAROL))
    home = await stack.slack.wait_for(lambda: stack.slack.home_view(CAROL))
    assert "Subscriptions you made" in str(home.view) and f"<#{GENERAL}>" in str(home.view)


@pytest.mark.stack_settings(servicenow_webhook_secret=WEBHOOK_SECRET, incident_channel=INCIDENTS)
async def test_incident_channel_becomes_a_subscription_once(stack: Stack) -> None:
    store = stack.bot.subscriptions.store
    [rule] = await store.in_channel(INCIDENTS)
    assert rule.events == ("created",) and rule.filters == {} and rule.creator == ""
    record = new_incident(stack, priority="4")
    [card] = await stack.slack.wait_for(lambda: cards(stack, INCIDENTS, record["number"]))
    assert "INCIDENT_CHANNEL setting" in str(card.blocks)
    # A second start finds it done: no second subscription, and a deleted one stays deleted.
    assert await stack.bot.subscriptions.from_setting(INCIDENTS) is None
    await store.remove(rule.id)
    assert await stack.bot.subscriptions.from_setting(INCIDENTS) is None
    assert await store.in_channel(INCIDENTS) == []


@pytest.mark.stack_settings(servicenow_poll_seconds=0)
async def test_the_poller_applies_filters_without_a_servicenow_call_per_subscription(
    stack: Stack,
) -> None:
    feed = stack.bot.feed
    await feed.poll_once()  # the first poll only remembers what is there
    first = new_incident(stack, priority="1")
    before = len(stack.emulator.requests)
    await feed.poll_once()
    without = len(stack.emulator.requests) - before
    for priorities in (("1",), ("1", "2"), ("3",)):
        await subscribe(stack, CAROL, priority=priorities)
    second = new_incident(stack, priority="1")
    before = len(stack.emulator.requests)
    await feed.poll_once()
    assert len(stack.emulator.requests) - before == without  # the same reads as with none
    [card] = await stack.slack.wait_for(lambda: cards(stack, GENERAL, second["number"]))
    assert FOOTER in str(card.blocks)
    assert cards(stack, GENERAL, first["number"]) == []  # before any subscription


async def test_an_incident_opened_in_a_subscribed_channel_has_one_card_there(stack: Stack) -> None:
    await subscribe(stack, BOB, events=("created", "state"))
    await stack.slack.send_command(BOB, "printer on fire", channel_id=GENERAL)
    [card] = await stack.slack.wait_for(
        lambda: [m for m in stack.slack.messages_in(GENERAL) if "printer on fire" in m.text]
    )
    [row] = stack.emulator.query("incident", "short_description=printer on fire")
    stack.emulator.update("incident", row["sys_id"], {"state": "2"}, as_user="carol.diaz")
    # The command's card is the channel's card: rewritten, and now naming the subscription.
    await stack.slack.wait_for(lambda: FOOTER in str(card.blocks))
    await stack.bot.feed.drain()
    assert len(cards(stack, GENERAL, row["number"])) == 1


async def test_acting_as_people_servicenow_decides_what_the_creator_may_read(
    tmp_path: Path,
) -> None:
    async with run_stack(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'acting.db'}",
        servicenow_poll_seconds=0,
        **jwt_settings(tmp_path),
    ) as stack:
        trust_jwt_key(stack)
        # Alice's own token: ServiceNow shows her only her incidents (the seeded ones are), so
        # not "every incident" once there is one of Bob's.
        stack.emulator.insert(
            "incident",
            {"short_description": "Bob's own", "caller_id": seed.BOB},
            as_user="bob.martin",
        )
        view = await open_form(stack, ALICE)
        await stack.slack.send_view_submission(ALICE, view.id, form_values())
        [refusal] = await stack.slack.wait_for(
            lambda: [e.text for e in stack.slack.ephemerals_for(ALICE) if "hides" in e.text]
        )
        assert "can't subscribe" in refusal
        # Carol (itil) reads them all: her subscription is made.
        await subscribe(stack, CAROL, priority=("1",))
        assert len(await stack.bot.subscriptions.store.in_channel(GENERAL)) == 1
        assert stack.slack.problems == []


async def test_a_channel_keeps_its_one_card_across_a_subscription_deleted_and_made_again(
    stack: Stack,
) -> None:
    store = stack.bot.subscriptions.store
    await subscribe(stack, CAROL, events=("created", "state"))
    record = new_incident(stack, priority="3")
    [card] = await stack.slack.wait_for(lambda: cards(stack, GENERAL, record["number"]))
    [rule] = await store.in_channel(GENERAL)
    await stack.bot.subscriptions.delete(await stack.bot.services.identity.person(CAROL), rule)
    stack.emulator.update("incident", record["sys_id"], {"state": "2"}, as_user="bob.martin")
    await stack.slack.wait_for(lambda: ":large_blue_circle: In Progress" in str(card.blocks))
    await subscribe(stack, BOB, events=("state",))  # SQLite may give it the deleted one's id
    stack.emulator.update(
        "incident", record["sys_id"], {"state": "3", "hold_reason": "1"}, as_user="bob.martin"
    )
    # Still the one card, now naming Bob's subscription.
    await stack.slack.wait_for(lambda: f"made by <@{BOB}>" in str(card.blocks))
    await stack.bot.feed.drain()
    assert len(cards(stack, GENERAL, record["number"])) == 1


BOARD = "C0CHANGEB0"


async def subscribe_board_to_changes_awaiting_approval(stack: Stack) -> None:
    """#change-board: changes whose approval is requested, in Assess or Authorize — through
    the form's kind menu, with the instance's own choices for the change's fields."""
    stack.slack.add_channel(BOARD, "change-board", members=[CAROL, BOB])
    view = await open_form(stack, CAROL, BOARD)
    assert "Requested items" in str(view.view) and "Problems" in str(view.view)  # every kind
    await stack.slack.send_block_action(
        CAROL,
        view=view,
        block_id="kind",
        action_id="subscription:kind",
        value=f"change_request:{BOARD}",
        selected_option=option(f"change_request:{BOARD}", "Changes"),
    )
    view = await stack.slack.wait_for(
        lambda: (
            (m := stack.slack.current_modal(CAROL))
            and '"change_request"' in str(m.view.get("private_metadata"))
            and m
        )
    )
    text = str(view.view["blocks"])
    assert "Approval" in text and "Requested" in text  # sys_choice task.approval
    assert "Authorize" in text and "Emergency" in text  # change_request.state, .type
    values = {
        "events": picked("checkboxes", option("state"), option("commented")),
        "filter:approval": picked("multi_static_select", option("requested", "Requested")),
        "filter:state": picked(
            "multi_static_select", option("-4", "Assess"), option("-3", "Authorize")
        ),
        "history": picked("checkboxes", option("thread")),
    }
    await stack.slack.send_view_submission(CAROL, view.id, values)
    await stack.slack.wait_for(
        lambda: any(
            "subscribed this channel" in m.text and f"<@{CAROL}>" in m.text
            for m in stack.slack.messages_in(BOARD)
        )
    )
    [rule] = await stack.bot.subscriptions.store.in_channel(BOARD)
    assert rule.table == "change_request"
    assert rule.filters == {"approval": ["requested"], "state": ["-4", "-3"]}


async def feed_knows(stack: Stack, table: str, sys_id: str) -> None:
    """A first change of an old record is only remembered (no event): make one, wait for it."""
    stack.emulator.update(table, sys_id, {"work_notes": "touched"}, as_user="admin")
    await eventually(lambda: stack.bot.feed.store.snapshot(table, sys_id))


async def test_change_board_follows_changes_awaiting_approval_on_one_card(stack: Stack) -> None:
    await subscribe_board_to_changes_awaiting_approval(stack)
    await feed_knows(stack, "change_request", seed.CHANGE)
    # Sent back to Assess, approval requested: it matches, and a state change is an event.
    stack.emulator.update(
        "change_request", seed.CHANGE, {"state": "-4", "approval": "requested"}, as_user="admin"
    )
    [card] = await stack.slack.wait_for(lambda: cards(stack, BOARD, "CHG0000001"))
    assert FOOTER in str(card.blocks) and f"<@{CAROL}>" in str(card.blocks)
    assert "Assess" in card.text
    # On to Authorize: the same card, rewritten in place.
    stack.emulator.update("change_request", seed.CHANGE, {"state": "-3"}, as_user="admin")
    await stack.slack.wait_for(lambda: "Authorize" in card.text)
    # History: a line in the card's thread, labelled from the instance's choices.
    [line] = await stack.slack.wait_for(lambda: stack.slack.thread(BOARD, card.ts)[1:])
    assert "CHG0000001: State: Assess → Authorize" in line.text
    # Approved and scheduled: no longer awaiting approval; the card says so, and stays.
    stack.emulator.update(
        "change_request", seed.CHANGE, {"approval": "approved", "state": "-2"}, as_user="admin"
    )
    await stack.slack.wait_for(lambda: NO_LONGER in str(card.blocks) and "Scheduled" in card.text)
    # Nothing else came to the board: not the other kinds, not a second card.
    new_incident(stack, priority="1")
    stack.emulator.update(
        "sc_req_item", seed.REQUESTED_ITEM, {"stage": "fulfillment"}, as_user="bob.martin"
    )
    await stack.bot.feed.drain()
    await stack.bot.services.messenger.deliver_once()
    board = [
        m
        for m in stack.slack.messages_in(BOARD)
        if "subscribed this channel" not in m.text and not m.thread_ts
    ]
    assert [m.ts for m in board] == [card.ts]


async def test_a_card_a_command_posts_in_a_subscribed_channel_is_its_card(stack: Stack) -> None:
    await subscribe_board_to_changes_awaiting_approval(stack)
    await feed_knows(stack, "change_request", seed.CHANGE)
    before = len(stack.slack.messages_in(BOARD))
    await stack.slack.send_command(CAROL, "CHG0000001", channel_id=BOARD)  # show it there
    [card] = await stack.slack.wait_for(lambda: stack.slack.messages_in(BOARD)[before:])
    # A change the subscription posts on: the shown card becomes the board's card.
    stack.emulator.update(
        "change_request", seed.CHANGE, {"state": "-4", "approval": "requested"}, as_user="admin"
    )
    await stack.slack.wait_for(lambda: FOOTER in str(card.blocks) and "Assess" in card.text)
    await stack.bot.feed.drain()
    await stack.bot.services.messenger.deliver_once()
    assert cards(stack, BOARD, "CHG0000001") == [card]
