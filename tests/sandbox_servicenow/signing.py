"""An RSA key pair that signs JWT bearer assertions (RS256, PyJWT) for the emulator's tests."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@cache
def _private_key(name: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class Signer:
    """`Signer("a")` is the same key pair for the whole run (generated once per name)."""

    name: str = "default"
    kid: str = "key-1"

    @property
    def key(self) -> rsa.RSAPrivateKey:
        return _private_key(self.name)

    @property
    def public_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def assertion(
        self,
        sub: str,
        client_id: str = "sandbox-client",
        *,
        now: float | None = None,
        lifetime: int = 300,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A signed JWT: iss = aud = client_id, `sub`, iat/nbf now, exp now + lifetime, a jti."""
        issued = time.time() if now is None else now
        payload: dict[str, Any] = {
            "iss": client_id,
            "aud": client_id,
            "sub": sub,
            "iat": int(issued),
            "nbf": int(issued),
            "exp": int(issued) + lifetime,
            "jti": uuid.uuid4().hex,
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(
            payload, self.key, algorithm="RS256", headers={"kid": self.kid, **(headers or {})}
        )
