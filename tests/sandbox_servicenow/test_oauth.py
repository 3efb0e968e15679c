"""Per-user OAuth: the consent page, authorization codes with PKCE, refresh, revocation, JWT bearer."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from sandbox.servicenow import Emulator, OAuthClient, run_emulator
from sandbox.servicenow.auth import JWT_BEARER, s256
from tests.sandbox_servicenow.signing import Signer
from tests.support import SERVICENOW_FIXTURES

CLIENT = {"client_id": "sandbox-client", "client_secret": "sandbox-secret"}
REDIRECT = "http://bot.invalid/servicenow/callback"
TOKEN_ERROR = json.loads((SERVICENOW_FIXTURES / "oauth" / "token_error_401.json").read_text())
ME = {"sysparm_query": "sys_id=javascript:gs.getUserID()", "sysparm_fields": "user_name"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 2, 9, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Instance:
    emulator: Emulator
    http: httpx.AsyncClient
    clock: Clock

    async def token(self, **form: str) -> httpx.Response:
        return await self.http.post("/oauth_token.do", data={**CLIENT, **form})

    async def who(self, access_token: str) -> str | int:
        """The user the token acts as, or the status when the Table API refuses it."""
        response = await self.http.get(
            "/api/now/table/sys_user",
            params=ME,
            headers={"Authorization": f"Bearer {access_token}"},
        )
        if response.status_code != 200:
            return response.status_code
        return str(response.json()["result"][0]["user_name"])

    def refused(self, response: httpx.Response, reason: str) -> None:
        """The documented 401 body, and the reason in the instance's log."""
        assert response.status_code == TOKEN_ERROR["status"]
        assert response.json() == TOKEN_ERROR["body"]
        assert reason in self.emulator.oauth_log[-1], self.emulator.oauth_log


@pytest.fixture
async def sn() -> AsyncIterator[Instance]:
    clock = Clock()
    async with (
        run_emulator(Emulator(clock=clock)) as emulator,
        httpx.AsyncClient(base_url=emulator.instance_url) as http,
    ):
        yield Instance(emulator, http, clock)


def authorize_params(**extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": "sandbox-client",
        "redirect_uri": REDIRECT,
        "state": "st4te",
        **extra,
    }


def redirected(response: httpx.Response) -> dict[str, list[str]]:
    """The query of a redirect to REDIRECT (fails on any other answer)."""
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return parse_qs(location.query)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


async def consent(sn: Instance, user: str = "carol.diaz", **extra: str) -> str:
    """Allow on the consent page as `user`; the code it redirects with."""
    form = {**authorize_params(**extra), "username": user, "decision": "allow"}
    query = redirected(await sn.http.post("/oauth_auth.do", data=form))
    assert query["state"] == ["st4te"]
    return query["code"][0]


# -- the consent page ---------------------------------------------------------------------------


async def test_the_consent_page_offers_the_active_users_and_allow_or_deny(sn: Instance) -> None:
    page = await sn.http.get("/oauth_auth.do", params=authorize_params())
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<option value="carol.diaz">' in page.text
    assert '<option value="alice.chen">' in page.text
    assert "erin.park" not in page.text  # inactive: cannot sign in
    assert 'value="allow"' in page.text and 'value="deny"' in page.text
    assert f'name="redirect_uri" value="{REDIRECT}"' in page.text


async def test_allow_redirects_with_a_code_that_acts_as_the_chosen_user(sn: Instance) -> None:
    verifier, challenge = pkce()
    code = await consent(sn, "alice.chen", code_challenge=challenge, code_challenge_method="S256")
    response = await sn.token(
        grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"scope", "token_type", "expires_in", "refresh_token", "access_token"}
    assert await sn.who(body["access_token"]) == "alice.chen"


async def test_deny_redirects_with_access_denied_and_the_state(sn: Instance) -> None:
    form = {**authorize_params(), "username": "carol.diaz", "decision": "deny"}
    query = redirected(await sn.http.post("/oauth_auth.do", data=form))
    assert query == {"error": ["access_denied"], "state": ["st4te"]}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "x" * 43}, "invalid_request"),  # method defaults to plain
    ],
)
async def test_a_bad_request_from_a_known_client_is_an_error_redirect(
    sn: Instance, params: dict[str, str], error: str
) -> None:
    query = redirected(await sn.http.get("/oauth_auth.do", params=authorize_params(**params)))
    assert query == {"error": [error], "state": ["st4te"]}


@pytest.mark.parametrize(
    "params",
    [{"client_id": "nobody"}, {"redirect_uri": "javascript:alert(1)"}, {"redirect_uri": ""}],
)
async def test_an_unknown_client_or_bad_redirect_is_a_page_not_a_redirect(
    sn: Instance, params: dict[str, str]
) -> None:
    response = await sn.http.get("/oauth_auth.do", params=authorize_params(**params))
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_a_client_with_registered_redirects_accepts_only_those(sn: Instance) -> None:
    sn.emulator.oauth_clients["strict"] = OAuthClient("strict", "s", redirect_uris=(REDIRECT,))
    ok = await sn.http.get("/oauth_auth.do", params=authorize_params(client_id="strict"))
    assert ok.status_code == 200
    other = authorize_params(client_id="strict", redirect_uri="http://evil.invalid/cb")
    assert (await sn.http.get("/oauth_auth.do", params=other)).status_code == 400


# -- authorization codes and PKCE ---------------------------------------------------------------


async def test_a_code_works_once(sn: Instance) -> None:
    code = await consent(sn)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    first = (await sn.token(**form)).json()
    assert await sn.who(first["access_token"]) == "carol.diaz"
    sn.refused(await sn.token(**form), "used twice")
    assert await sn.who(first["access_token"]) == "carol.diaz"
    sn.refused(
        await sn.token(grant_type="authorization_code", code="made-up", redirect_uri=REDIRECT),
        "unknown authorization code",
    )


async def test_a_code_expires_after_its_short_life(sn: Instance) -> None:
    code = await consent(sn)
    sn.clock.tick(sn.emulator.auth_code_lifetime)
    response = await sn.token(grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    sn.refused(response, "expired authorization code")


async def test_a_code_is_bound_to_its_client(sn: Instance) -> None:
    sn.emulator.oauth_clients["other"] = OAuthClient("other", "other-secret")
    code = await consent(sn)
    response = await sn.http.post(
        "/oauth_token.do",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": "other",
            "client_secret": "other-secret",
        },
    )
    sn.refused(response, "another client")


@pytest.mark.parametrize("redirect_uri", [None, "http://bot.invalid/elsewhere"])
async def test_a_code_is_bound_to_its_redirect_uri(sn: Instance, redirect_uri: str | None) -> None:
    code = await consent(sn)
    form = {"grant_type": "authorization_code", "code": code}
    if redirect_uri is not None:
        form["redirect_uri"] = redirect_uri
    sn.refused(await sn.token(**form), "redirect_uri differs")


@pytest.mark.parametrize("verifier", [None, "wrong-" + "v" * 43, "short"])
async def test_pkce_needs_the_verifier_of_the_challenge(sn: Instance, verifier: str | None) -> None:
    _, challenge = pkce()
    code = await consent(sn, code_challenge=challenge, code_challenge_method="S256")
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if verifier is not None:
        form["code_verifier"] = verifier
    sn.refused(await sn.token(**form), "code_verifier")


async def test_a_public_client_without_a_secret_must_use_pkce(sn: Instance) -> None:
    sn.emulator.oauth_clients["public"] = OAuthClient("public", "")
    query = redirected(
        await sn.http.get("/oauth_auth.do", params=authorize_params(client_id="public"))
    )
    assert query["error"] == ["invalid_request"]
    verifier, challenge = pkce()
    form = {
        **authorize_params(client_id="public", code_challenge=challenge),
        "code_challenge_method": "S256",
        "username": "bob.martin",
        "decision": "allow",
    }
    code = redirected(await sn.http.post("/oauth_auth.do", data=form))["code"][0]
    response = await sn.http.post(
        "/oauth_token.do",
        data={
            "grant_type": "authorization_code",
            "client_id": "public",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200
    assert await sn.who(response.json()["access_token"]) == "bob.martin"


# -- refresh, expiry, revocation ----------------------------------------------------------------


async def person_token(sn: Instance, user: str = "carol.diaz") -> dict[str, Any]:
    code = await consent(sn, user)
    response = await sn.token(grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    body: dict[str, Any] = response.json()
    return body


async def test_a_token_acts_as_its_user_until_it_expires_then_refresh_renews_it(
    sn: Instance,
) -> None:
    sn.emulator.token_lifetime = 60
    first = await person_token(sn)
    sn.clock.tick(59)
    assert await sn.who(first["access_token"]) == "carol.diaz"
    sn.clock.tick(1)
    assert await sn.who(first["access_token"]) == 401
    renewed = (
        await sn.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    ).json()
    assert renewed["refresh_token"] == first["refresh_token"]  # ServiceNow's documented default
    assert await sn.who(renewed["access_token"]) == "carol.diaz"


async def test_rotating_refresh_tokens_retire_the_old_one_and_its_reuse_revokes_the_grant(
    sn: Instance,
) -> None:
    sn.emulator.rotate_refresh_tokens = True
    first = await person_token(sn)
    second = (
        await sn.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    ).json()
    assert second["refresh_token"] != first["refresh_token"]
    third = (
        await sn.token(grant_type="refresh_token", refresh_token=second["refresh_token"])
    ).json()
    assert await sn.who(third["access_token"]) == "carol.diaz"
    stale = await sn.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    sn.refused(stale, "used again")
    assert await sn.who(third["access_token"]) == 401
    sn.refused(
        await sn.token(grant_type="refresh_token", refresh_token=third["refresh_token"]),
        "revoked",
    )


async def test_an_expired_refresh_grant_is_the_documented_401(sn: Instance) -> None:
    sn.emulator.refresh_token_lifetime = 3600
    first = await person_token(sn)
    sn.clock.tick(3600)
    response = await sn.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    sn.refused(response, "expired refresh token")


async def test_revoke_ends_the_users_tokens_and_grants_but_not_others(sn: Instance) -> None:
    carol = await person_token(sn, "carol.diaz")
    bob = await person_token(sn, "bob.martin")
    assert sn.emulator.revoke("carol.diaz") == 1
    assert await sn.who(carol["access_token"]) == 401
    assert await sn.who(bob["access_token"]) == "bob.martin"
    response = await sn.token(grant_type="refresh_token", refresh_token=carol["refresh_token"])
    sn.refused(response, "revoked refresh token")
    again = await person_token(sn, "carol.diaz")  # a new consent works again
    assert await sn.who(again["access_token"]) == "carol.diaz"


async def test_a_deactivated_user_loses_her_tokens(sn: Instance) -> None:
    token = await person_token(sn, "alice.chen")
    sn.emulator.update("sys_user", sn.emulator.user_id("alice.chen"), {"active": "false"})
    assert await sn.who(token["access_token"]) == 401
    response = await sn.token(grant_type="refresh_token", refresh_token=token["refresh_token"])
    sn.refused(response, "cannot log in")


# -- the JWT bearer grant -----------------------------------------------------------------------


@pytest.fixture
def signer(sn: Instance) -> Signer:
    key = Signer()
    sn.emulator.register_jwt_key("sandbox-client", key.public_pem, key.kid)
    return key


async def jwt_grant(sn: Instance, assertion: str, **form: str) -> httpx.Response:
    return await sn.token(grant_type=JWT_BEARER, assertion=assertion, **form)


def at(sn: Instance, seconds: float = 0) -> float:
    return sn.clock.now.timestamp() + seconds


@pytest.mark.parametrize("sub", ["carol@example.com", "CAROL@example.com", "carol.diaz"])
async def test_a_signed_assertion_gives_a_token_acting_as_its_subject(
    sn: Instance, signer: Signer, sub: str
) -> None:
    response = await jwt_grant(sn, signer.assertion(sub, now=at(sn)))
    assert response.status_code == 200, sn.emulator.oauth_log
    body = response.json()
    assert "refresh_token" not in body
    assert body["expires_in"] == 1799
    assert await sn.who(body["access_token"]) == "carol.diaz"
    sn.clock.tick(1799)
    assert await sn.who(body["access_token"]) == 401


async def test_a_jwt_token_is_bound_by_the_users_acls(sn: Instance, signer: Signer) -> None:
    token = (await jwt_grant(sn, signer.assertion("alice@example.com", now=at(sn)))).json()
    approvals = await sn.http.get(
        "/api/now/table/sysapproval_approver",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert approvals.json()["result"] == []


async def test_a_jwt_without_kid_is_tried_against_every_key_of_the_client(sn: Instance) -> None:
    old, new = Signer("old", kid="old"), Signer("new", kid="new")
    sn.emulator.register_jwt_key("sandbox-client", old.public_pem, old.kid)
    sn.emulator.register_jwt_key("sandbox-client", new.public_pem, new.kid)
    bare = jwt.encode(
        {"iss": "sandbox-client", "aud": "sandbox-client", "sub": "bob.martin", "exp": at(sn, 60)},
        new.key,
        algorithm="RS256",
    )
    assert (await jwt_grant(sn, bare)).status_code == 200


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"aud": "someone-else"}, "invalid assertion"),
        ({"iss": "someone-else"}, "invalid assertion"),
        ({"aud": None}, "invalid assertion"),
        ({"lifetime": -31}, "expired assertion"),
        ({"exp": None}, "invalid assertion"),
        ({"nbf_in": 31}, "not valid yet"),
        ({"sub": "erin@example.com"}, "cannot log in"),
        ({"sub": "dave@example.com"}, "no user matches"),
        ({"sub": ""}, "no user matches"),
        ({"signer": "stranger"}, "bad JWT signature"),
        ({"kid": "unknown"}, "no JWT key"),
        ({"client": "other"}, "no JWT key"),
    ],
)
async def test_a_bad_assertion_is_the_documented_401(
    sn: Instance, signer: Signer, change: dict[str, Any], reason: str
) -> None:
    sn.emulator.oauth_clients["other"] = OAuthClient("other", "sandbox-secret")
    key = Signer(change.pop("signer", signer.name), kid=change.pop("kid", signer.kid))
    client_id = change.pop("client", "sandbox-client")
    lifetime = change.pop("lifetime", 300)
    nbf_in = change.pop("nbf_in", 0)
    sub = change.pop("sub", "carol@example.com")
    claims = {"nbf": int(at(sn, nbf_in)), **change}
    if client_id != "sandbox-client":
        claims.update(iss="sandbox-client", aud="sandbox-client")
    assertion = key.assertion(sub, now=at(sn), lifetime=lifetime, **claims)
    response = await jwt_grant(sn, assertion, client_id=client_id)
    sn.refused(response, reason)


async def test_small_clock_skew_is_forgiven(sn: Instance, signer: Signer) -> None:
    early = signer.assertion("carol.diaz", now=at(sn, 20))  # minted on a clock 20 s ahead
    assert (await jwt_grant(sn, early)).status_code == 200
    late = signer.assertion("carol.diaz", now=at(sn, -300), lifetime=290)  # expired 10 s ago
    assert (await jwt_grant(sn, late)).status_code == 200


async def test_an_assertion_cannot_be_replayed(sn: Instance, signer: Signer) -> None:
    assertion = signer.assertion("carol.diaz", now=at(sn))
    assert (await jwt_grant(sn, assertion)).status_code == 200
    sn.refused(await jwt_grant(sn, assertion), "replayed")


async def test_hs256_signed_with_the_client_secret_is_refused(sn: Instance, signer: Signer) -> None:
    claims = {"iss": "sandbox-client", "aud": "sandbox-client", "sub": "carol.diaz"}
    forged = jwt.encode({**claims, "exp": at(sn, 60)}, "sandbox-secret" * 3, algorithm="HS256")
    sn.refused(await jwt_grant(sn, forged), "not RS256")
    sn.refused(await jwt_grant(sn, "not.a.jwt"), "malformed")


async def test_the_jwt_grant_checks_the_client_secret(sn: Instance, signer: Signer) -> None:
    assertion = signer.assertion("carol.diaz", now=at(sn))
    response = await sn.http.post(
        "/oauth_token.do",
        data={
            "grant_type": JWT_BEARER,
            "assertion": assertion,
            "client_id": "sandbox-client",
            "client_secret": "wrong",
        },
    )
    sn.refused(response, "client_secret")


def test_only_rsa_public_keys_for_known_clients_can_be_registered() -> None:
    emulator = Emulator()
    with pytest.raises(ValueError, match="no OAuth client"):
        emulator.register_jwt_key("nobody", Signer().public_pem, "k")
    with pytest.raises(ValueError):
        emulator.register_jwt_key("sandbox-client", "not a pem", "k")
