"""httpx auth flows for ServiceNow: basic auth and OAuth 2.0 against ``<instance>/oauth_token.do``.

The token endpoint takes form-encoded bodies only and answers every failure with the same
``401 {"error":"server_error","error_description":"access_denied"}``; the real reason is only in the
instance's system log, so a refusal becomes one AuthError and is never retried in a loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.cookiejar
import json
import secrets
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlencode

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from servicenow.errors import AuthError, GrantRefused, UnavailableError, parse_error_body

__all__ = [
    "JWT_BEARER",
    "BasicAuth",
    "Bearer",
    "Grant",
    "JwtBearer",
    "JwtSigner",
    "OAuth2",
    "Token",
    "auth_from_credentials",
    "authorization_url",
    "exchange_code",
    "generate_key_pair",
    "load_private_key",
    "no_cookies",
    "refresh_grant",
    "revoke_token",
    "self_signed_certificate",
]

BasicAuth = httpx.BasicAuth

Grant = Literal["password", "client_credentials", "refresh_token", "jwt_bearer"]
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"

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

    access_token: str = field(repr=False)
    expires_at: float
    refresh_token: str | None = field(default=None, repr=False)
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


@dataclass(frozen=True, slots=True)
class JwtSigner:
    """Mints the RS256 assertions of the JWT bearer grant for one OAuth client.

    ``iss`` and ``aud`` are the client id, ``sub`` the person (ServiceNow matches it against the
    sys_user field its JWT provider names, e-mail here), ``exp`` ``lifetime`` seconds on and a
    fresh ``jti`` each time (ServiceNow refuses a replayed one). ``kid`` names the key the admin
    registered, so ServiceNow knows which public key checks the signature.
    """

    private_key: rsa.RSAPrivateKey = field(repr=False)
    key_id: str
    client_id: str
    lifetime: float = 300.0

    @classmethod
    def from_pem(
        cls, pem: str | bytes, *, key_id: str, client_id: str, lifetime: float = 300.0
    ) -> JwtSigner:
        return cls(load_private_key(pem), key_id, client_id, lifetime)

    def assertion(self, subject: str, now: float) -> str:
        issued = int(now)
        claims = {
            "iss": self.client_id,
            "aud": self.client_id,
            "sub": subject,
            "iat": issued,
            "exp": issued + int(self.lifetime),
            "jti": secrets.token_urlsafe(18),
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.key_id})


def load_private_key(source: str | bytes) -> rsa.RSAPrivateKey:
    """An RSA private key from a PEM (text or bytes) or from the path of a PEM file."""
    pem = source.encode() if isinstance(source, str) else source
    if b"-----BEGIN" not in pem:
        pem = Path(pem.decode().strip()).expanduser().read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the JWT key must be an RSA private key (RS256)")
    return key


def public_key_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key_id_of(key: rsa.RSAPrivateKey) -> str:
    """A stable id for the key pair: the first 16 hex digits of SHA-256 of its public key (DER)."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def self_signed_certificate(key: rsa.RSAPrivateKey, *, days: int = 3650) -> str:
    """The key's public half as a self-signed X.509 certificate (PEM): what ServiceNow's JWT
    verifier map references (a sys_certificate record)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "incident-bot JWT bearer grant")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def generate_key_pair(bits: int = 2048) -> tuple[str, str, str]:
    """A new RSA key pair for the JWT bearer grant: (private PEM, public PEM, key id)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return private, public_key_pem(key), key_id_of(key)


class JwtBearer(OAuth2):
    """One person's bearer tokens from the JWT bearer grant (no refresh token: a new assertion
    each time). Tokens are cached until shortly before they expire and concurrent requests share
    one exchange (OAuth2's lock). A refusal at the token endpoint is GrantRefused naming the
    person, so whoever explains it can tell it from the integration user's own sign-in failing.
    """

    def __init__(
        self,
        instance_url: str,
        *,
        signer: JwtSigner,
        client_secret: str,
        subject: str,
        refresh_margin: float = 60.0,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        on_token: Callable[[Token], None] | None = None,
    ) -> None:
        super().__init__(
            instance_url,
            client_id=signer.client_id,
            client_secret=client_secret,
            grant="jwt_bearer",
            refresh_margin=refresh_margin,
            timeout=timeout,
            transport=transport,
            clock=clock,
            on_token=on_token,
        )
        self.signer = signer
        self.subject = subject

    async def _obtain(self) -> Token:
        try:
            return await super()._obtain()
        except GrantRefused:
            raise
        except AuthError as exc:
            raise GrantRefused(
                self.subject,
                f"ServiceNow refused to let the bot act as {self.subject} (JWT bearer grant)",
                status=exc.status,
            ) from exc

    def _form(self, grant: Grant, refresh_token: str | None) -> dict[str, str]:
        return {
            "grant_type": JWT_BEARER,
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "assertion": self.signer.assertion(self.subject, self._clock()),
        }


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
    now: Callable[[], float] = time.time,
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
    return await _token_request(http, instance_url, form, now=now)


async def refresh_grant(
    http: httpx.AsyncClient,
    instance_url: str,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    *,
    now: Callable[[], float] = time.time,
) -> Token:
    """Trade a refresh token for a new access token (and, when the instance rotates them, a new
    refresh token; otherwise the old one is kept). A refusal (revoked, expired, rotated out) is
    AuthError: the person must grant access again."""
    form = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    return await _token_request(
        http, instance_url, form, now=now, previous_refresh_token=refresh_token
    )


async def revoke_token(http: httpx.AsyncClient, instance_url: str, token: str) -> bool:
    """Mark an access or refresh token expired at the instance (``/oauth_revoke_token.do?token=``,
    documented to need no authentication). True when the instance said 2xx; never raises for an
    answer, since forgetting the token locally must not depend on it."""
    url = f"{_base(instance_url)}/oauth_revoke_token.do"
    try:
        response = await http.post(url, params={"token": token})
    except httpx.HTTPError:
        return False
    return response.is_success


class Bearer(httpx.Auth):
    """One fixed bearer token (a token just obtained, before it is stored); never in a repr."""

    def __init__(self, access_token: str) -> None:
        self._access_token = access_token

    def __repr__(self) -> str:
        return "Bearer(***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._access_token}"
        yield request


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
