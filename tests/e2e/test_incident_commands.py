"""The `/incident` command set end to end (issue: modals, lists, assign, comment, resolve, hold…)."""

from __future__ import annotations

import functools
from typing import Any

from sandbox.servicenow import Fault
from sandbox.slack import Message, SlackReply
from sandbox.slack.records import ALICE, BOB, CAROL, DAVE, GENERAL, INCIDENTS
from sandbox.stack import Stack
from tests.e2e.steps import reply_to as answer


def incident(stack: Stack, number: str) -> dict[str, str]:
    [row] = stack.emulator.query("incident", f"number={number}")
    return row


def user_sys_id(stack: Stack, email: str) -> str:
    [row] = stack.emulator.query("sys_user", f"email={email}")
    return row["sys_id"]


def json_of(reply: SlackReply) -> Any:
    assert reply.json is not None, reply.body
    return reply.json


def shows(message: Message, text: str) -> bool:
    return text in str(message.blocks)


def selected(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


def typed(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


async def test_bare_command_opens_the_create_modal_in_time_even_when_servicenow_is_slow(
    stack: Stack,
) -> None:
    stack.emulator.faults.add(Fault.slow(2.5, path_contains="sys_choice"))
    reply = await stack.slack.send_command(ALICE, "", channel_id=INCIDENTS)
    assert reply.status == 200 and reply.elapsed < 0.5
    modal = await stack.slack.wait_for(lambda: stack.slack.current_modal(ALICE))
    assert modal.view["title"]["text"] == "New incident"
    filled = await stack.slack.wait_for(
        lambda: "category" in str(modal.view["blocks"]) and modal, timeout=10
    )
    [views_open] = stack.slack.calls_to("views.open")
    assert not [c for c in stack.slack.calls if c.method == "views.open" and c.error]
    categories = next(b for b in filled.view["blocks"] if b["block_id"] == "category")
    assert {"inquiry", "software", "hardware", "network", "database"} <= {
        o["value"] for o in categories["element"]["options"]
    }
    assert views_open.args


async def test_create_modal_shows_field_errors_then_opens_the_incident(stack: Stack) -> None:
    await stack.slack.send_command(ALICE, "", channel_id=INCIDENTS)
    modal = await stack.slack.wait_for(
        lambda: (m := stack.slack.current_modal(ALICE)) and "category" in str(m.view) and m
    )
    blank = await stack.slack.send_view_submission(
        ALICE, modal.id, {"short_description": {"value": typed("   ")}}
    )
    assert json_of(blank)["response_action"] == "errors"
    assert modal.errors and "short_description" in modal.errors

    options = await stack.slack.send_options(
        ALICE, action_id="group", block_id="assignment_group", value="net", view_id=modal.id
    )
    [network] = [o for o in json_of(options)["options"] if o["text"]["text"] == "Network"]

    await stack.slack.send_view_submission(
        ALICE,
        modal.id,
        {
            "short_description": {"value": typed("Wifi down on floor 2")},
            "description": {"value": typed("Since 9am nobody on floor 2 can connect.")},
            "impact": {"value": selected("1")},
            "urgency": {"value": selected("2")},
            "category": {"value": selected("network")},
            "assignment_group": {"group": {"type": "external_select", "selected_option": network}},
        },
    )
    card = (await stack.slack.wait_for(lambda: stack.slack.messages_in(INCIDENTS)))[0]
    [row] = stack.emulator.query("incident", "short_description=Wifi down on floor 2")
    assert (row["impact"], row["urgency"], row["priority"], row["category"]) == (
        "1",
        "2",
        "2",
        "network",
    )
    assert row["assignment_group"] == network["value"]
    assert row["caller_id"] == user_sys_id(stack, "alice@example.com")
    assert row["number"] in card.text and "Network" in str(card.blocks)


async def test_show_posts_the_card_and_an_unknown_number_is_explained(stack: Stack) -> None:
    await stack.slack.send_command(BOB, "INC0000002", channel_id=GENERAL)
    [card] = await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    rendered = str(card.blocks)
    for shown in (
        "Laptop battery is swelling",
        "In Progress",
        "Bob Martin",
        "Hardware",
        "Please stop using",
    ):
        assert shown in rendered
    await stack.slack.send_command(BOB, "show INC9999999", channel_id=GENERAL)
    assert "can't find INC9999999" in (await answer(stack, BOB)).text


async def test_lists_are_ephemeral_paginated_and_newest_first(stack: Stack) -> None:
    for n in range(11):
        stack.emulator.insert(
            "incident",
            {
                "short_description": f"extra {n}",
                "caller_id": user_sys_id(stack, "alice@example.com"),
            },
        )
    await stack.slack.send_command(ALICE, "list", channel_id=GENERAL)
    first = await answer(stack, ALICE)
    text = str(first.blocks)
    assert "page 1 of 2" in text
    assert text.index("extra 10") < text.index("extra 9")
    await stack.slack.send_block_action(
        ALICE, action_id="incident_list_page", value="mine:2", channel_id=GENERAL
    )
    second = await stack.slack.wait_for(
        lambda: [e for e in stack.slack.ephemerals if "page 2 of 2" in str(e.blocks)]
    )
    assert "INC0000003" in str(second[0].blocks)  # older ones come later
    listed = str(first.blocks) + str(second[0].blocks)
    assert "INC0000005" not in listed  # closed
    assert "INC0000004" not in listed  # resolved: waiting for the caller, no longer open work

    await stack.slack.send_command(BOB, "list assigned", channel_id=GENERAL)
    assigned = str((await answer(stack, BOB)).blocks)
    assert "INC0000002" in assigned and "INC0000003" not in assigned
    await stack.slack.send_command(CAROL, "list group", channel_id=GENERAL)
    queue = str((await answer(stack, CAROL)).blocks)
    assert "INC0000003" in queue and "INC0000002" not in queue
    assert stack.slack.messages_in(GENERAL) == []


async def test_assign_comment_and_note_act_for_the_person_and_update_every_card(
    stack: Stack,
) -> None:
    await stack.slack.send_command(BOB, "INC0000001", channel_id=GENERAL)
    await stack.slack.send_command(BOB, "INC0000001", channel_id=INCIDENTS)
    await stack.slack.wait_for(
        lambda: stack.slack.messages_in(GENERAL) and stack.slack.messages_in(INCIDENTS)
    )
    await stack.slack.send_command(BOB, "assign INC0000001 <@U0CAROL000|carol>", channel_id=GENERAL)
    assert "Assigned INC0000001 to <@U0CAROL000>" in (await answer(stack, BOB)).text
    assert incident(stack, "INC0000001")["assigned_to"] == user_sys_id(stack, "carol@example.com")
    notes = stack.emulator.journal(incident(stack, "INC0000001")["sys_id"], "work_notes")
    assert "via Slack by Bob Martin (bob@example.com)" in notes[0]["value"]
    for channel in (GENERAL, INCIDENTS):
        card = stack.slack.messages_in(channel)[0]
        await stack.slack.wait_for(functools.partial(shows, card, "Carol Diaz"))
        assert card.edited >= 1

    await stack.slack.send_command(
        BOB, "comment INC0000001 Try removing the account", channel_id=GENERAL
    )
    await answer(stack, BOB, after=1)
    sys_id = incident(stack, "INC0000001")["sys_id"]
    assert stack.emulator.journal(sys_id, "comments")[0]["value"].startswith(
        "Try removing the account"
    )
    await stack.slack.wait_for(
        lambda: "Try removing" in str(stack.slack.messages_in(INCIDENTS)[0].blocks)
    )

    await stack.slack.send_command(BOB, "note INC0000001 user is on iOS 17", channel_id=GENERAL)
    await answer(stack, BOB, after=2)
    assert stack.emulator.journal(sys_id, "work_notes")[0]["value"].startswith("user is on iOS 17")
    assert "iOS 17" not in str(stack.slack.messages_in(INCIDENTS)[0].blocks)  # internal


async def test_assigning_someone_without_servicenow_account_names_them(stack: Stack) -> None:
    await stack.slack.send_command(BOB, "assign INC0000001 <@U0DAVE0000>", channel_id=GENERAL)
    told = (await answer(stack, BOB)).text
    assert "<@U0DAVE0000>" in told and "dave@example.com" in told
    assert incident(stack, "INC0000001")["assigned_to"] == ""


async def test_resolve_modal_offers_close_codes_from_servicenow_and_resolves(stack: Stack) -> None:
    await stack.slack.send_command(BOB, "resolve INC0000002", channel_id=GENERAL)
    modal = await stack.slack.wait_for(
        lambda: (m := stack.slack.current_modal(BOB)) and "close_code" in str(m.view) and m
    )
    codes = next(b for b in modal.view["blocks"] if b.get("block_id") == "close_code")
    assert "Solution provided" in [o["value"] for o in codes["element"]["options"]]
    empty = await stack.slack.send_view_submission(
        BOB,
        modal.id,
        {
            "close_code": {"value": selected("Solution provided")},
            "close_notes": {"value": typed(" ")},
        },
    )
    assert json_of(empty)["errors"] == {"close_notes": "Say how it was resolved."}
    await stack.slack.send_view_submission(
        BOB,
        modal.id,
        {
            "close_code": {"value": selected("Solution provided")},
            "close_notes": {"value": typed("Swapped the battery.")},
        },
    )

    async def resolved() -> dict[str, str] | None:
        row = incident(stack, "INC0000002")
        return row if row["state"] == "6" else None

    row = await stack.slack.wait_for(
        lambda: (r := incident(stack, "INC0000002"))["state"] == "6" and r
    )
    assert (row["close_code"], row["close_notes"]) == ("Solution provided", "Swapped the battery.")


async def test_close_reopen_and_hold_follow_the_state_model(stack: Stack) -> None:
    await stack.slack.send_command(BOB, "close INC0000002", channel_id=GENERAL)
    assert "resolve it first" in (await answer(stack, BOB)).text
    await stack.slack.send_command(BOB, "reopen INC0000004", channel_id=GENERAL)
    assert "Reopened INC0000004" in (await answer(stack, BOB, after=1)).text
    assert incident(stack, "INC0000004")["state"] == "2"
    await stack.slack.send_command(BOB, "hold INC0000004 vendor parts ordered", channel_id=GENERAL)
    assert "on hold (Awaiting Vendor)" in (await answer(stack, BOB, after=2)).text
    row = incident(stack, "INC0000004")
    assert (row["state"], row["hold_reason"]) == ("3", "4")
    await stack.slack.send_command(BOB, "hold INC0000004 caller", channel_id=GENERAL)
    assert "needs a comment" in (await answer(stack, BOB, after=3)).text


async def test_a_user_without_servicenow_account_gets_one_clear_explanation(stack: Stack) -> None:
    await stack.slack.send_command(DAVE, "list", channel_id=GENERAL)
    told = (await answer(stack, DAVE)).text
    assert "dave@example.com" in told and "ServiceNow" in told


async def test_a_caret_in_a_number_never_reaches_a_query(stack: Stack) -> None:
    before = len(stack.emulator.requests)
    reply = await stack.slack.send_command(
        BOB, "close INC0000002^ORactive=true", channel_id=GENERAL
    )
    assert "takes one incident number" in json_of(reply)["text"]
    assert len(stack.emulator.requests) == before


async def test_servicenow_data_policy_errors_say_which_fields_are_needed(stack: Stack) -> None:
    await stack.slack.send_command(BOB, "resolve INC0000002", channel_id=GENERAL)
    modal = await stack.slack.wait_for(
        lambda: (m := stack.slack.current_modal(BOB)) and "close_code" in str(m.view) and m
    )
    stack.emulator.faults.add(Fault(status=403, method="PATCH"))
    await stack.slack.send_view_submission(
        BOB,
        modal.id,
        {
            "close_code": {"value": selected("Solution provided")},
            "close_notes": {"value": typed("done")},
        },
    )
    told = (await answer(stack, BOB)).text
    assert "Resolution code" in told or "didn't allow" in told
    assert incident(stack, "INC0000002")["state"] == "2"
