"""The foundation story, end to end over HTTP, Kafka and the database: a learner is created and
enrolled with the whole ILR record, and their change of address travels through all five
services."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Stack, eventually, new_tenant
from tests.e2e.helpers import ENROLMENT, GROUP, LEARNER, STAFF

pytestmark = pytest.mark.e2e


def test_change_of_address_travels_through_all_five_services(stack: Stack) -> None:
    tenant = new_tenant()
    admin = stack.client("learner", tenant, "admin-1", "admin", groups=[GROUP])
    tracker_admin = stack.client("tracker", tenant, "admin-1", "admin", groups=[GROUP])
    for staff in STAFF:
        assert admin.post("/v1/staff", json=staff).status_code == 201

    # The postcode arrives in lower case and is normalised; the whole ILR record is captured.
    address = {"lines": ["1 High Street", "Leeds"], "postcode": "ls1 4ap"}
    lldd = {"lldd_health_problem": 1, "lldd_categories": [4, 12], "primary_lldd": 12}
    created = admin.post(
        "/v1/learners",
        json={**LEARNER, "address": address, **lldd, "ni_number": "ab 12 34 56 c"},
    )
    assert created.status_code == 201, created.text
    learner_id = created.json()["id"]
    assert created.json()["address"]["postcode"] == "LS1 4AP"
    view = admin.get(f"/v1/learners/{learner_id}").json()
    assert (view["sex"], view["ethnicity"], view["prior_attainment"]) == ("F", 31, 3)
    assert (view["lldd_categories"], view["primary_lldd"]) == ([4, 12], 12)
    assert view["ni_number"] == "AB123456C"

    # Employment given without a date: it applies from the day before the start (EmpStat_09).
    employment = {"length_of_employment": 2, "small_employer": True}
    enrolled = admin.post(
        f"/v1/learners/{learner_id}/enrolments", json={**ENROLMENT, "employment": employment}
    )
    assert enrolled.status_code == 201, enrolled.text
    [enrolment] = enrolled.json()["enrolments"]
    assert enrolment["employment"]["date_from"] == "2025-08-31"
    assert enrolment["price"] == {"training": 9000, "assessment": 1000}

    # The ILR service builds the learner's ILR from the enrolment (learner-updated).
    ilr = stack.client("ilr", tenant, "admin-1", "admin", groups=[GROUP])
    first = eventually(lambda: _ok(ilr.get(f"/v1/learners/{learner_id}/ilr")))
    assert first["version"] == 1
    record = first["learner"]
    assert record["Postcode"] == "LS1 4AP"
    assert record["PostcodePrior"] == "LS1 4AP"
    assert (record["Sex"], record["Ethnicity"], record["LLDDHealthProb"]) == ("F", 31, 1)
    assert record["NINumber"] == "AB123456C"
    assert record["LLDDandHealthProblem"] == [{"LLDDCat": 4}, {"LLDDCat": 12, "PrimaryLLDD": 1}]
    assert record["PriorAttain"] == [{"PriorLevel": 3, "DateLevelApp": "2025-09-01"}]
    assert record["LearnerEmploymentStatus"] == [
        {
            "EmpStat": 10,
            "DateEmpStatApp": "2025-08-31",
            "EmpId": 123456789,
            "EmploymentStatusMonitoring": [
                {"ESMType": "EII", "ESMCode": 8},
                {"ESMType": "LOE", "ESMCode": 2},
                {"ESMType": "SEM", "ESMCode": 1},
            ],
        }
    ]
    [programme] = record["LearningDelivery"]
    assert programme["LearnAimRef"] == "ZPROG001"
    assert programme["StdCode"] == 91
    assert str(uuid.UUID(programme["SWSupAimId"])) == programme["SWSupAimId"]
    assert (programme["ConRefNumber"], programme["DelLocPostCode"]) == ("A1B2C3", "LS1 4AP")
    assert programme["AppFinRecord"] == [
        {"AFinType": "TNP", "AFinCode": 1, "AFinDate": "2025-09-01", "AFinAmount": 9000},
        {"AFinType": "TNP", "AFinCode": 2, "AFinDate": "2025-09-01", "AFinAmount": 1000},
    ]

    # The tenant enables the type (off by default) and allocates cohort-a to admin-1.
    assert (
        tracker_admin.put("/v1/tracker-types/change_of_address", json={"enabled": True}).status_code
        == 200
    )
    rules = {"allocation_rules": [{"learner_group": GROUP, "admin_id": "admin-1"}]}
    assert tracker_admin.put("/v1/tracker-settings", json=rules).status_code == 200

    # The learner raises it (once the tracker service's projection knows the learner).
    learner = stack.client("tracker", tenant, learner_id, "learner")
    request = {
        "type": "change_of_address",
        "learner_id": learner_id,
        "changes": {"address": {"lines": ["22 Mill Lane", "Bradford"], "postcode": "bd1 1aa"}},
        "note": "moved house",
    }
    raised = eventually(lambda: _created(learner.post("/v1/trackers", json=request)))
    tracker_id = raised["id"]
    assert raised["status"] == "allocated"
    assert raised["allocated_to"] == "admin-1"
    assert raised["changes"]["address"]["postcode"] == "BD1 1AA"

    # tracker-raised -> the allocated admin is notified and sees it in their queue.
    notify_admin = stack.client("notify", tenant, "admin-1", "admin", groups=[GROUP])
    eventually(lambda: _has_notification(notify_admin, tracker_id, "ilrflow.tracker.raised.v1"))
    queue = tracker_admin.get("/v1/trackers", params={"allocated_to": "me"}).json()["items"]
    assert [t["id"] for t in queue] == [tracker_id]

    processed = tracker_admin.post(f"/v1/trackers/{tracker_id}/process")
    assert processed.status_code == 200, processed.text
    assert processed.json()["status"] == "processed"

    # tracker-processed -> the learner's master record changes.
    def address_changed() -> bool:
        record = admin.get(f"/v1/learners/{learner_id}").json()
        return record["address"] == {"lines": ["22 Mill Lane", "Bradford"], "postcode": "BD1 1AA"}

    eventually(address_changed)

    # ... and the ILR: a new version with the ILR field names, PostcodePrior untouched.
    def ilr_version_two() -> dict:
        current = ilr.get(f"/v1/learners/{learner_id}/ilr").json()
        return current if current["version"] == 2 else {}

    second = eventually(ilr_version_two)
    assert second["learner"]["AddLine1"] == "22 Mill Lane"
    assert second["learner"]["AddLine2"] == "Bradford"
    assert second["learner"]["Postcode"] == "BD1 1AA"
    assert second["learner"]["PostcodePrior"] == "LS1 4AP"
    history = ilr.get(f"/v1/learners/{learner_id}/ilr/history").json()["items"]
    assert [h["version"] for h in history] == [1, 2]
    assert history[1]["tracker_id"] == tracker_id
    assert history[1]["actor"] == "admin-1"
    assert {"op": "replace", "path": "/Postcode", "value": "BD1 1AA"} in history[1]["patch"]

    # ilr-updated -> the tracker shows the outcome.
    def outcome() -> dict:
        return tracker_admin.get(f"/v1/trackers/{tracker_id}").json().get("ilr_outcome") or {}

    recorded = eventually(outcome)
    assert recorded["status"] == "applied"
    assert recorded["ilr_version"] == 2
    actions = [
        h["action"] for h in tracker_admin.get(f"/v1/trackers/{tracker_id}").json()["history"]
    ]
    assert actions[0] == "raised"
    assert "processed" in actions
    assert actions[-1] == "ilr_outcome_recorded"

    # The primary tutor is told, only now.
    tutor = stack.client("notify", tenant, "tutor-1", "tutor", groups=[GROUP])
    tutor_items = eventually(
        lambda: _has_notification(tutor, tracker_id, "ilrflow.tracker.processed.v1")
    )
    assert all(n["event_type"] == "ilrflow.tracker.processed.v1" for n in tutor_items)

    # The audit log holds every event of the story, in order.
    support = stack.client("audit", tenant, "support-1", "support")
    wanted = [
        "ilrflow.tracker.raised.v1",
        "ilrflow.tracker.processed.v1",
        "ilrflow.learner.updated.v1",
        "ilrflow.ilr.updated.v1",
    ]

    def story() -> list[str]:
        page = support.get(
            "/v1/audit/events", params={"tracker_id": tracker_id, "order": "oldest"}
        ).json()
        types = [e["event_type"] for e in page["items"]]
        return types if all(t in types for t in wanted) else []

    types = eventually(story)
    assert types.index("ilrflow.tracker.raised.v1") < types.index("ilrflow.tracker.processed.v1")
    assert types.index("ilrflow.tracker.processed.v1") < types.index("ilrflow.ilr.updated.v1")
    assert types.index("ilrflow.tracker.processed.v1") < types.index("ilrflow.learner.updated.v1")


def _ok(response) -> dict:  # type: ignore[no-untyped-def]
    return response.json() if response.status_code == 200 else {}


def _created(response) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code in (201, 404), response.text  # 404 until the projection catches up
    return response.json() if response.status_code == 201 else {}


def _has_notification(client, tracker_id: str, event_type: str) -> list[dict]:  # type: ignore[no-untyped-def]
    items = [
        n for n in client.get("/v1/notifications").json()["items"] if n["tracker_id"] == tracker_id
    ]
    return items if any(n["event_type"] == event_type for n in items) else []
