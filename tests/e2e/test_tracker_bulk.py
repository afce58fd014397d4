"""Issue #14 item 7 end to end: a bulk raise of 200 change-of-contact-details trackers for 200
learners, one of them invalid, then a bulk process of the 199 raised, each worked in the
background; every item has its result, and every tracker reaches the ILR (nothing lost)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from workload import tracker_probe

from ilrflow.platform.paging import MAX_PAGE_SIZE
from tests.conftest import SERVICES, Stack, eventually
from tests.e2e.helpers import (
    ENROLMENT,
    LEARNER,
    Tenant,
    configure_trackers,
    tenant_with_staff,
)
from tests.e2e.test_metrics import scrape

pytestmark = pytest.mark.e2e

COHORT = 200
INVALID_AT = 57
TYPE = "change_of_contact_details"


def _enrol(tenant: Tenant, n: int) -> str:
    with tenant.admin("learner") as http:
        created = http.post("/v1/learners", json=LEARNER)
        assert created.status_code == 201, created.text
        learner_id: str = created.json()["id"]
        enrolled = http.post(f"/v1/learners/{learner_id}/enrolments", json=ENROLMENT)
        assert enrolled.status_code == 201, enrolled.text
    return learner_id


def cohort(tenant: Tenant) -> list[str]:
    """COHORT enrolled learners, created a few at a time, known to the tracker service."""
    with ThreadPoolExecutor(6) as pool:
        learners = list(pool.map(lambda n: _enrol(tenant, n), range(COHORT)))
    with tenant.admin("tracker") as http:
        for learner_id in learners:
            eventually(
                lambda learner_id=learner_id: (
                    http.post("/v1/trackers", json=tracker_probe(learner_id)).status_code == 422
                ),
                timeout=180,
            )
    return learners


def finished_job(http: httpx.Client, location: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = http.get(location, params={"limit": MAX_PAGE_SIZE}).json()
        return job if job["status"] == "finished" else None

    return eventually(finished, timeout=300, interval=1.0)


@pytest.mark.timeout(900)
def test_a_bulk_raise_and_process_of_200_loses_nothing(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    configure_trackers(tenant)
    learners = cohort(tenant)
    items = [
        {"learner_id": learner_id, "changes": {"email": f"learner{n}@example.org"}}
        for n, learner_id in enumerate(learners)
    ]
    items[INVALID_AT]["changes"] = {"email": "not an email"}
    body = {"type": TYPE, "items": items}

    with tenant.admin("tracker") as http:
        accepted = http.post("/v1/trackers/bulk", json=body, headers={"Idempotency-Key": "c-1"})
        assert accepted.status_code == 202, accepted.text
        location = accepted.headers["location"]
        assert accepted.json()["total"] == COHORT

        again = http.post("/v1/trackers/bulk", json=body, headers={"Idempotency-Key": "c-1"})
        assert (again.status_code, again.headers["idempotent-replayed"]) == (202, "true")
        assert again.json()["id"] == accepted.json()["id"]
        other = {"type": TYPE, "items": items[:1]}
        reused = http.post("/v1/trackers/bulk", json=other, headers={"Idempotency-Key": "c-1"})
        assert reused.status_code == 409, reused.text

        raised = finished_job(http, location)
        assert raised["counts"] == {
            "pending": 0,
            "raised": COHORT - 1,
            "processed": 0,
            "refused": 1,
        }
        refused = http.get(location, params={"status": "refused"}).json()["items"]
        assert [(i["index"], i["code"]) for i in refused] == [(INVALID_AT, "validation_failed")]
        assert "email" in refused[0]["reason"]
        first_page = http.get(location, params={"limit": 50}).json()
        assert len(first_page["items"]) == 50
        rest = http.get(location, params={"limit": 200, "cursor": first_page["next_cursor"]})
        assert [i["index"] for i in rest.json()["items"]] == list(range(50, COHORT))

        tracker_ids = [i["tracker_id"] for i in raised["items"] if i["status"] == "raised"]
        assert len(set(tracker_ids)) == COHORT - 1
        processing = http.post("/v1/trackers/bulk-process", json={"ids": tracker_ids})
        assert processing.status_code == 202, processing.text
        processed = finished_job(http, processing.headers["location"])
        assert processed["counts"]["processed"] == COHORT - 1, processed["counts"]

        def every_outcome() -> list[dict[str, Any]] | None:
            page = http.get("/v1/trackers", params={"type": TYPE, "limit": 200}).json()["items"]
            outcomes = [t["ilr_outcome"] for t in page if t["ilr_outcome"]]
            return page if len(outcomes) == COHORT - 1 else None

        trackers = eventually(every_outcome, timeout=300, interval=2.0)
    assert {t["id"] for t in trackers} == set(tracker_ids)
    assert {(t["status"], t["ilr_outcome"]["status"]) for t in trackers} == {
        ("processed", "applied")
    }
    assert {t["decided_by"] for t in trackers} == {"admin-1"}
    # The 199 ILR versions still flow through every projection (ilr-state in the tracker and
    # learner services, audit): wait until each consumer has caught up, so nothing is lost there
    # either and the next test does not start behind a backlog of this one's records.
    eventually(lambda: every_consumer_caught_up(stack), timeout=300, interval=2.0)


def every_consumer_caught_up(stack: Stack) -> bool:
    """No service has records left to read on any partition, nor events left to publish."""
    for service in SERVICES:
        samples = scrape(stack, service)
        waiting = [s for s in samples["ilrflow_consumer_lag"] if float(s["_value"]) > 0]
        unpublished = [s for s in samples["ilrflow_outbox_depth"] if float(s["_value"]) > 0]
        if waiting or unpublished:
            return False
    return True
