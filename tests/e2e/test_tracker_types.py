"""Every tracker type end to end: raised, allocated, processed (or rejected, or cancelled) on the
real stack, with its events in the audit log and its outcome from the ILR service."""

from __future__ import annotations

import pytest

from tests.conftest import Stack, eventually
from tests.e2e.helpers import known_learner
from tests.e2e.test_tracker_steps import (
    ilr_outcome,
    problems,
    process,
    published_event_types,
    raise_tracker,
    raise_with_preview,
    tracker_tenant,
)

pytestmark = pytest.mark.e2e

RAISED = "ilrflow.tracker.raised.v1"
ALLOCATED = "ilrflow.tracker.allocated.v1"
PROCESSED = "ilrflow.tracker.processed.v1"
REJECTED = "ilrflow.tracker.rejected.v1"
CANCELLED = "ilrflow.tracker.cancelled.v1"
ILR_UPDATED = "ilrflow.ilr.updated.v1"


def test_learner_led_types_raised_by_the_learner_or_on_their_behalf(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    with (
        tenant.as_("tracker", learner_id, "learner") as learner,
        tenant.as_("tracker", "tutor-1", "tutor", groups=["cohort-a"]) as tutor,
        tenant.admin("tracker") as admin,
    ):
        name = raise_tracker(
            learner,
            "change_of_name",
            learner_id,
            {"given_names": "Alicia", "family_name": "Walker-Smith"},
        )
        address = raise_tracker(
            tutor,
            "change_of_address",
            learner_id,
            {"address": {"lines": ["22 Mill Lane", "", "Bradford"], "postcode": "bd1 1aa"}},
        )
        contact = raise_tracker(
            admin,
            "change_of_contact_details",
            learner_id,
            {"email": "alicia@example.org", "phone": "+44 (0)7700 900999"},
        )
        assert (name["on_behalf_of_learner"], name["raised_by"]) == (False, learner_id)
        assert (address["on_behalf_of_learner"], address["raised_by"]) == (True, "tutor-1")
        assert contact["on_behalf_of_learner"] is True
        assert address["changes"]["address"] == {
            "lines": ["22 Mill Lane", "Bradford"],
            "postcode": "BD1 1AA",
        }
        assert contact["changes"]["phone"] == "07700900999"
        for tracker in (name, address, contact):
            assert (tracker["status"], tracker["allocated_to"]) == ("allocated", "admin-1")
            process(admin, tracker["id"])
        for tracker in (name, address, contact):
            assert ilr_outcome(admin, tracker["id"])["status"] == "applied"
            published_event_types(tenant, learner_id, tracker["id"], RAISED, PROCESSED, ILR_UPDATED)
    with tenant.admin("ilr") as ilr:

        def ilr_has_every_change() -> dict:
            record: dict = ilr.get(f"/v1/learners/{learner_id}/ilr").json()["learner"]
            assert record.get("TelNo") == "07700900999", record
            return record

        record = eventually(ilr_has_every_change)
    assert (record["GivenNames"], record["FamilyName"]) == ("Alicia", "Walker-Smith")
    assert (record["AddLine1"], record["Postcode"]) == ("22 Mill Lane", "BD1 1AA")
    assert record["Email"] == "alicia@example.org"


def test_every_rejection_names_the_field_and_stores_nothing(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    bad = [
        ("change_of_name", {"given_names": "R2D2", "family_name": "W"}, "changes.given_names"),
        ("change_of_address", {"address": {"lines": ["1 A St"], "postcode": "XX"}}, None),
        ("change_of_contact_details", {"phone": "07700900123"}, "changes.email"),
        (
            "break_in_learning",
            {
                "last_day_of_learning": "2026-01-31",
                "expected_return_date": "2026-01-01",
                "reason": "illness",
            },
            "changes.expected_return_date",
        ),
        (
            "break_in_learning",
            {
                "last_day_of_learning": "2025-08-01",
                "expected_return_date": "2025-10-01",
                "reason": "illness",
            },
            "changes.last_day_of_learning",
        ),
        ("return_to_learning", {"return_date": "2026-03-02"}, "changes.return_date"),
        (
            "change_of_employer",
            {
                "effective_date": "2026-01-05",
                "employer": {"ern": "12", "name": "New Ltd"},
                "weekly_hours": 30,
            },
            "changes.employer.ern",
        ),
        (
            "change_of_working_hours",
            {"effective_date": "2026-01-05", "weekly_hours": 375},
            "changes.weekly_hours",
        ),
        (
            "change_of_programme",
            {"last_day_of_learning": "2026-01-30", "new_standard_code": 0},
            "changes.new_standard_code",
        ),
        ("withdrawal", {"last_day_of_learning": "2026-01-30", "reason": "bored"}, "changes.reason"),
        ("custom:laptop_request", {"needed_by": "2026-01-01"}, "changes.model"),
        ("no_such_type", {}, "type"),
    ]
    with tenant.admin("tracker") as admin:
        for tracker_type, changes, field in bad:
            response = admin.post(
                "/v1/trackers",
                json={"type": tracker_type, "learner_id": learner_id, "changes": changes},
            )
            found = problems(response)
            expected = field or "changes.address.postcode"
            assert expected in found, (tracker_type, found)
            assert found[expected], (tracker_type, found)
        stored = admin.get("/v1/trackers", params={"learner_id": learner_id}).json()
        assert stored["items"] == []


def test_a_break_then_a_return_with_an_overridden_planned_end_date(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    with (
        tenant.as_("tracker", "tutor-1", "tutor", groups=["cohort-a"]) as tutor,
        tenant.admin("tracker") as admin,
    ):
        on_break = raise_with_preview(
            tutor,
            "break_in_learning",
            learner_id,
            {
                "last_day_of_learning": "2025-12-31",
                "expected_return_date": "2026-03-02",
                "reason": "family illness",
            },
        )
        working = on_break["preview"]
        assert working["days_remaining"]["value"] == 455
        assert "2027-03-31 - 2025-12-31" in working["days_remaining"]["working"]
        assert working["ilr_outcome"]["status"] == "applied"
        process(admin, on_break["id"])
        assert ilr_outcome(admin, on_break["id"])["status"] == "applied"

        # Until the ILR's break reaches the tracker service, a return is refused as "not on a break".
        returning = {"type": "return_to_learning", "learner_id": learner_id}

        def raise_return() -> dict:
            response = tutor.post(
                "/v1/trackers", json={**returning, "changes": {"return_date": "2026-03-02"}}
            )
            assert response.status_code in (201, 422), response.text
            return response.json() if response.status_code == 201 else {}

        back = eventually(raise_return)
        early = tutor.post(
            "/v1/trackers", json={**returning, "changes": {"return_date": "2025-12-31"}}
        )
        assert "must be after the break started" in problems(early)["changes.return_date"]
        recalculated = back["preview"]["new_planned_end_date"]
        assert recalculated["value"] == "2027-05-31"
        assert recalculated["working"]

        no_reason = admin.patch(
            f"/v1/trackers/{back['id']}",
            json={"version": back["version"], "planned_end_date": "2027-09-30"},
        )
        assert "override_reason" in problems(no_reason)
        overridden = admin.patch(
            f"/v1/trackers/{back['id']}",
            json={
                "version": back["version"],
                "planned_end_date": "2027-09-30",
                "override_reason": "agreed with the employer",
            },
        )
        assert overridden.status_code == 200, overridden.text
        tracker = overridden.json()
        assert tracker["changes"]["planned_end_date"] == "2027-09-30"
        assert tracker["preview"]["new_planned_end_date"]["value"] == "2027-09-30"
        last = tracker["history"][-1]
        assert (last["action"], last["actor"]) == ("planned_end_date_overridden", "admin-1")
        assert last["details"]["after"]["override_reason"] == "agreed with the employer"
        assert last["details"]["before"]["planned_end_date"] is None

        process(admin, back["id"])
        assert ilr_outcome(admin, back["id"])["status"] == "applied"
        published_event_types(tenant, learner_id, back["id"], RAISED, PROCESSED, ILR_UPDATED)
    with tenant.admin("ilr") as ilr:
        aims = ilr.get(f"/v1/learners/{learner_id}/ilr").json()["learner"]["LearningDelivery"]
    restarted = [a for a in aims if a["LearnStartDate"] == "2026-03-02" and a["AimType"] == 1]
    assert [a["LearnPlanEndDate"] for a in restarted] == ["2027-09-30"]


def test_employment_changes_show_their_working(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    with tenant.admin("tracker") as admin:
        admin.put("/v1/tracker-settings", json={"material_impact_threshold": 25})
        hours = raise_with_preview(
            admin,
            "change_of_working_hours",
            learner_id,
            {"effective_date": "2026-01-05", "weekly_hours": 20},
        )
        impact = hours["preview"]["material_impact"]
        assert impact["value"] is True
        assert "threshold 25%" in impact["working"]
        assert hours["preview"]["eii_band"]["value"] == {"from": 8, "to": 6, "changes": True}
        process(admin, hours["id"])
        assert ilr_outcome(admin, hours["id"])["status"] == "applied"

        employer = raise_with_preview(
            admin,
            "change_of_employer",
            learner_id,
            {
                "effective_date": "2026-02-02",
                "employer": {"ern": "987 654 321", "name": "Beta Builders Ltd"},
                "weekly_hours": 30,
            },
        )
        assert employer["changes"]["employer"]["ern"] == "987654321"
        assert employer["preview"]["minimum_otj_hours"]["working"]
        process(admin, employer["id"])
        assert ilr_outcome(admin, employer["id"])["status"] == "applied"
        for tracker in (hours, employer):
            published_event_types(tenant, learner_id, tracker["id"], RAISED, PROCESSED, ILR_UPDATED)


def test_withdrawal_with_the_tenants_reason_and_a_change_of_programme(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    leaving = known_learner(tenant)
    moving = known_learner(tenant, uln="1000000019")
    with tenant.admin("tracker") as admin:
        reasons = {"withdrawal_reason_map": {"Moved out of area": 44}}
        assert admin.put("/v1/tracker-settings", json=reasons).status_code == 200
        withdrawal = raise_with_preview(
            admin,
            "withdrawal",
            leaving,
            {"last_day_of_learning": "2026-03-31", "reason": "moved out of AREA"},
        )
        assert withdrawal["changes"]["reason"] == "Moved out of area"
        assert withdrawal["changes"]["withdraw_reason_code"] == 44
        assert withdrawal["preview"]["withdraw_reason"]["value"] == 44
        process(admin, withdrawal["id"])
        assert ilr_outcome(admin, withdrawal["id"])["status"] == "applied"

        programme = raise_tracker(
            admin,
            "change_of_programme",
            moving,
            {"last_day_of_learning": "2026-01-30", "new_standard_code": 92},
        )
        process(admin, programme["id"])
        outcome = ilr_outcome(admin, programme["id"])
        assert outcome["status"] == "applied"
        for tracker in (withdrawal, programme):
            learner = tracker["learner_id"]
            published_event_types(tenant, learner, tracker["id"], RAISED, PROCESSED, ILR_UPDATED)
    with tenant.admin("ilr") as ilr:
        aims = ilr.get(f"/v1/learners/{moving}/ilr").json()["learner"]["LearningDelivery"]
    assert {(a["CompStatus"], a.get("WithdrawReason")) for a in aims} == {(3, 40)}


def test_rejected_cancelled_and_custom_trackers(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    with (
        tenant.as_("tracker", learner_id, "learner") as learner,
        tenant.as_("tracker", "tutor-1", "tutor", groups=["cohort-a"]) as tutor,
        tenant.admin("tracker") as admin,
    ):
        types = {t["type"]: t for t in admin.get("/v1/tracker-types").json()["items"]}
        assert types["custom:laptop_request"]["enabled"] is True
        assert [f["name"] for f in types["custom:laptop_request"]["fields"]] == [
            "model",
            "needed_by",
            "notes",
        ]
        laptop = raise_tracker(
            tutor, "custom:laptop_request", learner_id, {"model": "pc", "needed_by": "2026-02-01"}
        )
        process(admin, laptop["id"])
        assert ilr_outcome(admin, laptop["id"])["status"] == "no_ilr_change"
        published_event_types(tenant, learner_id, laptop["id"], RAISED, PROCESSED, ILR_UPDATED)

        address = {"address": {"lines": ["3 Oak Road"], "postcode": "LS2 7EE"}}
        turned_down = raise_tracker(learner, "change_of_address", learner_id, address)
        no_reason = admin.post(f"/v1/trackers/{turned_down['id']}/reject", json={"reason": " "})
        assert "reason" in problems(no_reason)
        rejected = admin.post(
            f"/v1/trackers/{turned_down['id']}/reject", json={"reason": "no proof of address"}
        )
        assert rejected.status_code == 200, rejected.text
        assert (rejected.json()["status"], rejected.json()["decision_reason"]) == (
            "rejected",
            "no proof of address",
        )
        published_event_types(tenant, learner_id, turned_down["id"], RAISED, REJECTED)

        withdrawn = raise_tracker(learner, "change_of_address", learner_id, address)
        reallocated = admin.post(
            f"/v1/trackers/{withdrawn['id']}/allocate", json={"allocated_to": "admin-2"}
        )
        assert reallocated.json()["allocated_to"] == "admin-2"
        cancelled = learner.post(f"/v1/trackers/{withdrawn['id']}/cancel", json={"reason": "typo"})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        published_event_types(tenant, learner_id, withdrawn["id"], RAISED, ALLOCATED, CANCELLED)


def test_a_retried_raise_with_an_idempotency_key_raises_once(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    body = {
        "type": "change_of_name",
        "learner_id": learner_id,
        "changes": {"given_names": "Alicia", "family_name": "Walker"},
    }
    with tenant.admin("tracker") as admin:
        first = admin.post("/v1/trackers", json=body, headers={"Idempotency-Key": "retry-1"})
        again = admin.post("/v1/trackers", json=body, headers={"Idempotency-Key": "retry-1"})
        assert first.status_code == again.status_code == 201, (first.text, again.text)
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert "Idempotent-Replayed" not in first.headers
        assert again.json()["id"] == first.json()["id"]

        other_body = {**body, "changes": {"given_names": "Alice", "family_name": "Walker"}}
        reused = admin.post("/v1/trackers", json=other_body, headers={"Idempotency-Key": "retry-1"})
        assert reused.status_code == 409, reused.text
        assert reused.json()["code"] == "idempotency_key_reused"

        fresh = admin.post("/v1/trackers", json=body, headers={"Idempotency-Key": "retry-2"})
        assert fresh.status_code == 201
        assert fresh.json()["id"] != first.json()["id"]

        listed = admin.get("/v1/trackers", params={"learner_id": learner_id}).json()
        ids = sorted(t["id"] for t in listed["items"])
        assert ids == sorted([first.json()["id"], fresh.json()["id"]])
    raised = published_event_types(tenant, learner_id, first.json()["id"], RAISED)
    assert raised.count(RAISED) == 1
