"""The emulator's requested items, changes and problems: choices, the catalog workflow, ACLs."""

from __future__ import annotations

import httpx

from sandbox.servicenow import Emulator
from sandbox.servicenow.seed import (
    ALICE,
    CHANGE,
    ITEM_APPROVAL,
    PROBLEM,
    REQUESTED_ITEM,
)

ALICE_AUTH = ("alice.chen", "alice.chen")
BOB_AUTH = ("bob.martin", "bob.martin")


def table(name: str, sys_id: str) -> str:
    return f"/api/now/table/{name}/{sys_id}"


def choices(emulator: Emulator, name: str, element: str) -> list[str]:
    return [r["label"] for r in emulator.query("sys_choice", f"name={name}^element={element}")]


def test_the_seed_has_a_laptop_request_a_change_with_a_window_and_a_problem_with_three_incidents(
    emulator: Emulator,
) -> None:
    item = emulator.get("sc_req_item", REQUESTED_ITEM)
    assert item is not None
    assert (item["stage"], item["approval"], item["requested_for"]) == (
        "waiting_for_approval",
        "requested",
        ALICE,
    )
    change = emulator.get("change_request", CHANGE)
    assert change is not None and change["type"] == "normal" and change["approval"] == "requested"
    assert change["start_date"] < change["end_date"]
    assert len(emulator.query("incident", f"problem_id={PROBLEM}")) == 3
    assert "Delivered" in choices(emulator, "sc_req_item", "stage")
    assert choices(emulator, "change_request", "type") == ["Standard", "Normal", "Emergency"]
    assert "Root Cause Analysis" in choices(emulator, "problem", "state")


def test_an_approved_item_moves_on_and_a_completed_one_is_delivered(emulator: Emulator) -> None:
    emulator.update("sysapproval_approver", ITEM_APPROVAL, {"state": "approved"},
                    as_user="carol.diaz")  # fmt: skip
    item = emulator.get("sc_req_item", REQUESTED_ITEM)
    assert item is not None and (item["approval"], item["stage"]) == (
        "approved",
        "request_approved",
    )
    emulator.update("sc_req_item", REQUESTED_ITEM, {"state": "3"}, as_user="bob.martin")
    item = emulator.get("sc_req_item", REQUESTED_ITEM)
    assert item is not None
    assert (item["stage"], item["active"]) == ("complete", "false") and item["closed_at"]


async def test_a_person_reads_and_comments_on_her_own_request_and_nothing_else(
    emulator: Emulator, anonymous: httpx.AsyncClient
) -> None:
    mine = await anonymous.get(table("sc_req_item", REQUESTED_ITEM), auth=ALICE_AUTH)
    assert mine.status_code == 200
    for name, sys_id in (("change_request", CHANGE), ("problem", PROBLEM)):
        hidden = await anonymous.get(table(name, sys_id), auth=ALICE_AUTH)
        assert hidden.status_code == 404, name
        seen = await anonymous.get(table(name, sys_id), auth=BOB_AUTH)  # itil
        assert seen.status_code == 200, name
    comment = await anonymous.patch(
        table("sc_req_item", REQUESTED_ITEM), json={"comments": "Any news?"}, auth=ALICE_AUTH
    )
    assert comment.status_code == 200
    stage = await anonymous.patch(
        table("sc_req_item", REQUESTED_ITEM), json={"stage": "complete"}, auth=ALICE_AUTH
    )
    assert stage.status_code == 403
