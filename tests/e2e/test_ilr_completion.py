"""Issue #14 items 2 and 5 through the services: completion of the practical period (CompStatus 2,
Outcome 8, OTJActHours), then the end-point assessment passed (Outcome 1, AchDate); and a
withdrawal followed by a restart (a new aim with RES, no OrigLearnStartDate, a new price). The
learner's ILR is valid by ESFA's rules at every step, and each preview promised no new error."""

from __future__ import annotations

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
    previewed_or_cancelled,
    process,
    tenant_ready_for_every_type,
)

pytestmark = pytest.mark.e2e

# The enrolment starts on 2025-09-01 (2025/26 rules: at least 242 days in learning).
COMPLETION = {"practical_period_end": "2026-06-30", "otj_actual_hours": 350}
EPA_PASS = {"achievement_date": "2026-09-15", "result": "pass"}
WITHDRAWAL = {"last_day_of_learning": "2026-01-30", "reason": "44"}
RESTART = {
    "restart_date": "2026-03-02",
    "planned_end_date": "2027-03-31",
    "planned_otj_hours": 380,
    "price": {"training": 7500, "assessment": 1000},
}


@pytest.fixture(scope="module")
def tenant(stack: Stack) -> Tenant:
    return tenant_ready_for_every_type(stack)


def step(
    tenant: Tenant, learner_id: str, tracker_type: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Raise (once the tracker service's ILR projection has caught up with the last step),
    check the preview, process, and return the ILR programme aim after the outcome."""
    request = {"type": tracker_type, "learner_id": learner_id, "changes": changes}

    def raised() -> dict[str, Any]:
        with tenant.admin("tracker") as http:
            response = http.post("/v1/trackers", json=request)
            assert response.status_code in (201, 422), response.text
            return previewed_or_cancelled(http, response)

    tracker = eventually(raised, timeout=15)
    assert tracker["preview"]["ilr_outcome"]["status"] == "applied", tracker["preview"]
    assert tracker["preview"]["ilr_validation"]["new_errors"] == [], tracker["preview"]
    assert process(tenant, tracker["id"]).status_code == 200
    outcome = ilr_outcome(tenant, tracker["id"])
    assert outcome["status"] == "applied", outcome
    checked = validation_of(tenant, learner_id)
    assert checked["valid"], (tracker_type, checked)
    current: dict[str, Any] = ilr_of(tenant, learner_id)
    assert current["version"] == outcome["ilr_version"]
    return current


def test_completion_then_an_epa_pass_is_valid_at_every_step(tenant: Tenant) -> None:
    learner_id = enrol(tenant)

    completed = step(tenant, learner_id, "completion", COMPLETION)
    [aim] = aims(completed)
    assert (aim["CompStatus"], aim["Outcome"], aim["LearnActEndDate"]) == (2, 8, "2026-06-30")
    assert aim["OTJActHours"] == 350

    achieved = step(tenant, learner_id, "epa_result", EPA_PASS)
    [aim] = aims(achieved)
    assert (aim["CompStatus"], aim["Outcome"], aim["AchDate"]) == (2, 1, "2026-09-15")


def test_a_withdrawal_then_a_restart_is_valid_at_every_step(tenant: Tenant) -> None:
    learner_id = enrol(tenant)

    step(tenant, learner_id, "withdrawal", WITHDRAWAL)
    restarted = step(tenant, learner_id, "restart_after_withdrawal", RESTART)

    old, new = aims(restarted)
    assert (old["CompStatus"], old["WithdrawReason"]) == (3, 44)
    assert (new["AimSeqNumber"], new["CompStatus"], new["LearnStartDate"]) == (2, 1, "2026-03-02")
    assert "OrigLearnStartDate" not in new
    assert {"LearnDelFAMType": "RES", "LearnDelFAMCode": "1"} in new["LearningDeliveryFAM"]
    assert [(p["AFinCode"], p["AFinDate"], p["AFinAmount"]) for p in new["AppFinRecord"]] == [
        (1, "2026-03-02", 7500),
        (2, "2026-03-02", 1000),
    ]
