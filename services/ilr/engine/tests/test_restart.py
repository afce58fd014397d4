"""Restart after a withdrawal: a new programme aim with RES=1, no OrigLearnStartDate, a new price
and the minimums of the new start; the record stays valid by ESFA's rules."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from ilrflow.contracts.events import Employment, Enrolment, LearnerSnapshot
from ilrflow.ilr_engine import (
    ApplyResult,
    IlrLearner,
    TrackerApplication,
    apply_tracker,
    learner_from_enrolment,
    preview,
)
from ilrflow.ilr_engine.esfa_rules import validate
from ilrflow.ilr_engine.policy import IlrPolicy

TODAY = date(2026, 12, 4)
WITHDRAWAL = {"last_day_of_learning": "2026-01-30", "reason": "44"}
RESTART = {
    "restart_date": "2026-03-02",
    "planned_end_date": "2027-03-31",
    "planned_otj_hours": 380,
    "price": {"training": 7500, "assessment": 1000},
}


@pytest.fixture
def withdrawn(
    make_snapshot: Callable[..., LearnerSnapshot], make_enrolment: Callable[..., Enrolment]
) -> IlrLearner:
    """Started 1 Sep 2025 on standard 91, withdrawn with a last day of 30 Jan 2026."""
    programme = make_enrolment(
        standard_code=91,
        start_date=date(2025, 9, 1),
        planned_end_date=date(2027, 3, 1),
        planned_otj_hours=400,
        employment=Employment(date_from=date(2024, 6, 3), length_of_employment=4),
    )
    return applied(
        learner_from_enrolment(make_snapshot(), programme, None), "withdrawal", WITHDRAWAL
    )


def run(record: IlrLearner, tracker_type: str, changes: dict[str, Any]) -> ApplyResult:
    application = TrackerApplication("t", tracker_type, changes, ("admin",), False, today=TODAY)
    return apply_tracker(record, application)


def applied(record: IlrLearner, tracker_type: str, changes: dict[str, Any]) -> IlrLearner:
    result = run(record, tracker_type, changes)
    assert result.status == "applied", result.reason
    checked = validate(result.record, today=TODAY)
    assert checked.valid, checked.as_json()
    return result.record


def test_a_restart_adds_a_programme_aim_with_res_and_no_original_start(
    withdrawn: IlrLearner,
) -> None:
    restarted = applied(withdrawn, "restart_after_withdrawal", RESTART)

    old, new = restarted["LearningDelivery"]
    assert old == withdrawn["LearningDelivery"][0]  # the withdrawn aim is kept as it was
    assert {k: new[k] for k in ("AimSeqNumber", "AimType", "LearnAimRef", "StdCode")} == {
        "AimSeqNumber": 2,
        "AimType": 1,
        "LearnAimRef": "ZPROG001",
        "StdCode": 91,
    }
    assert (new["LearnStartDate"], new["LearnPlanEndDate"]) == ("2026-03-02", "2027-03-31")
    assert "OrigLearnStartDate" not in new
    assert (new["PHours"], new["CompStatus"]) == (380, 1)
    assert new["LearningDeliveryFAM"] == [
        {"LearnDelFAMType": "RES", "LearnDelFAMCode": "1"},
        {"LearnDelFAMType": "ACT", "LearnDelFAMCode": "1", "LearnDelFAMDateFrom": "2026-03-02"},
    ]
    assert new["AppFinRecord"] == [
        {"AFinType": "TNP", "AFinCode": 1, "AFinDate": "2026-03-02", "AFinAmount": 7500},
        {"AFinType": "TNP", "AFinCode": 2, "AFinDate": "2026-03-02", "AFinAmount": 1000},
    ]
    assert uuid.UUID(new["SWSupAimId"]) != uuid.UUID(old["SWSupAimId"])


def test_a_restart_may_be_on_another_standard(withdrawn: IlrLearner) -> None:
    restarted = applied(withdrawn, "restart_after_withdrawal", {**RESTART, "standard_code": 92})

    assert restarted["LearningDelivery"][1]["StdCode"] == 92


def test_a_restarted_programme_can_complete_and_achieve(withdrawn: IlrLearner) -> None:
    restarted = applied(withdrawn, "restart_after_withdrawal", RESTART)
    # 2026-03-02 + 242 days: the minimum counts from the restart, not the first start
    early = {"practical_period_end": "2026-10-29", "otj_actual_hours": 300}
    assert run(restarted, "completion", early).status == "rejected"

    completed = applied(restarted, "completion", {**early, "practical_period_end": "2026-10-30"})
    achieved = applied(
        completed, "epa_result", {"achievement_date": "2026-11-20", "result": "pass"}
    )
    assert achieved["LearningDelivery"][1]["Outcome"] == 1


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"restart_date": "2026-01-30"},
            "restart_date 2026-01-30 must be after the last day of learning 2026-01-30",
        ),
        (
            {"planned_end_date": "2026-10-29"},
            "planned_end_date 2026-10-29: planned 2026-10-29 - 2026-03-02 = 241 days, fewer than "
            "the minimum duration (2025/26 rules: at least 8 months = 242 days)",
        ),
        (
            {"planned_otj_hours": 186},
            "PHours_08: planned_otj_hours 186 is under 187 for a start from 1 Aug 2025",
        ),
    ],
)
def test_a_restart_keeps_the_minimums_of_the_new_start(
    withdrawn: IlrLearner, changes: dict[str, Any], reason: str
) -> None:
    result = run(withdrawn, "restart_after_withdrawal", {**RESTART, **changes})

    assert (result.status, result.reason) == ("rejected", reason)


def test_only_a_withdrawn_learner_restarts(
    make_snapshot: Callable[..., LearnerSnapshot], make_enrolment: Callable[..., Enrolment]
) -> None:
    in_learning = learner_from_enrolment(make_snapshot(), make_enrolment(), None)

    result = run(in_learning, "restart_after_withdrawal", RESTART)

    assert (result.status, result.reason) == (
        "rejected",
        "the learner is not withdrawn from a programme",
    )


def test_a_restarted_learner_cannot_restart_again(withdrawn: IlrLearner) -> None:
    restarted = applied(withdrawn, "restart_after_withdrawal", RESTART)

    assert run(restarted, "restart_after_withdrawal", RESTART).status == "rejected"


def test_a_change_of_programme_is_no_withdrawal_to_restart_from(
    make_snapshot: Callable[..., LearnerSnapshot], make_enrolment: Callable[..., Enrolment]
) -> None:
    enrolled = learner_from_enrolment(make_snapshot(), make_enrolment(), None)
    changed = applied(
        enrolled,
        "change_of_programme",
        {"last_day_of_learning": "2025-01-31", "new_standard_code": 91},
    )

    result = run(changed, "restart_after_withdrawal", RESTART)

    assert result.status == "rejected"
    assert "WithdrawReason 40" in result.reason


def test_the_restart_preview_works_from_the_new_start(withdrawn: IlrLearner) -> None:
    policy = IlrPolicy(otj_minimum_by_standard={91: 400})
    shown = preview(withdrawn, "restart_after_withdrawal", RESTART, policy, today=TODAY)

    assert shown["ilr_outcome"]["status"] == "applied"
    assert shown["ilr_validation"]["new_errors"] == []
    assert shown["funding_rules"]["value"] == "starts from 1 Aug 2025"
    assert shown["planned_duration_days"]["value"] == 394
    assert shown["minimum_duration_days"]["value"] == 242
    assert shown["minimum_otj_hours"]["value"] == 400
    assert shown["planned_otj_meets_minimum"]["value"] is False


def test_a_restart_follows_the_rules_of_its_own_start_not_the_first(
    make_snapshot: Callable[..., LearnerSnapshot], make_enrolment: Callable[..., Enrolment]
) -> None:
    """The §3.9 learner (2024/25 start): restarted in 2025/26, the 2025/26 rules apply."""
    enrolled = learner_from_enrolment(make_snapshot(), make_enrolment(), None)
    withdrawn = applied(
        enrolled, "withdrawal", {"last_day_of_learning": "2025-06-30", "reason": 44}
    )
    restart = {**RESTART, "restart_date": "2025-09-01", "planned_end_date": "2026-06-30"}

    shown = preview(withdrawn, "restart_after_withdrawal", restart, IlrPolicy(), today=TODAY)

    assert shown["funding_rules"]["value"] == "starts from 1 Aug 2025"
    assert shown["ilr_outcome"]["status"] == "applied"
