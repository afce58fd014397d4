"""API clients on the running stack: a tenant admin creates a client, the integration trades its
id and secret for a token (OAuth2 client credentials) and reads its tenant's ILR with it, and
nothing else; rotation and revocation take effect at once; every token issued (and refused) is
in the audit log, the client as the actor."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Stack, eventually
from tests.e2e.helpers import Tenant, enrolled_learner, tenant_with_staff
from tests.e2e.test_cli import ilrflow

pytestmark = pytest.mark.e2e


def _create(tenant: Tenant, *scopes: str) -> dict[str, Any]:
    with tenant.admin("learner") as http:
        created = http.post("/v1/clients", json={"name": "MIS sync", "scopes": list(scopes)})
    assert created.status_code == 201, created.text
    return dict(created.json())


def _token_response(stack: Stack, client_id: str, secret: str) -> httpx.Response:
    with stack.anonymous("learner") as http:
        return http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials", "client_id": client_id},
            auth=(client_id, secret),
        )


def _as_client(stack: Stack, service: str, client: dict[str, Any]) -> httpx.Client:
    granted = _token_response(stack, client["id"], client["secret"])
    assert granted.status_code == 200, granted.text
    token = granted.json()["access_token"]
    return httpx.Client(
        base_url=stack.urls[service], headers={"authorization": f"Bearer {token}"}, timeout=15
    )


def test_an_integrator_reads_its_tenants_ilr_and_nothing_else(stack: Stack) -> None:
    tenant, other = tenant_with_staff(stack), tenant_with_staff(stack)
    learner_id, others_learner = enrolled_learner(tenant), enrolled_learner(other)
    client = _create(tenant, "ilr:read")

    granted = _token_response(stack, client["id"], client["secret"])
    assert granted.status_code == 200, granted.text
    assert (granted.json()["scope"], granted.json()["expires_in"]) == ("ilr:read", 600)
    with _as_client(stack, "ilr", client) as ilr:
        assert ilr.get(f"/v1/learners/{learner_id}/ilr").status_code == 200
        assert ilr.get(f"/v1/learners/{learner_id}/ilr/history").status_code == 200
        assert ilr.get(f"/v1/learners/{others_learner}/ilr").status_code == 404
        assert ilr.post(f"/v1/learners/{learner_id}/ilr/qa-verify").status_code == 403
    with _as_client(stack, "tracker", client) as tracker:
        assert tracker.post("/v1/trackers", json={}).status_code == 403
    with _as_client(stack, "notify", client) as notify:
        assert notify.get("/v1/webhooks").status_code == 403
    with _as_client(stack, "learner", client) as learner:
        assert learner.get(f"/v1/learners/{learner_id}").status_code == 403
        assert learner.get("/v1/clients").status_code == 403
    with _as_client(stack, "audit", client) as audit:
        assert audit.get("/v1/audit/events").status_code == 403


def test_scopes_open_the_audit_log_and_webhooks(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    client = _create(tenant, "audit:read", "webhooks:manage")
    with _as_client(stack, "audit", client) as audit:
        assert audit.get("/v1/audit/events").status_code == 200
    with _as_client(stack, "notify", client) as notify:
        assert notify.get("/v1/webhooks").status_code == 200
    with _as_client(stack, "ilr", client) as ilr:
        assert ilr.get("/v1/learners/anyone/ilr").status_code == 403


def test_rotation_and_revocation_take_effect_and_every_use_is_audited(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    client = _create(tenant, "ilr:read")
    with tenant.admin("learner") as http:
        rotated = http.post(f"/v1/clients/{client['id']}/rotate")
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        old = _token_response(stack, client["id"], client["secret"])
        assert (old.status_code, old.json()["error"]) == (401, "invalid_client")
        assert _token_response(stack, client["id"], new_secret).status_code == 200

        assert http.post(f"/v1/clients/{client['id']}/revoke").status_code == 200
        assert _token_response(stack, client["id"], new_secret).status_code == 401
        listed = http.get("/v1/clients").json()["items"]
        assert [(c["id"], c["revoked_at"] is not None) for c in listed] == [(client["id"], True)]
        assert "secret" not in listed[0]

    with tenant.as_("audit", "support-1", "support") as audit:

        def uses() -> list[tuple[str, str]]:
            found = audit.get("/v1/audit/events", params={"actor": client["id"], "limit": 50})
            assert found.status_code == 200, found.text
            return sorted((e["event_type"], e["actor"]) for e in found.json()["items"])

        issued, refused = "ilrflow.client.token_issued.v1", "ilrflow.client.token_refused.v1"
        expected = sorted([(issued, client["id"])] + [(refused, client["id"])] * 2)
        eventually(lambda: uses() == expected)


def test_an_operator_manages_clients_with_the_cli(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    created = ilrflow(
        stack, "clients", "create", "--tenant", tenant.name, "--name", "ePortfolio",
        "--scope", "ilr:read", "--json",
    )  # fmt: skip
    assert _token_response(stack, created["id"], created["secret"]).status_code == 200
    listed = ilrflow(stack, "clients", "list", "--tenant", tenant.name, "--json")
    assert [(c["id"], c["scopes"]) for c in listed] == [(created["id"], ["ilr:read"])]
    ilrflow(stack, "clients", "rotate", created["id"], "--tenant", "someone-else", code=4)
    rotated = ilrflow(stack, "clients", "rotate", created["id"], "--tenant", tenant.name, "--json")
    assert _token_response(stack, created["id"], created["secret"]).status_code == 401
    ilrflow(stack, "clients", "revoke", created["id"], "--tenant", tenant.name)
    assert _token_response(stack, created["id"], rotated["secret"]).status_code == 401
    with tenant.as_("audit", "support-1", "support") as audit:
        # created, rotated, revoked: the CLI's outbox events, published by the learner's relay

        def changed_by() -> list[str]:
            found = audit.get("/v1/audit/events", params={"type": "ilrflow.client.changed.v1"})
            return [entry["actor"] for entry in found.json()["items"]]

        eventually(lambda: changed_by() == ["ilrflow-cli"] * 3)
