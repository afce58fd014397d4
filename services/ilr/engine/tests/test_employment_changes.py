"""Change of employer and change of working hours (domain.md §3.4, §3.7, §4.4)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ilrflow.ilr_engine import ApplyResult, IlrLearner

Apply = Callable[..., ApplyResult]
BREAK = {
    "last_day_of_learning": "2025-01-31",
    "expected_return_date": "2025-04-01",
    "reason": "caring responsibilities",
}
NEW_EMPLOYER = {
    "effective_date": "2025-02-03",
    "weekly_hours": 37,
    "employer": {"ern": "987654321", "name": "Beta Ltd"},
}


def test_change_of_employer_adds_a_status_and_keeps_the_old(
    enrolled: IlrLearner, apply: Apply
) -> None:
    result = apply(enrolled, "change_of_employer", NEW_EMPLOYER)

    assert result.status == "applied"
    old, new = result.record["LearnerEmploymentStatus"]
    assert old == enrolled["LearnerEmploymentStatus"][0]
    assert new == {
        "EmpStat": 10,
        "DateEmpStatApp": "2025-02-03",
        "EmpId": 987654321,
        "EmploymentStatusMonitoring": [
            {"ESMType": "EII", "ESMCode": 8},
            {"ESMType": "LOE", "ESMCode": 1},  # new employment: ESMType_09 at a later restart
            {"ESMType": "OET", "ESMCode": 3},
        ],
    }
    assert result.record["LearningDelivery"] == enrolled["LearningDelivery"]


def test_change_of_employer_not_in_paid_employment(enrolled: IlrLearner, apply: Apply) -> None:
    result = apply(enrolled, "change_of_employer", {**NEW_EMPLOYER, "employment_status": 11})

    assert result.status == "no_ilr_change"
    assert result.reason.startswith("learner not in paid employment")
    assert result.record == enrolled


def test_same_employer_change_applied_again_is_no_ilr_change(
    enrolled: IlrLearner, apply: Apply
) -> None:
    once = apply(enrolled, "change_of_employer", NEW_EMPLOYER).record

    again = apply(once, "change_of_employer", NEW_EMPLOYER)  # a different tracker, same facts

    assert again.status == "no_ilr_change"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({**NEW_EMPLOYER, "effective_date": "2024-08-01"}, "before the programme start"),
        ({**NEW_EMPLOYER, "employer": {"ern": "123456789", "name": "Acme"}}, "current employer"),
        ({**NEW_EMPLOYER, "employer": None}, "changes.employer"),
        ({**NEW_EMPLOYER, "weekly_hours": "lots"}, "weekly_hours"),
    ],
)
def test_bad_change_of_employer_is_rejected(
    enrolled: IlrLearner, apply: Apply, changes: dict[str, object], reason: str
) -> None:
    result = apply(enrolled, "change_of_employer", changes)

    assert result.status == "rejected"
    assert reason in result.reason


def test_a_second_status_on_the_same_date_is_rejected(enrolled: IlrLearner, apply: Apply) -> None:
    hours = {"effective_date": NEW_EMPLOYER["effective_date"], "weekly_hours": 16}
    fewer_hours = apply(enrolled, "change_of_working_hours", hours).record

    result = apply(fewer_hours, "change_of_employer", NEW_EMPLOYER)

    assert result.status == "rejected"
    assert "one per date" in result.reason


def test_change_of_employer_on_a_break_is_rejected(enrolled: IlrLearner, apply: Apply) -> None:
    on_break = apply(enrolled, "break_in_learning", BREAK).record

    result = apply(on_break, "change_of_employer", NEW_EMPLOYER)

    assert result.status == "rejected"
    assert "not in learning" in result.reason


def test_hours_change_within_the_band_is_no_ilr_change(enrolled: IlrLearner, apply: Apply) -> None:
    result = apply(
        enrolled, "change_of_working_hours", {"effective_date": "2025-02-03", "weekly_hours": 37}
    )

    assert result.status == "no_ilr_change"
    assert "EII band 8" in result.reason
    assert result.record == enrolled


def test_hours_change_across_a_band_adds_a_status(enrolled: IlrLearner, apply: Apply) -> None:
    after_employer = apply(enrolled, "change_of_employer", NEW_EMPLOYER).record

    result = apply(
        after_employer,
        "change_of_working_hours",
        {"effective_date": "2025-03-03", "weekly_hours": 16},
    )

    assert result.status == "applied"
    latest = result.record["LearnerEmploymentStatus"][-1]
    assert (latest["DateEmpStatApp"], latest["EmpId"]) == ("2025-03-03", 987654321)
    assert latest["EmploymentStatusMonitoring"] == [  # the same employment: LOE kept, no OET 3
        {"ESMType": "EII", "ESMCode": 6},
        {"ESMType": "LOE", "ESMCode": 1},
    ]
    assert result.record["LearningDelivery"] == enrolled["LearningDelivery"]  # PHours untouched


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"effective_date": "2024-01-01", "weekly_hours": 16}, "before the programme start"),
        ({"effective_date": "2025-03-03", "weekly_hours": -1}, "weekly_hours"),
        ({"weekly_hours": 16}, "changes.effective_date: is required"),
    ],
)
def test_bad_hours_change_is_rejected(
    enrolled: IlrLearner, apply: Apply, changes: dict[str, object], reason: str
) -> None:
    result = apply(enrolled, "change_of_working_hours", changes)

    assert result.status == "rejected"
    assert reason in result.reason


def test_hours_change_before_a_later_status_is_rejected(enrolled: IlrLearner, apply: Apply) -> None:
    after_employer = apply(enrolled, "change_of_employer", NEW_EMPLOYER).record

    result = apply(
        after_employer,
        "change_of_working_hours",
        {"effective_date": "2025-01-06", "weekly_hours": 16},
    )

    assert result.status == "rejected"
    assert "later than" in result.reason
