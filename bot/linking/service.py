"""Account linking: each person connects their own ServiceNow account once (authorization code
grant with PKCE), and every read and write done for them then carries their own token.

- `connect_url(slack_user)`: the "Connect ServiceNow" link shown only to that person (App Home,
  refusals, `/incident connect`). It carries a short-lived Fernet token naming them, so the start
  page never trusts a bare user id in the query string.
- `start`: a fresh `state` (kept as its SHA-256) bound to that Slack user and to the browser
  (a cookie whose SHA-256 is stored), the PKCE verifier encrypted, 10 minutes to live; then on to
  ServiceNow's `/oauth_auth.do`.
- `finish`: the state is used once (one conditional UPDATE), the code is exchanged with the
  verifier, and ServiceNow is asked whom the token belongs to (`sys_id=javascript:gs.getUserID()`):
  the linked sys_user comes from the token, never from an e-mail.
- `token(slack_user)`: the person's access token, refreshed shortly before it expires or once
  after a 401, one refresh at a time across replicas (the account's row is locked while one
  replica refreshes; the others then read its new token). A refused refresh (revoked, expired)
  forgets the tokens and asks the person to connect again (`NotLinked`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.identity import Person
from bot.slack.explain import Refusal
from bot.slack.kit import Block, actions, link_button, section
from servicenow.auth import (
    Bearer,
    Token,
    authorization_url,
    exchange_code,
    no_cookies,
    refresh_grant,
    revoke_token,
)
from servicenow.client import ServiceNowClient
from servicenow.errors import AuthError
from storage import LinkedAccounts, StoredAccount

__all__ = [
    "CALLBACK_PATH",
    "CONNECT_ACTION",
    "CONNECT_PATH",
    "LinkProblem",
    "Linking",
    "NotLinked",
    "Vault",
    "connect_blocks",
]

CONNECT_PATH = "/servicenow/connect"
CALLBACK_PATH = "/servicenow/oauth/callback"
CONNECT_ACTION = "servicenow_connect"
USER_FIELDS = ("sys_id", "user_name", "name", "email")


class Vault:
    """Encryption at rest with keys from TOKEN_ENCRYPTION_KEYS: the first key encrypts, every key
    decrypts (cryptography's MultiFernet: AES-128-CBC + HMAC-SHA256, with a timestamp)."""

    def __init__(self, keys: str) -> None:
        fernets = [Fernet(key.strip()) for key in keys.split(",") if key.strip()]
        if not fernets:
            raise ValueError("no encryption key")
        self._fernet = MultiFernet(fernets)

    def __repr__(self) -> str:
        return "Vault(***)"

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode("ascii")

    def open(self, sealed: str, *, ttl: int | None = None) -> str:
        """The text back; InvalidToken when no key opens it (or it is older than `ttl` s)."""
        return self._fernet.decrypt(sealed.encode("ascii"), ttl=ttl).decode()

    def rotate(self, sealed: str) -> str:
        """The same text encrypted with the first key (re-encrypting after a key rotation)."""
        return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def connect_blocks(text: str, url: str, label: str = "Connect ServiceNow") -> tuple[Block, ...]:
    return (section(text), actions([link_button(label, CONNECT_ACTION, url)]))


class NotLinked(Refusal):
    """The person has not connected their ServiceNow account (or their grant ended): nothing was
    sent to ServiceNow for them. `blocks` carry the "Connect ServiceNow" button."""

    def __init__(self, connect_url: str, *, reconnect: bool = False) -> None:
        if reconnect:
            text = (
                ":link: Your ServiceNow connection has ended (it was revoked or expired), so "
                "nothing was changed. Connect your ServiceNow account again, then try again."
            )
        else:
            text = (
                ":link: I act in ServiceNow as you, with your own account: connect it first "
                "(once, with the button), then try again. Nothing was changed."
            )
        super().__init__(text)
        self.connect_url = connect_url
        self.reconnect = reconnect

    @property
    def blocks(self) -> tuple[Block, ...]:
        label = "Reconnect ServiceNow" if self.reconnect else "Connect ServiceNow"
        return connect_blocks(str(self), self.connect_url, label)


class LinkProblem(Exception):
    """The connect flow can't go on; the message is for the person, on a web page."""

    def __init__(self, title: str, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.title = title
        self.text = text
        self.status = status


@dataclass
class _Cached:
    access_token: str = field(repr=False)
    expires_at: float


@dataclass(frozen=True)
class Started:
    authorize_url: str
    browser: str = field(repr=False)  # the cookie's value


class Linking:
    def __init__(
        self,
        accounts: LinkedAccounts,
        vault: Vault,
        *,
        instance_url: str,
        client_id: str,
        client_secret: str,
        public_url: str,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        link_ttl: int = 900,
        state_ttl: int = 600,
        refresh_margin: float = 60.0,
    ) -> None:
        self.accounts = accounts
        self._vault = vault
        self.instance_url = instance_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.public_url = public_url.rstrip("/")
        self._timeout = timeout
        self._transport = transport
        self._clock = clock
        self.link_ttl = link_ttl
        self.state_ttl = state_ttl
        self.refresh_margin = refresh_margin
        self._cache: dict[str, _Cached] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.refreshes = 0  # refresh grants this replica made (for tests and /metrics)

    def __repr__(self) -> str:
        return f"Linking({self.instance_url!r}, client_id={self.client_id!r})"

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}{CALLBACK_PATH}"

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self._transport, timeout=self._timeout, cookies=no_cookies()
        )

    # -- connecting --------------------------------------------------------------------------------

    def connect_url(self, slack_user_id: str) -> str:
        """The person's own "Connect ServiceNow" link (valid `link_ttl` seconds)."""
        ticket = self._vault.seal(json.dumps({"u": slack_user_id, "n": secrets.token_hex(8)}))
        return f"{self.public_url}{CONNECT_PATH}?{urlencode({'t': ticket})}"

    async def start(self, ticket: str) -> Started:
        """A new state for the Slack user the ticket names, bound to this browser; where to go."""
        try:
            claims: Any = json.loads(self._vault.open(ticket, ttl=self.link_ttl))
            slack_user_id = str(claims["u"])
        except (InvalidToken, ValueError, KeyError, TypeError):
            raise LinkProblem(
                "This link has expired",
                "This Connect ServiceNow link is too old or not valid. Ask for a new one: open "
                "the bot's Home tab in Slack, or type /incident connect.",
            ) from None
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]: RFC 7636 §4.1
        browser = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + timedelta(seconds=self.state_ttl)
        await self.accounts.add_state(
            digest(state), slack_user_id, digest(browser), self._vault.seal(verifier), expires
        )
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        url = authorization_url(
            self.instance_url,
            self.client_id,
            self.redirect_uri,
            state,
            code_challenge=challenge.rstrip(b"=").decode("ascii"),
        )
        return Started(url, browser)

    async def finish(
        self, state: str, code: str, browser: str, servicenow: ServiceNowClient
    ) -> StoredAccount:
        """Use the state once, trade the code, ask whose token it is, and link that account."""
        taken = await self.accounts.take_state(digest(state), digest(browser))
        if isinstance(taken, str):
            raise LinkProblem(*_STATE_PROBLEMS[taken])
        try:
            verifier = self._vault.open(taken.verifier)
        except InvalidToken:
            raise LinkProblem(*_STATE_PROBLEMS["unknown"]) from None
        async with self._http() as http:
            try:
                token = await exchange_code(
                    http,
                    self.instance_url,
                    self.client_id,
                    self._client_secret,
                    code,
                    self.redirect_uri,
                    code_verifier=verifier,
                    now=self._clock,
                )
            except AuthError:
                raise LinkProblem(
                    "ServiceNow refused",
                    "ServiceNow did not accept the sign-in (the code may have expired). "
                    "Please start again from Slack.",
                    401,
                ) from None
        user = await servicenow.acting_as(Bearer(token.access_token)).current_user(USER_FIELDS)
        account = await self.accounts.link(
            taken.slack_user_id,
            sys_user_id=user.get("sys_id", ""),
            user_name=user.get("user_name", ""),
            display_name=user.get("name", "") or user.get("user_name", ""),
            email=user.get("email", ""),
            access_token=self._vault.seal(token.access_token),
            refresh_token=self._vault.seal(token.refresh_token or ""),
            expires_at=_moment(token.expires_at),
        )
        self._cache[taken.slack_user_id] = _Cached(token.access_token, token.expires_at)
        return account

    async def decline(self, state: str, browser: str) -> None:
        """The person said no at ServiceNow: use the state up, so it can never be replayed."""
        await self.accounts.take_state(digest(state), digest(browser))

    async def disconnect(self, slack_user_id: str) -> StoredAccount | None:
        """Forget the person's tokens (after asking ServiceNow to end them; forgotten either way)."""
        self._cache.pop(slack_user_id, None)
        account = await self.accounts.forget(slack_user_id)
        if account is None:
            return None
        async with self._http() as http:
            for sealed in (account.refresh_token, account.access_token):
                try:
                    token = self._vault.open(sealed)
                except InvalidToken:
                    continue
                if token:
                    await revoke_token(http, self.instance_url, token)
        return account

    # -- who, and their token ----------------------------------------------------------------------

    async def person(self, slack_user_id: str) -> Person | None:
        """The linked ServiceNow user behind a Slack user (None: not linked)."""
        account = await self.accounts.get(slack_user_id)
        if account is None:
            return None
        return Person(slack_user_id, account.sys_user_id, account.display_name, account.email)

    async def slack_user(self, sys_user_id: str) -> str | None:
        """The Slack user who linked this ServiceNow account, if anyone did."""
        account = await self.accounts.by_sys_user(sys_user_id)
        return account.slack_user_id if account is not None else None

    def _due(self, expires_at: float, rejected: str | None, access: str) -> bool:
        return access == rejected or expires_at - self._clock() <= self.refresh_margin

    async def token(self, slack_user_id: str, rejected: str | None = None) -> str:
        """The person's valid access token (`rejected`: the one ServiceNow just answered 401 to).

        NotLinked when they never connected, or their grant was refused on refresh."""
        cached = self._cache.get(slack_user_id)
        if cached and not self._due(cached.expires_at, rejected, cached.access_token):
            return cached.access_token
        async with self._locks.setdefault(slack_user_id, asyncio.Lock()):
            cached = self._cache.get(slack_user_id)
            if cached and not self._due(cached.expires_at, rejected, cached.access_token):
                return cached.access_token
            stored = await self.accounts.get(slack_user_id)
            if stored is None:
                raise NotLinked(self.connect_url(slack_user_id))
            access = self._open(stored.access_token)
            expires = stored.expires_at.timestamp()
            if access and not self._due(expires, rejected, access):
                self._cache[slack_user_id] = _Cached(access, expires)
                return access
            fresh = await self._refresh(slack_user_id, rejected)
            self._cache[slack_user_id] = _Cached(fresh.access_token, fresh.expires_at)
            return fresh.access_token

    async def _refresh(self, slack_user_id: str, rejected: str | None) -> Token:
        """One refresh for the person across replicas: the row stays locked while it runs, and a
        replica that waited for the lock finds the winner's token and uses it."""
        ended = False
        async with self.accounts.locked(slack_user_id) as row:
            stored = row.account
            if stored is None:
                raise NotLinked(self.connect_url(slack_user_id))
            access = self._open(stored.access_token)
            expires = stored.expires_at.timestamp()
            if access and not self._due(expires, rejected, access):
                return Token(access, expires)  # another replica refreshed it meanwhile
            refresh = self._open(stored.refresh_token)
            token: Token | None = None
            if refresh:
                try:
                    async with self._http() as http:
                        token = await refresh_grant(
                            http,
                            self.instance_url,
                            self.client_id,
                            self._client_secret,
                            refresh,
                            now=self._clock,
                        )
                    self.refreshes += 1
                except AuthError:
                    token = None
            if token is None:
                await row.forget()
                ended = True
            else:
                row.store(
                    self._vault.seal(token.access_token),
                    self._vault.seal(token.refresh_token or refresh),
                    _moment(token.expires_at),
                )
        if ended or token is None:
            self._cache.pop(slack_user_id, None)
            raise NotLinked(self.connect_url(slack_user_id), reconnect=True)
        return token

    def _open(self, sealed: str) -> str:
        """A stored token decrypted; "" when no configured key opens it (a key was dropped too
        early): the person connects again rather than the bot failing."""
        try:
            return self._vault.open(sealed) if sealed else ""
        except InvalidToken:
            return ""

    def auth(self, slack_user_id: str) -> LinkedAuth:
        return LinkedAuth(self, slack_user_id)


class LinkedAuth(httpx.Auth):
    """httpx auth for one linked person: their token on every request, renewed once on a 401."""

    def __init__(self, linking: Linking, slack_user_id: str) -> None:
        self._linking = linking
        self.slack_user_id = slack_user_id

    def __repr__(self) -> str:
        return f"LinkedAuth({self.slack_user_id!r})"

    async def async_auth_flow(self, request: httpx.Request) -> Any:
        access = await self._linking.token(self.slack_user_id)
        request.headers["Authorization"] = f"Bearer {access}"
        response = yield request
        if response.status_code != 401:
            return
        access = await self._linking.token(self.slack_user_id, rejected=access)
        request.headers["Authorization"] = f"Bearer {access}"
        yield request


def _moment(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


_STATE_PROBLEMS: dict[str, tuple[str, str]] = {
    "unknown": (
        "Unknown link",
        "I don't know this sign-in (it may be from another bot). Please start again from Slack.",
    ),
    "used": (
        "Link already used",
        "This sign-in was already used once. Please start again from Slack.",
    ),
    "expired": (
        "Link expired",
        "This sign-in took too long (over 10 minutes). Please start again from Slack.",
    ),
    "other browser": (
        "Started somewhere else",
        "This sign-in was started by someone else, or in another browser, so I won't link it. "
        "Please start again from Slack, in this browser.",
    ),
}
