"""Who may do what (issue #13), in the integration-user mode, over loopback: every row of the
README's permission table, refusals that say why, identity kept true, and e-signature approvals.

Seed: Alice is a caller with no roles (every seeded incident is hers), Bob and Carol have itil,
Dave has no ServiceNow account.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.servicenow import seed
from sandbox.servicenow.faults import Fault
from sandbox.slack import Message
from sandbox.slack.records import ALICE, BOB, CAROL, DAVE, GENERAL
from sandbox.stack import Stack


def told(stack: Stack, user: str) -> list[str]:
    return [e.text for e in stack.slack.ephemerals_for(user) if e.source != "ack"]


async def answer(stack: Stack, user: str, after: int = 0) -> str:
    found = await stack.slack.wait_for(lambda: told(stack, user)[after:])
    return found[0]


def incident(stack: Stack, number: str) -> dict[str, str]:
    [row] = stack.emulator.query("incident", f"number={number}")
    return row


def bobs_incident(stack: Stack, **values: str) -> str:
    """An incident Bob called in (in Hardware, assigned to nobody): not Alice's."""
    row = stack.emulator.insert(
        "incident",
        {
            "caller_id": seed.BOB,
            "opened_by": seed.BOB,
            "short_description": "Docking station dead",
            "assignment_group": seed.HARDWARE,
            **values,
        },
        as_user="bob.martin",
    )
    return row["number"]


def actions(message: Message) -> dict[str, Any]:
    block = next(b for b in message.blocks if b["type"] == "actions")
    return {"block_id": block["block_id"], **{e["action_id"]: e for e in block["elements"]}}


async def card_in_general(stack: Stack, number: str) -> Message:
    await stack.slack.send_command(BOB, number, channel_id=GENERAL)
    return await stack.slack.wait_for(
        lambda: next((m for m in stack.slack.messages_in(GENERAL) if number in m.text), None)
    )


async def click(stack: Stack, user: str, card: Message, action_id: str, **extra: Any) -> None:
    controls = actions(card)
    await stack.slack.send_block_action(
        user,
        action_id=action_id,
        block_id=controls["block_id"],
        value=controls[action_id].get("value"),
        message=card,
        **extra,
    )


async def modal_text(stack: Stack, user: str) -> str:
    view = await stack.slack.wait_for(
        lambda: (m := stack.slack.current_modal(user)) and m.view["callback_id"] != "loading" and m
    )
    return str(view.view)


# ---- no ServiceNow account -----------------------------------------------------------------------


async def test_dave_without_an_account_posts_nothing_and_is_told_why(stack: Stack) -> None:
    await stack.slack.send_command(DAVE, "INC0000001", channel_id=GENERAL)
    refusal = await answer(stack, DAVE)
    assert "dave@example.com" in refusal
    for words in ("list", "approvals", "comment INC0000001 hi", "printer on fire"):
        await stack.slack.send_command(DAVE, words, channel_id=GENERAL)
    await stack.slack.wait_for(lambda: len(told(stack, DAVE)) == 5)
    assert all("dave@example.com" in text for text in told(stack, DAVE))
    assert stack.slack.messages_in(GENERAL) == []
    assert stack.emulator.query("incident", "short_description=printer on fire") == []
    assert stack.emulator.journal(incident(stack, "INC0000001")["sys_id"], "comments")[0][
        "value"
    ].startswith("Restarting")


async def test_dave_s_buttons_are_refused_and_the_comment_form_shows_why(stack: Stack) -> None:
    card = await card_in_general(stack, "INC0000001")
    before = incident(stack, "INC0000001")
    await click(stack, DAVE, card, "incident_comment")
    text = await modal_text(stack, DAVE)
    assert "dave@example.com" in text and "incident_comment" not in text  # no form to submit
    await click(stack, DAVE, card, "incident_assign_me")
    assert "dave@example.com" in await answer(stack, DAVE)
    assert incident(stack, "INC0000001") == before


# ---- a caller with no roles ------------------------------------------------------------------------


async def test_alice_may_comment_on_and_reopen_her_own_incidents(stack: Stack) -> None:
    await stack.slack.send_command(ALICE, "comment INC0000001 any news?", channel_id=GENERAL)
    assert "Added your comment to INC0000001" in await answer(stack, ALICE)
    await stack.slack.send_command(ALICE, "reopen INC0000004", channel_id=GENERAL)
    assert "Reopened INC0000004" in await answer(stack, ALICE, 1)
    assert incident(stack, "INC0000004")["state"] == "2"


@pytest.mark.parametrize(
    ("command", "verb"),
    [
        ("assign INC0000001 me", "assign"),
        ("note INC0000001 looked at it", "add work notes to"),
        ("hold INC0000001 vendor parts", "put on hold"),
        ("resolve INC0000001", "resolve"),
        ("close INC0000004", "close"),
    ],
)
async def test_alice_may_not_work_even_her_own_incidents(
    stack: Stack, command: str, verb: str
) -> None:
    number = command.split()[1]
    before = incident(stack, number)
    await stack.slack.send_command(ALICE, command, channel_id=GENERAL)
    refusal = await answer(stack, ALICE)
    assert f"You can't {verb} {number}" in refusal
    assert "*itil* role" in refusal and "Ask your ServiceNow admin" in refusal
    assert incident(stack, number) == before
    assert stack.slack.current_modal(ALICE) is None


@pytest.mark.parametrize(("move", "verb"), [("8", "cancel"), ("2", "start work on")])
async def test_alice_may_not_cancel_or_start_from_the_state_menu(
    stack: Stack, move: str, verb: str
) -> None:
    number = bobs_incident(stack, watch_list=seed.ALICE) if move == "8" else "INC0000001"
    card = await card_in_general(stack, number)
    before = incident(stack, number)
    menu = actions(card)["incident_state"]
    option = next(o for o in menu["options"] if o["value"].endswith(f":{move}"))
    await stack.slack.send_block_action(
        ALICE,
        action_id="incident_state",
        block_id=actions(card)["block_id"],
        selected_option=option,
        message=card,
    )
    assert f"You can't {verb} {number}" in await answer(stack, ALICE)
    assert incident(stack, number) == before


async def test_alice_may_not_see_others_incidents_until_she_watches_them(stack: Stack) -> None:
    number = bobs_incident(stack)
    await stack.slack.send_command(ALICE, number, channel_id=GENERAL)
    refusal = await answer(stack, ALICE)
    assert f"You can't see {number}" in refusal and "watch list" in refusal
    assert "Hardware" in refusal and "*itil* role" in refusal
    assert stack.slack.messages_in(GENERAL) == []

    stack.emulator.update("incident", incident(stack, number)["sys_id"], {"watch_list": seed.ALICE})
    await stack.slack.send_command(ALICE, number, channel_id=GENERAL)
    await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    # Watching is reading: it isn't hers to comment on.
    await stack.slack.send_command(ALICE, f"comment {number} me too", channel_id=GENERAL)
    refusal = await answer(stack, ALICE, 1)
    assert f"You can't comment on {number}: it isn't yours" in refusal and "Bob Martin" in refusal


async def test_the_assignee_and_the_assignment_group_may_see_it(stack: Stack) -> None:
    assigned = bobs_incident(stack, assigned_to=seed.ALICE)
    await stack.slack.send_command(ALICE, f"follow {assigned}", channel_id=GENERAL)
    assert "follow" in (await answer(stack, ALICE)).lower()
    stack.emulator.insert(
        "sys_user_grmember", {"user": seed.ALICE, "group": seed.HARDWARE}, as_user="admin"
    )
    in_group = bobs_incident(stack)
    await stack.slack.send_command(ALICE, in_group, channel_id=GENERAL)
    await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    assert not [t for t in told(stack, ALICE) if "can't" in t]


async def test_a_fulfiller_may_see_and_work_anyones_incident(stack: Stack) -> None:
    number = bobs_incident(stack)
    await stack.slack.send_command(CAROL, f"assign {number} me", channel_id=GENERAL)
    assert f"Assigned {number} to you" in await answer(stack, CAROL)
    assert incident(stack, number)["assigned_to"] == seed.CAROL


@pytest.mark.stack_settings(fulfiller_roles="incident_manager", read_roles="incident_manager")
async def test_the_roles_are_configurable(stack: Stack) -> None:
    await stack.slack.send_command(BOB, "assign INC0000001 me", channel_id=GENERAL)
    refusal = await answer(stack, BOB)
    assert "You can't assign INC0000001" in refusal and "*incident_manager* role" in refusal
    number = bobs_incident(stack, assignment_group=seed.NETWORK)
    await stack.slack.send_command(CAROL, number, channel_id=GENERAL)  # Network: her group
    await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    carols = bobs_incident(
        stack, caller_id=seed.CAROL, opened_by=seed.CAROL, assignment_group=seed.NETWORK
    )
    await stack.slack.send_command(BOB, f"show {carols}", channel_id=GENERAL)
    assert "You can't see" in await answer(stack, BOB, 1)


# ---- approvals -----------------------------------------------------------------------------------


async def test_only_the_approver_decides(stack: Stack) -> None:
    before = stack.emulator.get("sysapproval_approver", seed.ITEM_APPROVAL)
    await stack.slack.send_block_action(
        BOB, action_id="approval_approve", value=seed.ITEM_APPROVAL, channel_id=GENERAL
    )
    assert "Only Carol Diaz can approve or reject RITM0000001" in await answer(stack, BOB)
    assert stack.emulator.get("sysapproval_approver", seed.ITEM_APPROVAL) == before


async def test_an_approval_that_needs_an_e_signature_links_to_servicenow_instead(
    stack: Stack,
) -> None:
    assert await stack.bot.approvals.send_request_dm(seed.CHANGE_APPROVAL)
    [dm] = await stack.slack.wait_for(
        lambda: stack.slack.messages_in(stack.slack.dm_channel(CAROL))
    )
    elements = [e for b in dm.blocks if b["type"] == "actions" for e in b["elements"]]
    assert [e["action_id"] for e in elements] == ["approval_sign"]
    assert "sysapproval_approver.do" in elements[0]["url"]
    assert seed.CHANGE_APPROVAL in elements[0]["url"]
    assert "needs your e-signature" in str(dm.blocks)

    # A button from elsewhere (an old list) is refused, saying why and where to sign.
    await stack.slack.send_block_action(
        CAROL, action_id="approval_approve", value=seed.CHANGE_APPROVAL, channel_id=GENERAL
    )
    refusal = await answer(stack, CAROL)
    assert "e-signature" in refusal and "sysapproval_approver.do" in refusal
    row = stack.emulator.get("sysapproval_approver", seed.CHANGE_APPROVAL)
    assert row is not None and row["state"] == "requested"


# ---- identity stays true ---------------------------------------------------------------------------


async def test_a_person_deactivated_in_servicenow_is_refused_once_slack_says_they_changed(
    stack: Stack,
) -> None:
    await stack.slack.send_command(BOB, "assign INC0000001 me", channel_id=GENERAL)
    assert "Assigned INC0000001" in await answer(stack, BOB)
    stack.emulator.update("sys_user", seed.BOB, {"active": "false"}, as_user="admin")
    await stack.slack.send_event(stack.slack.user_change(BOB))
    await stack.slack.wait_for(  # the bot asks Slack who Bob is now, at once
        lambda: len([c for c in stack.slack.calls if c.args.get("user") == BOB]) == 2
    )
    await stack.slack.send_command(BOB, "note INC0000001 still here?", channel_id=GENERAL)
    refusal = await answer(stack, BOB, 1)
    assert "bob@example.com" in refusal and "couldn't find an active ServiceNow user" in refusal
    assert not [
        e for e in stack.emulator.journal(seed.sys_id_for("incident", "INC0000001"), "work_notes")
        if "still here?" in e["value"]
    ]  # fmt: skip


async def test_an_e_mail_shared_by_two_active_users_is_refused_naming_it(stack: Stack) -> None:
    stack.emulator.insert(
        "sys_user",
        {"user_name": "bob.other", "name": "Bob Other", "email": "bob@example.com"},
        as_user="admin",
    )
    await stack.slack.send_command(BOB, "assign INC0000001 me", channel_id=GENERAL)
    refusal = await answer(stack, BOB)
    assert "More than one active ServiceNow user" in refusal and "bob@example.com" in refusal
    await stack.slack.send_command(BOB, "INC0000001", channel_id=GENERAL)  # remembered, same words
    assert "More than one active ServiceNow user" in await answer(stack, BOB, 1)
    assert incident(stack, "INC0000001")["assigned_to"] == ""


async def test_the_reverse_lookup_never_rebinds_a_linked_slack_user(stack: Stack) -> None:
    await stack.slack.send_command(BOB, "list", channel_id=GENERAL)  # Bob is linked to bob.martin
    await stack.slack.wait_for(lambda: told(stack, BOB))
    other = stack.emulator.insert(
        "sys_user",
        {"user_name": "bob.other", "name": "Bob Other", "email": "bob@example.com"},
        as_user="admin",
    )
    identity = stack.bot.services.identity
    assert await identity.slack_user(other["sys_id"], "bob@example.com", "Bob Other") is None
    await stack.slack.send_command(BOB, "assign INC0000001 me", channel_id=GENERAL)
    assert "Assigned INC0000001" in await answer(stack, BOB, 1)
    assert incident(stack, "INC0000001")["assigned_to"] == seed.BOB


# ---- ServiceNow's own refusals ----------------------------------------------------------------------


async def test_servicenow_acl_refusals_are_explained_never_raw(stack: Stack) -> None:
    body = {
        "error": {"message": "No Record found", "detail": "ACL restricts the record retrieval"},
        "status": "failure",
    }
    stack.emulator.faults.add(Fault(status=404, body=body, method="GET", path_contains="incident"))
    await stack.slack.send_command(BOB, "INC0000001", channel_id=GENERAL)
    refusal = await answer(stack, BOB)
    assert "isn't allowed to read it" in refusal and "ACL" not in refusal

    stack.emulator.faults.add(Fault(status=403, method="PATCH"))
    await stack.slack.send_command(BOB, "assign INC0000001 me", channel_id=GENERAL)
    refusal = await answer(stack, BOB, 1)
    assert "didn't allow this for your account" in refusal and "ACL" not in refusal
