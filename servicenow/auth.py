"""httpx auth flows for ServiceNow: basic auth and OAuth 2.0 against ``<instance>/oauth_token.do``.

The token endpoint takes form-encoded bodies only and answers every failure with the same
``401 {"error":"server_error","error_description":"access_denied"}``; the real reason is only in the
instance's system log, so a refusal becomes one AuthError and is never retried in a loop.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

import httpx

from servicenow.errors import AuthError, UnavailableError, parse_error_body

__all__ = [
    "BasicAuth",
    "Grant",
    "OAuth2",
    "Token",
    "auth_from_credentials",
    "authorization_url",
    "exchange_code",
    "no_cookies",
]

BasicAuth = httpx.BasicAuth

Grant = Literal["password", "client_credentials", "refresh_token"]

DEFAULT_EXPIRES_IN = 1799.0


def no_cookies() -> http.cookiejar.CookieJar:
    """A cookie jar that refuses every cookie, so no ServiceNow session (JSESSIONID) is kept."""
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def _base(instance_url: str) -> str:
    url = instance_url.strip().rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"{instance_url!r} is not an http(s) URL")
    return url


@dataclass(frozen=True, slots=True)
class Token:
    """An OAuth access token; ``expires_at`` is a Unix time."""

    access_token: str
    expires_at: float
    refresh_token: str | None = None
    token_type: str = "Bearer"
    scope: str | None = None
    lifetime: float = DEFAULT_EXPIRES_IN

    @classmethod
    def from_response(
        cls, data: Mapping[str, object], *, now: float, previous_refresh_token: str | None = None
    ) -> Token:
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise AuthError("ServiceNow's token endpoint answered without an access_token")
        try:
            expires_in = float(str(data.get("expires_in", DEFAULT_EXPIRES_IN)))
        except ValueError:
            expires_in = DEFAULT_EXPIRES_IN
        refresh = data.get("refresh_token")
        scope = data.get("scope")
        token_type = data.get("token_type")
        return cls(
            access_token=access,
            expires_at=now + expires_in,
            refresh_token=refresh
            if isinstance(refresh, str) and refresh
            else previous_refresh_token,
            token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
            scope=scope if isinstance(scope, str) else None,
            lifetime=expires_in,
        )

    def lifetime_left(self, now: float) -> float:
        return self.expires_at - now


async def _token_request(
    http: httpx.AsyncClient,
    instance_url: str,
    form: Mapping[str, str],
    *,
    now: Callable[[], float] = time.time,
    previous_refresh_token: str | None = None,
) -> Token:
    """POST a grant to oauth_token.do (form-encoded) and read the token from the answer."""
    url = f"{_base(instance_url)}/oauth_token.do"
    grant = form.get("grant_type", "?")
    try:
        response = await http.post(url, data=dict(form), headers={"Accept": "application/json"})
    except httpx.TimeoutException as exc:
        raise UnavailableError(f"the OAuth token endpoint timed out ({grant} grant)") from exc
    except httpx.TransportError as exc:
        raise UnavailableError(
            f"could not reach the OAuth token endpoint ({type(exc).__name__}: {exc})"
        ) from exc
    if response.status_code in (400, 401, 403):
        message, detail = parse_error_body(response.content)
        reason = ", ".join(part for part in (message, detail) if part) or "no reason given"
        raise AuthError(
            f"ServiceNow refused the OAuth credentials ({grant} grant: {reason}); check the client "
            "id/secret, the user and password, and that the grant type is enabled on the instance",
            status=response.status_code,
        )
    if response.status_code >= 500 or response.status_code == 429:
        raise UnavailableError(
            f"the OAuth token endpoint answered {response.status_code}", status=response.status_code
        )
    if response.status_code != 200:
        raise AuthError(
            f"the OAuth token endpoint answered {response.status_code} ({grant} grant)",
            status=response.status_code,
        )
    try:
        data = json.loads(response.content)
    except ValueError as exc:
        raise AuthError("ServiceNow's token endpoint answered something that is not JSON") from exc
    if not isinstance(data, Mapping):
        raise AuthError("ServiceNow's token endpoint answered something that is not a JSON object")
    return Token.from_response(data, now=now(), previous_refresh_token=previous_refresh_token)


class OAuth2(httpx.Auth):
    """Bearer tokens from oauth_token.do, fetched lazily and renewed shortly before they expire.

    A 401 from the API renews the token once and replays the request once. Concurrent requests
    share one token fetch. Renewal uses the refresh_token grant when there is a refresh token and
    falls back to the original grant (password or client credentials) if that is refused.
    """

    requires_request_body = True

    def __init__(
        self,
        instance_url: str,
        *,
        client_id: str,
        client_secret: str,
        grant: Grant = "client_credentials",
        username: str | None = None,
        password: str | None = None,
        token: Token | None = None,
        refresh_token: str | None = None,
        refresh_margin: float = 60.0,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        on_token: Callable[[Token], None] | None = None,
    ) -> None:
        if grant == "password" and (not username or password is None):
            raise ValueError("the password grant needs a username and a password")
        if grant == "refresh_token" and not (refresh_token or (token and token.refresh_token)):
            raise ValueError("the refresh_token grant needs a refresh token")
        self.instance_url = _base(instance_url)
        self.client_id = client_id
        self._client_secret = client_secret
        self.grant: Grant = grant
        self._username = username
        self._password = password
        self._token = token
        if refresh_token and token is None:
            self._token = Token(access_token="", expires_at=0.0, refresh_token=refresh_token)
        self.refresh_margin = refresh_margin
        self._timeout = timeout
        self._transport = transport
        self._clock = clock
        self._on_token = on_token
        self._lock = asyncio.Lock()

    @property
    def token(self) -> Token | None:
        """The current token (None before the first request)."""
        token = self._token
        return token if token is not None and token.access_token else None

    def _due(self, token: Token | None) -> bool:
        """True when the token is missing, expired or inside its renewal margin.

        The margin is ``refresh_margin`` seconds, or the last tenth of a short-lived token's life.
        """
        if token is None or not token.access_token:
            return True
        margin = min(self.refresh_margin, token.lifetime / 10)
        return token.lifetime_left(self._clock()) <= margin

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("servicenow.auth.OAuth2 only works with httpx.AsyncClient")
        yield request  # pragma: no cover

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._valid_token()
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        response = yield request
        if response.status_code != 401:
            return
        token = await self._renew_after_401(token)
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        yield request

    async def _valid_token(self) -> Token:
        token = self._token
        if token is not None and not self._due(token):
            return token
        async with self._lock:
            token = self._token  # another request may have renewed it while we waited
            if token is not None and not self._due(token):
                return token
            return await self._obtain()

    async def _renew_after_401(self, rejected: Token) -> Token:
        async with self._lock:
            token = self._token
            if token is not None and token.access_token not in ("", rejected.access_token):
                return token  # another request renewed it already
            return await self._obtain()

    async def _obtain(self) -> Token:
        """Fetch a new token; call with the lock held."""
        previous = self._token
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self._timeout, cookies=no_cookies()
        ) as http:
            token: Token | None = None
            if previous is not None and previous.refresh_token:
                try:
                    token = await _token_request(
                        http,
                        self.instance_url,
                        self._form("refresh_token", previous.refresh_token),
                        now=self._clock,
                        previous_refresh_token=previous.refresh_token,
                    )
                except AuthError:
                    if self.grant == "refresh_token":
                        raise
            if token is None:
                token = await _token_request(
                    http, self.instance_url, self._form(self.grant, None), now=self._clock
                )
        self._token = token
        if self._on_token is not None:
            self._on_token(token)
        return token

    def _form(self, grant: Grant, refresh_token: str | None) -> dict[str, str]:
        form = {
            "grant_type": grant,
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        if grant == "refresh_token":
            assert refresh_token is not None
            form["refresh_token"] = refresh_token
        elif grant == "password":
            assert self._username is not None and self._password is not None
            form["username"] = self._username
            form["password"] = self._password
        return form


def authorization_url(
    instance_url: str,
    client_id: str,
    redirect_uri: str,
    state: str,
    *,
    code_challenge: str | None = None,
) -> str:
    """Where to send a person to grant access (authorization-code grant, optional PKCE S256)."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if code_challenge is not None:
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = "S256"
    return f"{_base(instance_url)}/oauth_auth.do?{urlencode(params)}"


async def exchange_code(
    http: httpx.AsyncClient,
    instance_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    *,
    code_verifier: str | None = None,
) -> Token:
    """Trade an authorization code for a token (its refresh token feeds ``OAuth2(grant="refresh_token")``)."""
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "client_secret": client_secret,
        "code": code,
        "redirect_uri": redirect_uri,
    }
    if code_verifier is not None:
        form["code_verifier"] = code_verifier
    return await _token_request(http, instance_url, form)


def auth_from_credentials(
    instance_url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> httpx.Auth:
    """Pick the auth from what is configured.

    client id + secret + username: OAuth password grant; client id + secret alone: client
    credentials; username + password alone: basic auth.
    """
    if bool(client_id) != bool(client_secret):
        raise ValueError("set both the OAuth client id and the client secret, or neither")
    if username and password is None:
        raise ValueError("a ServiceNow username needs a password")
    if client_id and client_secret:
        if username:
            return OAuth2(
                instance_url,
                client_id=client_id,
                client_secret=client_secret,
                grant="password",
                username=username,
                password=password,
            )
        return OAuth2(
            instance_url,
            client_id=client_id,
            client_secret=client_secret,
            grant="client_credentials",
        )
    if username and password is not None:
        return httpx.BasicAuth(username, password)
    raise ValueError(
        "no ServiceNow credentials: set a username and password, or an OAuth client id and secret"
    )
