"""Change of employer, change of working hours, out of paid employment (domain.md §3.4, §3.6,
§3.7, §4.4, §4.7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from ilrflow.ilr_engine import ApplyResult, IlrLearner
from ilrflow.ilr_engine.esfa_rules import validate

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


def test_change_of_employer_on_a_break_returns_the_learner_with_the_new_employer(
    enrolled: IlrLearner, apply: Apply
) -> None:
    on_break = apply(enrolled, "break_in_learning", BREAK).record
    changes = {**NEW_EMPLOYER, "effective_date": "2025-03-03", **NEW_TERMS}

    result = apply(on_break, "change_of_employer", changes)

    assert result.status == "applied", result.reason
    old, restarted = result.record["LearningDelivery"]
    assert old == on_break["LearningDelivery"][0]  # the aim on the break is never reopened
    assert (restarted["LearnStartDate"], restarted["OrigLearnStartDate"]) == (
        "2025-03-03",
        "2024-09-02",
    )
    assert restarted["LearningDeliveryFAM"] == [
        {"LearnDelFAMType": "RES", "LearnDelFAMCode": "1"},
        {"LearnDelFAMType": "ACT", "LearnDelFAMCode": "2", "LearnDelFAMDateFrom": "2025-03-03"},
    ]
    assert restarted["AppFinRecord"] == [  # the new employer's residual price alone
        {"AFinType": "TNP", "AFinCode": 3, "AFinDate": "2025-03-03", "AFinAmount": 5000},
        {"AFinType": "TNP", "AFinCode": 4, "AFinDate": "2025-03-03", "AFinAmount": 900},
    ]
    assert result.record["LearnerEmploymentStatus"][-1]["DateEmpStatApp"] == "2025-03-03"
    assert "returns from the break with the new employer" in result.reason
    assert validate(result.record, today=date(2025, 3, 10)).as_json()["errors"] == []


def test_change_of_employer_on_a_break_must_come_after_the_break(
    enrolled: IlrLearner, apply: Apply
) -> None:
    on_break = apply(enrolled, "break_in_learning", BREAK).record

    result = apply(on_break, "change_of_employer", {**NEW_EMPLOYER, "effective_date": "2025-01-31"})

    assert result.status == "rejected"
    assert "returns them to learning on 2025-01-31" in result.reason


NEW_TERMS: dict[str, Any] = {"price": {"training": 5000, "assessment": 900}, "contract_type": 2}


def test_change_of_employer_records_the_residual_price_and_splits_the_contract_type(
    enrolled: IlrLearner, apply: Apply
) -> None:
    result = apply(enrolled, "change_of_employer", {**NEW_EMPLOYER, **NEW_TERMS})

    assert result.status == "applied", result.reason
    [aim] = result.record["LearningDelivery"]
    assert aim["AppFinRecord"][2:] == [
        {"AFinType": "TNP", "AFinCode": 3, "AFinDate": "2025-02-03", "AFinAmount": 5000},
        {"AFinType": "TNP", "AFinCode": 4, "AFinDate": "2025-02-03", "AFinAmount": 900},
    ]
    assert aim["AppFinRecord"][:2] == enrolled["LearningDelivery"][0]["AppFinRecord"]
    assert aim["LearningDeliveryFAM"] == [
        {
            "LearnDelFAMType": "ACT",
            "LearnDelFAMCode": "1",
            "LearnDelFAMDateFrom": "2024-09-02",
            "LearnDelFAMDateTo": "2025-02-02",  # the day before: no gap, no overlap [P3]
        },
        {"LearnDelFAMType": "ACT", "LearnDelFAMCode": "2", "LearnDelFAMDateFrom": "2025-02-03"},
    ]
    assert "TNP3 5000 (training) and TNP4 900 (assessment) from 2025-02-03" in result.reason
    assert validate(result.record, today=date(2025, 2, 10)).as_json()["errors"] == []


def test_the_same_contract_type_adds_no_contract_record(enrolled: IlrLearner, apply: Apply) -> None:
    result = apply(enrolled, "change_of_employer", {**NEW_EMPLOYER, "contract_type": 1})

    assert result.status == "applied"
    fams = result.record["LearningDelivery"][0]["LearningDeliveryFAM"]
    assert fams == enrolled["LearningDelivery"][0]["LearningDeliveryFAM"]
    assert "the contract type stays ACT 1" in result.reason
    assert "record TNP3/TNP4 once the new employer's price is agreed" in result.reason


def test_a_later_new_employer_records_residual_prices_again(
    enrolled: IlrLearner, apply: Apply
) -> None:
    priced = apply(enrolled, "change_of_employer", {**NEW_EMPLOYER, **NEW_TERMS}).record
    out_of_work = apply(priced, "change_of_employment_status", REDUNDANCY).record
    again = apply(out_of_work, "change_of_employer", {**SECOND_EMPLOYER, **NEW_TERMS})

    assert again.status == "applied"  # once residual, prices stay residual [C34]
    assert [r["AFinCode"] for r in again.record["LearningDelivery"][0]["AppFinRecord"]] == [
        1,
        2,
        3,
        4,
        3,
        4,
    ]


REDUNDANCY = {"effective_date": "2025-03-03", "employment_status": 11, "made_redundant": True}
SECOND_EMPLOYER = {
    "effective_date": "2025-04-07",
    "weekly_hours": 30,
    "employer": {"ern": "555555555", "name": "Gamma Ltd"},
}


def test_redundancy_adds_a_status_without_an_employer_and_keeps_the_aims_open(
    enrolled: IlrLearner, apply: Apply
) -> None:
    result = apply(enrolled, "change_of_employment_status", REDUNDANCY)

    assert result.status == "applied", result.reason
    assert result.record["LearnerEmploymentStatus"][-1] == {
        "EmpStat": 11,
        "DateEmpStatApp": "2025-03-03",
        "EmploymentStatusMonitoring": [
            {"ESMType": "LOU", "ESMCode": 1},  # unemployed for less than 6 months
            {"ESMType": "OET", "ESMCode": 1},  # made redundant [D12]
        ],
    }
    assert result.record["LearningDelivery"] == enrolled["LearningDelivery"]
    assert "a new employer is needed by 2025-05-26 (12 weeks)" in result.reason
    assert validate(result.record, today=date(2025, 3, 10)).as_json() == {
        "valid": True,
        "errors": [],
        "warnings": [],
    }


def test_after_twelve_weeks_without_an_employer_the_ilr_check_asks_for_a_break_or_withdrawal(
    enrolled: IlrLearner, apply: Apply
) -> None:
    redundant = apply(enrolled, "change_of_employment_status", REDUNDANCY).record

    on_the_last_day = validate(redundant, today=date(2025, 5, 26))
    after = validate(redundant, today=date(2025, 5, 27))

    assert on_the_last_day.warnings == []
    assert after.valid
    [warning] = after.warnings
    assert (warning.rule, warning.path) == ("NoEmployer_12_weeks", "/LearnerEmploymentStatus/1")
    assert "record a break in learning or a withdrawal" in warning.message


@pytest.mark.parametrize(
    ("tracker_type", "changes"),
    [
        ("change_of_employer", SECOND_EMPLOYER),
        (
            "break_in_learning",
            {**BREAK, "last_day_of_learning": "2025-04-04", "expected_return_date": "2025-06-02"},
        ),
    ],
)
def test_a_new_employer_or_a_break_ends_the_twelve_week_warning(
    enrolled: IlrLearner, apply: Apply, tracker_type: str, changes: dict[str, Any]
) -> None:
    redundant = apply(enrolled, "change_of_employment_status", REDUNDANCY).record

    resolved = apply(redundant, tracker_type, changes)

    assert resolved.status == "applied", resolved.reason
    assert validate(resolved.record, today=date(2025, 6, 30)).as_json()["warnings"] == []


def test_looking_then_not_looking_for_work_continues_the_time_without_an_employer(
    enrolled: IlrLearner, apply: Apply
) -> None:
    redundant = apply(enrolled, "change_of_employment_status", REDUNDANCY).record

    later = apply(
        redundant,
        "change_of_employment_status",
        {"effective_date": "2025-09-08", "employment_status": 12},
    )

    assert later.status == "applied"
    assert later.record["LearnerEmploymentStatus"][-1]["EmploymentStatusMonitoring"] == [
        {"ESMType": "LOU", "ESMCode": 2}  # unemployed since 2025-03-03: 6-11 months; no OET
    ]
    assert "without an employer since 2025-03-03" in later.reason


def test_the_same_status_again_is_no_ilr_change(enrolled: IlrLearner, apply: Apply) -> None:
    redundant = apply(enrolled, "change_of_employment_status", REDUNDANCY).record

    again = apply(
        redundant, "change_of_employment_status", {**REDUNDANCY, "effective_date": "2025-03-10"}
    )

    assert again.status == "no_ilr_change"
    assert "already records EmpStat 11 from 2025-03-03" in again.reason


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({**REDUNDANCY, "effective_date": "2024-08-30"}, "before the programme start"),
        ({**REDUNDANCY, "employment_status": 10}, "changes.employment_status"),
        ({**REDUNDANCY, "effective_date": "2024-09-01"}, "before the programme start"),
    ],
)
def test_bad_change_of_employment_status_is_rejected(
    enrolled: IlrLearner, apply: Apply, changes: dict[str, object], reason: str
) -> None:
    result = apply(enrolled, "change_of_employment_status", changes)

    assert result.status == "rejected"
    assert reason in result.reason


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
