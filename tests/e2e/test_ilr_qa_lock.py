"""The ILR QA lock, end to end: once an ILR QA officer verifies a learner's ILR, programme
changes need the ilr_qa role. The tracker service refuses to process them (403 qa_locked, from
its ilr-state projection); the ILR service also rejects them itself, whoever sends the event."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ilrflow.contracts.events import (
    Topics,
    TrackerProcessed,
    from_wire,
    new_event,
    partition_key,
)
from tests.conftest import Stack, eventually
from tests.e2e.helpers import Tenant, produce, read_topic, run, wire_record
from tests.e2e.test_ilr_trackers import (
    LAST_DAY,
    change,
    enrol,
    ilr_of,
    ilr_outcome,
    process,
    raise_tracker,
    tenant_ready_for_every_type,
)

pytestmark = pytest.mark.e2e

WITHDRAWAL = {"last_day_of_learning": LAST_DAY.isoformat(), "reason": "44"}


@pytest.fixture(scope="module")
def tenant(stack: Stack) -> Tenant:
    return tenant_ready_for_every_type(stack)


def qa_verify(tenant: Tenant, learner_id: str, *roles: str) -> httpx.Response:
    with tenant.as_("ilr", "qa-1", *roles) as http:
        return http.post(f"/v1/learners/{learner_id}/ilr/qa-verify")


def test_only_an_ilr_qa_officer_may_verify(tenant: Tenant) -> None:
    learner_id = enrol(tenant)

    refused = qa_verify(tenant, learner_id, "admin")
    verified = qa_verify(tenant, learner_id, "ilr_qa")

    assert refused.status_code == 403
    assert verified.status_code == 200, verified.text
    assert (verified.json()["qa_verified"], verified.json()["qa_verified_by"]) == (True, "qa-1")
    assert verified.json()["version"] == 1  # verifying changes no ILR data


def test_tracker_service_refuses_programme_changes_without_ilr_qa(tenant: Tenant) -> None:
    learner_id = enrol(tenant)
    tracker = raise_tracker(tenant, learner_id, "withdrawal", WITHDRAWAL)
    assert qa_verify(tenant, learner_id, "ilr_qa").status_code == 200
    _tracker_service_knows_it_is_verified(tenant, tracker["id"])

    refused = process(tenant, tracker["id"], "admin")
    processed = process(tenant, tracker["id"], "admin", "ilr_qa")

    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "qa_locked"
    assert processed.status_code == 200, processed.text
    outcome = ilr_outcome(tenant, tracker["id"])
    assert outcome["status"] == "applied", outcome
    assert ilr_of(tenant, learner_id)["learner"]["LearningDelivery"][0]["CompStatus"] == 3


def test_learner_details_still_change_on_a_verified_ilr(tenant: Tenant) -> None:
    learner_id = enrol(tenant)
    assert qa_verify(tenant, learner_id, "ilr_qa").status_code == 200

    outcome, ilr = change(
        tenant, learner_id, "change_of_name", {"given_names": "Alicia", "family_name": "Walker"}
    )

    assert outcome["status"] == "applied", outcome
    assert (ilr["qa_verified"], ilr["learner"]["GivenNames"]) == (True, "Alicia")


def test_ilr_service_rejects_programme_changes_without_ilr_qa_itself(tenant: Tenant) -> None:
    """Whoever publishes the processed tracker (a stale projection, a re-drive, another
    client), the ILR service does not let a programme change through a verified ILR."""
    learner_id = enrol(tenant)
    assert qa_verify(tenant, learner_id, "ilr_qa").status_code == 200
    bootstrap = tenant.stack.settings.kafka_bootstrap

    tracker_id = f"T-RAW-{learner_id}"
    run(produce(bootstrap, [wire_record(_processed(tenant, learner_id, tracker_id, ["admin"]))]))
    outcome = eventually(lambda: _ilr_updated_for(tenant, learner_id, tracker_id))

    assert outcome.data.outcome == "rejected", (tenant.name, learner_id, outcome.data)
    assert "QA-verified" in outcome.data.reason
    assert outcome.data.patch == []
    current = ilr_of(tenant, learner_id)
    assert (current["version"], current["learner"]["LearningDelivery"][0]["CompStatus"]) == (1, 1)


# --- helpers -----------------------------------------------------------------------------------


def _tracker_service_knows_it_is_verified(tenant: Tenant, tracker_id: str) -> None:
    """The tracker service learns of the verification from ilr-state; until then it would still
    let admin-1 (no ilr_qa role) be allocated the tracker."""

    def refused() -> bool:
        with tenant.admin("tracker") as http:
            response = http.post(
                f"/v1/trackers/{tracker_id}/allocate", json={"allocated_to": "admin-1"}
            )
        assert response.status_code in (200, 422), response.text
        return response.status_code == 422 and "ilr_qa" in response.text

    eventually(refused)


def _processed(tenant: Tenant, learner_id: str, tracker_id: str, roles: list[str]) -> Any:
    return new_event(
        TrackerProcessed(
            tracker_id=tracker_id,
            learner_id=learner_id,
            tracker_type="withdrawal",
            changes={**WITHDRAWAL, "withdraw_reason_code": 44},
            processed_by="admin-1",
            processor_roles=roles,
            raised_by="admin-1",
            learner_led=False,
        ),
        tenant=tenant.name,
        subject=learner_id,
        actor="admin-1",
    )


def _ilr_updated_for(tenant: Tenant, learner_id: str, tracker_id: str) -> Any:
    key = partition_key(tenant.name, learner_id).encode()
    records = run(read_topic(tenant.stack.settings.kafka_bootstrap, Topics.ILR_UPDATED, key))
    events = [from_wire(dict(r.headers), r.value) for r in records]
    return next((e for e in events if e.data.tracker_id == tracker_id), None)
