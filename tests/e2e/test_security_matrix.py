"""The security matrix on the real stack: every endpoint, for every role, in its own tenant, another
tenant and another group answers as tests/e2e/security_table.py says (and docs/ shows)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import Stack, eventually, new_tenant
from tests.e2e.helpers import ENROLMENT, GROUP, LEARNER, Tenant, known_learner
from tests.e2e.security_table import DOC, INTEGRATOR, ROLES, SCOPES, SERVICES, TABLE, render
from tests.e2e.test_tracker_steps import (
    LAPTOP_REQUEST,
    OTHER_GROUP,
    raise_tracker,
    tracker_tenant,
)

pytestmark = pytest.mark.e2e

ADDRESS = {"address": {"lines": ["5 New Road"], "postcode": "LS6 2AB"}}
SUBS = {
    "tutor": "tutor-1",
    "admin": "admin-1",
    "ilr_qa": "ilr-qa-1",
    "support": "support-1",
    "operator": "operator-1",
}


class ClientCredentials(httpx.Auth):
    """An API client's bearer token, got by client credentials and got again before it expires
    (the matrix runs longer than a token lives)."""

    def __init__(self, stack: Stack, client: dict[str, Any]) -> None:
        self.token_url = stack.urls["learner"] + "/v1/oauth/token"
        self.credentials = (client["id"], client["secret"])
        self.token, self.renew_at = "", 0.0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if time.monotonic() >= self.renew_at:
            granted = httpx.post(
                self.token_url, data={"grant_type": "client_credentials"}, auth=self.credentials
            )
            assert granted.status_code == 200, granted.text
            self.token = granted.json()["access_token"]
            self.renew_at = time.monotonic() + granted.json()["expires_in"] / 2
        request.headers["authorization"] = f"Bearer {self.token}"
        yield request


def create_api_client(admin: httpx.Client, *scopes: str) -> dict[str, Any]:
    created = admin.post("/v1/clients", json={"name": "matrix", "scopes": list(scopes)})
    assert created.status_code == 201, created.text
    return dict(created.json())


EVERY_SCOPE = ("ilr:read", "audit:read", "webhooks:manage")


@dataclass
class World:
    """Tenant A with real objects (the targets) and the name of an empty tenant B."""

    stack: Stack
    tenant: Tenant
    other_tenant: str
    learner_id: str
    other_learner_id: str
    tracker_id: str
    bulk_job_id: str
    notification_id: str
    audit_entry_id: str
    webhook_id: str
    webhook_delivery_id: str
    api_client_id: str
    integrators: dict[str, ClientCredentials]
    secrets_of_a: list[str] = field(default_factory=list)
    clients: dict[tuple[str, str, str], httpx.Client] = field(default_factory=dict)

    def caller(self, service: str, role: str, scope: str) -> httpx.Client:
        key = (service, role, scope)
        if key not in self.clients:
            self.clients[key] = self._client(service, role, scope)
        return self.clients[key]

    def _client(self, service: str, role: str, scope: str) -> httpx.Client:
        if role == INTEGRATOR:
            tenant = self.other_tenant if scope == "other_tenant" else self.tenant.name
            auth = self.integrators[tenant]
            return httpx.Client(base_url=self.stack.urls[service], auth=auth, timeout=15)
        if role == "learner":
            sub = self.other_learner_id if scope == "other_group" else self.learner_id
        else:
            sub = SUBS[role]
        tenant = self.other_tenant if scope == "other_tenant" else self.tenant.name
        groups = [OTHER_GROUP] if scope == "other_group" else [GROUP]
        return self.stack.client(service, tenant, sub, role, groups=groups)

    def fresh_tracker(self) -> str:
        admin = self.caller("tracker", "admin", "own")
        tracker_id: str = raise_tracker(admin, "change_of_address", self.learner_id, ADDRESS)["id"]
        return tracker_id

    def fresh_webhook(self) -> str:
        return subscribe_webhook(self.caller("notify", "admin", "own"))


def subscribe_webhook(admin: httpx.Client) -> str:
    """A webhook of tenant A to an address where nothing listens (its deliveries go dead)."""
    response = admin.post("/v1/webhooks", json=WEBHOOK)
    assert response.status_code == 201, response.text
    webhook_id: str = response.json()["id"]
    return webhook_id


Request = Callable[[World, httpx.Client], httpx.Response]
WEBHOOK = {"url": "http://127.0.0.1:9/hooks", "event_types": ["tracker-raised"]}


def _staff(_: World, http: httpx.Client) -> httpx.Response:
    staff_id = f"staff-{secrets.token_hex(4)}"
    body = {
        "id": staff_id,
        "name": "Sam Staff",
        "email": f"{staff_id}@example.org",
        "roles": ["tutor"],
        "groups": [GROUP],
    }
    return http.post("/v1/staff", json=body)


def _learner(_: World, http: httpx.Client) -> httpx.Response:
    body = {k: v for k, v in LEARNER.items() if k != "primary_tutor_id"}
    return http.post("/v1/learners", json=body)


def _on_fresh_tracker(action: str, **body: Any) -> Request:
    def request(world: World, http: httpx.Client) -> httpx.Response:
        path = f"/v1/trackers/{world.fresh_tracker()}"
        if action == "edit":
            return http.patch(path, json={"version": 1, "note": "checked"})
        return http.post(f"{path}/{action}", json=body or None)

    return request


REQUESTS: dict[tuple[str, str, str], Request] = {
    ("learner", "POST", "/v1/staff"): _staff,
    ("learner", "GET", "/v1/staff"): lambda w, h: h.get("/v1/staff"),
    ("learner", "GET", "/v1/staff/{staff_id}"): lambda w, h: h.get("/v1/staff/admin-1"),
    ("learner", "POST", "/v1/learners"): _learner,
    ("learner", "GET", "/v1/learners"): lambda w, h: h.get("/v1/learners"),
    ("learner", "GET", "/v1/learners/{learner_id}"): lambda w, h: h.get(
        f"/v1/learners/{w.learner_id}"
    ),
    ("learner", "POST", "/v1/learners/{learner_id}/enrolments"): lambda w, h: h.post(
        f"/v1/learners/{w.learner_id}/enrolments", json=ENROLMENT
    ),
    ("learner", "GET", "/v1/groups"): lambda w, h: h.get("/v1/groups"),
    ("learner", "GET", "/v1/me"): lambda w, h: h.get("/v1/me"),
    ("tracker", "GET", "/v1/tracker-types"): lambda w, h: h.get("/v1/tracker-types"),
    ("learner", "GET", "/v1/learners/{learner_id}/documents"): lambda w, h: h.get(
        f"/v1/learners/{w.learner_id}/documents"
    ),
    ("learner", "GET", "/v1/learners/{learner_id}/documents/{document_id}.pdf"): lambda w, h: h.get(
        f"/v1/learners/{w.learner_id}/documents/v1.pdf"
    ),
    ("learner", "POST", "/v1/learners/{learner_id}/documents/{document_id}/acknowledge"): (
        lambda w, h: h.post(
            f"/v1/learners/{w.learner_id}/documents/v1/acknowledge",
            json={"party": "employer", "signatory": "Jo Bloggs"},
        )
    ),
    ("tracker", "PUT", "/v1/tracker-types/custom:{name}"): lambda w, h: h.put(
        "/v1/tracker-types/custom:laptop_request", json=LAPTOP_REQUEST
    ),
    ("tracker", "PUT", "/v1/tracker-types/{tracker_type}"): lambda w, h: h.put(
        "/v1/tracker-types/change_of_name", json={"enabled": True}
    ),
    ("tracker", "GET", "/v1/tracker-settings"): lambda w, h: h.get("/v1/tracker-settings"),
    ("tracker", "PUT", "/v1/tracker-settings"): lambda w, h: h.put(
        "/v1/tracker-settings", json={"two_person_control": False}
    ),
    ("tracker", "POST", "/v1/trackers"): lambda w, h: h.post(
        "/v1/trackers",
        json={"type": "change_of_address", "learner_id": w.learner_id, "changes": ADDRESS},
    ),
    ("tracker", "GET", "/v1/trackers"): lambda w, h: h.get("/v1/trackers"),
    ("tracker", "GET", "/v1/trackers/export.xlsx"): lambda w, h: h.get("/v1/trackers/export.xlsx"),
    ("tracker", "GET", "/v1/trackers/{tracker_id}"): lambda w, h: h.get(
        f"/v1/trackers/{w.tracker_id}"
    ),
    ("tracker", "GET", "/v1/trackers/{tracker_id}/actions"): lambda w, h: h.get(
        f"/v1/trackers/{w.tracker_id}/actions"
    ),
    ("tracker", "PATCH", "/v1/trackers/{tracker_id}"): _on_fresh_tracker("edit"),
    ("tracker", "POST", "/v1/trackers/{tracker_id}/allocate"): _on_fresh_tracker(
        "allocate", allocated_to="admin-2"
    ),
    ("tracker", "POST", "/v1/trackers/{tracker_id}/process"): _on_fresh_tracker("process"),
    ("tracker", "POST", "/v1/trackers/{tracker_id}/reject"): _on_fresh_tracker(
        "reject", reason="Not needed"
    ),
    ("tracker", "POST", "/v1/trackers/{tracker_id}/cancel"): _on_fresh_tracker("cancel"),
    ("tracker", "POST", "/v1/trackers/bulk"): lambda w, h: h.post(
        "/v1/trackers/bulk",
        json={
            "type": "change_of_address",
            "items": [{"learner_id": w.learner_id, "changes": ADDRESS}],
        },
    ),
    ("tracker", "POST", "/v1/trackers/bulk-process"): lambda w, h: h.post(
        "/v1/trackers/bulk-process", json={"ids": [w.fresh_tracker()]}
    ),
    ("tracker", "GET", "/v1/trackers/bulk-jobs/{job_id}"): lambda w, h: h.get(
        f"/v1/trackers/bulk-jobs/{w.bulk_job_id}"
    ),
    ("ilr", "GET", "/v1/learners/{learner_id}/ilr"): lambda w, h: h.get(
        f"/v1/learners/{w.learner_id}/ilr"
    ),
    ("ilr", "GET", "/v1/learners/{learner_id}/ilr/history"): lambda w, h: h.get(
        f"/v1/learners/{w.learner_id}/ilr/history"
    ),
    ("ilr", "GET", "/v1/learners/{learner_id}/ilr/validation"): lambda w, h: h.get(
        f"/v1/learners/{w.learner_id}/ilr/validation"
    ),
    ("ilr", "GET", "/v1/ilr/export/validation"): lambda w, h: h.get(
        "/v1/ilr/export/validation?year=2526"
    ),
    ("ilr", "POST", "/v1/learners/{learner_id}/ilr/qa-verify"): lambda w, h: h.post(
        f"/v1/learners/{w.learner_id}/ilr/qa-verify"
    ),
    ("ilr", "GET", "/v1/ilr/export.xml"): lambda w, h: h.get("/v1/ilr/export.xml?year=2526"),
    ("ilr", "GET", "/v1/ilr/settings"): lambda w, h: h.get("/v1/ilr/settings"),
    ("ilr", "PUT", "/v1/ilr/settings"): lambda w, h: h.put(
        "/v1/ilr/settings", json={"restart_planned_hours": "original"}
    ),
    ("ilr", "PUT", "/v1/ilr/reference/otj-minimums"): lambda w, h: h.put(
        "/v1/ilr/reference/otj-minimums",
        json={
            "source": "security matrix",
            "minimums": [{"std_code": 91, "minimum_otj_hours": 278}],
        },
    ),
    ("ilr", "GET", "/v1/ilr/reference/otj-minimums"): lambda w, h: h.get(
        "/v1/ilr/reference/otj-minimums"
    ),
    ("notify", "GET", "/v1/notifications"): lambda w, h: h.get("/v1/notifications"),
    ("notify", "GET", "/v1/notifications/unread-count"): lambda w, h: h.get(
        "/v1/notifications/unread-count"
    ),
    ("notify", "POST", "/v1/notifications/{notification_id}/read"): lambda w, h: h.post(
        f"/v1/notifications/{w.notification_id}/read"
    ),
    ("notify", "GET", "/v1/learners/{learner_id}/notifications"): lambda w, h: h.get(
        f"/v1/learners/{w.learner_id}/notifications"
    ),
    ("notify", "GET", "/v1/notifications/deliveries"): lambda w, h: h.get(
        "/v1/notifications/deliveries"
    ),
    ("notify", "PUT", "/v1/notify-settings"): lambda w, h: h.put(
        "/v1/notify-settings", json={"email_admins": False}
    ),
    ("notify", "POST", "/v1/webhooks"): lambda w, h: h.post("/v1/webhooks", json=WEBHOOK),
    ("notify", "GET", "/v1/webhooks"): lambda w, h: h.get("/v1/webhooks"),
    ("notify", "DELETE", "/v1/webhooks/{webhook_id}"): lambda w, h: h.delete(
        f"/v1/webhooks/{w.fresh_webhook()}"
    ),
    ("notify", "POST", "/v1/webhooks/{webhook_id}/rotate-secret"): lambda w, h: h.post(
        f"/v1/webhooks/{w.webhook_id}/rotate-secret"
    ),
    ("notify", "GET", "/v1/webhooks/{webhook_id}/deliveries"): lambda w, h: h.get(
        f"/v1/webhooks/{w.webhook_id}/deliveries"
    ),
    ("notify", "POST", "/v1/webhooks/deliveries/{delivery_id}/replay"): lambda w, h: h.post(
        f"/v1/webhooks/deliveries/{w.webhook_delivery_id}/replay"
    ),
    ("audit", "GET", "/v1/audit/events"): lambda w, h: h.get("/v1/audit/events"),
    ("audit", "GET", "/v1/audit/events/{entry_id}"): lambda w, h: h.get(
        f"/v1/audit/events/{w.audit_entry_id}"
    ),
    ("audit", "GET", "/v1/audit/learners/{learner_id}/timeline"): lambda w, h: h.get(
        f"/v1/audit/learners/{w.learner_id}/timeline"
    ),
    ("audit", "GET", "/v1/audit/export.csv"): lambda w, h: h.get("/v1/audit/export.csv"),
    ("audit", "GET", "/v1/audit/export.xlsx"): lambda w, h: h.get("/v1/audit/export.xlsx"),
    # Verification recomputes the whole log (its chains span tenants): give it time.
    ("audit", "GET", "/v1/audit/verify"): lambda w, h: h.get("/v1/audit/verify", timeout=180),
    ("audit", "GET", "/v1/audit/checkpoints/public-key"): lambda w, h: h.get(
        "/v1/audit/checkpoints/public-key"
    ),
    ("audit", "POST", "/v1/audit/checkpoints"): lambda w, h: h.post("/v1/audit/checkpoints"),
    ("learner", "POST", "/v1/clients"): lambda w, h: h.post(
        "/v1/clients", json={"name": "another", "scopes": ["ilr:read"]}
    ),
    ("learner", "GET", "/v1/clients"): lambda w, h: h.get("/v1/clients"),
    ("learner", "POST", "/v1/clients/{client_id}/rotate"): lambda w, h: h.post(
        f"/v1/clients/{w.api_client_id}/rotate"
    ),
    ("learner", "POST", "/v1/clients/{client_id}/revoke"): lambda w, h: h.post(
        f"/v1/clients/{w.api_client_id}/revoke"
    ),
    ("learner", "POST", "/v1/oauth/token"): lambda w, h: h.post(
        "/v1/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": w.api_client_id,
            "client_secret": "not-the-secret",
        },
    ),
}
for _path in ("/.well-known/openid-configuration", "/.well-known/jwks.json"):
    REQUESTS[("learner", "GET", _path)] = lambda w, h, p=_path: h.get(p)
for _service in SERVICES:
    for _path in ("/healthz", "/readyz", "/metrics"):
        REQUESTS[(_service, "GET", _path)] = lambda w, h, p=_path: h.get(p)


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    other_learner_id = known_learner(tenant, group=OTHER_GROUP, uln="1000000019")
    with tenant.admin("notify") as notify:  # before the tracker, whose event it is sent
        webhook_id = subscribe_webhook(notify)
    # Raised by the learner, so that the allocated admin (admin-1) is told.
    with tenant.as_("tracker", learner_id, "learner") as learner:
        tracker_id = raise_tracker(learner, "change_of_address", learner_id, ADDRESS)["id"]
    with tenant.admin("learner") as learners:  # the training plan's first version
        eventually(lambda: learners.get(f"/v1/learners/{learner_id}/documents").json()["items"])
    with tenant.admin("tracker") as admin:
        # A job of admin-1's to read; its one item (no such tracker) is refused.
        bulk = admin.post("/v1/trackers/bulk-process", json={"ids": ["T000000000000"]})
        assert bulk.status_code == 202, bulk.text
    with tenant.admin("notify") as inbox:
        notifications = eventually(lambda: inbox.get("/v1/notifications").json()["items"])
        deliveries = eventually(
            lambda: inbox.get(f"/v1/webhooks/{webhook_id}/deliveries").json()["items"]
        )
    with tenant.as_("audit", "support-1", "support") as audit:
        entries = eventually(
            lambda: audit.get("/v1/audit/events", params={"learner_id": learner_id}).json()["items"]
        )
    other_tenant = new_tenant()
    with tenant.admin("learner") as learners:
        api_client_id = create_api_client(learners, "ilr:read")["id"]  # a target, never used
        integrator = create_api_client(learners, *EVERY_SCOPE)
    with stack.client("learner", other_tenant, "admin-1", "admin") as learners:
        other_integrator = create_api_client(learners, *EVERY_SCOPE)
    world = World(
        stack=stack,
        tenant=tenant,
        other_tenant=other_tenant,
        learner_id=learner_id,
        other_learner_id=other_learner_id,
        tracker_id=tracker_id,
        bulk_job_id=bulk.json()["id"],
        notification_id=notifications[0]["id"],
        audit_entry_id=entries[0]["id"],
        webhook_id=webhook_id,
        webhook_delivery_id=deliveries[0]["id"],
        api_client_id=api_client_id,
        integrators={
            tenant.name: ClientCredentials(stack, integrator),
            other_tenant: ClientCredentials(stack, other_integrator),
        },
        secrets_of_a=[tenant.name, learner_id, tracker_id, webhook_id, api_client_id],
    )
    yield world
    for client in world.clients.values():
        client.close()


def _openapi_operations(stack: Stack) -> set[tuple[str, str, str]]:
    operations = set()
    for service in SERVICES:
        with stack.anonymous(service) as http:
            document = http.get("/openapi.json").json()
        for path, methods in document["paths"].items():
            operations |= {(service, method.upper(), path) for method in methods}
    return operations


def test_the_table_covers_every_endpoint_of_every_service(stack: Stack) -> None:
    operations = _openapi_operations(stack)
    assert {row.key for row in TABLE} == operations
    assert set(REQUESTS) == operations


def test_the_committed_document_is_the_table() -> None:
    assert DOC.read_text() == render(), "run: uv run python -m tests.e2e.security_table"


def test_another_tenant_never_learns_an_object_exists() -> None:
    for row in TABLE:
        for role in ROLES:
            own, other = row.status(role, "own"), row.status(role, "other_tenant")
            if row.kind == "object":
                # 404, or the role's own refusal, which does not depend on the object at all.
                assert other == 404 or own == other == 403, (row.key, role)
            if row.kind == "list":
                assert other in (200, 403), (row.key, role)


def _call(world: World, row_key: tuple[str, str, str], role: str, scope: str) -> httpx.Response:
    return REQUESTS[row_key](world, world.caller(row_key[0], role, scope))


def _is_read_record(text: str) -> bool:
    return "audit.accessed" in text or "audit-access" in text


def _without_own_read_records(response: httpx.Response) -> str:
    """The response without tenant B's records of its own audited reads (they echo what B asked
    for). JSON is pruned object by object, so the rest of a page is still checked; other bodies
    (CSV) line by line."""
    try:
        body = response.json()
    except ValueError:
        return "\n".join(line for line in response.text.splitlines() if not _is_read_record(line))
    return json.dumps(_prune_read_records(body))


def _prune_read_records(value: Any) -> Any:
    if isinstance(value, list):
        return [_prune_read_records(v) for v in value if not _is_read_record_object(v)]
    if isinstance(value, dict):
        return {k: _prune_read_records(v) for k, v in value.items()}
    return value


def _is_read_record_object(value: Any) -> bool:
    return isinstance(value, dict) and (
        str(value.get("topic", "")).endswith("audit-access")
        or _is_read_record(str(value.get("event_type", "")))
    )


@pytest.mark.timeout(1200)  # about 700 requests, 90 of them on a tracker raised for the purpose
def test_the_security_matrix(world: World) -> None:
    actual: dict[tuple[str, str, str], dict[str, list[int]]] = {}
    leaks = []
    for row in TABLE:
        actual[row.key] = {}
        for role in ROLES:
            statuses = []
            for scope in SCOPES:
                response = _call(world, row.key, role, scope)
                statuses.append(response.status_code)
                if scope == "other_tenant" and response.status_code < 300:
                    # Tenant B has objects of its own (the table's writes made them), but
                    # nothing of tenant A may show.
                    # What the caller sent may be echoed back (the path, or tenant B's own audit
                    # records of its earlier reads, which name the ids it asked for): neither
                    # discloses anything of tenant A.
                    asked = str(response.request.url)
                    shown = _without_own_read_records(response)
                    seen = [s for s in world.secrets_of_a if s in shown and s not in asked]
                    if seen:
                        leaks.append((row.key, role, seen))
            actual[row.key][role] = statuses
    expected = {
        row.key: {role: [row.status(role, s) for s in SCOPES] for role in ROLES} for row in TABLE
    }
    differences = [
        f"{key} {role}: expected {expected[key][role]}, got {actual[key][role]}"
        for key in expected
        for role in ROLES
        if expected[key][role] != actual[key][role]
    ]
    assert differences == [], "\n".join(differences)
    assert leaks == []
