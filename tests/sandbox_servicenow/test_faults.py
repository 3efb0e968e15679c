"""Injected faults, in Python and through the /sandbox/ control routes."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox.servicenow import Emulator, Fault

INCIDENTS = "/api/now/table/incident"


async def test_rate_limited_answers_429_with_documented_headers_once(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    emulator.faults.add(Fault.rate_limited(retry_after=3))
    limited = await client.get(INCIDENTS)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "3"
    assert limited.headers["x-ratelimit-limit"] == "100"
    assert int(limited.headers["x-ratelimit-reset"]) >= int(time.time())
    assert limited.headers["x-ratelimit-rule"]
    assert limited.json()["error"]["message"] == "Rate limit exceeded"
    assert (await client.get(INCIDENTS)).status_code == 200


async def test_semaphore_full_is_a_bare_429(emulator: Emulator, client: httpx.AsyncClient) -> None:
    emulator.faults.add(Fault.semaphore_full())
    response = await client.get(INCIDENTS)
    assert (response.status_code, response.content) == (429, b"")
    assert "retry-after" not in response.headers


async def test_session_queued_is_an_empty_202(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    emulator.faults.add(Fault.session_queued())
    response = await client.get(INCIDENTS)
    assert (response.status_code, response.content) == (202, b"")


async def test_quota_cancelled_is_a_500_naming_the_quota(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    emulator.faults.add(Fault.quota_cancelled())
    response = await client.get(INCIDENTS)
    assert response.status_code == 500
    assert "maximum execution time exceeded" in response.json()["error"]["message"]


async def test_slow_answer_outlasts_a_short_client_timeout_then_answers_normally(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    emulator.faults.add(Fault.slow(0.5))
    with pytest.raises(httpx.ReadTimeout):
        await client.get(INCIDENTS, timeout=0.1)
    emulator.faults.add(Fault.slow(0.2))
    started = time.monotonic()
    response = await client.get(INCIDENTS)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


async def test_delay_also_applies_to_an_injected_status(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    emulator.faults.add(Fault(status=503, delay=0.2, body=""))
    started = time.monotonic()
    response = await client.get(INCIDENTS)
    assert response.status_code == 503
    assert time.monotonic() - started >= 0.2


async def test_faults_match_in_order_and_wear_out_after_times(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    emulator.faults.add(Fault(status=503, body="", times=2))
    emulator.faults.add(Fault.semaphore_full())
    statuses = [(await client.get(INCIDENTS)).status_code for _ in range(4)]
    assert statuses == [503, 503, 429, 200]


async def test_faults_narrow_by_method_and_path(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    emulator.faults.add(Fault(status=500, method="POST", path_contains="/incident"))
    assert (await client.get(INCIDENTS)).status_code == 200
    assert (
        await client.post("/api/now/table/sys_user", json={"user_name": "x"})
    ).status_code == 201
    assert (await client.post(INCIDENTS, json={})).status_code == 500
    assert (await client.post(INCIDENTS, json={})).status_code == 201


async def test_unlimited_fault_lasts_until_cleared(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    emulator.faults.add(Fault(status=502, body="", times=-1))
    assert [(await client.get(INCIDENTS)).status_code for _ in range(3)] == [502, 502, 502]
    emulator.faults.clear()
    assert (await client.get(INCIDENTS)).status_code == 200


async def test_faults_come_before_authentication_and_are_recorded(
    emulator: Emulator, anonymous: httpx.AsyncClient
) -> None:
    emulator.faults.add(Fault.semaphore_full())
    assert (await anonymous.get(INCIDENTS)).status_code == 429
    assert (await anonymous.get(INCIDENTS)).status_code == 401
    assert [r.status for r in emulator.requests] == [429, 401]


async def test_token_endpoint_can_be_faulted_too(
    emulator: Emulator, anonymous: httpx.AsyncClient
) -> None:
    emulator.faults.add(Fault(status=503, body="", path_contains="oauth_token"))
    form = {"grant_type": "client_credentials", "client_id": "sandbox-client",
            "client_secret": "sandbox-secret"}  # fmt: skip
    assert (await anonymous.post("/oauth_token.do", data=form)).status_code == 503
    assert (await anonymous.post("/oauth_token.do", data=form)).status_code == 200


async def test_control_routes_need_no_auth_and_are_not_recorded(
    emulator: Emulator, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    added = await anonymous.post(
        "/sandbox/faults",
        json=[{"kind": "rate_limited", "retry_after": 2}, {"status": 503, "body": ""}],
    )
    assert added.status_code == 201
    listed = (await anonymous.get("/sandbox/faults")).json()
    assert [f["status"] for f in listed] == [429, 503]
    assert (await client.get(INCIDENTS)).headers["retry-after"] == "2"
    assert (await anonymous.delete("/sandbox/faults")).status_code == 204
    assert (await client.get(INCIDENTS)).status_code == 200
    recorded = (await anonymous.get("/sandbox/requests")).json()
    assert [(r["method"], r["path"], r["status"], r["auth"]) for r in recorded] == [
        ("GET", INCIDENTS, 429, "basic"),
        ("GET", INCIDENTS, 200, "basic"),
    ]
    assert (await anonymous.delete("/sandbox/requests")).status_code == 204
    assert emulator.requests == []


async def test_control_route_rejects_unknown_fault_fields(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.post("/sandbox/faults", json={"colour": "red"})
    assert response.status_code == 400
    response = await anonymous.post("/sandbox/faults", json={"kind": "meteor"})
    assert response.status_code == 400
