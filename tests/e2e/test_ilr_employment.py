"""Issue #14 item 4 end to end: an apprentice made redundant (EmpStat 11) is still without an
employer after 12 weeks, which the tracker preview and the learner's ILR check show as a warning
asking for a break or a withdrawal; a change of employer with a residual price and a new contract
type then records TNP3/TNP4 and splits the ACT, and the record is clean again."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.conftest import Stack
from tests.e2e.helpers import Tenant
from tests.e2e.test_ilr_journey import ilr_updates, validation_of
from tests.e2e.test_ilr_trackers import (
    START,
    aims,
    enrol,
    esm,
    ilr_of,
    ilr_outcome,
    process,
    raise_tracker,
    tenant_ready_for_every_type,
)

pytestmark = pytest.mark.e2e

MADE_REDUNDANT = "2026-08-03"  # 12 weeks end 2026-10-26
NEW_EMPLOYER = "2026-11-02"
REDUNDANCY = {"effective_date": MADE_REDUNDANT, "employment_status": 11, "made_redundant": True}
CHANGE_OF_EMPLOYER = {
    "effective_date": NEW_EMPLOYER,
    "employer": {"ern": "987654321", "name": "Beta Builders Ltd"},
    "weekly_hours": 37.5,
    "price": {"training": 4000, "assessment": 800},
    "contract_type": 2,
}


def test_redundancy_past_twelve_weeks_asks_for_a_break_then_a_new_employer_settles_it(
    stack: Stack,
) -> None:
    assert date.today() > date(2026, 10, 26), "the dates assume the 12 weeks are over"
    tenant = tenant_ready_for_every_type(stack)
    learner_id = enrol(tenant)

    redundancy = raise_tracker(tenant, learner_id, "change_of_employment_status", REDUNDANCY)
    preview = redundancy["preview"]
    assert preview["twelve_week_deadline"]["value"] == "2026-10-26"
    assert preview["funded_to_completion"]["value"] is False  # 58% done, > 6 months left
    assert no_employer_warnings(preview["ilr_validation"]) == ["/LearnerEmploymentStatus/1"]
    assert preview["ilr_validation"]["new_errors"] == []
    outcome = processed(tenant, redundancy["id"])
    assert "a new employer is needed by 2026-10-26" in outcome["reason"]
    out_of_work = ilr_of(tenant, learner_id)["learner"]["LearnerEmploymentStatus"][-1]
    assert (out_of_work["EmpStat"], out_of_work["DateEmpStatApp"]) == (11, MADE_REDUNDANT)
    assert "EmpId" not in out_of_work
    assert esm(out_of_work) == {"LOU": 1, "OET": 1}
    checked = validation_of(tenant, learner_id)
    assert checked["valid"], checked
    assert no_employer_warnings(checked) == ["/LearnerEmploymentStatus/1"]

    employer = raise_tracker(tenant, learner_id, "change_of_employer", CHANGE_OF_EMPLOYER)
    assert employer["preview"]["ilr_validation"]["new_errors"] == []
    assert employer["preview"]["ilr_validation"]["warnings"] == []
    outcome = processed(tenant, employer["id"])
    assert "TNP3 4000 (training) and TNP4 800 (assessment)" in outcome["reason"]
    [programme] = aims(ilr_of(tenant, learner_id))
    assert programme["AppFinRecord"][2:] == [
        {"AFinType": "TNP", "AFinCode": 3, "AFinDate": NEW_EMPLOYER, "AFinAmount": 4000},
        {"AFinType": "TNP", "AFinCode": 4, "AFinDate": NEW_EMPLOYER, "AFinAmount": 800},
    ]
    assert programme["LearningDeliveryFAM"] == [
        {
            "LearnDelFAMType": "ACT",
            "LearnDelFAMCode": "1",
            "LearnDelFAMDateFrom": START.isoformat(),
            "LearnDelFAMDateTo": "2026-11-01",
        },
        {"LearnDelFAMType": "ACT", "LearnDelFAMCode": "2", "LearnDelFAMDateFrom": NEW_EMPLOYER},
    ]
    assert validation_of(tenant, learner_id) == {"valid": True, "errors": [], "warnings": []}
    latest = ilr_updates(tenant, learner_id)[-1]
    assert (latest["version"], latest["validation"]["warnings"]) == (outcome["ilr_version"], [])


def processed(tenant: Tenant, tracker_id: str) -> dict[str, Any]:
    assert process(tenant, tracker_id).status_code == 200
    outcome = ilr_outcome(tenant, tracker_id)
    assert outcome["status"] == "applied", outcome
    return outcome


def no_employer_warnings(validation: dict[str, Any]) -> list[str]:
    return [w["path"] for w in validation["warnings"] if w["rule"] == "NoEmployer_12_weeks"]
