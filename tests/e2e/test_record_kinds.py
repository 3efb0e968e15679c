"""Requested items, change requests and problems as live records (issue #16), end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot import manifest
from sandbox.servicenow import seed
from sandbox.slack import Message, View
from sandbox.slack.records import ALICE, BOB, CAROL, GENERAL
from sandbox.stack import WEBHOOK_SECRET, Stack, run_stack
from tests.e2e.steps import actions, click, jwt_settings, told, trust_jwt_key

pytestmark = pytest.mark.stack_settings(e_signature_tables="")


@asynccontextmanager
async def stack_with(tmp_path: Path, **settings: Any) -> AsyncIterator[Stack]:
    settings.setdefault("database_url", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    settings.setdefault("servicenow_webhook_secret", WEBHOOK_SECRET)
    settings.setdefault("servicenow_poll_seconds", 0)
    async with run_stack(**settings) as stack:
        yield stack
        assert stack.slack.problems == []
        assert {call.method for call in stack.slack.calls} <= set(manifest.METHODS)


def row(stack: Stack, table: str, number: str) -> dict[str, str]:
    [found] = stack.emulator.query(table, f"number={number}")
    return found


def dms(stack: Stack, user: str) -> list[Message]:
    return stack.slack.messages_in(stack.slack.dm_channel(user))


async def show(stack: Stack, user: str, number: str, channel: str = GENERAL) -> Message:
    before = len(stack.slack.messages_in(channel))
    await stack.slack.send_command(user, number, channel_id=channel)
    return (await stack.slack.wait_for(lambda: stack.slack.messages_in(channel)[before:]))[0]


async def command_answer(stack: Stack, user: str, text: str) -> str:
    before = len(told(stack, user))
    await stack.slack.send_command(user, text, channel_id=GENERAL)
    return (await stack.slack.wait_for(lambda: told(stack, user)[before:]))[0]


async def listed(stack: Stack, user: str, text: str) -> Any:
    """The list card the person gets (an ephemeral through the response_url)."""
    before = len([e for e in stack.slack.ephemerals_for(user) if e.source != "ack"])
    await stack.slack.send_command(user, text, channel_id=GENERAL)
    found = await stack.slack.wait_for(
        lambda: [e for e in stack.slack.ephemerals_for(user) if e.source != "ack"][before:]
    )
    return found[0]


async def test_each_kind_is_looked_up_by_number_and_posts_its_live_card(stack: Stack) -> None:
    ritm = await show(stack, BOB, "RITM0000001")
    text = str(ritm.blocks)
    for shown in ("Standard Laptop", "Alice Chen", "Waiting for Approval", "Requested",
                  "REQ0000001", "Hardware", "Unassigned"):  # fmt: skip
        assert shown in text, shown
    buttons = actions(ritm)
    assert {"record_comment", "record_follow", "record_open"} <= set(buttons)
    assert "sc_req_item.do" in buttons["record_open"]["url"]

    change = await show(stack, BOB, "show chg0000001")
    text = str(change.blocks)
    for shown in ("Normal", "Authorize", "Moderate", "2 - Medium", "core-sw-01",
                  "Bob Martin", "Carol Diaz", "Network"):  # fmt: skip
        assert shown in text, shown
    assert "change_my_approval" in actions(change)

    problem = await show(stack, BOB, "PRB0000001")
    text = str(problem.blocks)
    for shown in ("Root Cause Analysis", "Carol Diaz", "Reconnect with the TCP profile"):
        assert shown in text, shown
    linked = next(f for f in problem.blocks[0]["fields"] if "Linked incidents" in f["text"])
    assert linked["text"].endswith("\n3")


async def test_help_lists_the_kinds_and_a_bad_number_never_reaches_servicenow(
    stack: Stack,
) -> None:
    help_text = (await stack.slack.send_command(BOB, "help")).json
    usage = str(help_text)
    for line in ("RITM0010001", "CHG0000001", "PRB0000001", "/incident requests",
                 "/incident changes"):  # fmt: skip
        assert line in usage, line
    before = len(stack.emulator.requests)
    reply = await stack.slack.send_command(BOB, "show RITM12345678")
    assert "takes one" in str(reply.json)
    reply = await stack.slack.send_command(BOB, "follow CHG00^001")
    assert "takes one" in str(reply.json)
    assert not [r for r in stack.emulator.requests[before:] if "/table/" in r.path]


async def test_a_requested_item_moving_through_its_stages_updates_its_card_and_tells_who_it_is_for(
    tmp_path: Path,
) -> None:
    async with stack_with(tmp_path) as stack:
        card = await show(stack, ALICE, "RITM0000001")
        # Carol approves in ServiceNow: the item is approved and moves to its next stage.
        stack.emulator.update(
            "sysapproval_approver", seed.ITEM_APPROVAL, {"state": "approved"}, as_user="carol.diaz"
        )
        await stack.slack.wait_for(lambda: "*Stage*\\nApproved" in str(card.blocks))
        [dm] = await stack.slack.wait_for(lambda: dms(stack, ALICE))
        assert "Stage: Waiting for Approval → Approved" in dm.text
        assert "Approval: Requested → Approved" in dm.text

        item = seed.REQUESTED_ITEM
        stack.emulator.update("sc_req_item", item, {"stage": "fulfillment", "state": "2"},
                              as_user="bob.martin")  # fmt: skip
        await stack.slack.wait_for(lambda: len(dms(stack, ALICE)) == 2)
        assert "Stage: Approved → Fulfillment" in dms(stack, ALICE)[1].text
        await stack.slack.wait_for(lambda: "*Stage*\\nFulfillment" in str(card.blocks))

        # Closed incomplete: the person hears why, with the closing notes.
        stack.emulator.update(
            "sc_req_item",
            item,
            {"state": "4", "close_notes": "The model was discontinued; order again."},
            as_user="bob.martin",
        )
        await stack.slack.wait_for(lambda: len(dms(stack, ALICE)) == 3)
        last = dms(stack, ALICE)[2]
        assert "State: Work in Progress → Closed Incomplete" in last.text
        assert "The model was discontinued" in str(last.blocks)
        await stack.slack.wait_for(lambda: "Closed Incomplete" in card.text)
        assert "record_comment" not in str(card.blocks)  # closed: no more comments


async def test_a_burst_of_stage_changes_folds_into_one_dm(tmp_path: Path) -> None:
    async with stack_with(tmp_path, dm_fold_seconds=1.0) as stack:
        await show(stack, ALICE, "RITM0000001")
        for stage in ("fulfillment", "delivery"):
            stack.emulator.update(
                "sc_req_item", seed.REQUESTED_ITEM, {"stage": stage}, as_user="bob.martin"
            )
        await stack.emulator.wait_for_webhooks()
        [dm] = await stack.slack.wait_for(lambda: dms(stack, ALICE), timeout=10)
        assert "Stage: Waiting for Approval → Out for Delivery" in dm.text
        await stack.slack.wait_for(lambda: "Out for Delivery" in str(dm.blocks))
        assert len(dms(stack, ALICE)) == 1


async def test_nobody_hears_of_their_own_change_and_notify_off_mutes(tmp_path: Path) -> None:
    async with stack_with(tmp_path) as stack:
        card = await show(stack, BOB, "RITM0000001")
        assert "Followed" not in await command_answer(stack, BOB, "follow RITM0000001")
        assert "follow" in await command_answer(stack, ALICE, "follow RITM0000001")
        answer = await command_answer(stack, ALICE, "comment RITM0000001 Any news on my laptop?")
        assert "Added your comment to RITM0000001" in answer
        await stack.slack.wait_for(lambda: "Any news on my laptop?" in str(card.blocks))
        [bobs] = await stack.slack.wait_for(lambda: dms(stack, BOB))
        assert "New comment" in bobs.text
        assert dms(stack, ALICE) == []  # her own comment

        await command_answer(stack, ALICE, "notify off")
        stack.emulator.update(
            "sc_req_item", seed.REQUESTED_ITEM, {"stage": "fulfillment"}, as_user="bob.martin"
        )
        await stack.slack.wait_for(lambda: len(dms(stack, BOB)) == 2)
        await stack.slack.wait_for(lambda: "Fulfillment" in str(card.blocks))
        assert dms(stack, ALICE) == []


async def test_a_changes_requester_and_assignee_hear_of_its_approval_and_state(
    tmp_path: Path,
) -> None:
    async with stack_with(tmp_path) as stack:
        card = await show(stack, CAROL, "CHG0000001")
        stack.emulator.update(
            "sysapproval_approver", seed.CHANGE_APPROVAL, {"state": "approved"},
            as_user="carol.diaz",
        )  # fmt: skip
        stack.emulator.update("change_request", seed.CHANGE, {"state": "-2"}, as_user="admin")
        await stack.slack.wait_for(lambda: "Scheduled" in card.text)
        bob = await stack.slack.wait_for(lambda: dms(stack, BOB))
        carol = await stack.slack.wait_for(lambda: dms(stack, CAROL))
        await stack.slack.wait_for(lambda: "Scheduled" in bob[-1].text + carol[-1].text)
        heard = " ".join(m.text for m in dms(stack, BOB))
        assert "Approval: Requested → Approved" in heard and "you requested" in str(
            dms(stack, BOB)[0].blocks
        )
        assert "change_my_approval" not in str(card.blocks)  # approved: nothing to ask for


async def test_a_problems_assignee_and_followers_hear_of_state_changes_through_the_poller(
    tmp_path: Path,
) -> None:
    async with stack_with(
        tmp_path, servicenow_webhook_secret=None, servicenow_poll_seconds=0.2
    ) as stack:
        card = await show(stack, BOB, "PRB0000001")
        await command_answer(stack, BOB, "follow PRB0000001")
        problem = row(stack, "problem", "PRB0000001")["sys_id"]
        stack.emulator.update(
            "problem",
            problem,
            {"state": "104", "known_error": "true", "cause_notes": "MTU mismatch on the VPN."},
            as_user="admin",
        )
        await stack.slack.wait_for(lambda: "Fix in Progress" in card.text, timeout=10)
        assert "MTU mismatch" in str(card.blocks)
        [carols] = await stack.slack.wait_for(lambda: dms(stack, CAROL), timeout=10)
        assert "State: Root Cause Analysis → Fix in Progress" in carols.text
        assert "Known error" not in carols.text  # the assignee hears of the state
        [bobs] = await stack.slack.wait_for(lambda: dms(stack, BOB), timeout=10)
        assert "Known error" in bobs.text and "Cause notes" in bobs.text


async def test_a_poll_with_nothing_changed_costs_one_call_per_tracked_table(
    tmp_path: Path,
) -> None:
    async with stack_with(tmp_path, servicenow_webhook_secret=None) as stack:
        bot = stack.bot
        await bot.feed.poll_once()  # the first poll remembers what is open
        before = len(stack.emulator.requests)
        await bot.feed.poll_once()
        calls = stack.emulator.requests[before:]
        tables = {"incident", "sysapproval_approver", "sc_req_item", "change_request", "problem"}
        assert set(bot.feed.trackers) == tables
        assert sorted(r.path.rsplit("/", 1)[1] for r in calls) == sorted(tables)


async def test_lists_page_my_requests_and_my_changes(stack: Stack) -> None:
    for n in range(11):
        stack.emulator.insert(
            "sc_req_item",
            {"short_description": f"Headset {n}", "requested_for": seed.ALICE,
             "cat_item": seed.LAPTOP},
            as_user="alice.chen",
        )  # fmt: skip
    first = await listed(stack, ALICE, "requests")
    assert "12 in all, page 1 of 2" in str(first.blocks)
    assert "Headset 10" in str(first.blocks) and "RITM0000001" not in str(first.blocks)
    nav = next(b for b in first.blocks if b["type"] == "actions")
    following = next(e for e in nav["elements"] if e["value"] == "requests:2")
    await stack.slack.send_block_action(
        ALICE, action_id=following["action_id"], value="requests:2", channel_id=GENERAL
    )
    [second] = await stack.slack.wait_for(
        lambda: [e for e in stack.slack.ephemerals if "page 2 of 2" in str(e.blocks)]
    )
    assert "RITM0000001" in str(second.blocks) and "Headset 0" in str(second.blocks)

    changes = await listed(stack, CAROL, "changes")
    assert "CHG0000001" in str(changes.blocks) and "→" in str(changes.blocks)  # the window
    none = await listed(stack, ALICE, "changes")
    assert "none" in none.text


async def test_nobody_sees_a_record_from_slack_they_could_not_see_in_servicenow(
    stack: Stack,
) -> None:
    refused = await command_answer(stack, ALICE, "CHG0000001")
    assert "You can't see CHG0000001" in refused
    refused = await command_answer(stack, ALICE, "follow PRB0000001")
    assert "You can't see PRB0000001" in refused
    assert not [m for m in stack.slack.messages_in(GENERAL) if "CHG0000001" in m.text]
    # Bob (itil) sees them; Alice sees her own request.
    await show(stack, ALICE, "RITM0000001")


async def test_app_home_shows_my_requests_and_my_changes(stack: Stack) -> None:
    await stack.slack.send_event(stack.slack.app_home_opened(ALICE))
    home: View = await stack.slack.wait_for(lambda: stack.slack.home_view(ALICE))
    text = str(home.view["blocks"])
    assert "Your requests" in text and "RITM0000001" in text
    assert "No open changes for you or your groups." in text
    await stack.slack.send_event(stack.slack.app_home_opened(CAROL))
    home = await stack.slack.wait_for(lambda: stack.slack.home_view(CAROL))
    assert "Your changes" in str(home.view["blocks"]) and "CHG0000001" in str(home.view["blocks"])


async def test_my_approval_on_a_change_points_an_approver_to_theirs_and_tells_others_why_not(
    stack: Stack,
) -> None:
    card = await show(stack, BOB, "CHG0000001")
    before = len(told(stack, CAROL))
    await click(stack, CAROL, card, "change_my_approval")
    [carols] = await stack.slack.wait_for(lambda: told(stack, CAROL)[before:])
    assert "CHG0000001 waits for your approval" in carols
    assert f"sysapproval_approver.do%3Fsys_id%3D{seed.CHANGE_APPROVAL}" in carols
    before = len(told(stack, BOB))
    await click(stack, BOB, card, "change_my_approval")
    [bobs] = await stack.slack.wait_for(lambda: told(stack, BOB)[before:])
    assert "You aren't an approver of CHG0000001" in bobs


async def test_acting_as_the_person_servicenow_decides_what_they_see(tmp_path: Path) -> None:
    async with stack_with(tmp_path, **jwt_settings(tmp_path)) as stack:
        trust_jwt_key(stack)
        refused = await command_answer(stack, ALICE, "PRB0000001")
        assert "PRB0000001" in refused and ":no_entry:" in refused
        assert not [m for m in stack.slack.messages_in(GENERAL) if "PRB0000001" in m.text]
        card = await show(stack, ALICE, "RITM0000001")  # hers: ServiceNow shows it to her
        assert "Standard Laptop" in str(card.blocks)
        listed_for_alice = await listed(stack, ALICE, "requests")
        assert "RITM0000001" in str(listed_for_alice.blocks)
        reads = [r for r in stack.emulator.requests if "/table/sc_req_item" in r.path]
        assert any(r.auth == "bearer" and r.user == "alice.chen" for r in reads)  # as herself


async def test_every_kind_is_found_in_one_place_by_table_or_number(stack: Stack) -> None:
    kinds = stack.bot.services.kinds
    assert {live.kind.table for live in kinds} == {
        "incident", "sc_req_item", "change_request", "problem"
    }  # fmt: skip
    for number, table in (("INC0000001", "incident"), ("ritm0000001", "sc_req_item"),
                          ("CHG0000001", "change_request"), ("PRB0000001", "problem")):  # fmt: skip
        live = kinds.for_number(number)
        assert live is not None and live.kind.table == table and kinds.get(table) is live
        record = await live.find(number)
        card = await live.render(record)
        assert number.upper() in card.text
    assert kinds.for_number("REQ0000001") is None


async def test_comment_and_post_card_buttons_work_for_every_kind(stack: Stack) -> None:
    card = await show(stack, ALICE, "RITM0000001")
    await click(stack, ALICE, card, "record_comment")
    modal = await stack.slack.wait_for(
        lambda: (m := stack.slack.current_modal(ALICE)) and m.view["callback_id"] != "loading" and m
    )
    assert modal.view["callback_id"] == "record_comment"
    await stack.slack.send_view_submission(
        ALICE, modal.id, {"text": {"value": {"type": "plain_text_input", "value": "Blue, please"}}}
    )
    await stack.slack.wait_for(lambda: "Blue, please" in str(card.blocks))
    [entry] = stack.emulator.journal(seed.REQUESTED_ITEM, "comments")
    assert "Alice Chen (via Slack)" in entry["value"]

    # Alice may not comment on a change that isn't hers: the form says why, and nothing is written.
    change = await show(stack, BOB, "CHG0000001")
    await click(stack, ALICE, change, "record_comment")
    refusal = await stack.slack.wait_for(
        lambda: (m := stack.slack.current_modal(ALICE)) and ":no_entry:" in str(m.view) and m
    )
    assert "CHG0000001" in str(refusal.view)
    assert stack.emulator.journal(seed.CHANGE, "comments") == []

    # From a list, Post card puts a live card in the channel.
    page = await listed(stack, ALICE, "requests")
    post = next(
        b["accessory"]
        for b in page.blocks
        if b.get("accessory", {}).get("action_id") == "record_post"
    )
    before = len(stack.slack.messages_in(GENERAL))
    await stack.slack.send_block_action(
        ALICE, action_id="record_post", value=post["value"], channel_id=GENERAL
    )
    [posted] = await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL)[before:])
    assert "RITM0000001" in posted.text
