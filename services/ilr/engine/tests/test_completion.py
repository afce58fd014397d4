"""Completion of the practical period (CompStatus 2, Outcome 8) and the end-point assessment's
result (Outcome 1 + AchDate, or Outcome 3): each step leaves the record valid by ESFA's rules."""

from __future__ import annotations

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
COMPLETION = {"practical_period_end": "2026-10-30", "otj_actual_hours": 410}
PASS = {"achievement_date": "2026-11-20", "result": "pass"}


@pytest.fixture
def enrolled(
    make_snapshot: Callable[..., LearnerSnapshot], make_enrolment: Callable[..., Enrolment]
) -> IlrLearner:
    """A 2025/26 start (1 Sep 2025, planned to 1 Mar 2027, 400 h, standard 91)."""
    programme = make_enrolment(
        standard_code=91,
        start_date=date(2025, 9, 1),
        planned_end_date=date(2027, 3, 1),
        planned_otj_hours=400,
        employment=Employment(date_from=date(2024, 6, 3), length_of_employment=4),
    )
    return learner_from_enrolment(make_snapshot(), programme, None)


def run(
    record: IlrLearner, tracker_type: str, changes: dict[str, Any], today: date = TODAY
) -> ApplyResult:
    application = TrackerApplication("t", tracker_type, changes, ("admin",), False, today=today)
    return apply_tracker(record, application)


def applied(record: IlrLearner, tracker_type: str, changes: dict[str, Any]) -> IlrLearner:
    result = run(record, tracker_type, changes)
    assert result.status == "applied", result.reason
    checked = validate(result.record, today=TODAY)
    assert checked.valid, checked.as_json()
    return result.record


def programme(record: IlrLearner) -> dict[str, Any]:
    aim: dict[str, Any] = record["LearningDelivery"][-1]
    return aim


def test_completion_returns_comp_status_2_outcome_8_and_the_actual_hours(
    enrolled: IlrLearner,
) -> None:
    aim = programme(applied(enrolled, "completion", COMPLETION))

    assert (aim["CompStatus"], aim["Outcome"], aim["LearnActEndDate"]) == (2, 8, "2026-10-30")
    assert aim["OTJActHours"] == 410
    assert "AchDate" not in aim
    assert "WithdrawReason" not in aim
    assert aim["LearningDeliveryFAM"][0]["LearnDelFAMDateTo"] == "2026-10-30"  # ACT ends


def test_an_epa_pass_gives_outcome_1_and_the_achievement_date(enrolled: IlrLearner) -> None:
    completed = applied(enrolled, "completion", COMPLETION)
    aim = programme(applied(completed, "epa_result", PASS))

    assert (aim["CompStatus"], aim["Outcome"], aim["AchDate"]) == (2, 1, "2026-11-20")
    assert aim["LearningDeliveryFAM"][0]["LearnDelFAMDateTo"] == "2026-11-20"  # [D35]


def test_an_epa_fail_gives_outcome_3_and_no_achievement_date(enrolled: IlrLearner) -> None:
    completed = applied(enrolled, "completion", COMPLETION)
    aim = programme(applied(completed, "epa_result", {**PASS, "result": "fail"}))

    assert (aim["CompStatus"], aim["Outcome"]) == (2, 3)
    assert "AchDate" not in aim
    assert aim["LearningDeliveryFAM"][0]["LearnDelFAMDateTo"] == "2026-10-30"


def test_completion_under_the_minimum_duration_is_refused(enrolled: IlrLearner) -> None:
    result = run(enrolled, "completion", {**COMPLETION, "practical_period_end": "2026-04-30"})

    assert result.status == "rejected"
    assert "241 days in learning" in result.reason
    assert "242 days" in result.reason


def test_completion_at_the_minimum_duration_is_valid(enrolled: IlrLearner) -> None:
    applied(enrolled, "completion", {**COMPLETION, "practical_period_end": "2026-05-01"})


def test_completion_counts_every_spell_after_a_break(enrolled: IlrLearner) -> None:
    on_break = applied(
        enrolled,
        "break_in_learning",
        {"last_day_of_learning": "2025-12-19", "expected_return_date": "2026-02-02", "reason": "x"},
    )
    returned = applied(on_break, "return_to_learning", {"return_date": "2026-02-02"})
    # 109 days before the break + 132 after = 241: one short of 8 months, the break left out
    short = run(returned, "completion", {**COMPLETION, "practical_period_end": "2026-06-14"})
    assert short.status == "rejected", short.reason
    assert "241 days in learning" in short.reason

    aim = programme(applied(returned, "completion", COMPLETION))
    assert (aim["CompStatus"], aim["Outcome"], aim["OrigLearnStartDate"]) == (2, 8, "2025-09-01")


def test_completion_in_the_future_is_refused(enrolled: IlrLearner) -> None:
    result = run(enrolled, "completion", COMPLETION, today=date(2026, 10, 29))

    assert result.status == "rejected"
    assert result.reason.startswith("LearnActEndDate_04")


def test_completion_on_a_break_is_refused(enrolled: IlrLearner) -> None:
    on_break = applied(
        enrolled,
        "break_in_learning",
        {"last_day_of_learning": "2025-12-19", "expected_return_date": "2026-02-02", "reason": "x"},
    )
    result = run(on_break, "completion", COMPLETION)

    assert (result.status, result.reason) == (
        "rejected",
        "the learner is on a break in learning: record the return first",
    )


def test_completion_twice_is_refused(enrolled: IlrLearner) -> None:
    completed = applied(enrolled, "completion", COMPLETION)

    result = run(completed, "completion", COMPLETION)

    assert (result.status, result.reason) == (
        "rejected",
        "the learner has no programme in learning to complete",
    )


def test_an_epa_result_needs_a_completed_practical_period(enrolled: IlrLearner) -> None:
    result = run(enrolled, "epa_result", PASS)

    assert result.status == "rejected"
    assert "not awaiting an end-point assessment" in result.reason


def test_an_epa_result_after_a_pass_is_refused(enrolled: IlrLearner) -> None:
    achieved = applied(applied(enrolled, "completion", COMPLETION), "epa_result", PASS)

    assert run(achieved, "epa_result", PASS).status == "rejected"


def test_an_achievement_within_7_days_of_the_practical_period_is_refused(
    enrolled: IlrLearner,
) -> None:
    completed = applied(enrolled, "completion", COMPLETION)

    too_soon = run(completed, "epa_result", {**PASS, "achievement_date": "2026-11-05"})
    assert too_soon.status == "rejected"
    assert too_soon.reason.startswith("AchDate_11")
    applied(completed, "epa_result", {**PASS, "achievement_date": "2026-11-06"})


def test_an_achievement_in_the_future_is_refused(enrolled: IlrLearner) -> None:
    completed = applied(enrolled, "completion", COMPLETION)

    result = run(completed, "epa_result", PASS, today=date(2026, 11, 19))

    assert result.status == "rejected"
    assert "achievement date 2026-11-20 is after today" in result.reason


def test_the_completion_preview_compares_time_and_hours_with_the_minimums(
    enrolled: IlrLearner,
) -> None:
    changes = {"practical_period_end": "2026-10-30", "otj_actual_hours": 380}
    shown = preview(enrolled, "completion", changes, IlrPolicy(), today=TODAY)

    assert shown["ilr_outcome"]["status"] == "applied"
    assert shown["ilr_validation"]["new_errors"] == []
    assert shown["days_in_learning"]["value"] == 424
    assert shown["minimum_duration_days"]["value"] == 242
    assert shown["otj_actual_meets_planned"]["value"] is False
    assert "warning: OTJActHours 380 < PHours 400" in shown["otj_actual_meets_planned"]["working"]
    assert shown["minimum_otj_hours"]["value"] is None  # no 2025/26 table loaded
    assert shown["otj_actual_meets_minimum"]["value"] is None


def test_the_completion_preview_uses_the_loaded_minimum(enrolled: IlrLearner) -> None:
    policy = IlrPolicy(otj_minimum_by_standard={91: 390})
    shown = preview(enrolled, "completion", COMPLETION, policy, today=TODAY)

    assert shown["minimum_otj_hours"]["value"] == 390
    assert shown["otj_actual_meets_minimum"]["value"] is True


def test_the_epa_preview_shows_the_earliest_achievement_date(enrolled: IlrLearner) -> None:
    completed = applied(enrolled, "completion", COMPLETION)

    shown = preview(completed, "epa_result", PASS, IlrPolicy(), today=TODAY)

    assert shown["earliest_achievement_date"]["value"] == "2026-11-06"
    assert shown["ilr_validation"]["new_errors"] == []
