"""The client against the ServiceNow emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.servicenow import Emulator, Fault, run_emulator
from servicenow.auth import OAuth2, auth_from_credentials, authorization_url, exchange_code
from servicenow.client import ServiceNowClient
from servicenow.errors import (
    AuthError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
    WriteUncertainError,
)
from servicenow.query import Query, UnsafeQueryValue, validate_email
from servicenow.records import ChoiceCache, Incident, User, load_choices
from servicenow.retry import RetryPolicy
from tests.support import Sleeps

BOT_USER, BOT_PASSWORD = "incident.bot", "incident-bot"
CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"
TABLE_API = "/api/now/table/"


class FakeTime:
    """One clock for the emulator and the client's token bookkeeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def unix(self) -> float:
        return self.now

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with run_emulator(Emulator()) as running:
        yield running


@pytest.fixture
async def client(emu: Emulator, sleeps: Sleeps) -> AsyncIterator[ServiceNowClient]:
    async with ServiceNowClient(
        emu.instance_url, httpx.BasicAuth(BOT_USER, BOT_PASSWORD), sleep=sleeps
    ) as sn:
        yield sn


def table_requests(emu: Emulator, method: str | None = None, table: str | None = None) -> list[Any]:
    found = [r for r in emu.requests if r.path.startswith(TABLE_API)]
    if method is not None:
        found = [r for r in found if r.method == method]
    if table is not None:
        found = [r for r in found if r.path[len(TABLE_API) :].split("/")[0] == table]
    return found


def token_requests(emu: Emulator) -> list[Any]:
    return [r for r in emu.requests if r.path.endswith("/oauth_token.do")]


def grants(emu: Emulator) -> list[str]:
    return [str((r.body or {}).get("grant_type")) for r in token_requests(emu)]


def oauth(emu: Emulator, **kwargs: Any) -> OAuth2:
    kwargs.setdefault("grant", "password")
    if kwargs["grant"] == "password":
        kwargs.setdefault("username", BOT_USER)
        kwargs.setdefault("password", BOT_PASSWORD)
    return OAuth2(emu.instance_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **kwargs)


async def new_incident(client: ServiceNowClient, text: str, **values: str) -> Incident:
    alice = await client.list(
        "sys_user", Query().eq("email", "alice@example.com"), fields=["sys_id"]
    )
    record = await client.create(
        "incident",
        {"caller_id": alice.records[0]["sys_id"], "short_description": text, **values},
        fields=Incident.FIELDS,
    )
    return Incident.from_record(record)


# -- auth -----------------------------------------------------------------------------------------


async def test_basic_auth_finds_a_user_by_email(emu: Emulator, client: ServiceNowClient) -> None:
    query = Query().eq("email", validate_email("alice@example.com")).eq("active", "true")
    page = await client.list("sys_user", query, fields=User.FIELDS, limit=2)
    assert page.total == 1
    user = User.from_record(page.records[0])
    assert (user.user_name, user.name, user.active) == ("alice.chen", "Alice Chen", True)
    sent = table_requests(emu)[-1]
    assert sent.auth == "basic" and sent.user == BOT_USER
    assert sent.query["sysparm_exclude_reference_link"] == "true"
    assert sent.query["sysparm_fields"] == ",".join(User.FIELDS)


async def test_wrong_password_is_an_auth_error_sent_once(emu: Emulator, sleeps: Sleeps) -> None:
    async with ServiceNowClient(
        emu.instance_url, httpx.BasicAuth(BOT_USER, "wrong"), sleep=sleeps
    ) as sn:
        with pytest.raises(AuthError) as caught:
            await sn.list("incident")
    assert caught.value.status == 401
    assert len(table_requests(emu)) == 1 and sleeps.delays == []


async def test_oauth_password_grant(emu: Emulator) -> None:
    auth = auth_from_credentials(
        emu.instance_url,
        username=BOT_USER,
        password=BOT_PASSWORD,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    assert isinstance(auth, OAuth2)
    async with ServiceNowClient(emu.instance_url, auth) as sn:
        await sn.list("incident", limit=1)
        await sn.list("incident", limit=1)
        assert sn.calls == 2
    assert grants(emu) == ["password"]
    assert [r.auth for r in table_requests(emu)] == ["bearer", "bearer"]
    assert {r.user for r in table_requests(emu)} == {BOT_USER}
    assert auth.token is not None and auth.token.refresh_token


async def test_oauth_client_credentials_grant(emu: Emulator) -> None:
    auth = auth_from_credentials(emu.instance_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    async with ServiceNowClient(emu.instance_url, auth) as sn:
        await sn.ping()
    assert grants(emu) == ["client_credentials"]
    assert table_requests(emu)[-1].user == BOT_USER


async def test_refused_oauth_credentials_are_an_auth_error_without_api_calls(
    emu: Emulator,
) -> None:
    auth = OAuth2(
        emu.instance_url, client_id=CLIENT_ID, client_secret="wrong", grant="client_credentials"
    )
    async with ServiceNowClient(emu.instance_url, auth) as sn:
        with pytest.raises(AuthError, match="refused the OAuth credentials"):
            await sn.list("incident")
        assert sn.calls == 0
    assert len(token_requests(emu)) == 1
    assert table_requests(emu) == []


async def test_token_is_renewed_once_shortly_before_it_expires() -> None:
    clock = FakeTime()
    async with run_emulator(Emulator(clock=clock.utc)) as emu:
        emu.token_lifetime = 100
        auth = oauth(emu, clock=clock.unix)
        async with ServiceNowClient(emu.instance_url, auth) as sn:
            for _ in range(3):
                await sn.list("incident", limit=1)
            first = auth.token
            clock.now += 95  # inside the last tenth of the token's life, not yet expired
            for _ in range(3):
                await sn.list("incident", limit=1)
        assert grants(emu) == ["password", "refresh_token"]
        assert auth.token is not None and first is not None
        assert auth.token.access_token != first.access_token
        assert auth.token.refresh_token == first.refresh_token  # kept when the answer has none
        assert [r.status for r in table_requests(emu)] == [200] * 6


async def test_expired_token_mid_run_is_refreshed_once_for_concurrent_requests() -> None:
    clock = FakeTime()
    async with run_emulator(Emulator(clock=clock.utc)) as emu:
        emu.token_lifetime = 60
        auth = oauth(emu, clock=clock.unix)
        async with ServiceNowClient(emu.instance_url, auth) as sn:
            await sn.list("incident", limit=1)
            clock.now += 120
            await asyncio.gather(*(sn.list("incident", limit=1) for _ in range(10)))
        assert grants(emu) == ["password", "refresh_token"]
        assert all(r.status == 200 for r in table_requests(emu))


async def test_a_401_renews_the_token_once_and_replays_the_request() -> None:
    server_time, client_time = FakeTime(), FakeTime()
    async with run_emulator(Emulator(clock=server_time.utc)) as emu:
        auth = oauth(emu, clock=client_time.unix)
        async with ServiceNowClient(emu.instance_url, auth) as sn:
            await sn.list("incident", limit=1)
            server_time.now += 3600  # the instance expired the token; the client does not know
            page = await sn.list("incident", limit=1)
            assert page.records
            assert sn.calls == 3
        assert grants(emu) == ["password", "refresh_token"]
        assert [r.status for r in table_requests(emu)] == [200, 401, 200]


async def test_a_token_the_api_keeps_refusing_does_not_loop(emu: Emulator) -> None:
    emu.token_lifetime = 0  # every token is dead on arrival
    async with ServiceNowClient(emu.instance_url, oauth(emu)) as sn:
        with pytest.raises(AuthError) as caught:
            await sn.list("incident")
    assert caught.value.status == 401
    assert len(token_requests(emu)) == 2
    assert [r.status for r in table_requests(emu)] == [401, 401]


async def test_concurrent_first_requests_share_one_token_fetch(emu: Emulator) -> None:
    async with ServiceNowClient(emu.instance_url, oauth(emu)) as sn:
        await asyncio.gather(*(sn.list("sys_user", limit=1) for _ in range(20)))
    assert grants(emu) == ["password"]
    assert len(table_requests(emu)) == 20


async def test_authorization_code_grant_then_refresh_token_auth(emu: Emulator) -> None:
    url = authorization_url(emu.instance_url, CLIENT_ID, "https://bot.example/cb", "st4te")
    parts = urlsplit(url)
    assert parts.path == "/oauth_auth.do"
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": [CLIENT_ID],
        "redirect_uri": ["https://bot.example/cb"],
        "state": ["st4te"],
    }
    code = emu.issue_auth_code("carol.diaz", CLIENT_ID)
    async with httpx.AsyncClient() as http:
        token = await exchange_code(
            http, emu.instance_url, CLIENT_ID, CLIENT_SECRET, code, "https://bot.example/cb"
        )
        with pytest.raises(AuthError):  # a code works once
            await exchange_code(
                http, emu.instance_url, CLIENT_ID, CLIENT_SECRET, code, "https://bot.example/cb"
            )
    assert token.refresh_token
    auth = OAuth2(
        emu.instance_url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        grant="refresh_token",
        token=token,
    )
    async with ServiceNowClient(emu.instance_url, auth) as sn:
        await sn.ping()
    assert table_requests(emu)[-1].user == "carol.diaz"


# -- retries --------------------------------------------------------------------------------------


async def test_429_with_retry_after_waits_that_long_then_succeeds(
    emu: Emulator, client: ServiceNowClient, sleeps: Sleeps
) -> None:
    incident = await new_incident(client, "printer on fire")
    emu.faults.add(Fault.rate_limited(retry_after=1, method="GET", path_contains="/incident"))
    fetched = await client.get("incident", incident.sys_id, fields=Incident.FIELDS)
    assert fetched["number"] == incident.number
    assert sleeps.delays == [1.0]
    assert [r.status for r in table_requests(emu, "GET", "incident")] == [429, 200]


async def test_semaphore_429_without_headers_backs_off_then_succeeds(
    emu: Emulator, client: ServiceNowClient, sleeps: Sleeps
) -> None:
    emu.faults.add(Fault.semaphore_full(times=2, method="GET"))
    page = await client.list("incident", limit=5)
    assert page.records
    assert len(sleeps.delays) == 2
    assert all(0 <= d <= client.retry.max_delay for d in sleeps.delays)
    assert [r.status for r in table_requests(emu)] == [429, 429, 200]


async def test_an_empty_202_from_the_session_queue_is_retried(
    emu: Emulator, client: ServiceNowClient
) -> None:
    emu.faults.add(Fault.session_queued(method="GET"))
    assert (await client.list("incident", limit=1)).records
    assert [r.status for r in table_requests(emu)] == [202, 200]


async def test_a_persistent_5xx_exhausts_the_retries(
    emu: Emulator, client: ServiceNowClient, sleeps: Sleeps
) -> None:
    emu.faults.add(Fault(status=503, times=-1, method="GET"))
    with pytest.raises(UnavailableError) as caught:
        await client.list("incident")
    assert caught.value.status == 503
    assert len(table_requests(emu)) == client.retry.max_attempts
    assert len(sleeps.delays) == client.retry.max_attempts - 1


async def test_a_quota_cancel_is_reported_not_retried(
    emu: Emulator, client: ServiceNowClient
) -> None:
    emu.faults.add(Fault.quota_cancelled(method="GET"))
    with pytest.raises(UnavailableError, match="maximum execution time exceeded"):
        await client.list("incident", limit=10_000)
    assert len(table_requests(emu)) == 1


async def test_retry_after_beyond_the_budget_fails_at_once(emu: Emulator, sleeps: Sleeps) -> None:
    emu.faults.add(Fault.rate_limited(retry_after=3600, times=-1))
    async with ServiceNowClient(
        emu.instance_url,
        httpx.BasicAuth(BOT_USER, BOT_PASSWORD),
        retry=RetryPolicy(max_total=20.0),
        sleep=sleeps,
    ) as sn:
        with pytest.raises(RateLimitedError) as caught:
            await sn.list("incident")
    assert caught.value.retry_after == 3600.0
    assert "Rate limit" in str(caught.value)
    assert sleeps.delays == []
    assert len(table_requests(emu)) == 1


async def test_a_slow_instance_times_out_as_unavailable(emu: Emulator, sleeps: Sleeps) -> None:
    emu.faults.add(Fault.slow(1.0, times=-1, method="GET"))
    async with ServiceNowClient(
        emu.instance_url,
        httpx.BasicAuth(BOT_USER, BOT_PASSWORD),
        timeout=0.2,
        retry=RetryPolicy(max_attempts=2),
        sleep=sleeps,
    ) as sn:
        with pytest.raises(UnavailableError, match="timeout"):
            await sn.list("incident")
        assert sn.calls == 2


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda sn: sn.list("incidentx"), BadRequestError),
        (lambda sn: sn.get("incident", "0" * 32), NotFoundError),
        (lambda sn: sn.patch("incident", "0" * 32, {"urgency": "1"}), NotFoundError),
        (lambda sn: sn.delete("incident", "0" * 32), NotFoundError),
    ],
)
async def test_client_errors_are_not_retried(
    emu: Emulator,
    client: ServiceNowClient,
    sleeps: Sleeps,
    call: Callable[[ServiceNowClient], Any],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        await call(client)
    assert len(table_requests(emu)) == 1
    assert sleeps.delays == []


async def test_403_is_not_retried(emu: Emulator, client: ServiceNowClient, sleeps: Sleeps) -> None:
    emu.faults.add(Fault(status=403, times=-1, method="GET"))
    with pytest.raises(ForbiddenError, match="ACL Exception"):
        await client.list("incident")
    assert len(table_requests(emu)) == 1 and sleeps.delays == []


async def test_data_policy_403_names_the_mandatory_fields(
    emu: Emulator, client: ServiceNowClient
) -> None:
    incident = await new_incident(client, "VPN drops every hour")
    before = len(table_requests(emu, "PATCH"))
    with pytest.raises(ForbiddenError) as caught:
        await client.patch("incident", incident.sys_id, {"state": "6"})
    assert caught.value.mandatory_fields == ["Resolution code", "Close notes"]
    assert len(table_requests(emu, "PATCH")) == before + 1
    resolved = await client.patch(
        "incident",
        incident.sys_id,
        {"state": "6", "close_code": "Solution provided", "close_notes": "Replaced the router"},
        fields=Incident.FIELDS,
    )
    assert Incident.from_record(resolved).state.label == "Resolved"


# -- POST is never repeated blindly -----------------------------------------------------------------


def incidents_with(emu: Emulator, correlation_id: str) -> list[dict[str, str]]:
    return emu.query("incident", f"correlation_id={correlation_id}")


async def test_a_failed_post_without_correlation_id_is_not_repeated(
    emu: Emulator, client: ServiceNowClient, sleeps: Sleeps
) -> None:
    emu.faults.add(Fault(status=502, method="POST"))
    before = len(emu.rows("incident"))
    # A 502 may come from a gateway while the node still runs the POST: uncertain, not "failed".
    with pytest.raises(WriteUncertainError):
        await client.create("incident", {"short_description": "no id"})
    assert len(table_requests(emu, "POST")) == 1
    assert len(emu.rows("incident")) == before
    assert sleeps.delays == []


async def test_a_post_refused_with_429_is_resent_even_without_correlation_id(
    emu: Emulator, client: ServiceNowClient
) -> None:
    emu.faults.add(Fault.rate_limited(retry_after=1, method="POST"))
    before = len(emu.rows("incident"))
    created = await client.create("incident", {"short_description": "throttled"})
    assert [r.status for r in table_requests(emu, "POST")] == [429, 201]
    assert len(emu.rows("incident")) == before + 1
    assert emu.get("incident", created["sys_id"]) is not None


async def test_a_post_whose_answer_was_lost_returns_the_existing_record(
    emu: Emulator, client: ServiceNowClient
) -> None:
    # The first POST created the incident, but the gateway lost the answer.
    landed = emu.insert(
        "incident", {"short_description": "lost answer", "correlation_id": "slack:C1:1700.1"}
    )
    emu.faults.add(Fault(status=502, method="POST"))
    record = await client.create(
        "incident",
        {"short_description": "lost answer"},
        fields=Incident.FIELDS,
        correlation_id="slack:C1:1700.1",
    )
    assert record["sys_id"] == landed["sys_id"]
    assert len(incidents_with(emu, "slack:C1:1700.1")) == 1
    assert len(table_requests(emu, "POST")) == 1
    lookup = table_requests(emu, "GET", "incident")[-1]
    assert lookup.query["sysparm_query"].startswith("correlation_id=slack:C1:1700.1")


async def test_a_timed_out_post_that_landed_is_found_not_duplicated(emu: Emulator) -> None:
    correlation_id = "slack:C1:1700.2"

    async def wait_until_landed(_: float) -> None:
        deadline = time.monotonic() + 5
        # The slow first POST is still being handled by the server; poll (bounded) until it lands.
        while not incidents_with(emu, correlation_id) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    emu.faults.add(Fault.slow(0.6, method="POST"))
    async with ServiceNowClient(
        emu.instance_url,
        httpx.BasicAuth(BOT_USER, BOT_PASSWORD),
        timeout=0.2,
        sleep=wait_until_landed,
    ) as sn:
        record = await sn.create(
            "incident", {"short_description": "slow"}, correlation_id=correlation_id
        )
    assert len(incidents_with(emu, correlation_id)) == 1
    assert record["sys_id"] == incidents_with(emu, correlation_id)[0]["sys_id"]
    assert len(table_requests(emu, "POST")) == 1


async def test_a_post_that_did_not_land_is_sent_again_once(
    emu: Emulator, client: ServiceNowClient
) -> None:
    emu.faults.add(Fault(status=503, method="POST"))
    record = await client.create(
        "incident", {"short_description": "retry me"}, correlation_id="slack:C1:1700.3"
    )
    assert [r.status for r in table_requests(emu, "POST")] == [503, 201]
    assert [r["sys_id"] for r in incidents_with(emu, "slack:C1:1700.3")] == [record["sys_id"]]


# -- paging and queries -----------------------------------------------------------------------------


async def test_pages_shortened_by_acls_do_not_end_the_walk(
    emu: Emulator, client: ServiceNowClient
) -> None:
    made = [
        emu.insert("incident", {"short_description": f"acl paging {n:02}", "category": "network"})
        for n in range(25)
    ]
    ordered = sorted(made, key=lambda r: r["sys_id"])
    hidden = {ordered[1]["sys_id"], ordered[3]["sys_id"]} | {r["sys_id"] for r in ordered[10:20]}
    emu.acl_hidden |= hidden
    query = Query().like("short_description", "acl paging")
    seen = [r["sys_id"] async for r in client.iterate("incident", query, page_size=10)]
    assert seen == [r["sys_id"] for r in ordered if r["sys_id"] not in hidden]
    pages = table_requests(emu, "GET", "incident")
    assert [p.query["sysparm_offset"] for p in pages] == ["0", "10", "20"]
    assert all(p.query["sysparm_query"].endswith("^ORDERBYsys_id") for p in pages)


async def test_iterate_keeps_an_explicit_order(emu: Emulator, client: ServiceNowClient) -> None:
    query = Query().eq("active", "true").order_by_desc("number")
    numbers = [r["number"] async for r in client.iterate("incident", query, fields=["number"])]
    assert numbers == sorted(numbers, reverse=True) and numbers
    assert table_requests(emu)[0].query["sysparm_query"] == "active=true^ORDERBYDESCnumber"


async def test_a_caret_in_user_text_cannot_widen_a_query(
    emu: Emulator, client: ServiceNowClient
) -> None:
    hostile = "x@y.z^ORactive=true"
    with pytest.raises(UnsafeQueryValue):
        validate_email(hostile)
    escaped = await client.list("sys_user", Query().eq("email", hostile), fields=["sys_id"])
    assert escaped.records == [] and escaped.total == 0
    # The same text pasted raw would have matched every active user: the escape is what stops it.
    raw = await client.list("sys_user", f"email={hostile}", fields=["sys_id"])
    assert len(raw.records) > 1


async def test_an_escaped_caret_still_matches_literally(
    emu: Emulator, client: ServiceNowClient
) -> None:
    odd = emu.insert(
        "sys_user", {"user_name": "odd", "name": "Odd Caret", "email": "o^d@example.com"}
    )
    page = await client.list("sys_user", Query().eq("email", validate_email("o^d@example.com")))
    assert [r["sys_id"] for r in page.records] == [odd["sys_id"]]


async def test_script_values_never_reach_the_instance(
    emu: Emulator, client: ServiceNowClient
) -> None:
    with pytest.raises(UnsafeQueryValue):
        await client.list("incident", Query().eq("caller_id", "javascript:gs.getUserID()"))
    assert table_requests(emu) == []


# -- records, the rest of the Table API -------------------------------------------------------------


async def test_create_read_update_delete_round_trip(
    emu: Emulator, client: ServiceNowClient
) -> None:
    incident = await new_incident(client, "Laptop will not boot", impact="2", urgency="2")
    assert incident.caller_name == "Alice Chen"
    assert incident.number.startswith("INC") and incident.state.label == "New"
    assert incident.priority.label == "Moderate"
    assert incident.sys_mod_count == 0
    changed = Incident.from_record(
        await client.patch("incident", incident.sys_id, {"urgency": "1"}, fields=Incident.FIELDS)
    )
    assert changed.priority.label == "High" and changed.sys_mod_count == 1
    fetched = Incident.from_record(
        await client.get("incident", incident.sys_id, fields=Incident.FIELDS)
    )
    assert fetched == changed
    await client.delete("incident", incident.sys_id)
    with pytest.raises(NotFoundError):
        await client.get("incident", incident.sys_id)
    assert client.calls == len(table_requests(emu))


async def test_ping_and_record_url(emu: Emulator, client: ServiceNowClient) -> None:
    await client.ping()
    sent = table_requests(emu)[-1]
    assert sent.path == "/api/now/table/sys_user"
    assert sent.query["sysparm_limit"] == "1" and sent.query["sysparm_fields"] == "sys_id"
    url = client.record_url("incident", "a9e30c7dc61122760116894de7bcc7bd")
    assert url == (
        f"{emu.instance_url}/nav_to.do?uri=incident.do%3Fsys_id%3Da9e30c7dc61122760116894de7bcc7bd"
    )


async def test_ping_reports_bad_credentials(emu: Emulator) -> None:
    async with ServiceNowClient(emu.instance_url, httpx.BasicAuth(BOT_USER, "nope")) as sn:
        with pytest.raises(AuthError, match="401"):
            await sn.ping()


async def test_close_codes_come_from_sys_choice_and_are_cached(
    emu: Emulator, client: ServiceNowClient
) -> None:
    codes = await load_choices(client, "incident", "close_code")
    assert codes[0].value == "Duplicate" and len(codes) == 10
    assert {c.value for c in codes} >= {"Solution provided", "Workaround provided"}
    cache = ChoiceCache(client, ttl=60)
    first = await cache.get("incident", "close_code")
    calls = client.calls
    assert await cache.get("incident", "close_code") == first == codes
    assert client.calls == calls
    states = await cache.get("incident", "state")
    assert [c.label for c in states] == [
        "New",
        "In Progress",
        "On Hold",
        "Resolved",
        "Closed",
        "Canceled",
    ]


async def test_a_refused_refresh_token_falls_back_to_the_original_grant() -> None:
    clock = FakeTime()
    async with run_emulator(Emulator(clock=clock.utc)) as emu:
        emu.token_lifetime, emu.refresh_token_lifetime = 60, 90
        auth = oauth(emu, clock=clock.unix)
        async with ServiceNowClient(emu.instance_url, auth) as sn:
            await sn.list("incident", limit=1)
            clock.now += 120  # access and refresh token both expired
            await sn.list("incident", limit=1)
        assert grants(emu) == ["password", "refresh_token", "password"]
        assert [r.status for r in table_requests(emu)] == [200, 200]


def test_credentials_pick_the_auth() -> None:
    url = "https://dev12345.service-now.com"
    basic = auth_from_credentials(url, username="u", password="p")
    assert isinstance(basic, httpx.BasicAuth)
    password = auth_from_credentials(
        url, username="u", password="p", client_id="c", client_secret="s"
    )
    assert isinstance(password, OAuth2) and password.grant == "password"
    machine = auth_from_credentials(url, client_id="c", client_secret="s")
    assert isinstance(machine, OAuth2) and machine.grant == "client_credentials"
    for bad in ({}, {"client_id": "c"}, {"username": "u"}, {"client_secret": "s", "username": "u"}):
        with pytest.raises(ValueError):
            auth_from_credentials(url, **bad)
