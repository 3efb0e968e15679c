"""The JWT bearer grant: assertions, one person's token cache, and refusals, against the emulator."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from sandbox.servicenow import Emulator, run_emulator, seed
from servicenow.auth import (
    JWT_BEARER,
    JwtBearer,
    JwtSigner,
    generate_key_pair,
    key_id_of,
    load_private_key,
)
from servicenow.client import ServiceNowClient
from servicenow.errors import AuthError, GrantRefused

PRIVATE, PUBLIC, KID = generate_key_pair()


class FakeTime:
    def __init__(self) -> None:
        self.now = time.time()

    def unix(self) -> float:
        return self.now

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


def signer() -> JwtSigner:
    return JwtSigner.from_pem(PRIVATE, key_id=KID, client_id=seed.OAUTH_CLIENT_ID)


def grants(emu: Emulator) -> int:
    return sum(
        1
        for r in emu.requests
        if r.path == "/oauth_token.do"
        and isinstance(r.body, dict)
        and r.body.get("grant_type") == JWT_BEARER
    )


def test_an_assertion_names_the_client_the_person_and_lives_five_minutes() -> None:
    minted = signer()
    first, second = minted.assertion("alice@example.com", 1000.0), minted.assertion("a@b.c", 1000.0)
    assert jwt.get_unverified_header(first) == {"alg": "RS256", "typ": "JWT", "kid": KID}
    claims = jwt.decode(
        first,
        load_pem_public_key(PUBLIC.encode()),  # type: ignore[arg-type]
        algorithms=["RS256"],
        audience=seed.OAUTH_CLIENT_ID,
        issuer=seed.OAUTH_CLIENT_ID,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["sub"] == "alice@example.com" and claims["exp"] - claims["iat"] == 300
    assert jwt.decode(second, options={"verify_signature": False})["jti"] != claims["jti"]
    assert key_id_of(load_private_key(PRIVATE)) == KID
    assert "PRIVATE" not in repr(minted) and PRIVATE[40:80] not in repr(minted)


async def test_a_person_token_is_fetched_once_for_concurrent_calls_and_renewed_near_expiry() -> (
    None
):
    clock = FakeTime()
    async with run_emulator(Emulator(clock=clock.utc)) as emu:
        emu.register_jwt_key(seed.OAUTH_CLIENT_ID, PUBLIC, KID)
        emu.token_lifetime = 100
        auth = JwtBearer(
            emu.instance_url,
            signer=signer(),
            client_secret=seed.OAUTH_CLIENT_SECRET,
            subject="ALICE@example.com",
            clock=clock.unix,
        )
        async with ServiceNowClient(emu.instance_url, auth) as sn:
            await asyncio.gather(*(sn.list("incident", limit=1) for _ in range(5)))
            assert grants(emu) == 1
            clock.now += 95  # inside the last tenth of its life: a new assertion, a new token
            await sn.list("incident", limit=1)
        assert grants(emu) == 2
        table = [r for r in emu.requests if r.path.startswith("/api/now/table/")]
        assert {(r.user, r.status) for r in table} == {("alice.chen", 200)}


async def test_a_refused_grant_names_the_person_and_is_not_retried() -> None:
    async with run_emulator(Emulator()) as emu:
        emu.register_jwt_key(seed.OAUTH_CLIENT_ID, PUBLIC, KID)
        auth = JwtBearer(
            emu.instance_url,
            signer=signer(),
            client_secret=seed.OAUTH_CLIENT_SECRET,
            subject="dave@example.com",  # no sys_user
        )
        async with ServiceNowClient(emu.instance_url, auth) as sn:
            with pytest.raises(GrantRefused) as refused:
                await sn.list("incident", limit=1)
        assert refused.value.subject == "dave@example.com" and refused.value.status == 401
        assert isinstance(refused.value, AuthError)
        assert grants(emu) == 1
        assert emu.oauth_log == [f"{JWT_BEARER}: no user matches sub 'dave@example.com'"]


async def test_a_view_acting_as_someone_shares_the_pool_and_leaves_the_owner_as_it_was() -> None:
    async with run_emulator(Emulator()) as emu:
        emu.register_jwt_key(seed.OAUTH_CLIENT_ID, PUBLIC, KID)
        integration = ServiceNowClient(
            emu.instance_url, httpx.BasicAuth("incident.bot", "incident-bot")
        )
        alice = integration.acting_as(
            JwtBearer(
                emu.instance_url,
                signer=signer(),
                client_secret=seed.OAUTH_CLIENT_SECRET,
                subject="alice@example.com",
            )
        )
        await alice.list("incident", limit=1)
        await alice.aclose()  # a view: the pool stays open
        await integration.list("incident", limit=1)
        await integration.aclose()
        users = [r.user for r in emu.requests if r.path.startswith("/api/now/table/")]
        assert users == ["alice.chen", "incident.bot"]
        assert integration.calls == 2
