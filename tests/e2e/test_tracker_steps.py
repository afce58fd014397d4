"""Steps shared by the tracker end-to-end tests (no tests here): a tenant with every tracker type
on, the staff the permission tests need, and polls for what arrives asynchronously."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ilrflow.contracts.events import Topics, partition_key
from tests.conftest import Stack, eventually
from tests.e2e.helpers import GROUP, Tenant, configure_trackers, read_topic, run, tenant_with_staff

OTHER_GROUP = "cohort-b"
EXTRA_STAFF = (
    {
        "id": "admin-2",
        "name": "Ann Second",
        "email": "ann@example.org",
        "roles": ["admin"],
        "groups": [GROUP],
    },
    {
        "id": "qa-1",
        "name": "Quinn QA",
        "email": "quinn@example.org",
        "roles": ["admin", "ilr_qa"],
        "groups": [GROUP],
    },
    {
        "id": "tutor-2",
        "name": "Tess Elsewhere",
        "email": "tess@example.org",
        "roles": ["tutor"],
        "groups": [OTHER_GROUP],
    },
)
LAPTOP_REQUEST = {
    "title": "Laptop request",
    "description": "A learner needs a laptop for their studies.",
    "fields": [
        {"name": "model", "type": "choice", "required": True, "choices": ["mac", "pc"]},
        {"name": "needed_by", "type": "date", "required": True},
        {"name": "notes", "type": "text"},
    ],
    "enabled": True,
}


def tracker_tenant(stack: Stack, *, allocate_to: str | None = "admin-1") -> Tenant:
    """A tenant with staff, every built-in type and ``custom:laptop_request`` enabled, and
    cohort-a allocated to ``allocate_to``."""
    tenant = tenant_with_staff(stack)
    with tenant.admin("learner") as http:
        for staff in EXTRA_STAFF:
            assert http.post("/v1/staff", json=staff).status_code == 201
    rules = [{"learner_group": GROUP, "admin_id": allocate_to}] if allocate_to else None
    configure_trackers(
        tenant,
        custom={"custom:laptop_request": LAPTOP_REQUEST},
        settings={"allocation_rules": rules} if rules else None,
    )
    return tenant


def raise_tracker(http: httpx.Client, tracker_type: str, learner_id: str, changes: Any) -> Any:
    response = http.post(
        "/v1/trackers", json={"type": tracker_type, "learner_id": learner_id, "changes": changes}
    )
    assert response.status_code == 201, response.text
    return response.json()


def raise_with_preview(http: httpx.Client, tracker_type: str, learner_id: str, changes: Any) -> Any:
    """Raise once the ILR projection has reached the tracker service (the preview needs it);
    a tracker raised before that, without a preview, is cancelled."""

    def attempt() -> Any:
        tracker = raise_tracker(http, tracker_type, learner_id, changes)
        if tracker["preview"]:
            return tracker
        http.post(f"/v1/trackers/{tracker['id']}/cancel", json={"reason": "test retry"})
        return None

    return eventually(attempt)


def process(http: httpx.Client, tracker_id: str) -> Any:
    response = http.post(f"/v1/trackers/{tracker_id}/process")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "processed"
    return response.json()


def ilr_outcome(http: httpx.Client, tracker_id: str) -> Any:
    """The ILR outcome recorded on the tracker, once ilr-updated has come back."""
    return eventually(lambda: http.get(f"/v1/trackers/{tracker_id}").json().get("ilr_outcome"))


TRACKER_TOPICS = (
    Topics.TRACKER_RAISED,
    Topics.TRACKER_ALLOCATED,
    Topics.TRACKER_PROCESSED,
    Topics.TRACKER_REJECTED,
    Topics.TRACKER_CANCELLED,
    Topics.ILR_UPDATED,
)


def published_event_types(
    tenant: Tenant, learner_id: str, tracker_id: str, *wanted: str
) -> list[str]:
    """The types of the events about the tracker on Kafka, once all of ``wanted`` are there.

    Read from the topics themselves (key = tenant:learner), so the check needs no other service.
    """
    key = partition_key(tenant.name, learner_id).encode()
    bootstrap = tenant.stack.settings.kafka_bootstrap

    def found() -> list[str]:
        types = [
            _header(record, "ce_type")
            for topic in TRACKER_TOPICS
            for record in run(read_topic(bootstrap, topic, key))
            if json.loads(record.value).get("tracker_id") == tracker_id
        ]
        missing = [t for t in wanted if t not in types]
        assert not missing, f"Kafka lacks {missing} for {tracker_id}; has {types}"
        return types

    result: list[str] = eventually(found)
    return result


def _header(record: Any, name: str) -> str:
    return next(value.decode() for key, value in record.headers if key == name)


def problems(response: httpx.Response) -> dict[str, str]:
    """A 422's details as {field: reason}."""
    assert response.status_code == 422, response.text
    return {d["field"]: d["reason"] for d in response.json()["errors"]}
