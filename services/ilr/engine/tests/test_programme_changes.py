"""Break in learning, return to learning, change of programme, withdrawal (domain.md §3.7, §3.9)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable

import pytest

from ilrflow.ilr_engine import ApplyResult, IlrLearner, IlrPolicy

BREAK = {
    "last_day_of_learning": "2025-01-31",
    "expected_return_date": "2025-04-01",
    "reason": "caring responsibilities",
}
RETURN = {"return_date": "2025-04-01"}
Apply = Callable[..., ApplyResult]


@pytest.fixture
def section_3_9(enrolled: IlrLearner) -> IlrLearner:
    """§3.9's learner: a priced programme aim (TNP1 8000, TNP2 1000) and one component aim."""
    record = copy.deepcopy(enrolled)
    programme = record["LearningDelivery"][0]
    programme["AppFinRecord"] = [
        {"AFinType": "TNP", "AFinCode": 1, "AFinDate": "2024-09-02", "AFinAmount": 8000},
        {"AFinType": "TNP", "AFinCode": 2, "AFinDate": "2024-09-02", "AFinAmount": 1000},
    ]
    component = {
        k: v for k, v in programme.items() if k not in ("PHours", "AppFinRecord", "SWSupAimId")
    }
    record["LearningDelivery"].append(
        {
            **component,
            "LearnAimRef": "60312345",
            "AimType": 3,
            "AimSeqNumber": 2,
            "LearnPlanEndDate": "2025-06-30",
        }
    )
    return record


def test_break_closes_every_open_aim(section_3_9: IlrLearner, apply: Apply) -> None:
    result = apply(section_3_9, "break_in_learning", BREAK)

    assert result.status == "applied"
    for aim in result.record["LearningDelivery"]:
        assert (aim["CompStatus"], aim["LearnActEndDate"], aim["Outcome"]) == (6, "2025-01-31", 3)
        assert aim["LearningDeliveryFAM"][0]["LearnDelFAMDateTo"] == "2025-01-31"
        assert "WithdrawReason" not in aim


def test_break_when_already_on_a_break_is_rejected(enrolled: IlrLearner, apply: Apply) -> None:
    on_break = apply(enrolled, "break_in_learning", BREAK).record

    result = apply(on_break, "break_in_learning", BREAK)

    assert result.status == "rejected"
    assert "already on a break" in result.reason
    assert result.record == on_break


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({**BREAK, "last_day_of_learning": "2024-08-01"}, "before aim 1's start"),
        ({**BREAK, "expected_return_date": "2025-01-01"}, "must be after last_day_of_learning"),
        ({**BREAK, "last_day_of_learning": None}, "last_day_of_learning"),
        ({**BREAK, "last_day_of_learning": "31/01/2025"}, "must be a date"),
    ],
)
def test_bad_break_is_rejected(
    enrolled: IlrLearner, apply: Apply, changes: dict[str, str], reason: str
) -> None:
    result = apply(enrolled, "break_in_learning", changes)

    assert result.status == "rejected"
    assert reason in result.reason


def test_break_then_return_matches_the_example_of_3_9(
    section_3_9: IlrLearner, apply: Apply
) -> None:
    on_break = apply(section_3_9, "break_in_learning", BREAK).record

    result = apply(on_break, "return_to_learning", RETURN)

    assert result.status == "applied"
    old_programme, old_component, programme, component = result.record["LearningDelivery"]
    assert (old_programme, old_component) == tuple(on_break["LearningDelivery"])  # never reopened
    assert (programme["AimSeqNumber"], component["AimSeqNumber"]) == (3, 4)
    assert programme["LearnStartDate"] == component["LearnStartDate"] == "2025-04-01"
    assert programme["OrigLearnStartDate"] == component["OrigLearnStartDate"] == "2024-09-02"
    assert programme["LearnPlanEndDate"] == "2025-11-29"
    assert component["LearnPlanEndDate"] == "2025-08-29"  # its own 150 remaining days
    assert (programme["PHours"], programme["CompStatus"]) == (300, 1)
    assert programme["LearningDeliveryFAM"] == [
        {"LearnDelFAMType": "RES", "LearnDelFAMCode": "1"},
        {"LearnDelFAMType": "ACT", "LearnDelFAMCode": "1", "LearnDelFAMDateFrom": "2025-04-01"},
    ]
    assert programme["AppFinRecord"] == [
        {"AFinType": "TNP", "AFinCode": 1, "AFinDate": "2025-04-01", "AFinAmount": 8000},
        {"AFinType": "TNP", "AFinCode": 2, "AFinDate": "2025-04-01", "AFinAmount": 1000},
    ]
    assert "2025-11-29" in result.reason


def test_restarted_aims_get_guids_of_their_own_stable_across_rebuilds(
    section_3_9: IlrLearner, apply: Apply
) -> None:
    on_break = apply(section_3_9, "break_in_learning", BREAK).record

    first = apply(on_break, "return_to_learning", RETURN).record["LearningDelivery"]
    rebuilt = apply(on_break, "return_to_learning", RETURN).record["LearningDelivery"]

    old_programme, _, programme, component = first
    ids = [programme["SWSupAimId"], component["SWSupAimId"]]  # the old component had none
    assert all(str(uuid.UUID(aim_id)) == aim_id for aim_id in ids)
    assert len({old_programme["SWSupAimId"], *ids}) == 3
    assert [aim["SWSupAimId"] for aim in rebuilt[2:]] == ids


def test_return_with_an_override(enrolled: IlrLearner, apply: Apply) -> None:
    on_break = apply(enrolled, "break_in_learning", BREAK).record
    changes = {**RETURN, "planned_end_date": "2025-12-31", "override_reason": "extra support"}

    result = apply(on_break, "return_to_learning", changes)

    assert result.status == "applied"
    assert result.record["LearningDelivery"][-1]["LearnPlanEndDate"] == "2025-12-31"


def test_remaining_planned_hours_policy(enrolled: IlrLearner, apply: Apply) -> None:
    record = copy.deepcopy(enrolled)
    record["LearningDelivery"][0]["OTJActHours"] = 120
    on_break = apply(record, "break_in_learning", BREAK).record

    result = apply(
        on_break, "return_to_learning", RETURN, policy=IlrPolicy(restart_planned_hours="remaining")
    )

    assert result.record["LearningDelivery"][-1]["PHours"] == 180


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"return_date": "2025-01-15"}, "must be after the last day of learning"),
        (
            {"return_date": "2025-04-01", "planned_end_date": "2025-12-31"},
            "override_reason: is required",
        ),
        (
            {"return_date": "2025-04-01", "planned_end_date": "2025-06-01", "override_reason": "x"},
            "fewer than the minimum duration",
        ),
        (
            {"return_date": "2025-04-01", "planned_end_date": "2025-03-01", "override_reason": "x"},
            "must be after return_date",
        ),
    ],
)
def test_bad_return_is_rejected(
    enrolled: IlrLearner, apply: Apply, changes: dict[str, str], reason: str
) -> None:
    on_break = apply(enrolled, "break_in_learning", BREAK).record

    result = apply(on_break, "return_to_learning", changes)

    assert result.status == "rejected"
    assert reason in result.reason


def test_return_when_not_on_a_break_is_rejected(enrolled: IlrLearner, apply: Apply) -> None:
    result = apply(enrolled, "return_to_learning", RETURN)

    assert result.status == "rejected"
    assert "not on a break" in result.reason


def test_second_break_and_return_restart_from_the_original_start(
    enrolled: IlrLearner, apply: Apply
) -> None:
    record = apply(enrolled, "break_in_learning", BREAK).record
    record = apply(record, "return_to_learning", RETURN).record
    second_break = {
        **BREAK,
        "last_day_of_learning": "2025-05-31",
        "expected_return_date": "2025-07-01",
    }
    record = apply(record, "break_in_learning", second_break).record

    result = apply(record, "return_to_learning", {"return_date": "2025-07-01"})

    latest = result.record["LearningDelivery"][-1]
    assert (latest["AimSeqNumber"], latest["OrigLearnStartDate"]) == (3, "2024-09-02")
    assert latest["LearnPlanEndDate"] == "2025-12-30"  # 2025-11-29 + the 31-day gap


def _after_two_breaks(enrolled: IlrLearner, apply: Apply) -> IlrLearner:
    """Learning 2024-09-02..2025-01-31 (151 days) and 2025-04-01..2025-06-30 (90 days), then on a
    second break since 2025-06-30."""
    record = apply(enrolled, "break_in_learning", BREAK).record
    record = apply(record, "return_to_learning", RETURN).record
    second_break = {
        **BREAK,
        "last_day_of_learning": "2025-06-30",
        "expected_return_date": "2025-09-01",
    }
    return apply(record, "break_in_learning", second_break).record


SECOND_RETURN_311_DAYS = {
    "return_date": "2025-09-01",
    "planned_end_date": "2025-11-10",  # 151 + 90 + 70 = 311 days in learning
    "override_reason": "finishing early",
}


def test_second_return_counts_no_break_as_time_in_learning(
    enrolled: IlrLearner, apply: Apply
) -> None:
    """311 real days against the 365-day minimum: the first break's 59 days are not learning."""
    on_second_break = _after_two_breaks(enrolled, apply)

    result = apply(on_second_break, "return_to_learning", SECOND_RETURN_311_DAYS)

    assert result.status == "rejected"
    assert "leaves 311 days in learning" in result.reason


def test_second_return_accepts_an_override_that_keeps_365_days_in_learning(
    enrolled: IlrLearner, apply: Apply
) -> None:
    on_second_break = _after_two_breaks(enrolled, apply)
    changes = {**SECOND_RETURN_311_DAYS, "planned_end_date": "2026-01-03"}  # 151 + 90 + 124

    result = apply(on_second_break, "return_to_learning", changes)

    assert result.status == "applied", result.reason
    assert "365 days in learning" in result.reason


def test_change_of_programme_withdraws_with_reason_40(enrolled: IlrLearner, apply: Apply) -> None:
    result = apply(
        enrolled,
        "change_of_programme",
        {"last_day_of_learning": "2025-03-14", "new_standard_code": 244},
    )

    assert result.status == "applied"
    (aim,) = result.record["LearningDelivery"]  # no new enrolment: staff enrol the new one
    assert (aim["CompStatus"], aim["WithdrawReason"], aim["Outcome"]) == (3, 40, 3)
    assert aim["LearnActEndDate"] == "2025-03-14"
    assert "standard 244" in result.reason
    assert "2025-07-12" in result.reason  # 120 days after the last day, for the QAR


def test_change_to_the_same_standard_is_no_ilr_change(enrolled: IlrLearner, apply: Apply) -> None:
    result = apply(
        enrolled,
        "change_of_programme",
        {"last_day_of_learning": "2025-03-14", "new_standard_code": "123"},
    )

    assert result.status == "no_ilr_change"


@pytest.mark.parametrize("code", [None, "abc", 0, 123456])
def test_change_of_programme_needs_a_standard(
    enrolled: IlrLearner, apply: Apply, code: object
) -> None:
    result = apply(
        enrolled,
        "change_of_programme",
        {"last_day_of_learning": "2025-03-14", "new_standard_code": code},
    )

    assert result.status == "rejected"


def test_change_of_programme_after_withdrawal_is_rejected(
    enrolled: IlrLearner, apply: Apply
) -> None:
    withdrawn = apply(
        enrolled, "withdrawal", {"last_day_of_learning": "2025-03-14", "reason": 44}
    ).record

    result = apply(
        withdrawn,
        "change_of_programme",
        {"last_day_of_learning": "2025-03-14", "new_standard_code": 244},
    )

    assert result.status == "rejected"


@pytest.mark.parametrize(("reason", "code"), [("moved away", 44), ("3", 3), (29, 29)])
def test_withdrawal_maps_the_reason(
    enrolled: IlrLearner, apply: Apply, reason: object, code: int
) -> None:
    policy = IlrPolicy(withdrawal_reason_map={"moved away": 44})

    result = apply(
        enrolled,
        "withdrawal",
        {"last_day_of_learning": "2025-03-14", "reason": reason},
        policy=policy,
    )

    (aim,) = result.record["LearningDelivery"]
    assert result.status == "applied"
    assert (aim["CompStatus"], aim["WithdrawReason"], aim["Outcome"]) == (3, code, 3)
    assert aim["LearnActEndDate"] == "2025-03-14"
    assert aim["LearningDeliveryFAM"][0]["LearnDelFAMDateTo"] == "2025-03-14"


def test_withdrawal_uses_the_code_the_tracker_service_mapped(
    enrolled: IlrLearner, apply: Apply
) -> None:
    # The tenant's wording is unknown to the ILR service; the payload carries the ESFA code.
    changes = {
        "last_day_of_learning": "2025-03-14",
        "reason": "moved away",
        "withdraw_reason_code": 44,
    }

    result = apply(enrolled, "withdrawal", changes)

    assert result.status == "applied"
    assert result.record["LearningDelivery"][0]["WithdrawReason"] == 44


def test_withdrawal_from_a_break_keeps_the_last_day(enrolled: IlrLearner, apply: Apply) -> None:
    on_break = apply(enrolled, "break_in_learning", BREAK).record

    result = apply(on_break, "withdrawal", {"last_day_of_learning": "2025-05-01", "reason": 44})

    (aim,) = result.record["LearningDelivery"]
    assert (aim["CompStatus"], aim["WithdrawReason"], aim["LearnActEndDate"]) == (
        3,
        44,
        "2025-01-31",
    )
    assert {"op": "replace", "path": "/LearningDelivery/0/CompStatus", "value": 3} in result.patch


@pytest.mark.parametrize("reason", ["bored", 1, 99, None])
def test_unknown_withdrawal_reason_is_rejected(
    enrolled: IlrLearner, apply: Apply, reason: object
) -> None:
    result = apply(enrolled, "withdrawal", {"last_day_of_learning": "2025-03-14", "reason": reason})

    assert result.status == "rejected"
    assert "changes.reason" in result.reason


def test_withdrawal_when_already_withdrawn_is_rejected(enrolled: IlrLearner, apply: Apply) -> None:
    withdrawn = apply(
        enrolled, "withdrawal", {"last_day_of_learning": "2025-03-14", "reason": 44}
    ).record

    result = apply(withdrawn, "withdrawal", {"last_day_of_learning": "2025-03-14", "reason": 44})

    assert result.status == "rejected"
    assert result.record == withdrawn


def _with_a_component(record: IlrLearner) -> IlrLearner:
    with_component = copy.deepcopy(record)
    programme = with_component["LearningDelivery"][0]
    component = {k: v for k, v in programme.items() if k not in ("PHours", "SWSupAimId")}
    with_component["LearningDelivery"].append(
        {**component, "LearnAimRef": "60312345", "AimType": 3, "AimSeqNumber": 2}
    )
    return with_component


@pytest.mark.parametrize(
    ("tracker_type", "changes"),
    [
        ("withdrawal", {"last_day_of_learning": "2025-03-14", "reason": 44}),
        ("change_of_programme", {"last_day_of_learning": "2025-03-14", "new_standard_code": 244}),
    ],
)
def test_a_non_completer_gets_otj_actual_hours_on_the_programme_aim(
    enrolled: IlrLearner, apply: Apply, tracker_type: str, changes: dict[str, object]
) -> None:
    """P49 (2022/23 rules): actual OTJ hours for a non-completer [C-P49]; OTJActHours is a
    programme-aim field (ESFA rule OTJActHours_01)."""
    result = apply(_with_a_component(enrolled), tracker_type, {**changes, "otj_actual_hours": 142})

    programme, component = result.record["LearningDelivery"]
    assert result.status == "applied", result.reason
    assert programme["OTJActHours"] == 142
    assert "OTJActHours" not in component
    assert "OTJActHours 142" in result.reason


def test_a_withdrawal_without_otj_actual_hours_says_they_are_due(
    enrolled: IlrLearner, apply: Apply
) -> None:
    result = apply(enrolled, "withdrawal", {"last_day_of_learning": "2025-03-14", "reason": 44})

    assert result.status == "applied"
    assert "OTJActHours" not in result.record["LearningDelivery"][0]
    assert "no otj_actual_hours given" in result.reason


def test_withdrawal_from_a_break_writes_otj_actual_hours_on_the_break_aim(
    enrolled: IlrLearner, apply: Apply
) -> None:
    on_break = apply(enrolled, "break_in_learning", BREAK).record

    result = apply(
        on_break,
        "withdrawal",
        {"last_day_of_learning": "2025-01-31", "reason": 44, "otj_actual_hours": 90},
    )

    assert result.record["LearningDelivery"][0]["OTJActHours"] == 90


def test_a_break_may_record_otj_actual_hours_so_far(enrolled: IlrLearner, apply: Apply) -> None:
    result = apply(
        _with_a_component(enrolled), "break_in_learning", {**BREAK, "otj_actual_hours": 95}
    )

    programme, component = result.record["LearningDelivery"]
    assert programme["OTJActHours"] == 95
    assert "OTJActHours" not in component


def test_remaining_planned_hours_work_from_the_hours_recorded_at_the_break(
    enrolled: IlrLearner, apply: Apply
) -> None:
    remaining = IlrPolicy(restart_planned_hours="remaining")
    on_break = apply(enrolled, "break_in_learning", {**BREAK, "otj_actual_hours": 120}).record

    result = apply(on_break, "return_to_learning", RETURN, policy=remaining)

    assert result.record["LearningDelivery"][-1]["PHours"] == 300 - 120


def test_remaining_planned_hours_after_a_second_break_count_the_planned_total_once(
    enrolled: IlrLearner, apply: Apply
) -> None:
    """otj_actual_hours is the apprenticeship's total so far, so the remainder is always taken
    from the programme's original planned total (300 h), not from the previous remainder."""
    remaining = IlrPolicy(restart_planned_hours="remaining")
    record = apply(enrolled, "break_in_learning", {**BREAK, "otj_actual_hours": 120}).record
    record = apply(record, "return_to_learning", RETURN, policy=remaining).record
    second_break = {
        **BREAK,
        "last_day_of_learning": "2025-06-30",
        "expected_return_date": "2025-09-01",
        "otj_actual_hours": 170,
    }
    record = apply(record, "break_in_learning", second_break).record

    result = apply(record, "return_to_learning", {"return_date": "2025-09-01"}, policy=remaining)

    assert result.record["LearningDelivery"][-1]["PHours"] == 300 - 170
