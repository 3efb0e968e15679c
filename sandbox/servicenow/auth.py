"""Who may call: passwords (basic auth and the password grant), OAuth clients, tokens and grants.

The time is always passed in (`now`), so the emulator's clock stays the one clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sandbox.servicenow.store import RecordStore

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    secret: str
    application_user: str | None = None  # client_credentials grant runs as this user


@dataclass
class Token:
    user_name: str
    client_id: str
    expires_at: datetime
    refresh_token: str | None = None


class OAuthError(Exception):
    """Any token endpoint failure: always 401 access_denied/server_error on the wire."""


class Auth:
    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self.token_lifetime = 1799
        self.refresh_token_lifetime = 8_640_000
        self.passwords: dict[str, str] = {}
        self.clients: dict[str, OAuthClient] = {}
        self._tokens: dict[str, Token] = {}
        self._refresh_tokens: dict[str, Token] = {}
        self._codes: dict[str, tuple[str, str | None]] = {}

    def check_password(self, user_name: str, password: str) -> bool:
        user = self.store.user(user_name)
        expected = self.passwords.get(user_name)
        return (
            user is not None
            and expected is not None
            and hmac.compare_digest(expected.encode(), password.encode())
            and user["active"] == "true"
            and user["locked_out"] != "true"
        )

    def bearer_user(self, access_token: str, now: datetime) -> str | None:
        token = self._tokens.get(access_token)
        if token is None or now >= token.expires_at:
            return None
        user = self.store.user(token.user_name)
        return token.user_name if user is not None and user["active"] == "true" else None

    def issue_auth_code(self, user_name: str, client_id: str | None = None) -> str:
        """A one-time authorization code for `user_name` (authorization_code grant helper)."""
        if self.store.user(user_name) is None:
            raise ValueError(f"no sys_user {user_name!r}")
        code = secrets.token_urlsafe(24)
        self._codes[code] = (user_name, client_id)
        return code

    def grant(self, form: Mapping[str, str], now: datetime) -> dict[str, Any]:
        """The `/oauth_token.do` answer for a form; raises OAuthError on any failure."""
        grant_type = form.get("grant_type", "")
        client = self.clients.get(form.get("client_id", ""))
        if client is None or not hmac.compare_digest(
            client.secret.encode(), form.get("client_secret", "").encode()
        ):
            raise OAuthError("bad client")
        if grant_type == "password":
            user_name = form.get("username", "")
            if not self.check_password(user_name, form.get("password", "")):
                raise OAuthError("bad user")
            return self._issue(user_name, client, now, refresh=True, reuse=True)
        if grant_type == "client_credentials":
            if client.application_user is None or self.store.user(client.application_user) is None:
                raise OAuthError("no application user")
            return self._issue(client.application_user, client, now, refresh=False)
        if grant_type == "refresh_token":
            refresh = form.get("refresh_token", "")
            token = self._refresh_tokens.get(refresh)
            if token is None or token.client_id != client.client_id:
                raise OAuthError("bad refresh token")
            if now >= token.expires_at:
                raise OAuthError("expired refresh token")
            return self._issue(token.user_name, client, now, refresh=False, keep_refresh=refresh)
        if grant_type == "authorization_code":
            code = self._codes.pop(form.get("code", ""), None)
            if code is None or code[1] not in (None, client.client_id):
                raise OAuthError("bad code")
            return self._issue(code[0], client, now, refresh=True)
        if grant_type == JWT_BEARER:
            user_name = self._jwt_subject(form.get("assertion", ""), client, now)
            return self._issue(user_name, client, now, refresh=False)
        raise OAuthError(f"unsupported grant {grant_type!r}")

    def _issue(
        self,
        user_name: str,
        client: OAuthClient,
        now: datetime,
        *,
        refresh: bool,
        reuse: bool = False,
        keep_refresh: str | None = None,
    ) -> dict[str, Any]:
        if reuse:  # "requests within the expiration time always return the current access token"
            for access, token in self._tokens.items():
                if (
                    token.user_name == user_name
                    and token.client_id == client.client_id
                    and token.refresh_token
                    and now < token.expires_at
                ):
                    remaining = int((token.expires_at - now).total_seconds())
                    return _token_body(access, remaining, token.refresh_token)
        access = secrets.token_urlsafe(64)
        refresh_token = keep_refresh
        if refresh:
            refresh_token = secrets.token_urlsafe(64)
            self._refresh_tokens[refresh_token] = Token(
                user_name,
                client.client_id,
                now + timedelta(seconds=self.refresh_token_lifetime),
            )
        self._tokens[access] = Token(
            user_name, client.client_id, now + timedelta(seconds=self.token_lifetime), refresh_token
        )
        return _token_body(access, self.token_lifetime, refresh_token)

    def _jwt_subject(self, assertion: str, client: OAuthClient, now: datetime) -> str:
        """HS256 JWT signed with the client secret; `sub` matched against e-mail or user_name."""
        try:
            header_b64, payload_b64, signature_b64 = assertion.split(".")
            header = json.loads(_b64decode(header_b64))
            payload = json.loads(_b64decode(payload_b64))
            signature = _b64decode(signature_b64)
        except (ValueError, json.JSONDecodeError) as exc:
            raise OAuthError("malformed assertion") from exc
        expected = hmac.new(
            client.secret.encode(), f"{header_b64}.{payload_b64}".encode(), hashlib.sha256
        ).digest()
        if header.get("alg") != "HS256" or not hmac.compare_digest(signature, expected):
            raise OAuthError("bad signature")
        if payload.get("iss") != client.client_id:
            raise OAuthError("bad issuer")
        if "exp" in payload and now.timestamp() >= float(payload["exp"]):
            raise OAuthError("expired assertion")
        subject = str(payload.get("sub", ""))
        for user in self.store.rows("sys_user"):
            if subject and subject.casefold() in (user["email"].casefold(), user["user_name"]):
                if user["active"] != "true":
                    break
                return user["user_name"]
        raise OAuthError("unknown subject")


def _token_body(access: str, expires_in: int, refresh: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"scope": "useraccount", "token_type": "Bearer"}
    body["expires_in"] = expires_in
    if refresh:
        body["refresh_token"] = refresh
    body["access_token"] = access
    return body


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
