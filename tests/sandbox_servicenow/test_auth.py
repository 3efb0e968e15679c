"""Authentication: basic, the password and client credentials grants, token expiry.

The consent page, PKCE, refresh rotation, revocation and the JWT bearer grant: test_oauth.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sandbox.servicenow import Emulator, run_emulator

CLIENT = {"client_id": "sandbox-client", "client_secret": "sandbox-secret"}
ACCESS_DENIED = {"error_description": "access_denied", "error": "server_error"}
INCIDENTS = "/api/now/table/incident?sysparm_limit=1"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 2, 9, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def http(clock: Clock) -> AsyncIterator[tuple[Emulator, httpx.AsyncClient]]:
    async with (
        run_emulator(Emulator(clock=clock)) as emulator,
        httpx.AsyncClient(base_url=emulator.instance_url) as client,
    ):
        yield emulator, client


async def password_grant(client: httpx.AsyncClient, user: str = "incident.bot",
                         password: str = "incident-bot") -> httpx.Response:  # fmt: skip
    form = {"grant_type": "password", "username": user, "password": password, **CLIENT}
    return await client.post("/oauth_token.do", data=form)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_missing_or_wrong_basic_credentials_are_401_with_the_basic_challenge(
    anonymous: httpx.AsyncClient,
) -> None:
    for auth in (None, ("incident.bot", "nope"), ("nobody", "x")):
        response = await anonymous.get(INCIDENTS, auth=auth)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Basic realm="Service-now"'
        assert response.json()["error"]["message"] == "User is not authenticated"


async def test_inactive_user_cannot_log_in(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get(INCIDENTS, auth=("erin.park", "erin.park"))
    assert response.status_code == 401
    assert (await password_grant(anonymous, "erin.park", "erin.park")).status_code == 401


async def test_admin_basic_auth_works(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get(INCIDENTS, auth=("admin", "admin"))).status_code == 200


async def test_password_grant_token_works_and_is_recorded_as_bearer(
    http: tuple[Emulator, httpx.AsyncClient],
) -> None:
    emulator, client = http
    token = (await password_grant(client)).json()
    assert token["expires_in"] == 1799
    assert token["scope"] == "useraccount"
    assert token["token_type"] == "Bearer"
    response = await client.get(INCIDENTS, headers=bearer(token["access_token"]))
    assert response.status_code == 200
    assert (emulator.requests[-1].auth, emulator.requests[-1].user) == ("bearer", "incident.bot")
    assert emulator.requests[0].body["password"] == "***"


async def test_password_grant_within_lifetime_returns_the_current_token(
    http: tuple[Emulator, httpx.AsyncClient], clock: Clock
) -> None:
    _, client = http
    first = (await password_grant(client)).json()
    clock.now += timedelta(seconds=100)
    second = (await password_grant(client)).json()
    assert second["access_token"] == first["access_token"]
    assert second["expires_in"] == 1699


async def test_expired_token_is_401_and_the_refresh_grant_gives_a_working_one(
    http: tuple[Emulator, httpx.AsyncClient], clock: Clock
) -> None:
    emulator, client = http
    emulator.token_lifetime = 60
    token = (await password_grant(client)).json()
    assert token["expires_in"] == 60
    clock.now += timedelta(seconds=60)
    expired = await client.get(INCIDENTS, headers=bearer(token["access_token"]))
    assert expired.status_code == 401
    assert expired.headers["www-authenticate"] == 'Basic realm="Service-now"'
    form = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"], **CLIENT}
    refreshed = (await client.post("/oauth_token.do", data=form)).json()
    assert refreshed["refresh_token"] == token["refresh_token"]
    assert (
        await client.get(INCIDENTS, headers=bearer(refreshed["access_token"]))
    ).status_code == 200


async def test_unknown_bearer_is_401(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get(INCIDENTS, headers=bearer("made-up"))
    assert response.status_code == 401


async def test_client_credentials_act_as_the_application_user(
    http: tuple[Emulator, httpx.AsyncClient],
) -> None:
    _, client = http
    token = (
        await client.post("/oauth_token.do", data={"grant_type": "client_credentials", **CLIENT})
    ).json()
    assert "refresh_token" not in token
    created = await client.post(
        "/api/now/table/incident",
        json={"short_description": "cc"},
        headers=bearer(token["access_token"]),
    )
    assert created.json()["result"]["sys_created_by"] == "incident.bot"


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", "username": "incident.bot", "password": "x", **CLIENT},
        {"grant_type": "password", "username": "incident.bot", "password": "incident-bot",
         "client_id": "sandbox-client", "client_secret": "wrong"},
        {"grant_type": "refresh_token", "refresh_token": "unknown", **CLIENT},
        {"grant_type": "authorization_code", "code": "unknown", **CLIENT},
        {"grant_type": "implicit", **CLIENT},
    ],
)  # fmt: skip
async def test_every_token_failure_is_the_same_generic_401(
    anonymous: httpx.AsyncClient, form: dict[str, str]
) -> None:
    response = await anonymous.post("/oauth_token.do", data=form)
    assert response.status_code == 401
    assert response.json() == ACCESS_DENIED


async def test_token_endpoint_refuses_a_json_body(anonymous: httpx.AsyncClient) -> None:
    form = {
        "grant_type": "password",
        "username": "incident.bot",
        "password": "incident-bot",
        **CLIENT,
    }
    response = await anonymous.post("/oauth_token.do", json=form)
    assert response.status_code == 401
    assert response.json() == ACCESS_DENIED


async def test_authorization_code_from_the_test_hook_is_single_use(
    emulator: Emulator, anonymous: httpx.AsyncClient
) -> None:
    code = emulator.issue_auth_code("carol.diaz")
    form = {"grant_type": "authorization_code", "code": code, **CLIENT}
    token = (await anonymous.post("/oauth_token.do", data=form)).json()
    response = await anonymous.get(
        "/api/now/table/sys_user",
        params={"sysparm_query": "sys_id=javascript:gs.getUserID()", "sysparm_fields": "user_name"},
        headers=bearer(token["access_token"]),
    )
    assert response.json()["result"] == [{"user_name": "carol.diaz"}]
    assert (await anonymous.post("/oauth_token.do", data=form)).status_code == 401
