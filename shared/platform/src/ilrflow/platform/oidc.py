"""Verify bearer tokens of an OpenID Connect provider: its discovery document names its keys
(JWKS), which are cached and fetched again when they age or when a token names a key not yet
seen (the provider rotated its keys). Only RS256 and ES256 signatures are accepted: never
``none``, and never an HMAC whose secret would be a public key."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from ilrflow.platform.logging import get_logger
from ilrflow.platform.settings import Settings

ALGORITHMS = ("RS256", "ES256")
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]

log = get_logger(__name__)

FetchJson = Callable[[str], Awaitable[Any]]


class InvalidTokenError(Exception):
    """The token is not one of the issuer's, or not valid now; the message says why."""


class ExpiredTokenError(InvalidTokenError):
    pass


class SignInUnavailableError(Exception):
    """The issuer's keys could not be fetched, and none are cached."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    leeway_seconds: float = 30.0
    jwks_ttl_seconds: float = 300.0
    jwks_min_refresh_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig:
        return cls(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            leeway_seconds=settings.oidc_leeway_seconds,
            jwks_ttl_seconds=settings.oidc_jwks_ttl_seconds,
            jwks_min_refresh_seconds=settings.oidc_jwks_min_refresh_seconds,
        )

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


async def fetch_json(url: str) -> Any:
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.get(url, headers={"accept": "application/json"})
        response.raise_for_status()
        return response.json()


class OidcVerifier:
    """The issuer's signing keys, kept fresh, and the checks a token must pass."""

    def __init__(
        self,
        config: OidcConfig,
        fetch: FetchJson = fetch_json,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._jwks_uri: str | None = None
        self._fetched_at: float | None = None  # of the last attempt, successful or not
        self._last_error: str | None = None
        self._lock = asyncio.Lock()

    async def claims(self, token: str) -> dict[str, Any]:
        """The verified claims; ``InvalidTokenError`` (``ExpiredTokenError``) or ``SignInUnavailableError``."""
        header = _header(token)
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise InvalidTokenError(f"algorithm {algorithm!r} is not accepted (only RS256, ES256)")
        key = await self._key(header.get("kid"))
        if key.algorithm_name != algorithm:
            raise InvalidTokenError(
                f"the key is for {key.algorithm_name}, the token says {algorithm}"
            )
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway_seconds,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as error:
            raise ExpiredTokenError(str(error)) from error
        except jwt.InvalidTokenError as error:
            raise InvalidTokenError(str(error)) from error

    async def _key(self, kid: str | None) -> jwt.PyJWK:
        if self._due(self.config.jwks_ttl_seconds):
            await self._refresh(self._fetched_at)
        key = self._find(kid)
        if key is None and self._due(self.config.jwks_min_refresh_seconds):
            await self._refresh(self._fetched_at)  # a new key: the issuer rotated its keys
            key = self._find(kid)
        if key is None:
            if not self._keys:
                raise SignInUnavailableError(
                    f"the issuer's keys are unavailable: {self._last_error}"
                )
            raise InvalidTokenError(f"the issuer has no signing key {kid!r}")
        return key

    def _due(self, seconds: float) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= seconds

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    async def _refresh(self, seen: float | None) -> None:
        async with self._lock:
            if self._fetched_at != seen:
                return  # another request refreshed the keys while this one waited
            try:
                self._keys = await self._fetch_keys()
                self._last_error = None
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
                # The cached keys (if any) stay in use; the next try waits the minimum interval.
                self._last_error = f"{type(error).__name__}: {error}"
                log.warning("could not fetch the issuer's keys", error=self._last_error)
            finally:
                # Stamped when the attempt ends, not when it starts: a request arriving while
                # the keys are on their way must wait for them (the lock), not find none.
                self._fetched_at = self._clock()

    async def _fetch_keys(self) -> dict[str | None, jwt.PyJWK]:
        if self._jwks_uri is None:
            discovery = await self._fetch(self.config.discovery_url)
            if discovery["issuer"] != self.config.issuer:
                raise ValueError(
                    f"the discovery document is for issuer {discovery['issuer']!r}, "
                    f"not {self.config.issuer!r}"
                )
            self._jwks_uri = str(discovery["jwks_uri"])
        jwks = await self._fetch(self._jwks_uri)
        keys = signing_keys(jwks["keys"])
        log.info("fetched the issuer's keys", kids=sorted(str(kid) for kid in keys))
        return keys


def signing_keys(jwks: list[dict[str, Any]]) -> dict[str | None, jwt.PyJWK]:
    """The RS256 and ES256 signature keys of a JWKS by ``kid``; encryption keys, symmetric keys
    and algorithms not accepted here are left out."""
    keys: dict[str | None, jwt.PyJWK] = {}
    for jwk in jwks:
        if jwk.get("use", "sig") != "sig" or jwk.get("kty") not in ("RSA", "EC"):
            continue
        try:
            key = jwt.PyJWK(jwk)
        except jwt.PyJWKError:
            continue
        if key.algorithm_name in ALGORITHMS:
            keys[jwk.get("kid")] = key
    return keys


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.DecodeError as error:
        raise InvalidTokenError(str(error)) from error


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The claim named ``path``, else the claim at that dotted path (``realm_access.roles``), or
    None. The name is tried first: namespaced claims (``https://example.org/tenant``) hold dots."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
