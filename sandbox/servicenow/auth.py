"""Who may call: passwords (basic auth and the password grant), OAuth clients, tokens and grants.

`/oauth_token.do` grants (form-encoded; servicenow-notes.md §5):

- `password`, `client_credentials` (runs as the client's application user).
- `authorization_code`: the code comes from `/oauth_auth.do` (the consent page, app.py) or from
  `issue_auth_code`. Codes are single use (a second use is refused; the first one's tokens stay),
  live `auth_code_lifetime` seconds, and are bound to the client and to the `redirect_uri` given at
  `/oauth_auth.do`. PKCE: when the page was given `code_challenge` (method `S256`), the token
  request must bring the `code_verifier` whose BASE64URL(SHA-256) it is. A public client (no
  secret) must use PKCE.
- `refresh_token`: the grant lives `refresh_token_lifetime` seconds from when it was first given.
  ServiceNow documents returning the *current* refresh token; with `rotate_refresh_tokens` on,
  each use answers a new one instead and the old one stops working (presenting it again revokes
  the whole grant, as OAuth 2.1 advises).
- `/oauth_revoke_token.do?token=…` (no authentication, as documented: "The token in this request
  is marked as expired"): an access token ends; a refresh token ends its grant.
- `urn:ietf:params:oauth:grant-type:jwt-bearer`: the JWT in `assertion`, signed RS256 with a
  key the admin registered for the client (`register_jwt_key(client_id, pem, kid)`; the JWT's `kid`
  header picks it, or every key of the client is tried when it has none). Checked: signature,
  `aud` and `iss` equal to the client id, `exp` (required) and `nbf`/`iat` against the emulator's
  clock with `jwt_leeway` seconds of skew, `jti` not seen before (when present), and `sub` names
  an active, unlocked user by e-mail (case-insensitive) or user_name. No refresh token.

Every failure answers the one documented body, 401 `{"error_description": "access_denied",
"error": "server_error"}`; the real reason goes to `log` (ServiceNow's system log), for tests.
A token acts as its user until it expires, the user is deactivated, or `revoke(user)` is called.
The time is always passed in (`now`), so the emulator's clock stays the one clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from sandbox.servicenow.store import Record, RecordStore

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PKCE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    secret: str  # "" for a public client (it proves itself with PKCE instead)
    application_user: str | None = None  # client_credentials grant runs as this user
    redirect_uris: tuple[str, ...] = ()  # where /oauth_auth.do may send codes; empty: anywhere


@dataclass
class Grant:
    """What a person (or the password grant) allowed a client: the refresh-token family."""

    user_name: str
    client_id: str
    expires_at: datetime
    refresh_token: str = ""  # the current one
    revoked: bool = False


@dataclass
class Token:
    user_name: str
    client_id: str
    expires_at: datetime
    grant: Grant | None = None

    @property
    def refresh_token(self) -> str | None:
        return self.grant.refresh_token if self.grant is not None else None


@dataclass
class AuthCode:
    user_name: str
    client_id: str | None  # None: any client (the test hook without one)
    redirect_uri: str | None  # None: not bound
    code_challenge: str | None
    expires_at: datetime | None


@dataclass
class JwtKey:
    kid: str
    key: RSAPublicKey


class OAuthError(Exception):
    """Any token endpoint failure: always 401 access_denied/server_error on the wire."""


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier: BASE64URL(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class Auth:
    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self.token_lifetime = 1799
        self.refresh_token_lifetime = 8_640_000
        self.auth_code_lifetime = 60
        self.jwt_leeway = 30  # seconds of clock skew allowed on exp, nbf and iat
        self.rotate_refresh_tokens = False
        self.passwords: dict[str, str] = {}
        self.clients: dict[str, OAuthClient] = {}
        self.log: list[str] = []  # why each token request failed (ServiceNow's system log)
        self.pkce_verifiers: list[str] = []  # every code_verifier received (tests search for them)
        self._tokens: dict[str, Token] = {}
        self._refresh_tokens: dict[str, Grant] = {}
        self._codes: dict[str, AuthCode] = {}
        self._used_codes: dict[str, AuthCode] = {}
        self._jwt_keys: dict[str, list[JwtKey]] = {}
        self._seen_jti: dict[tuple[str, str], float] = {}

    # ----------------------------------------------------------------- users

    def check_password(self, user_name: str, password: str) -> bool:
        user = self.store.user(user_name)
        expected = self.passwords.get(user_name)
        return (
            user is not None
            and expected is not None
            and hmac.compare_digest(expected.encode(), password.encode())
            and _can_log_in(user)
        )

    def bearer_user(self, access_token: str, now: datetime) -> str | None:
        token = self._tokens.get(access_token)
        if token is None or now >= token.expires_at:
            return None
        if token.grant is not None and token.grant.revoked:
            return None
        user = self.store.user(token.user_name)
        return token.user_name if user is not None and _can_log_in(user) else None

    def revoke(self, user_name: str, client_id: str | None = None) -> int:
        """End every token and grant of `user_name` (for `client_id` only, if given)."""
        ended = 0
        for access, token in list(self._tokens.items()):
            if token.user_name == user_name and client_id in (None, token.client_id):
                del self._tokens[access]
                ended += 1
        for grant in self._refresh_tokens.values():
            if grant.user_name == user_name and client_id in (None, grant.client_id):
                grant.revoked = True
        return ended

    def revoke_token(self, token: str) -> bool:
        """`/oauth_revoke_token.do?token=`: an access token ends; a refresh token ends its whole
        grant (and the access tokens issued from it). False when the token is unknown."""
        if self._tokens.pop(token, None) is not None:
            return True
        grant = self._refresh_tokens.get(token)
        if grant is None:
            return False
        grant.revoked = True
        self.revoke_tokens_of(grant)
        return True

    # ------------------------------------------------------------ JWT keys

    def register_jwt_key(self, client_id: str, public_key_pem: str | bytes, kid: str) -> None:
        """Trust RS256 JWTs signed by this RSA public key (PEM) for `client_id`'s JWT grant."""
        if client_id not in self.clients:
            raise ValueError(f"no OAuth client {client_id!r}")
        pem = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
        key = load_pem_public_key(pem)
        if not isinstance(key, RSAPublicKey):
            raise ValueError("RS256 needs an RSA public key")
        keys = [k for k in self._jwt_keys.get(client_id, []) if k.kid != kid]
        self._jwt_keys[client_id] = [*keys, JwtKey(kid, key)]

    # ---------------------------------------------------------------- codes

    def issue_auth_code(
        self,
        user_name: str,
        client_id: str | None,
        now: datetime,
        *,
        redirect_uri: str | None = None,
        code_challenge: str | None = None,
    ) -> str:
        """A one-time authorization code for `user_name` (what the consent page's Allow gives)."""
        if self.store.user(user_name) is None:
            raise ValueError(f"no sys_user {user_name!r}")
        code = secrets.token_urlsafe(24)
        expires_at = now + timedelta(seconds=self.auth_code_lifetime)
        self._codes[code] = AuthCode(user_name, client_id, redirect_uri, code_challenge, expires_at)
        return code

    # --------------------------------------------------------------- grants

    def grant(self, form: Mapping[str, str], now: datetime) -> dict[str, Any]:
        """The `/oauth_token.do` answer for a form; raises OAuthError (and logs why) on failure."""
        try:
            return self._grant(form, now)
        except OAuthError as error:
            self.log.append(f"{form.get('grant_type', '')}: {error}")
            raise

    def _grant(self, form: Mapping[str, str], now: datetime) -> dict[str, Any]:
        grant_type = form.get("grant_type", "")
        client = self.clients.get(form.get("client_id", ""))
        if client is None:
            raise OAuthError("unknown client_id")
        if client.secret and not hmac.compare_digest(
            client.secret.encode(), form.get("client_secret", "").encode()
        ):
            raise OAuthError("wrong client_secret")
        if grant_type == "password":
            user_name = form.get("username", "")
            if not self.check_password(user_name, form.get("password", "")):
                raise OAuthError("wrong user name or password, or the user cannot log in")
            return self._issue(user_name, client, now, refresh=True, reuse=True)
        if grant_type == "client_credentials":
            if client.application_user is None or self.store.user(client.application_user) is None:
                raise OAuthError("no OAuth application user")
            return self._issue(client.application_user, client, now, refresh=False)
        if grant_type == "refresh_token":
            return self._refresh(form.get("refresh_token", ""), client, now)
        if grant_type == "authorization_code":
            return self._exchange_code(form, client, now)
        if grant_type == JWT_BEARER:
            user_name = self._jwt_subject(form.get("assertion", ""), client, now)
            return self._issue(user_name, client, now, refresh=False)
        raise OAuthError(f"unsupported grant_type {grant_type!r}")

    def _refresh(self, refresh: str, client: OAuthClient, now: datetime) -> dict[str, Any]:
        grant = self._refresh_tokens.get(refresh)
        if grant is None or grant.client_id != client.client_id:
            raise OAuthError("unknown refresh token")
        if grant.revoked:
            raise OAuthError("revoked refresh token")
        if now >= grant.expires_at:
            raise OAuthError("expired refresh token")
        if refresh != grant.refresh_token:
            grant.revoked = True
            self.revoke_tokens_of(grant)
            raise OAuthError("rotated-out refresh token used again: grant revoked")
        user = self.store.user(grant.user_name)
        if user is None or not _can_log_in(user):
            raise OAuthError("the user cannot log in")
        if self.rotate_refresh_tokens:
            grant.refresh_token = secrets.token_urlsafe(64)
            self._refresh_tokens[grant.refresh_token] = grant
        return self._token(grant.user_name, client, now, grant)

    def revoke_tokens_of(self, grant: Grant) -> None:
        for access, token in list(self._tokens.items()):
            if token.grant is grant:
                del self._tokens[access]

    def _exchange_code(
        self, form: Mapping[str, str], client: OAuthClient, now: datetime
    ) -> dict[str, Any]:
        value = form.get("code", "")
        code = self._codes.pop(value, None)
        if code is None:
            used = value in self._used_codes
            raise OAuthError(
                "authorization code used twice" if used else "unknown authorization code"
            )
        self._used_codes[value] = code
        if code.expires_at is not None and now >= code.expires_at:
            raise OAuthError("expired authorization code")
        if code.client_id not in (None, client.client_id):
            raise OAuthError("authorization code of another client")
        if code.redirect_uri is not None and form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError("redirect_uri differs from the one at /oauth_auth.do")
        if code.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            self.pkce_verifiers.append(verifier)
            if not PKCE_VERIFIER.fullmatch(verifier) or not hmac.compare_digest(
                s256(verifier), code.code_challenge
            ):
                raise OAuthError("code_verifier does not match the code_challenge")
        elif not client.secret:
            raise OAuthError("a public client must use PKCE")
        user = self.store.user(code.user_name)
        if user is None or not _can_log_in(user):
            raise OAuthError("the user cannot log in")
        return self._issue(code.user_name, client, now, refresh=True)

    def _issue(
        self,
        user_name: str,
        client: OAuthClient,
        now: datetime,
        *,
        refresh: bool,
        reuse: bool = False,
    ) -> dict[str, Any]:
        if reuse:  # "requests within the expiration time always return the current access token"
            for access, token in self._tokens.items():
                if (
                    token.user_name == user_name
                    and token.client_id == client.client_id
                    and token.grant is not None
                    and not token.grant.revoked
                    and now < token.expires_at
                ):
                    remaining = int((token.expires_at - now).total_seconds())
                    return _token_body(access, remaining, token.refresh_token)
        grant = None
        if refresh:
            expires_at = now + timedelta(seconds=self.refresh_token_lifetime)
            grant = Grant(user_name, client.client_id, expires_at, secrets.token_urlsafe(64))
            self._refresh_tokens[grant.refresh_token] = grant
        return self._token(user_name, client, now, grant)

    def _token(
        self, user_name: str, client: OAuthClient, now: datetime, grant: Grant | None
    ) -> dict[str, Any]:
        access = secrets.token_urlsafe(64)
        expires_at = now + timedelta(seconds=self.token_lifetime)
        self._tokens[access] = Token(user_name, client.client_id, expires_at, grant)
        return _token_body(access, self.token_lifetime, grant.refresh_token if grant else None)

    # ------------------------------------------------------------------ JWT

    def _jwt_subject(self, assertion: str, client: OAuthClient, now: datetime) -> str:
        """The user an RS256 JWT bearer assertion names, once every check has passed."""
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.InvalidTokenError as exc:
            raise OAuthError(f"malformed assertion: {exc}") from exc
        if header.get("alg") != "RS256":
            raise OAuthError(f"algorithm {header.get('alg')!r} is not RS256")
        keys = self._jwt_keys.get(client.client_id, [])
        kid = header.get("kid")
        candidates = [k for k in keys if k.kid == kid] if kid is not None else keys
        if not candidates:
            raise OAuthError(f"no JWT key {kid!r} registered for the client")
        claims: dict[str, Any] | None = None
        for candidate in candidates:
            try:
                claims = jwt.decode(
                    assertion,
                    candidate.key,
                    algorithms=["RS256"],
                    audience=client.client_id,
                    issuer=client.client_id,
                    # times are checked below against the emulator's clock, not the machine's
                    options={
                        "verify_exp": False,
                        "verify_nbf": False,
                        "verify_iat": False,
                        "require": ["exp", "sub", "aud", "iss"],
                    },
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidTokenError as exc:
                raise OAuthError(f"invalid assertion: {exc}") from exc
        if claims is None:
            raise OAuthError("bad JWT signature")
        moment = now.timestamp()
        exp = _number(claims, "exp")
        if exp is None or moment >= exp + self.jwt_leeway:
            raise OAuthError("expired assertion")
        nbf = _number(claims, "nbf")
        if nbf is not None and moment + self.jwt_leeway < nbf:
            raise OAuthError("assertion not valid yet (nbf)")
        iat = _number(claims, "iat")
        if iat is not None and moment + self.jwt_leeway < iat:
            raise OAuthError("assertion issued in the future (iat)")
        jti = claims.get("jti")
        if jti is not None:
            seen = (client.client_id, str(jti))
            self._seen_jti = {
                k: v for k, v in self._seen_jti.items() if v + self.jwt_leeway > moment
            }
            if seen in self._seen_jti:
                raise OAuthError("assertion replayed (jti seen before)")
            self._seen_jti[seen] = exp
        subject = str(claims.get("sub", "")).strip()
        for user in self.store.rows("sys_user"):
            if subject and (
                subject.casefold() == user["email"].casefold() or subject == user["user_name"]
            ):
                if not _can_log_in(user):
                    raise OAuthError(f"user {user['user_name']} cannot log in")
                return user["user_name"]
        raise OAuthError(f"no user matches sub {subject!r}")


def _can_log_in(user: Record) -> bool:
    return user["active"] == "true" and user["locked_out"] != "true"


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OAuthError(f"claim {name} is not a number")
    return float(value)


def _token_body(access: str, expires_in: int, refresh: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"scope": "useraccount", "token_type": "Bearer"}
    body["expires_in"] = expires_in
    if refresh:
        body["refresh_token"] = refresh
    body["access_token"] = access
    return body
