"""Bearer-token authentication: tokens of the configured OpenID Connect issuer (RS256/ES256, the
tenant, roles and groups read from configurable claims) and, in development mode only, HS256
tokens signed with the shared ``ILRFLOW_JWT_SECRET``.

The principal and the roles are contracts (``ilrflow.contracts.identity``); re-exported here so an
entrypoint has one import for who is calling.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from pydantic import ValidationError

from ilrflow.contracts.events import check_tenant_id
from ilrflow.contracts.identity import ROLES, STAFF_ROLES, Principal, Role
from ilrflow.platform.http_errors import ApiError
from ilrflow.platform.oidc import (
    ExpiredTokenError,
    InvalidTokenError,
    OidcConfig,
    OidcVerifier,
    SignInUnavailableError,
    claim_at,
)
from ilrflow.platform.settings import DEVELOPMENT_JWT_SECRET, Settings, get_settings

__all__ = [
    "ROLES",
    "STAFF_ROLES",
    "CurrentPrincipal",
    "Principal",
    "Role",
    "TokenVerifier",
    "current_principal",
    "decode_token",
    "mint_token",
    "roles_allowed",
    "sign_in_problems",
    "verify_once",
]


def mint_token(
    settings: Settings,
    *,
    tenant: str,
    sub: str,
    roles: list[str],
    groups: list[str] | None = None,
    ttl_seconds: int = 8 * 3600,
) -> str:
    """A signed token; ``ValueError`` if ``tenant`` is not a valid tenant id."""
    check_tenant_id(tenant)
    now = int(time.time())
    claims = {
        "sub": sub,
        "tenant": tenant,
        "roles": roles,
        "groups": groups or [],
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "iss": settings.jwt_issuer,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def decode_token(settings: Settings, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            issuer=settings.jwt_issuer,
            options={"require": ["sub", "exp", "iss"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise ApiError(401, "token_expired", "The bearer token has expired.") from error
    except jwt.InvalidTokenError as error:
        raise ApiError(401, "invalid_token", f"The bearer token is not valid: {error}.") from error
    return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    try:
        return Principal.model_validate(claims)
    except ValidationError as error:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in error.errors()})
        raise ApiError(
            401, "invalid_token", f"The bearer token lacks valid claims: {', '.join(fields)}."
        ) from error


class TokenVerifier:
    """Turns a bearer token into the caller: an OpenID Connect token when an issuer is set, an
    HS256 token in development mode. One per process: it caches the issuer's keys."""

    def __init__(self, settings: Settings, oidc: OidcVerifier | None = None) -> None:
        self.settings = settings
        if oidc is None and settings.oidc_issuer:
            oidc = OidcVerifier(OidcConfig.from_settings(settings))
        self.oidc = oidc

    async def principal(self, token: str) -> Principal:
        if _algorithm(token) == "HS256":
            if not self.settings.development:
                raise ApiError(
                    401,
                    "invalid_token",
                    "HS256 tokens are accepted in development mode only: sign in with the "
                    "OpenID Connect issuer.",
                )
            return decode_token(self.settings, token)
        if self.oidc is None:
            raise ApiError(
                401,
                "invalid_token",
                "The bearer token is not valid: no OpenID Connect issuer is configured, only "
                "HS256 development tokens are accepted.",
            )
        return self.oidc_principal(await self._oidc_claims(self.oidc, token))

    async def _oidc_claims(self, oidc: OidcVerifier, token: str) -> dict[str, Any]:
        try:
            return await oidc.claims(token)
        except ExpiredTokenError as error:
            raise ApiError(401, "token_expired", "The bearer token has expired.") from error
        except InvalidTokenError as error:
            raise ApiError(
                401, "invalid_token", f"The bearer token is not valid: {error}."
            ) from error
        except SignInUnavailableError as error:
            raise ApiError(
                503, "sign_in_unavailable", f"Tokens cannot be verified now: {error}."
            ) from error

    def oidc_principal(self, claims: dict[str, Any]) -> Principal:
        """The caller named by verified claims, read where the settings say; roles ilrflow does
        not know (a provider's own, such as ``offline_access``) are left out."""
        roles = _strings(claim_at(claims, self.settings.oidc_roles_claim))
        return _principal(
            {
                "sub": claims.get("sub"),
                "tenant": claim_at(claims, self.settings.oidc_tenant_claim),
                "roles": [role for role in roles if role in ROLES],
                "groups": _strings(claim_at(claims, self.settings.oidc_groups_claim)),
            }
        )


def _algorithm(token: str) -> object:
    try:
        return jwt.get_unverified_header(token).get("alg")
    except jwt.DecodeError as error:
        raise ApiError(401, "invalid_token", f"The bearer token is not valid: {error}.") from error


def _strings(value: Any) -> list[Any]:
    """A claim that may hold one value or a list of them, as a list (None: empty)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def sign_in_problems(settings: Settings) -> list[str]:
    """Why this configuration must not serve requests (empty: it may). Outside development mode
    the tokens must come from an OpenID Connect issuer."""
    problems = []
    if settings.oidc_issuer and not settings.oidc_audience:
        problems.append(
            "ILRFLOW_OIDC_ISSUER is set without ILRFLOW_OIDC_AUDIENCE: set the audience "
            "(aud) the issuer puts in tokens for ilrflow."
        )
    if settings.development:
        return problems
    if settings.web_dev_sign_in:
        problems.append(
            "ILRFLOW_WEB_DEV_SIGN_IN lets anyone sign in as anyone: it is for ILRFLOW_ENV="
            "development only."
        )
    if not settings.oidc_issuer:
        problems.append(
            "ILRFLOW_ENV=production needs an OpenID Connect issuer: set ILRFLOW_OIDC_ISSUER and "
            "ILRFLOW_OIDC_AUDIENCE (HS256 development tokens are refused outside development "
            "mode), or set ILRFLOW_ENV=development on a development machine."
        )
    if settings.jwt_secret == DEVELOPMENT_JWT_SECRET:
        problems.append(
            "ILRFLOW_ENV=production with the public development ILRFLOW_JWT_SECRET: set a "
            "secret of your own."
        )
    return problems


def _verifier(request: Request) -> TokenVerifier:
    """The app's verifier (the service runtime installs one); an app without one, such as a
    test's bare FastAPI app, verifies with a new one built from the process settings."""
    verifier = getattr(request.app.state, "token_verifier", None)
    return verifier if verifier is not None else TokenVerifier(get_settings())


async def current_principal(request: Request) -> Principal:
    """The caller. The request middleware has usually verified the token already (to put the
    tenant on every log line); a token it could not verify is verified again here, to say why."""
    verified: Principal | None = getattr(request.state, "principal", None)
    if verified is not None:
        return verified
    return await bearer_principal(request, _verifier(request))


async def bearer_principal(request: Request, verifier: TokenVerifier) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthenticated", "Send a bearer token in the Authorization header.")
    return await verifier.principal(token.strip())


async def verify_once(request: Request, verifier: TokenVerifier) -> Principal | None:
    """Verify the request's bearer token once and keep the principal on the request for
    :func:`current_principal`; None (and nothing kept) when there is no valid token."""
    try:
        principal = await bearer_principal(request, verifier)
    except ApiError:
        return None
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def roles_allowed(*roles: str) -> Any:
    """The caller, as a dependency that refuses with 403 unless they hold one of ``roles``.

    Declared as a parameter (``principal: Annotated[Principal, roles_allowed("admin")]``) it runs
    while FastAPI resolves dependencies, before the body and the query are validated: a caller
    without permission gets 403 for any body, never a 422 that describes what the body lacks."""

    def allowed(principal: CurrentPrincipal) -> Principal:
        if not principal.has_role(*roles):
            raise ApiError(403, "forbidden", f"This needs one of the roles: {', '.join(roles)}.")
        return principal

    return Depends(allowed)
