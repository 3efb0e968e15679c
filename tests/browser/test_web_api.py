"""The page's JSON routes and its event stream, over loopback HTTP (no browser needed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from sandbox.servicenow import seed
from tests.browser.conftest import Sandbox

INC1 = seed.sys_id_for("incident", "INC0000001")


async def events(response: httpx.Response) -> AsyncIterator[str]:
    """The `data` of each `change` event on a server-sent event stream."""
    event = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "change":
            yield line[6:]


async def test_the_event_stream_announces_changes_in_slack_and_in_servicenow(
    sandbox: Sandbox,
) -> None:
    async with (
        httpx.AsyncClient(base_url=sandbox.url, timeout=5) as client,
        client.stream("GET", "/api/events") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = events(response)
        first = int(await asyncio.wait_for(anext(stream), 5))
        sandbox.stack.slack.post_as_user("alice", "general", "hello")
        second = int(await asyncio.wait_for(anext(stream), 5))
        assert second > first
        sandbox.stack.emulator.update("incident", INC1, {"comments": "ping"}, as_user="bob.martin")
        assert int(await asyncio.wait_for(anext(stream), 5)) > second


async def test_state_shows_what_one_person_sees_and_who_has_no_servicenow_account(
    sandbox: Sandbox,
) -> None:
    slack = sandbox.stack.slack
    slack.post_message(slack.dm_channel("carol"), "for carol only")
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        dave = (await client.get("/api/state", params={"user": "dave"})).json()
        carol = (await client.get("/api/state", params={"user": "carol"})).json()
    users = {u["name"]: u for u in dave["slack"]["users"]}
    assert users["dave"]["servicenow_user"] is None
    assert (users["erin"]["servicenow_user"], users["erin"]["servicenow_active"]) == (
        "erin.park",
        False,
    )
    assert users["alice"]["servicenow_user"] == "alice.chen"
    assert "D0CAROL000" in carol["slack"]["conversations"]
    assert "D0CAROL000" not in dave["slack"]["conversations"]
    assert carol["slack"]["conversations"]["D0CAROL000"][0]["text"] == "for carol only"
    numbers = [i["number"] for i in carol["servicenow"]["incidents"]]
    assert numbers[0] == "INC0000005" and "INC0000001" in numbers
    assert {a["task_number"] for a in carol["servicenow"]["approvals"]} == {
        "CHG0000001",
        "RITM0000001",
    }


async def test_resolving_in_the_servicenow_panel_obeys_the_data_policy_and_fires_the_webhook(
    sandbox: Sandbox,
) -> None:
    emulator = sandbox.stack.emulator
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        refused = await client.post(
            f"/api/servicenow/incidents/{INC1}", json={"as_user": "bob.martin", "state": "6"}
        )
        assert refused.status_code == 403
        assert "Resolution code" in refused.json()["detail"]
        unchanged = emulator.get("incident", INC1)
        assert unchanged is not None and unchanged["state"] == "1"

        sent = len(emulator.webhook_deliveries)
        done = await client.post(
            f"/api/servicenow/incidents/{INC1}",
            json={
                "as_user": "bob.martin",
                "state": "6",
                "close_code": "Solution provided",
                "close_notes": "Re-added the account.",
            },
        )
    assert done.status_code == 200
    row = emulator.get("incident", INC1)
    assert row is not None and (row["state"], row["resolved_by"]) == ("6", seed.BOB)
    assert len(emulator.webhook_deliveries) > sent
    assert emulator.webhook_deliveries[-1].url == f"{sandbox.stack.bot_url}/servicenow/events"


async def test_only_the_approver_may_decide_and_nobody_without_an_account_acts(
    sandbox: Sandbox,
) -> None:
    emulator = sandbox.stack.emulator
    path = f"/api/servicenow/approvals/{seed.CHANGE_APPROVAL}"
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        bob = await client.post(path, json={"as_user": "bob.martin", "state": "approved"})
        erin = await client.post(path, json={"as_user": "erin.park", "state": "approved"})
        carol = await client.post(
            path, json={"as_user": "carol.diaz", "state": "rejected", "comments": "Not now"}
        )
    assert bob.status_code == 403 and "ACL" in bob.json()["detail"]
    assert erin.status_code == 400
    assert carol.status_code == 200
    decided = emulator.get("sysapproval_approver", seed.CHANGE_APPROVAL)
    assert decided is not None and decided["state"] == "rejected"
    assert emulator.journal(seed.CHANGE_APPROVAL)[0]["value"] == "Not now"


async def test_a_slash_command_from_the_page_reaches_the_bot_signed(sandbox: Sandbox) -> None:
    slack = sandbox.stack.slack
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=5) as client:
        not_a_command = await client.post(
            "/api/command", json={"user": "alice", "channel": "C0GENERAL0", "text": "hi"}
        )
        answer = await client.post(
            "/api/command",
            json={"user": "alice", "channel": "C0GENERAL0", "text": "/incident help"},
        )
    assert not_a_command.status_code == 400
    assert answer.status_code == 200 and answer.json()["status"] == 200
    help_text = await slack.wait_for(
        lambda: [e for e in slack.ephemerals_for("U0ALICE000") if "/incident help" in e.text]
    )
    assert help_text


async def test_the_page_listens_on_loopback_by_default(sandbox: Sandbox) -> None:
    assert sandbox.url.startswith("http://127.0.0.1:")
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        page = await client.get("/")
        script = await client.get("/static/app.js")
    assert page.status_code == 200 and "<title>incident-bot sandbox</title>" in page.text
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]


async def test_the_panel_moves_a_requested_item_as_the_acting_user_and_refuses_other_tables(
    sandbox: Sandbox,
) -> None:
    emulator = sandbox.stack.emulator
    item = f"/api/servicenow/records/sc_req_item/{seed.REQUESTED_ITEM}"
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        state = (await client.get("/api/state", params={"user": "bob"})).json()
        listed = {r["number"]: r for r in state["servicenow"]["records"]}
        assert listed["RITM0000001"]["stage_label"] == "Waiting for Approval"
        assert {"CHG0000001", "PRB0000001"} <= set(listed)
        refused = await client.post(item, json={"as_user": "alice.chen", "stage": "complete"})
        assert refused.status_code == 403  # the person it is for may comment, not move it
        unknown = await client.post(
            f"/api/servicenow/records/sys_user/{seed.ALICE}",
            json={"as_user": "admin", "state": "1"},
        )
        assert unknown.status_code == 400
        moved = await client.post(item, json={"as_user": "bob.martin", "stage": "fulfillment"})
    assert moved.status_code == 200
    row = emulator.get("sc_req_item", seed.REQUESTED_ITEM)
    assert (
        row is not None and row["stage"] == "fulfillment" and row["sys_updated_by"] == "bob.martin"
    )
