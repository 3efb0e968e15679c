"""The App Home tab over loopback: my approvals and my open incidents, refreshed after actions."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.servicenow import seed
from sandbox.slack import View
from sandbox.slack.records import ALICE, CAROL, DAVE
from sandbox.stack import Stack

# The seeded change approval is decided with the buttons here: no table needs an e-signature
# (test_permissions.py covers the default, where a change's approval is signed in ServiceNow).
pytestmark = pytest.mark.stack_settings(e_signature_tables="")


async def open_home(stack: Stack, user: str) -> View:
    await stack.slack.send_event(stack.slack.app_home_opened(user))
    return await stack.slack.wait_for(lambda: stack.slack.home_view(user))


def controls(view: View) -> list[dict[str, Any]]:
    return [
        {**element, "block_id": block["block_id"]}
        for block in view.view["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def control(view: View, action_id: str, value: str) -> dict[str, Any]:
    return next(c for c in controls(view) if c["action_id"] == action_id and c["value"] == value)


def state(stack: Stack, approval: str) -> str:
    row = stack.emulator.get("sysapproval_approver", approval)
    assert row is not None
    return row["state"]


async def press(stack: Stack, user: str, view: View, action_id: str, value: str) -> None:
    found = control(view, action_id, value)
    await stack.slack.send_block_action(
        user, action_id=action_id, value=value, block_id=found["block_id"], view=view
    )


async def test_home_shows_my_pending_approvals_and_the_incidents_assigned_to_me(
    stack: Stack,
) -> None:
    home = await open_home(stack, CAROL)
    text = str(home.view["blocks"])
    assert "CHG0000001" in text and "RITM0000001" in text
    assert "INC0000003" in text  # on hold, assigned to Carol
    assert "You have no open incidents." in text  # Carol opened none herself
    approves = {c["value"] for c in controls(home) if c["action_id"] == "approval_approve"}
    assert approves == {seed.CHANGE_APPROVAL, seed.ITEM_APPROVAL}
    incident_3 = stack.emulator.query("incident", "number=INC0000003")[0]["sys_id"]
    assert control(home, "incident_resolve", incident_3)


async def test_home_shows_the_open_incidents_i_opened(stack: Stack) -> None:
    home = await open_home(stack, ALICE)
    text = str(home.view["blocks"])
    for number in ("INC0000001", "INC0000002", "INC0000003"):
        assert number in text
    assert "INC0000004" not in text and "INC0000005" not in text  # resolved, closed
    assert "Nothing is waiting for you." in text


async def test_home_for_someone_without_a_servicenow_account_says_why(stack: Stack) -> None:
    home = await open_home(stack, DAVE)
    text = str(home.view["blocks"])
    assert "dave@example.com" in text and "Refresh" in text
    assert not [c for c in controls(home) if c["action_id"].startswith("approval_")]


async def test_approving_from_home_writes_it_and_republishes_the_home(stack: Stack) -> None:
    home = await open_home(stack, CAROL)
    await press(stack, CAROL, home, "approval_approve", seed.CHANGE_APPROVAL)
    fresh = await stack.slack.wait_for(
        lambda: (
            (h := stack.slack.home_view(CAROL))
            and "Approved CHG0000001" in str(h.view["blocks"])
            and h
        )
    )
    values = {c["value"] for c in controls(fresh) if c["action_id"] == "approval_approve"}
    assert values == {seed.ITEM_APPROVAL}
    assert state(stack, seed.CHANGE_APPROVAL) == "approved"


async def test_rejecting_from_home_asks_why_then_republishes_the_home(stack: Stack) -> None:
    home = await open_home(stack, CAROL)
    await press(stack, CAROL, home, "approval_reject", seed.ITEM_APPROVAL)
    form = await stack.slack.wait_for(
        lambda: (
            (m := stack.slack.current_modal(CAROL))
            and m.view.get("callback_id") == "approval_reject"
            and m
        )
    )
    await stack.slack.send_view_submission(
        CAROL, form.id, {"reason": {"value": {"type": "plain_text_input", "value": "Duplicate"}}}
    )
    await stack.slack.wait_for(
        lambda: (h := stack.slack.home_view(CAROL)) and "Rejected RITM0000001" in str(h.view)
    )
    assert state(stack, seed.ITEM_APPROVAL) == "rejected"


async def test_a_refusal_from_home_shows_on_the_home(stack: Stack) -> None:
    home = await open_home(stack, CAROL)
    stack.emulator.update(
        "sysapproval_approver", seed.CHANGE_APPROVAL, {"state": "approved"}, as_user="carol.diaz"
    )
    await press(stack, CAROL, home, "approval_approve", seed.CHANGE_APPROVAL)
    await stack.slack.wait_for(
        lambda: (
            (h := stack.slack.home_view(CAROL)) and "CHG0000001 is already approved" in str(h.view)
        )
    )


async def test_refresh_republishes_and_the_messages_tab_publishes_nothing(stack: Stack) -> None:
    event = stack.slack.app_home_opened(ALICE)
    await stack.slack.send_event({**event, "tab": "messages"})
    home = await open_home(stack, CAROL)
    assert stack.slack.home_view(ALICE) is None
    assert "INC0000099" not in str(home.view)
    stack.emulator.insert(
        "incident",
        {"number": "INC0000099", "short_description": "New switch port", "assigned_to": seed.CAROL},
        as_user="bob.martin",
    )
    await press(stack, CAROL, home, "home_refresh", "refresh")
    await stack.slack.wait_for(
        lambda: (h := stack.slack.home_view(CAROL)) and "INC0000099" in str(h.view)
    )


async def test_resolving_an_incident_from_home_republishes_the_home(stack: Stack) -> None:
    home = await open_home(stack, CAROL)
    [vpn] = stack.emulator.query("incident", "number=INC0000003")
    await press(stack, CAROL, home, "incident_resolve", vpn["sys_id"])
    form = await stack.slack.wait_for(
        lambda: (
            (m := stack.slack.current_modal(CAROL))
            and m.view["callback_id"] == "incident_resolve"
            and m
        )
    )
    await stack.slack.send_view_submission(
        CAROL,
        form.id,
        {
            "close_code": {
                "value": {
                    "type": "static_select",
                    "selected_option": {"value": "Workaround provided"},
                }
            },
            "close_notes": {"value": {"type": "plain_text_input", "value": "Client reinstalled."}},
        },
    )
    await stack.slack.wait_for(
        lambda: stack.emulator.query("incident", "number=INC0000003")[0]["state"] == "6"
    )
    # Resolved is no longer open work: the republished Home drops it from "Assigned to you".
    await stack.slack.wait_for(
        lambda: (h := stack.slack.home_view(CAROL)) and "INC0000003" not in str(h.view) and h
    )
