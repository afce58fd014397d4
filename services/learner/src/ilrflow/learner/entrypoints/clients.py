"""API clients over HTTP: a tenant admin's endpoints (create, list, rotate, revoke), the OAuth2
token endpoint (client credentials, RFC 6749 §4.4) and the issuer's discovery document and keys,
which every service fetches to verify the tokens."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ilrflow.contracts.identity import Scope
from ilrflow.learner.domain.clients import ApiClient
from ilrflow.learner.service.clients import (
    ApiClientService,
    ClientCredentials,
    ClientWithSecret,
    TokenRefused,
)
from ilrflow.platform.auth import Principal, roles_allowed
from ilrflow.platform.client_tokens import (
    DISCOVERY_PATH,
    JWKS_PATH,
    TOKEN_PATH,
    ClientTokenSigner,
    discovery_document,
)
from ilrflow.platform.openapi import problem_responses
from ilrflow.platform.paging import DEFAULT_PAGE_SIZE, Cursor, Limit, Page, decode_cursor, page_of

router = APIRouter(prefix="/v1", tags=["api clients"])
issuer_router = APIRouter(tags=["api clients"])
CLIENT_ADMINS = ("admin", "operator")


def get_service(request: Request) -> ApiClientService:
    service: ApiClientService = request.app.state.api_client_service
    return service


def get_credentials(request: Request) -> ClientCredentials | None:
    """None where no signing key is configured (production without ILRFLOW_CLIENT_TOKEN_KEY)."""
    credentials: ClientCredentials | None = request.app.state.client_credentials
    return credentials


Service = Annotated[ApiClientService, Depends(get_service)]
Grant = Annotated[ClientCredentials | None, Depends(get_credentials)]
ClientAdmin = Annotated[Principal, roles_allowed(*CLIENT_ADMINS)]


class ApiClientIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="What the integration is.")
    scopes: list[Scope] = Field(min_length=1, description="What its tokens may do.")


class ApiClientView(BaseModel):
    id: str = Field(description="The client id (client_id at the token endpoint).")
    name: str
    scopes: list[str]
    created_at: datetime
    created_by: str
    rotated_at: datetime | None
    revoked_at: datetime | None
    last_token_at: datetime | None = Field(description="When it last got a token.")

    @classmethod
    def of(cls, client: ApiClient) -> ApiClientView:
        return cls(
            id=client.id,
            name=client.name,
            scopes=list(client.scopes),
            created_at=client.created_at,
            created_by=client.created_by,
            rotated_at=client.rotated_at,
            revoked_at=client.revoked_at,
            last_token_at=client.last_token_at,
        )


class ApiClientSecret(ApiClientView):
    secret: str = Field(description="The client secret: shown this once, stored only as a hash.")

    @classmethod
    def with_secret(cls, created: ClientWithSecret) -> ApiClientSecret:
        view = ApiClientView.of(created.client).model_dump()
        return cls(**view, secret=created.secret)


class ApiClientPage(Page[ApiClientView]):
    """API clients by id."""


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str


class OAuthError(BaseModel):
    """An OAuth2 error response (RFC 6749 §5.2)."""

    error: str = Field(
        description="invalid_client, invalid_scope, unsupported_grant_type or "
        "unauthorized_client (this deployment issues no API client tokens)"
    )
    error_description: str


@router.post(
    "/clients",
    status_code=201,
    response_model=ApiClientSecret,
    responses=problem_responses(403),
    summary="Create an API client of the caller's tenant; its secret is shown this once",
)
async def create_client(
    body: ApiClientIn, principal: ClientAdmin, service: Service
) -> ApiClientSecret:
    created = await service.create(principal, principal.tenant, body.name, list(body.scopes))
    return ApiClientSecret.with_secret(created)


@router.get(
    "/clients",
    response_model=ApiClientPage,
    responses=problem_responses(403),
    summary="The tenant's API clients, by id (revoked ones too)",
)
async def list_clients(
    principal: ClientAdmin,
    service: Service,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> ApiClientPage:
    after = decode_cursor(cursor, (str,))
    found = await service.list_clients(
        principal.tenant, None if after is None else str(after[0]), limit + 1
    )
    views = [ApiClientView.of(client) for client in found]
    return page_of(ApiClientPage, views, limit, lambda view: (view.id,))


@router.post(
    "/clients/{client_id}/rotate",
    response_model=ApiClientSecret,
    responses=problem_responses(403),
    summary="A new secret for the client (shown this once); the old one stops working at once",
)
async def rotate_client(
    client_id: str, principal: ClientAdmin, service: Service
) -> ApiClientSecret:
    return ApiClientSecret.with_secret(await service.rotate(principal, principal.tenant, client_id))


@router.post(
    "/clients/{client_id}/revoke",
    response_model=ApiClientView,
    responses=problem_responses(403),
    summary="Revoke the client: it gets no more tokens (those issued expire within minutes)",
)
async def revoke_client(client_id: str, principal: ClientAdmin, service: Service) -> ApiClientView:
    return ApiClientView.of(await service.revoke(principal, principal.tenant, client_id))


_FORM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                        "scope": {"type": "string", "description": "Space-separated scopes."},
                    },
                }
            }
        },
    }
}


@router.post(
    TOKEN_PATH.removeprefix("/v1"),
    response_model=AccessToken,
    responses={400: {"model": OAuthError}, 401: {"model": OAuthError}},
    summary="An access token for an API client (OAuth2 client credentials; no bearer token)",
    openapi_extra=_FORM_BODY,
)
async def token(request: Request, grant: Grant) -> Any:
    if grant is None:
        return _oauth_error(
            400, "unauthorized_client", "This deployment issues no API client tokens."
        )
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    field = {name: values[0] for name, values in form.items() if len(values) == 1}
    if field.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "Use grant_type=client_credentials.")
    credentials = _basic_credentials(request) or (
        field.get("client_id"),
        field.get("client_secret"),
    )
    client_id, secret = credentials
    if not client_id or not secret:
        return _oauth_error(
            401, "invalid_client", "Send client_id and client_secret (form or HTTP Basic)."
        )
    scope = field.get("scope")
    outcome = await grant.token(client_id, secret, scope.split() if scope else None)
    if isinstance(outcome, TokenRefused):
        if outcome.reason == "scope_not_granted":
            return _oauth_error(400, "invalid_scope", "The client was not granted that scope.")
        return _oauth_error(401, "invalid_client", "Unknown client, wrong secret or revoked.")
    granted = AccessToken(
        access_token=outcome.token, expires_in=outcome.expires_in, scope=" ".join(outcome.scopes)
    )
    return JSONResponse(granted.model_dump(), headers={"cache-control": "no-store"})


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return unquote(client_id), unquote(secret)  # RFC 6749 §2.3.1: form-encoded, then Basic


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"cache-control": "no-store"},
    )


@issuer_router.get(
    DISCOVERY_PATH, summary="The API client token issuer's discovery document (OpenID style)"
)
async def discovery(request: Request) -> dict[str, Any]:
    return discovery_document(request.app.state.client_token_issuer)


@issuer_router.get(JWKS_PATH, summary="The keys that sign API client tokens (JWKS)")
async def jwks(request: Request) -> dict[str, Any]:
    signer: ClientTokenSigner | None = request.app.state.client_token_signer
    return {"keys": []} if signer is None else signer.jwks()
