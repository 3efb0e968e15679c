"""Outbound signed change events, checked by a real receiver with an independent HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.server import serve
from sandbox.servicenow import Emulator, WebhookTarget
from sandbox.servicenow.seed import CAROL, ITEM_APPROVAL, sys_id_for

SECRET = "wébhook-secret"  # non-ASCII on purpose: the key is the raw UTF-8 bytes
INC1 = sys_id_for("incident", "INC0000001")


@dataclass
class Receiver:
    url: str = ""
    status: int = 200
    events: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def payloads(self) -> list[dict[str, str]]:
        return [json.loads(body) for _, body in self.events]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def event(request: Request) -> Response:
        state.events.append((dict(request.headers), await request.body()))
        return Response(status_code=state.status)

    app = Starlette(routes=[Route("/servicenow/events", event, methods=["POST"])])
    async with serve(app) as server:
        state.url = f"{server.url}/servicenow/events"
        yield state


def expected_signature(timestamp: str, body: bytes) -> str:
    mac = hmac.new(SECRET.encode("utf-8"), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + base64.b64encode(mac.digest()).decode()


async def test_rest_update_sends_a_signed_event_that_verifies(
    emulator: Emulator, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    emulator.webhook = WebhookTarget(receiver.url, SECRET)
    response = await client.patch(f"/api/now/table/incident/{INC1}", json={"urgency": "1"})
    await emulator.wait_for_webhooks()
    assert len(receiver.events) == 1
    headers, body = receiver.events[0]
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "ServiceNow"
    assert headers["x-sn-signature"] == expected_signature(headers["x-sn-timestamp"], body)
    record = response.json()["result"]
    assert json.loads(body) == {
        "table": "incident",
        "sys_id": INC1,
        "number": "INC0000001",
        "operation": "update",
        "state": "1",
        "sys_mod_count": record["sys_mod_count"],
        "sys_updated_on": record["sys_updated_on"],
        "sys_updated_by": "incident.bot",
    }
    assert headers["x-sn-event-id"] == f"{INC1}:{record['sys_mod_count']}"


async def test_tampered_body_would_not_verify(emulator: Emulator, receiver: Receiver) -> None:
    emulator.webhook = WebhookTarget(receiver.url, SECRET)
    emulator.insert("incident", {"short_description": "x"})
    await emulator.wait_for_webhooks()
    headers, body = receiver.events[0]
    tampered = body.replace(b'"insert"', b'"update"')
    assert headers["x-sn-signature"] != expected_signature(headers["x-sn-timestamp"], tampered)


async def test_python_insert_inside_the_loop_is_delivered_with_the_instance_clock(
    receiver: Receiver,
) -> None:
    moment = datetime(2024, 5, 2, 9, 20, 44, tzinfo=UTC)
    emulator = Emulator(clock=lambda: moment)
    emulator.webhook = WebhookTarget(receiver.url, SECRET)
    created = emulator.insert(
        "incident", {"short_description": "from the UI"}, as_user="bob.martin"
    )
    await emulator.wait_for_webhooks()
    headers, body = receiver.events[0]
    assert headers["x-sn-timestamp"] == str(int(moment.timestamp()))
    assert json.loads(body)["operation"] == "insert"
    assert json.loads(body)["number"] == created["number"]
    assert json.loads(body)["sys_updated_by"] == "bob.martin"


async def test_only_watched_tables_send_events(emulator: Emulator, receiver: Receiver) -> None:
    emulator.webhook = WebhookTarget(receiver.url, SECRET)
    emulator.insert("sys_user", {"user_name": "zed"})
    emulator.insert("sc_request", {"short_description": "not watched by default"})
    emulator.update("incident", INC1, {"urgency": "3"})
    await emulator.wait_for_webhooks()
    assert [p["table"] for p in receiver.payloads()] == ["incident"]


async def test_approval_decision_sends_the_approval_and_the_watched_parent(
    emulator: Emulator, receiver: Receiver
) -> None:
    emulator.webhook = WebhookTarget(receiver.url, SECRET, {"sysapproval_approver", "sc_req_item"})
    emulator.update(
        "sysapproval_approver", ITEM_APPROVAL, {"state": "approved"}, as_user="carol.diaz"
    )
    await emulator.wait_for_webhooks()
    by_table = {p["table"]: p for p in receiver.payloads()}
    assert by_table["sysapproval_approver"]["state"] == "approved"
    assert by_table["sysapproval_approver"]["sys_updated_by"] == "carol.diaz"
    assert by_table["sc_req_item"]["number"] == "RITM0000001"
    assert emulator.get("sysapproval_approver", ITEM_APPROVAL)["approver"] == CAROL  # type: ignore[index]


async def test_failed_deliveries_are_recorded_not_raised(
    emulator: Emulator, receiver: Receiver
) -> None:
    receiver.status = 500
    emulator.webhook = WebhookTarget(receiver.url, SECRET)
    emulator.update("incident", INC1, {"urgency": "1"})
    emulator.webhook = WebhookTarget("http://127.0.0.1:9/unreachable", SECRET)
    emulator.update("incident", INC1, {"urgency": "2"})
    await emulator.wait_for_webhooks()
    first, second = emulator.webhook_deliveries
    assert first.status == 500
    assert second.status is None
    assert second.error


def test_writes_outside_an_event_loop_still_work_and_are_not_sent() -> None:
    emulator = Emulator()
    emulator.webhook = WebhookTarget("http://127.0.0.1:9/never", SECRET)
    record = emulator.update("incident", INC1, {"urgency": "1"})
    assert record["priority"] == "2"  # impact 2 x urgency 1
    assert emulator.webhook_deliveries[0].status is None
    assert "no running event loop" in emulator.webhook_deliveries[0].error
