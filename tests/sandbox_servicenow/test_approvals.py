"""Approvals: deciding a requested approval, the parent's roll-up, and who may decide."""

from __future__ import annotations

import httpx
import pytest

from sandbox.servicenow import AclError, Emulator
from sandbox.servicenow.seed import (
    BOB,
    CAROL,
    CHANGE,
    CHANGE_APPROVAL,
    ITEM_APPROVAL,
    REQUESTED_ITEM,
)

CAROL_AUTH = ("carol.diaz", "carol.diaz")
BOB_AUTH = ("bob.martin", "bob.martin")


def second_change_approver(emulator: Emulator) -> str:
    row = emulator.insert(
        "sysapproval_approver", {"approver": BOB, "sysapproval": CHANGE, "state": "requested"}
    )
    assert row["source_table"] == "change_request"
    assert row["document_id"] == CHANGE
    return row["sys_id"]


def test_seed_has_two_pending_approvals_for_carol_with_due_dates() -> None:
    emulator = Emulator()
    rows = emulator.query("sysapproval_approver", f"approver={CAROL}^state=requested")
    assert {row["source_table"] for row in rows} == {"change_request", "sc_req_item"}
    assert all(row["due_date"] for row in rows)
    assert emulator.get("change_request", CHANGE)["approval"] == "requested"  # type: ignore[index]


async def test_approver_approves_and_the_single_approval_rolls_up(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    response = await client.patch(
        f"/api/now/table/sysapproval_approver/{ITEM_APPROVAL}",
        json={"state": "approved", "comments": "Looks fine"},
        auth=CAROL_AUTH,
    )
    assert response.status_code == 200
    assert response.json()["result"]["sys_updated_by"] == "carol.diaz"
    assert emulator.get("sc_req_item", REQUESTED_ITEM)["approval"] == "approved"  # type: ignore[index]
    assert emulator.journal(ITEM_APPROVAL)[0]["value"] == "Looks fine"
    assert emulator.journal(ITEM_APPROVAL)[0]["name"] == "sysapproval_approver"


def test_all_approvers_must_approve_before_the_parent_is_approved() -> None:
    emulator = Emulator()
    other = second_change_approver(emulator)
    emulator.update("sysapproval_approver", CHANGE_APPROVAL, {"state": "approved"})
    assert emulator.get("change_request", CHANGE)["approval"] == "requested"  # type: ignore[index]
    emulator.update("sysapproval_approver", other, {"state": "approved"})
    assert emulator.get("change_request", CHANGE)["approval"] == "approved"  # type: ignore[index]


def test_any_rejection_rejects_the_parent_and_retires_the_other_requests() -> None:
    emulator = Emulator()
    other = second_change_approver(emulator)
    emulator.update(
        "sysapproval_approver", CHANGE_APPROVAL, {"state": "rejected", "comments": "No"}
    )
    assert emulator.get("change_request", CHANGE)["approval"] == "rejected"  # type: ignore[index]
    assert emulator.get("sysapproval_approver", other)["state"] == "not_required"  # type: ignore[index]


def test_a_decision_on_a_row_no_longer_requested_does_not_move_the_parent() -> None:
    emulator = Emulator()
    emulator.update("sysapproval_approver", ITEM_APPROVAL, {"state": "approved"})
    emulator.update("sysapproval_approver", ITEM_APPROVAL, {"state": "rejected"})
    assert emulator.get("sc_req_item", REQUESTED_ITEM)["approval"] == "approved"  # type: ignore[index]


def test_new_approval_on_a_task_marks_it_requested() -> None:
    emulator = Emulator()
    change = emulator.insert("change_request", {"short_description": "Patch servers"})
    assert change["approval"] == "not requested"
    emulator.insert("sysapproval_approver", {"approver": CAROL, "sysapproval": change["sys_id"]})
    assert emulator.get("change_request", change["sys_id"])["approval"] == "requested"  # type: ignore[index]


async def test_only_the_approver_or_an_approval_admin_may_decide(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    url = f"/api/now/table/sysapproval_approver/{CHANGE_APPROVAL}"
    denied = await client.patch(url, json={"state": "approved"}, auth=BOB_AUTH)
    assert denied.status_code == 403
    assert emulator.get("sysapproval_approver", CHANGE_APPROVAL)["state"] == "requested"  # type: ignore[index]
    allowed = await client.patch(url, json={"state": "approved"})  # incident.bot: approval_admin
    assert allowed.status_code == 200
    assert allowed.json()["result"]["sys_updated_by"] == "incident.bot"
    with pytest.raises(AclError):
        emulator.update(
            "sysapproval_approver", ITEM_APPROVAL, {"state": "approved"}, as_user="alice.chen"
        )


async def test_pending_list_for_an_approver_by_dot_walked_fields(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/now/table/sysapproval_approver",
        params={
            "sysparm_query": f"approver={CAROL}^state=requested^ORDERBYsys_created_on",
            "sysparm_fields": "sysapproval.number,sysapproval.short_description,source_table",
            "sysparm_exclude_reference_link": "true",
        },
    )
    assert response.json()["result"] == [
        {
            "sysapproval.number": "CHG0000001",
            "sysapproval.short_description": "Upgrade core switch firmware",
            "source_table": "change_request",
        },
        {
            "sysapproval.number": "RITM0000001",
            "sysapproval.short_description": "Standard laptop",
            "source_table": "sc_req_item",
        },
    ]
