"""Bearer-token authentication: HS256 JWTs carrying subject, tenant, roles and groups.

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
from ilrflow.platform.settings import Settings, get_settings

__all__ = [
    "ROLES",
    "STAFF_ROLES",
    "CurrentPrincipal",
    "Principal",
    "Role",
    "current_principal",
    "decode_token",
    "mint_token",
    "roles_allowed",
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
    try:
        return Principal.model_validate(claims)
    except ValidationError as error:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in error.errors()})
        raise ApiError(
            401, "invalid_token", f"The bearer token lacks valid claims: {', '.join(fields)}."
        ) from error


def current_principal(request: Request) -> Principal:
    """The caller. The request middleware has usually verified the token already (to put the
    tenant on every log line); a token it could not verify is decoded again here, to say why."""
    verified: Principal | None = getattr(request.state, "principal", None)
    if verified is not None:
        return verified
    return bearer_principal(request, get_settings())


def bearer_principal(request: Request, settings: Settings) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthenticated", "Send a bearer token in the Authorization header.")
    return decode_token(settings, token.strip())


def verify_once(request: Request, settings: Settings) -> Principal | None:
    """Verify the request's bearer token once and keep the principal on the request for
    :func:`current_principal`; None (and nothing kept) when there is no valid token."""
    try:
        principal = bearer_principal(request, settings)
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
