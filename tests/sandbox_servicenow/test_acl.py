"""Per-user ACLs over HTTP: who reads and writes incidents, approvals and journal entries."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sandbox.servicenow import Emulator
from sandbox.servicenow.seed import (
    ALICE,
    BOB,
    CAROL,
    CHANGE_APPROVAL,
    HARDWARE,
    ITEM_APPROVAL,
    NETWORK,
    sys_id_for,
)
from tests.support import SERVICENOW_FIXTURES

ALICE_AUTH = ("alice.chen", "alice.chen")
BOB_AUTH = ("bob.martin", "bob.martin")
CAROL_AUTH = ("carol.diaz", "carol.diaz")
FRANK_AUTH = ("frank.ng", "frank.ng")
ADMIN_AUTH = ("admin", "admin")
BOT_AUTH = ("incident.bot", "incident-bot")
INCIDENTS = "/api/now/table/incident"
APPROVALS = "/api/now/table/sysapproval_approver"
INC2 = sys_id_for("incident", "INC0000002")  # Alice's, In Progress, Bob assigned, a work note
INC4 = sys_id_for("incident", "INC0000004")  # Alice's, Resolved
INC5 = sys_id_for("incident", "INC0000005")  # Alice's, Closed


def documented(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((SERVICENOW_FIXTURES / "errors" / name).read_text())["body"]
    return body


NOT_FOUND = documented("404_no_record_found.json")
UPDATE_REFUSED = documented("403_acl_update_failed.json")
DELETE_REFUSED = {
    "error": {
        "message": "Operation Failed",
        "detail": "ACL Exception Delete Failed due to security constraints",
    },
    "status": "failure",
}


def add_frank(emulator: Emulator) -> str:
    """A second employee without roles (Alice is the caller of every seeded incident)."""
    frank = emulator.insert(
        "sys_user",
        {"user_name": "frank.ng", "name": "Frank Ng", "email": "frank@example.com"},
    )
    emulator.passwords["frank.ng"] = "frank.ng"
    return frank["sys_id"]


def bobs_incident(emulator: Emulator, **values: str) -> str:
    """An incident Bob raised for himself, worked by the Network group."""
    return emulator.insert(
        "incident",
        {
            "short_description": "Switch port flapping",
            "caller_id": BOB,
            "assignment_group": NETWORK,
            **values,
        },
        as_user="bob.martin",
    )["sys_id"]


async def me(client: httpx.AsyncClient, sys_id: str, auth: Any) -> httpx.Response:
    return await client.get(f"{INCIDENTS}/{sys_id}", auth=auth)


# -- reading incidents --------------------------------------------------------------------------


async def test_a_caller_lists_only_her_incidents_while_the_total_counts_every_match(
    emulator: Emulator, anonymous: httpx.AsyncClient
) -> None:
    hidden = bobs_incident(emulator)
    response = await anonymous.get(
        INCIDENTS, params={"sysparm_fields": "sys_id,caller_id"}, auth=ALICE_AUTH
    )
    rows = response.json()["result"]
    assert response.status_code == 200
    assert hidden not in {row["sys_id"] for row in rows}
    assert {row["caller_id"]["value"] for row in rows} == {ALICE}
    assert len(rows) == 5
    # ServiceNow evaluates ACLs after sysparm_limit: X-Total-Count is the query's count (notes §1.3)
    assert response.headers["x-total-count"] == "6"
    everyone = await anonymous.get(INCIDENTS, auth=BOT_AUTH)
    assert hidden in {row["sys_id"] for row in everyone.json()["result"]}


async def test_a_record_you_may_not_read_is_the_documented_404(
    emulator: Emulator, anonymous: httpx.AsyncClient
) -> None:
    hidden = bobs_incident(emulator)
    response = await me(anonymous, hidden, ALICE_AUTH)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    patch = await anonymous.patch(f"{INCIDENTS}/{hidden}", json={"comments": "hi"}, auth=ALICE_AUTH)
    assert (patch.status_code, patch.json()) == (404, NOT_FOUND)
    assert emulator.journal(hidden) == []


@pytest.mark.parametrize(
    "relation",
    ["caller", "opener", "watch list", "watch list e-mail", "assignee", "group member", "none"],
)
async def test_who_may_read_an_incident_without_itil(
    emulator: Emulator, anonymous: httpx.AsyncClient, relation: str
) -> None:
    frank = add_frank(emulator)
    values = {
        "caller": {"caller_id": frank},
        "opener": {"opened_by": frank},
        "watch list": {"watch_list": f"{ALICE},{frank}"},
        "watch list e-mail": {"watch_list": "frank@example.com"},
        "assignee": {"assigned_to": frank},
        "group member": {},
        "none": {},
    }[relation]
    if relation == "group member":
        emulator.insert("sys_user_grmember", {"user": frank, "group": NETWORK})
    sys_id = bobs_incident(emulator, **values)
    response = await me(anonymous, sys_id, FRANK_AUTH)
    assert response.status_code == (404 if relation == "none" else 200)


async def test_itil_and_admin_read_every_incident(
    emulator: Emulator, anonymous: httpx.AsyncClient
) -> None:
    sys_id = bobs_incident(emulator, assignment_group=HARDWARE)
    for auth in (CAROL_AUTH, ADMIN_AUTH, BOT_AUTH):  # Carol is not in Hardware, but has itil
        assert (await me(anonymous, sys_id, auth)).status_code == 200


async def test_a_bearer_token_issued_to_a_person_reads_as_that_person(
    emulator: Emulator, anonymous: httpx.AsyncClient
) -> None:
    hidden = bobs_incident(emulator)
    form = {
        "grant_type": "password",
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
        "username": "alice.chen",
        "password": "alice.chen",
    }
    token = (await anonymous.post("/oauth_token.do", data=form)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await anonymous.get(f"{INCIDENTS}/{hidden}", headers=headers)).status_code == 404
    assert (await anonymous.get(f"{INCIDENTS}/{INC2}", headers=headers)).status_code == 200


# -- writing incidents --------------------------------------------------------------------------


async def test_a_caller_comments_on_her_incident_as_herself(
    emulator: Emulator, anonymous: httpx.AsyncClient
) -> None:
    response = await anonymous.patch(
        f"{INCIDENTS}/{INC2}", json={"comments": "Any news?"}, auth=ALICE_AUTH
    )
    assert response.status_code == 200
    assert response.json()["result"]["sys_updated_by"] == "alice.chen"
    entry = emulator.journal(INC2)[0]
    assert (entry["value"], entry["sys_created_by"]) == ("Any news?", "alice.chen")


async def test_a_caller_reopens_her_resolved_incident(
    emulator: Emulator, anonymous: httpx.AsyncClient
) -> None:
    response = await anonymous.patch(
        f"{INCIDENTS}/{INC4}",
        json={"state": "2", "comments": "Still cannot print"},
        auth=ALICE_AUTH,
    )
    assert response.status_code == 200
    assert response.json()["result"]["state"] == "2"
    assert response.json()["result"]["sys_updated_by"] == "alice.chen"


@pytest.mark.parametrize(
    ("sys_id", "values"),
    [
        (INC2, {"assigned_to": CAROL}),
        (INC2, {"assignment_group": NETWORK}),
        (INC2, {"work_notes": "internal"}),
        (INC2, {"state": "3", "hold_reason": "1"}),
        (INC2, {"state": "6", "close_code": "Solution provided", "close_notes": "done"}),
        (INC2, {"state": "8"}),
        (INC4, {"state": "7"}),
        (INC2, {"urgency": "3"}),
        (INC2, {"short_description": "changed"}),
        (INC5, {"state": "2"}),  # Closed is final: only Resolved reopens
    ],
    ids=["assign", "group", "work note", "hold", "resolve", "cancel", "close", "urgency",
         "short description", "reopen closed"],
)  # fmt: skip
async def test_a_caller_without_itil_may_not_work_her_incident(
    emulator: Emulator, anonymous: httpx.AsyncClient, sys_id: str, values: dict[str, str]
) -> None:
    before = emulator.get("incident", sys_id)
    response = await anonymous.patch(f"{INCIDENTS}/{sys_id}", json=values, auth=ALICE_AUTH)
    assert response.status_code == 403
    assert response.json() == UPDATE_REFUSED
    assert emulator.get("incident", sys_id) == before
    assert all(entry["value"] != "internal" for entry in emulator.journal(sys_id, "work_notes"))


async def test_a_watcher_without_itil_reads_but_may_not_comment(
    emulator: Emulator, anonymous: httpx.AsyncClient
) -> None:
    add_frank(emulator)
    sys_id = bobs_incident(emulator, watch_list="frank@example.com")
    response = await anonymous.patch(
        f"{INCIDENTS}/{sys_id}", json={"comments": "me too"}, auth=FRANK_AUTH
    )
    assert (response.status_code, response.json()) == (403, UPDATE_REFUSED)


async def test_itil_works_any_incident_and_the_record_names_who_did(
    emulator: Emulator, anonymous: httpx.AsyncClient
) -> None:
    sys_id = bobs_incident(emulator, assignment_group=HARDWARE)
    steps = [
        {"assigned_to": CAROL, "work_notes": "taking it"},
        {"state": "3", "hold_reason": "4"},
        {"state": "6", "close_code": "Solution provided", "close_notes": "Port replaced"},
        {"state": "7"},
    ]
    for values in steps:
        response = await anonymous.patch(f"{INCIDENTS}/{sys_id}", json=values, auth=CAROL_AUTH)
        assert response.status_code == 200, response.text
        assert response.json()["result"]["sys_updated_by"] == "carol.diaz"
    assert emulator.journal(sys_id, "work_notes")[0]["sys_created_by"] == "carol.diaz"


async def test_the_integration_user_keeps_every_right(
    emulator: Emulator, anonymous: httpx.AsyncClient
) -> None:
    sys_id = bobs_incident(emulator, assignment_group=HARDWARE)
    response = await anonymous.patch(
        f"{INCIDENTS}/{sys_id}",
        json={"state": "6", "close_code": "Solution provided", "close_notes": "via Slack"},
        auth=BOT_AUTH,
    )
    assert response.status_code == 200
    assert response.json()["result"]["sys_updated_by"] == "incident.bot"
    approve = await anonymous.patch(
        f"{APPROVALS}/{ITEM_APPROVAL}", json={"state": "approved"}, auth=BOT_AUTH
    )
    assert approve.status_code == 200
    assert (await anonymous.delete(f"{INCIDENTS}/{sys_id}", auth=BOT_AUTH)).status_code == 204


async def test_a_caller_may_open_an_incident_but_not_delete_one(
    anonymous: httpx.AsyncClient,
) -> None:
    created = await anonymous.post(
        INCIDENTS, json={"short_description": "Mouse broken", "caller_id": ALICE}, auth=ALICE_AUTH
    )
    assert created.status_code == 201
    assert created.json()["result"]["sys_created_by"] == "alice.chen"
    sys_id = created.json()["result"]["sys_id"]
    deleted = await anonymous.delete(f"{INCIDENTS}/{sys_id}", auth=ALICE_AUTH)
    assert (deleted.status_code, deleted.json()) == (403, DELETE_REFUSED)


# -- approvals ----------------------------------------------------------------------------------


async def test_approvals_are_read_by_their_approver_and_by_itil_or_approval_admin(
    anonymous: httpx.AsyncClient,
) -> None:
    for auth, status in [(ALICE_AUTH, 404), (CAROL_AUTH, 200), (BOB_AUTH, 200), (BOT_AUTH, 200)]:
        response = await anonymous.get(f"{APPROVALS}/{CHANGE_APPROVAL}", auth=auth)
        assert response.status_code == status, auth
    alice = await anonymous.get(APPROVALS, auth=ALICE_AUTH)
    assert alice.json()["result"] == []


async def test_only_the_approver_or_an_approval_admin_decides(
    emulator: Emulator, anonymous: httpx.AsyncClient
) -> None:
    bob = await anonymous.patch(
        f"{APPROVALS}/{CHANGE_APPROVAL}", json={"state": "approved"}, auth=BOB_AUTH
    )
    assert (bob.status_code, bob.json()) == (403, UPDATE_REFUSED)
    assert emulator.get("sysapproval_approver", CHANGE_APPROVAL)["state"] == "requested"  # type: ignore[index]
    alice = await anonymous.patch(
        f"{APPROVALS}/{CHANGE_APPROVAL}", json={"state": "approved"}, auth=ALICE_AUTH
    )
    assert (alice.status_code, alice.json()) == (404, NOT_FOUND)
    carol = await anonymous.patch(
        f"{APPROVALS}/{CHANGE_APPROVAL}",
        json={"state": "rejected", "comments": "Not this week"},
        auth=CAROL_AUTH,
    )
    assert carol.status_code == 200
    assert carol.json()["result"]["sys_updated_by"] == "carol.diaz"
    assert emulator.journal(CHANGE_APPROVAL)[0]["sys_created_by"] == "carol.diaz"
    admin = await anonymous.patch(
        f"{APPROVALS}/{ITEM_APPROVAL}", json={"state": "approved"}, auth=ADMIN_AUTH
    )
    assert admin.status_code == 200


# -- journal, roles and groups ------------------------------------------------------------------


async def test_a_caller_reads_the_comments_of_her_incident_but_not_its_work_notes(
    anonymous: httpx.AsyncClient,
) -> None:
    params = {"sysparm_query": f"element_id={INC2}", "sysparm_fields": "element,sys_created_by"}
    alice = await anonymous.get("/api/now/table/sys_journal_field", params=params, auth=ALICE_AUTH)
    bob = await anonymous.get("/api/now/table/sys_journal_field", params=params, auth=BOB_AUTH)
    assert {row["element"] for row in alice.json()["result"]} == {"comments"}
    assert {row["element"] for row in bob.json()["result"]} == {"comments", "work_notes"}


async def test_roles_and_groups_are_readable_from_their_tables(
    anonymous: httpx.AsyncClient,
) -> None:
    roles = await anonymous.get(
        "/api/now/table/sys_user_has_role",
        params={"sysparm_query": "user.user_name=incident.bot", "sysparm_fields": "role.name"},
        auth=BOT_AUTH,
    )
    assert {row["role.name"] for row in roles.json()["result"]} == {"itil", "approval_admin"}
    groups = await anonymous.get(
        "/api/now/table/sys_user_grmember",
        params={"sysparm_query": f"user={CAROL}", "sysparm_fields": "group.name"},
        auth=BOT_AUTH,
    )
    assert {row["group.name"] for row in groups.json()["result"]} == {"Network", "CAB"}
