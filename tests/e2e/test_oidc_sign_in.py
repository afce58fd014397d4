"""Sign-in with a real OpenID Connect provider, as docs/operations.md#sign-in sets it up: Keycloak
started by deploy/local/keycloak.sh with the realm deploy/local/keycloak/realm-ilrflow.json, and
a learner service in production mode that trusts it. Tokens come from Keycloak's token endpoint
(password grant), keys from its JWKS, a key rotation from its admin REST API."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from devstack import ServiceProcess, start_services, stop_services, tail

from tests.conftest import Stack, eventually
from tests.e2e.keycloak import Keycloak, api_only, free_port

KEY_PROVIDER = "org.keycloak.keys.KeyProvider"


@pytest.fixture(scope="module")
def production_learner(
    stack: Stack, keycloak: Keycloak, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """An API-only learner process in production mode that trusts the Keycloak realm."""
    variables = {
        **keycloak.trusted_by(),
        # Keycloak's one-second tokens expire at once; a rotated key is fetched within a second.
        "ILRFLOW_OIDC_LEEWAY_SECONDS": "0",
        "ILRFLOW_OIDC_JWKS_MIN_REFRESH_SECONDS": "1",
    }
    with api_only(stack, "learner", tmp_path_factory.mktemp("oidc"), variables) as process:
        yield process


def me(service: ServiceProcess, token: str) -> httpx.Response:
    return httpx.get(
        f"{service.url}/v1/me", headers={"authorization": f"Bearer {token}"}, timeout=15
    )


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def header_of(token: str) -> dict[str, Any]:
    header = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))))


def test_a_keycloak_token_signs_in_with_tenant_roles_and_groups_from_its_claims(
    keycloak: Keycloak, production_learner: ServiceProcess
) -> None:
    # Both tokens first: Keycloak makes its ES256 key when it first signs with it, and a key the
    # service has not seen is fetched at most once a second (ILRFLOW_OIDC_JWKS_MIN_REFRESH_SECONDS).
    tokens = {"RS256": keycloak.token("ilrflow"), "ES256": keycloak.token("ilrflow-es256")}
    for algorithm, token in tokens.items():
        assert header_of(token)["alg"] == algorithm
        response = me(production_learner, token)
        assert response.status_code == 200, response.text
        assert response.json()["principal"] == {
            "sub": claims_of(token)["sub"],
            "tenant": "oidc-acme",
            "roles": ["tutor"],
            "groups": ["cohort-a", "cohort-b"],
            "scopes": [],  # a person's token: scopes are an API client's
        }


def test_a_token_for_another_audience_a_tampered_one_and_an_expired_one_are_refused(
    keycloak: Keycloak, production_learner: ServiceProcess
) -> None:
    other_app = me(production_learner, keycloak.token("other-app"))
    assert (other_app.status_code, other_app.json()["code"]) == (401, "invalid_token")
    assert "audience" in other_app.json()["detail"].lower()  # its tokens are for other-api

    header, payload, signature = keycloak.token().split(".")
    claims = {**claims_of(f"{header}.{payload}.{signature}"), "ilrflow_tenant": "someone-else"}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tampered = me(production_learner, f"{header}.{forged}.{signature}")
    assert (tampered.status_code, tampered.json()["code"]) == (401, "invalid_token")

    one_second = keycloak.token("ilrflow-short")
    eventually(
        lambda: me(production_learner, one_second).json().get("code") == "token_expired",
        timeout=15,
    )


def test_a_key_rotated_in_keycloak_is_used_without_a_restart(
    keycloak: Keycloak, production_learner: ServiceProcess
) -> None:
    before = keycloak.token()
    assert me(production_learner, before).status_code == 200  # the keys are cached now
    with keycloak.admin() as admin:
        realm_id = admin.get("").json()["id"]
        providers = admin.get("/components", params={"type": KEY_PROVIDER}).json()
        highest = max(int(p["config"].get("priority", ["0"])[0]) for p in providers)
        created = admin.post(
            "/components",
            json={
                "name": f"rotated-{secrets.token_hex(3)}",
                "providerId": "rsa-generated",
                "providerType": KEY_PROVIDER,
                "parentId": realm_id,
                # Above every key so far: new tokens are signed with it.
                "config": {"priority": [str(highest + 1)]},
            },
        )
        assert created.status_code == 201, created.text
    after = keycloak.token()
    assert header_of(after)["kid"] != header_of(before)["kid"]
    eventually(lambda: me(production_learner, after).status_code == 200, timeout=30)
    assert me(production_learner, before).status_code == 200  # the old key is still published


def test_hs256_development_tokens_are_refused_outside_development_mode(
    stack: Stack, production_learner: ServiceProcess
) -> None:
    development = stack.token("oidc-acme", "dev-admin", "admin")
    refused = me(production_learner, development)
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_token")
    assert "development mode only" in refused.json()["detail"]


def test_a_production_service_without_an_issuer_refuses_to_start(
    stack: Stack, tmp_path: Path
) -> None:
    env = {**stack.env, "ILRFLOW_ENV": "production", "ILRFLOW_RUN_CONSUMERS": "false"}
    [process] = start_services({"learner": free_port()}, env, tmp_path, ("learner",))
    try:
        code = process.process.wait(timeout=60)
    finally:
        stop_services([process])
    log = tail(process.log_path)
    assert code != 0, log
    assert "refusing to start" in log
    assert "ILRFLOW_OIDC_ISSUER" in log
    assert "ILRFLOW_JWT_SECRET" in log  # the test stack runs with the public development secret
