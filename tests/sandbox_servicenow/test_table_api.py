"""Table API behaviour over HTTP: paging, headers, fields, dot-walks, filters, versions, errors."""

from __future__ import annotations

import httpx

from sandbox.servicenow import Emulator
from sandbox.servicenow.seed import ALICE, BOB, CHANGE, CHANGE_APPROVAL, sys_id_for

INC1 = sys_id_for("incident", "INC0000001")


def add_incidents(emulator: Emulator, count: int) -> list[str]:
    return [
        emulator.insert("incident", {"short_description": f"bulk {i}", "caller_id": ALICE})[
            "sys_id"
        ]
        for i in range(count)
    ]


async def test_paging_with_link_next_visits_every_record_once(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    add_incidents(emulator, 23)
    url: str | None = "/api/now/table/incident?sysparm_limit=10&sysparm_query=ORDERBYnumber"
    seen: list[str] = []
    pages = 0
    while url:
        response = await client.get(url)
        assert response.headers["x-total-count"] == "28"
        seen += [row["number"] for row in response.json()["result"]]
        url = response.links.get("next", {}).get("url")
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 28
    assert seen == sorted(seen)


async def test_last_page_has_no_next_but_keeps_first_prev_last(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/now/table/incident?sysparm_limit=2&sysparm_offset=4")
    assert len(response.json()["result"]) == 1
    assert set(response.links) == {"first", "prev", "last"}
    assert response.links["last"]["url"].endswith("sysparm_limit=2&sysparm_offset=4")


async def test_short_page_when_acl_hides_rows_while_total_still_counts_them(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    ids = add_incidents(emulator, 5)
    emulator.acl_hidden.update(ids[:2])
    query = {"sysparm_query": "short_descriptionSTARTSWITHbulk^ORDERBYnumber", "sysparm_limit": "3"}
    first = await client.get("/api/now/table/incident", params=query)
    assert len(first.json()["result"]) == 1  # 3 fetched, 2 dropped by ACL after the limit
    assert first.headers["x-total-count"] == "5"
    second = await client.get(first.links["next"]["url"])
    assert [row["sys_id"] for row in second.json()["result"]] == ids[3:]
    hidden = await client.get(f"/api/now/table/incident/{ids[0]}")
    assert hidden.status_code == 404


async def test_no_count_and_suppressed_pagination_header(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/now/table/incident",
        params={"sysparm_no_count": "true", "sysparm_suppress_pagination_header": "true"},
    )
    assert "x-total-count" not in response.headers
    assert "link" not in response.headers
    assert len(response.json()["result"]) == 5


async def test_v1_answers_404_on_no_match_while_v2_answers_an_empty_list(
    client: httpx.AsyncClient,
) -> None:
    query = {"sysparm_query": "number=INC9999999"}
    v1 = await client.get("/api/now/v1/table/incident", params=query)
    v2 = await client.get("/api/now/v2/table/incident", params=query)
    assert v1.status_code == 404
    assert v1.json()["status"] == "failure"
    assert v2.status_code == 200
    assert v2.json() == {"result": []}


async def test_unknown_table_is_400_on_every_method(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/api/now/table/nope"),
        await client.post("/api/now/table/nope", json={}),
        await client.patch(f"/api/now/table/nope/{INC1}", json={}),
    ):
        assert response.status_code == 400
        assert response.json()["error"]["message"] == "Invalid table nope"


async def test_fields_with_dot_walk_come_back_as_flat_keys(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"/api/now/table/incident/{INC1}",
        params={
            "sysparm_fields": "number,caller_id.name,caller_id.email,assignment_group.name,nope",
            "sysparm_exclude_reference_link": "true",
        },
    )
    assert response.json()["result"] == {
        "number": "INC0000001",
        "caller_id.name": "Alice Chen",
        "caller_id.email": "alice@example.com",
        "assignment_group.name": "Service Desk",
    }


async def test_dot_walk_in_query_and_escaped_injection(client: httpx.AsyncClient) -> None:
    async def numbers(query: str) -> list[str]:
        response = await client.get(
            "/api/now/table/incident", params={"sysparm_query": query, "sysparm_fields": "number"}
        )
        return [row["number"] for row in response.json()["result"]]

    assert len(await numbers("caller_id.email=alice@example.com")) == 5
    assert await numbers("assigned_to.email=carol@example.com") == ["INC0000003"]
    assert await numbers("caller_id.email=x^^ORactive=true") == []

    users = await client.get(
        "/api/now/table/sys_user", params={"sysparm_query": "email=a^^ORactive=true"}
    )
    assert users.json()["result"] == []


async def test_get_user_id_script_is_the_authenticated_user(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/now/table/incident",
        params={
            "sysparm_query": "assigned_to=javascript:gs.getUserID()",
            "sysparm_fields": "number",
        },
        auth=("bob.martin", "bob.martin"),
    )
    assert [row["number"] for row in response.json()["result"]] == [
        "INC0000002",
        "INC0000004",
        "INC0000005",
    ]
    other = await client.get(
        "/api/now/table/incident",
        params={"sysparm_query": "assigned_to=javascript:gs.getUser().getID()"},
    )
    assert other.json()["result"] == []


async def test_name_value_filters_stand_in_for_sysparm_query(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/now/table/sys_user", params={"active": "false", "sysparm_fields": "user_name"}
    )
    assert response.json()["result"] == [{"user_name": "erin.park"}]


async def test_dave_has_no_account(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/now/table/sys_user", params={"sysparm_query": "email=dave@example.com"}
    )
    assert response.json()["result"] == []


async def test_post_and_patch_honour_fields_and_exclude_reference_link(
    client: httpx.AsyncClient,
) -> None:
    params = {
        "sysparm_fields": "sys_id,number,caller_id,priority",
        "sysparm_exclude_reference_link": "true",
    }
    created = await client.post(
        "/api/now/table/incident",
        params=params,
        json={"short_description": "x", "caller_id": ALICE},
    )
    result = created.json()["result"]
    assert set(result) == {"sys_id", "number", "caller_id", "priority"}
    assert result["caller_id"] == ALICE
    changed = await client.patch(
        f"/api/now/table/incident/{result['sys_id']}",
        params={"sysparm_fields": "assigned_to"},
        json={"assigned_to": BOB},
    )
    assert changed.json()["result"]["assigned_to"]["value"] == BOB
    assert set(changed.json()["result"]["assigned_to"]) == {"link", "value"}


async def test_put_updates_like_patch(client: httpx.AsyncClient) -> None:
    response = await client.put(f"/api/now/table/incident/{INC1}", json={"urgency": "1"})
    assert response.status_code == 200
    assert response.json()["result"]["priority"] == "2"


async def test_no_response_body_header(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/now/table/incident",
        json={"short_description": "quiet"},
        headers={"X-no-response-body": "true"},
    )
    assert response.status_code == 201
    assert response.content == b""
    assert response.headers["location"]


async def test_write_needs_a_json_content_type_and_valid_json(client: httpx.AsyncClient) -> None:
    url = "/api/now/table/incident"
    assert (await client.post(url, content=b'{"a":"b"}')).status_code == 400
    assert (
        await client.post(url, content=b"a=b", headers={"Content-Type": "text/plain"})
    ).status_code == 415
    bad = await client.post(url, content=b"{", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400
    assert bad.json()["status"] == "failure"


async def test_json_values_are_stored_as_strings(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    created = await client.post(
        "/api/now/table/incident",
        json={"short_description": "typed", "impact": 1, "urgency": 1, "knowledge": True},
    )
    result = created.json()["result"]
    assert (result["impact"], result["priority"], result["knowledge"]) == ("1", "1", "true")
    assert all(isinstance(v, str | dict) for v in result.values())


async def test_reference_link_through_task_resolves(client: httpx.AsyncClient) -> None:
    approval = await client.get(f"/api/now/table/sysapproval_approver/{CHANGE_APPROVAL}")
    link = approval.json()["result"]["sysapproval"]["link"]
    assert link.endswith(f"/api/now/table/task/{CHANGE}")
    task = await client.get(link, params={"sysparm_fields": "number,sys_class_name,approval"})
    assert task.json()["result"] == {
        "number": "CHG0000001",
        "sys_class_name": "change_request",
        "approval": "requested",
    }
    listed = await client.get(
        "/api/now/table/task", params={"sysparm_query": "numberSTARTSWITHRITM"}
    )
    assert [row["number"] for row in listed.json()["result"]] == ["RITM0000001"]


async def test_aggregate_count(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/now/stats/incident", params={"sysparm_count": "true", "sysparm_query": "active=true"}
    )
    assert response.json() == {"result": {"stats": {"count": "4"}}}


async def test_delete_then_read_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.delete(f"/api/now/table/incident/{INC1}")).status_code == 204
    assert (await client.get(f"/api/now/table/incident/{INC1}")).status_code == 404


async def test_every_request_is_recorded_with_its_auth_and_status(
    emulator: Emulator, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await client.get("/api/now/table/incident", params={"sysparm_limit": "1"})
    await anonymous.get("/api/now/table/incident")
    await client.patch(f"/api/now/table/incident/{INC1}", json={"urgency": "1"})
    first, second, third = emulator.requests
    assert (first.method, first.path, first.query, first.auth, first.user, first.status) == (
        "GET",
        "/api/now/table/incident",
        {"sysparm_limit": "1"},
        "basic",
        "incident.bot",
        200,
    )
    assert (second.auth, second.user, second.status) == ("none", None, 401)
    assert third.body == {"urgency": "1"}
