"""API clients' tokens: what the learner service signs, every service's TokenVerifier accepts as
an integrator with its scopes; routes refuse an integrator unless they name a scope it holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ilrflow.platform.auth import (
    CurrentPrincipal,
    Principal,
    TokenVerifier,
    client_token_config,
    roles_allowed,
    scope_allowed,
)
from ilrflow.platform.client_tokens import (
    DISCOVERY_PATH,
    JWKS_PATH,
    ClientTokenSigner,
    client_token_signer,
    discovery_document,
)
from ilrflow.platform.http_errors import ApiError, install_error_handlers
from ilrflow.platform.oidc import OidcVerifier
from ilrflow.platform.settings import Settings

ISSUER = "http://learner.test"
SETTINGS = Settings(client_token_issuer=ISSUER)


def _signer(issuer: str = ISSUER) -> ClientTokenSigner:
    return ClientTokenSigner(ec.generate_private_key(ec.SECP256R1()), issuer, 600)


def _verifier(signer: ClientTokenSigner) -> TokenVerifier:
    documents = {
        ISSUER + DISCOVERY_PATH: discovery_document(ISSUER),
        ISSUER + JWKS_PATH: signer.jwks(),
    }

    async def fetch(url: str) -> Any:
        return documents[url]

    return TokenVerifier(SETTINGS, clients=OidcVerifier(client_token_config(SETTINGS), fetch))


def _token(signer: ClientTokenSigner, scopes: list[str], now: datetime | None = None) -> str:
    issued = signer.issue(
        tenant="acme", client_id="cli_1", scopes=scopes, now=now or datetime.now(UTC)
    )
    return issued.token


async def test_a_client_token_names_the_client_the_tenant_and_the_scopes() -> None:
    signer = _signer()
    principal = await _verifier(signer).principal(_token(signer, ["ilr:read"]))
    assert principal.model_dump() == {
        "sub": "cli_1",
        "tenant": "acme",
        "roles": ["integrator"],
        "groups": [],
        "scopes": ["ilr:read"],
    }


async def test_a_token_signed_by_another_key_or_expired_is_refused() -> None:
    verifier = _verifier(_signer())
    with pytest.raises(ApiError) as refused:
        await verifier.principal(_token(_signer(), ["ilr:read"]))
    assert refused.value.status == 401
    signer = _signer()
    with pytest.raises(ApiError) as expired:
        await _verifier(signer).principal(
            _token(signer, ["ilr:read"], datetime(2020, 1, 1, tzinfo=UTC))
        )
    assert expired.value.code == "token_expired"


def test_production_generates_no_signing_key_and_development_does() -> None:
    assert client_token_signer(Settings(env="production")) is None
    assert client_token_signer(Settings(env="development")) is not None


def _app(principal: Principal) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/people")
    async def people(caller: CurrentPrincipal) -> str:
        return caller.sub

    @app.get("/ilr")
    async def ilr(caller: Annotated[Principal, scope_allowed("ilr:read")]) -> str:
        return caller.sub

    @app.get("/export")
    async def export(
        caller: Annotated[Principal, roles_allowed("admin", scope="ilr:read")],
    ) -> str:
        return caller.sub

    @app.middleware("http")
    async def verified(request: Any, call_next: Any) -> Any:
        request.state.principal = principal
        return await call_next(request)

    return TestClient(app)


INTEGRATOR = Principal(sub="cli_1", tenant="acme", roles=["integrator"], scopes=["ilr:read"])


@pytest.mark.parametrize(
    ("caller", "path", "status"),
    [
        (INTEGRATOR, "/people", 403),
        (INTEGRATOR, "/ilr", 200),
        (INTEGRATOR, "/export", 200),
        (INTEGRATOR.model_copy(update={"scopes": ["audit:read"]}), "/ilr", 403),
        (INTEGRATOR.model_copy(update={"scopes": ["audit:read"]}), "/export", 403),
        (Principal(sub="a", tenant="acme", roles=["learner"]), "/people", 200),
        (Principal(sub="a", tenant="acme", roles=["learner"]), "/ilr", 200),
        (Principal(sub="a", tenant="acme", roles=["learner"]), "/export", 403),
    ],
)
def test_an_integrator_passes_only_routes_naming_a_scope_it_holds(
    caller: Principal, path: str, status: int
) -> None:
    assert _app(caller).get(path).status_code == status
