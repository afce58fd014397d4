"""API clients: a tenant's integrations, each with an id, a secret (kept only as a hash) and the
scopes it was granted. The rules for issuing a token by client credentials live here, without
I/O; the secret hash is the standard library's scrypt, compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from ilrflow.contracts.identity import SCOPES

CLIENT_ID_PREFIX = "cli_"
# scrypt's cost: about 16 MiB and tens of milliseconds per check. The secrets are 256 random
# bits, so the hash guards a leaked database, not a guessable password.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
HASH_SCHEME = "scrypt"

Refusal = Literal["bad_secret", "revoked", "scope_not_granted"]


@dataclass(frozen=True)
class ApiClient:
    id: str
    tenant: str
    name: str
    scopes: tuple[str, ...]
    secret_hash: str
    created_at: datetime
    created_by: str
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None
    last_token_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def rotated(self, secret_hash: str, now: datetime) -> ApiClient:
        return replace(self, secret_hash=secret_hash, rotated_at=now)

    def revoked_now(self, now: datetime) -> ApiClient:
        return replace(self, revoked_at=self.revoked_at or now)


@dataclass(frozen=True)
class Granted:
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Refused:
    reason: Refusal


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + secrets.token_hex(8)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = _scrypt(secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(
        [HASH_SCHEME, str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


def secret_matches(secret: str, stored: str) -> bool:
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != HASH_SCHEME:
        return False
    found = _scrypt(secret, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(found, base64.b64decode(digest))


def unknown_scopes(scopes: list[str]) -> list[str]:
    return sorted(set(scopes) - set(SCOPES))


def decide_token(client: ApiClient, secret: str, requested: list[str] | None) -> Granted | Refused:
    """May this client have a token, and with which scopes? The secret is checked first, so
    that a caller without it learns nothing of the client's state or scopes. No scope requested
    means every scope granted (RFC 6749 §3.3 lets the server choose the default)."""
    if not secret_matches(secret, client.secret_hash):
        return Refused("bad_secret")
    if client.revoked:
        return Refused("revoked")
    if requested is None:
        return Granted(client.scopes)
    if not set(requested) <= set(client.scopes):
        return Refused("scope_not_granted")
    return Granted(tuple(scope for scope in client.scopes if scope in requested))


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
