"""Who may do what (issue #13) beyond the permission table's rows (those are in
test_permission_matrix.py, in every mode): the roles are configurable, refusals that say why,
identity kept true, e-signature approvals, ServiceNow's own refusals explained — in the
integration-user mode, over loopback.

Seed: Alice is a caller with no roles (every seeded incident is hers), Bob and Carol have itil,
Dave has no ServiceNow account.
"""

from __future__ import annotations

import pytest

from sandbox.servicenow import seed
from sandbox.servicenow.faults import Fault
from sandbox.slack.records import BOB, CAROL, GENERAL
from sandbox.stack import Stack
from tests.e2e.steps import answer, bobs_incident, incident, told

# ---- configuration -------------------------------------------------------------------------------


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


# ---- approvals ---------------------------------------------------------------------------------


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
