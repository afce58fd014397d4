"""Issue #14's "done when", end to end: a learner goes start -> break -> return -> change of
employer with a new price -> completion -> EPA pass. At every step the ILR changes as the rules
say and stays clean by ESFA's checks, the programme status follows, the training plan is
re-issued where its content changed (the PDF states the revised planned end date), and the audit
log holds each tracker that was processed."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.conftest import Stack, eventually
from tests.e2e.helpers import Tenant
from tests.e2e.test_ilr_journey import validation_of
from tests.e2e.test_ilr_trackers import (
    aims,
    enrol,
    ilr_of,
    ilr_outcome,
    process,
    raise_tracker,
    tenant_ready_for_every_type,
)
from tests.e2e.test_training_plan import documents, pdf_text

pytestmark = pytest.mark.e2e

PLANNED_END = date(2027, 3, 31)  # the workload's enrolment, starting 2025-09-01
LAST_DAY, RETURN = date(2025, 12, 19), date(2026, 2, 2)
REVISED_END = RETURN + (PLANNED_END - LAST_DAY)

# (tracker type, changes, programme status after it)
JOURNEY: list[tuple[str, dict[str, Any], str]] = [
    (
        "break_in_learning",
        {
            "last_day_of_learning": LAST_DAY.isoformat(),
            "expected_return_date": RETURN.isoformat(),
            "reason": "illness",
        },
        "on_break",
    ),
    ("return_to_learning", {"return_date": RETURN.isoformat()}, "active"),
    (
        "change_of_employer",
        {
            "effective_date": "2026-03-02",
            "weekly_hours": 37.5,
            "employer": {"ern": "987654321", "name": "Beta Engineering Ltd"},
            "price": {"training": 4000, "assessment": 800},
        },
        "active",
    ),
    (
        "completion",
        {"practical_period_end": "2026-07-31", "otj_actual_hours": 410},
        "completed_practical_period",
    ),
    ("epa_result", {"achievement_date": "2026-09-15", "result": "pass"}, "achieved"),
]


def test_start_to_achievement_keeps_ilr_status_documents_and_audit_in_step(
    stack: Stack,
) -> None:
    tenant = tenant_ready_for_every_type(stack)
    learner_id = enrol(tenant)
    assert eventually(lambda: status_of(tenant, learner_id) == "active")
    processed = []
    for tracker_type, changes, status in JOURNEY:
        tracker = raise_tracker(tenant, learner_id, tracker_type, changes)
        assert tracker["preview"]["ilr_validation"]["new_errors"] == [], tracker_type
        assert process(tenant, tracker["id"]).status_code == 200, tracker_type
        outcome = ilr_outcome(tenant, tracker["id"])
        assert outcome["status"] == "applied", (tracker_type, outcome)
        assert validation_of(tenant, learner_id)["errors"] == [], tracker_type
        assert eventually(lambda s=status: status_of(tenant, learner_id) == s), tracker_type
        processed.append(tracker["id"])

    programme = aims(ilr_of(tenant, learner_id))[-1]
    assert (programme["CompStatus"], programme["Outcome"]) == (2, 1)
    assert (programme["LearnActEndDate"], programme["AchDate"]) == ("2026-07-31", "2026-09-15")
    assert programme["OTJActHours"] == 410
    residual = {(r["AFinType"], r["AFinCode"], r["AFinAmount"]) for r in programme["AppFinRecord"]}
    assert {("TNP", 3, 4000), ("TNP", 4, 800)} <= residual

    issued = eventually(lambda: versions_caused_by(tenant, learner_id, processed[1]))
    assert f"Planned end date {REVISED_END.strftime('%d %B %Y')}" in pdf_text(
        tenant, learner_id, issued["id"]
    )
    assert eventually(lambda: versions_caused_by(tenant, learner_id, processed[2]))
    audited = eventually(lambda: audited_trackers(tenant, learner_id, len(processed)))
    assert audited == set(processed)


def status_of(tenant: Tenant, learner_id: str) -> str | None:
    with tenant.admin("learner") as http:
        response = http.get(f"/v1/learners/{learner_id}")
    assert response.status_code == 200, response.text
    status: str | None = response.json()["programme_status"]
    return status


def versions_caused_by(tenant: Tenant, learner_id: str, tracker_id: str) -> dict[str, Any] | None:
    return next(
        (v for v in documents(tenant, learner_id) if v["caused_by_tracker"] == tracker_id), None
    )


def audited_trackers(tenant: Tenant, learner_id: str, count: int) -> set[str] | None:
    params = {"learner_id": learner_id, "type": "ilrflow.tracker.processed.v1", "limit": "50"}
    with tenant.as_("audit", "support-1", "support") as http:
        response = http.get("/v1/audit/events", params=params)
    assert response.status_code == 200, response.text
    found = {item["payload"]["tracker_id"] for item in response.json()["items"]}
    return found if len(found) == count else None
