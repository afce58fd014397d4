"""Bearer-token authentication: tokens of the configured OpenID Connect issuer (RS256/ES256, the
tenant, roles and groups read from configurable claims), API clients' tokens (ES256, issued by
the learner service: ``ilrflow.platform.client_tokens``) and, in development mode only, HS256
tokens signed with the shared ``ILRFLOW_JWT_SECRET``.

An API client's token (role ``integrator``) is refused (403) by every route unless the route
names a scope the token carries: ``roles_allowed(..., scope=...)`` or ``scope_allowed(...)``.

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
from ilrflow.platform.client_tokens import AUDIENCE, integrator_claims
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
    "scope_allowed",
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

    def __init__(
        self,
        settings: Settings,
        oidc: OidcVerifier | None = None,
        clients: OidcVerifier | None = None,
    ) -> None:
        self.settings = settings
        if oidc is None and settings.oidc_issuer:
            oidc = OidcVerifier(OidcConfig.from_settings(settings))
        self.oidc = oidc
        if clients is None and settings.client_token_issuer:
            clients = OidcVerifier(client_token_config(settings))
        self.clients = clients

    async def principal(self, token: str) -> Principal:
        if self.clients is not None and _issuer(token) == self.clients.config.issuer:
            return _principal(integrator_claims(await self._oidc_claims(self.clients, token)))
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


def client_token_config(settings: Settings) -> OidcConfig:
    """API clients' tokens are verified like an OpenID Connect provider's: the learner service
    publishes the discovery document and the keys at the issuer URL."""
    return OidcConfig(
        issuer=settings.client_token_issuer.rstrip("/"),
        audience=AUDIENCE,
        leeway_seconds=settings.oidc_leeway_seconds,
        jwks_ttl_seconds=settings.oidc_jwks_ttl_seconds,
        jwks_min_refresh_seconds=settings.oidc_jwks_min_refresh_seconds,
    )


def _issuer(token: str) -> object:
    """The issuer a token claims, before any check: it picks the keys that must verify it."""
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.DecodeError as error:
        raise ApiError(401, "invalid_token", f"The bearer token is not valid: {error}.") from error


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


async def any_caller(request: Request) -> Principal:
    """The caller, API clients included. The request middleware has usually verified the token
    already (to put the tenant on every log line); a token it could not verify is verified again
    here, to say why."""
    verified: Principal | None = getattr(request.state, "principal", None)
    if verified is not None:
        return verified
    return await bearer_principal(request, _verifier(request))


def _refuse_api_client(scope: str | None) -> ApiError:
    if scope is None:
        return ApiError(403, "forbidden", "API clients may not call this operation.")
    return ApiError(403, "forbidden", f"This needs an API client with the scope {scope}.")


async def current_principal(caller: Annotated[Principal, Depends(any_caller)]) -> Principal:
    """The caller, a person: an API client is refused here, as on every route that names no
    scope."""
    if caller.is_integrator:
        raise _refuse_api_client(None)
    return caller


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


def roles_allowed(*roles: str, scope: str | None = None) -> Any:
    """The caller, as a dependency that refuses with 403 unless they hold one of ``roles`` (an API
    client: unless its token carries ``scope``).

    Declared as a parameter (``principal: Annotated[Principal, roles_allowed("admin")]``) it runs
    while FastAPI resolves dependencies, before the body and the query are validated: a caller
    without permission gets 403 for any body, never a 422 that describes what the body lacks."""

    def allowed(principal: Annotated[Principal, Depends(any_caller)]) -> Principal:
        if principal.is_integrator:
            if scope is None or not principal.has_scope(scope):
                raise _refuse_api_client(scope)
        elif not principal.has_role(*roles):
            raise ApiError(403, "forbidden", f"This needs one of the roles: {', '.join(roles)}.")
        return principal

    return Depends(allowed)


def scope_allowed(scope: str) -> Any:
    """The caller, as a dependency for a route any person may call (the use case decides what
    they see) and an API client only with ``scope``."""

    def allowed(principal: Annotated[Principal, Depends(any_caller)]) -> Principal:
        if principal.is_integrator and not principal.has_scope(scope):
            raise _refuse_api_client(scope)
        return principal

    return Depends(allowed)
