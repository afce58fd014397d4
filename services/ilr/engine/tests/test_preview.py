"""preview: values shown on a tracker before processing, each with its working."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from typing import Any

from ilrflow.ilr_engine import ApplyResult, IlrLearner, IlrPolicy, preview

TODAY = date(2026, 1, 5)
POLICY = IlrPolicy(material_impact_threshold_percent=10, withdrawal_reason_map={"moved away": 44})
BREAK = {
    "last_day_of_learning": "2025-01-31",
    "expected_return_date": "2025-04-01",
    "reason": "caring responsibilities",
}


def test_return_preview_shows_the_new_planned_end_date(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult]
) -> None:
    on_break = apply(enrolled, "break_in_learning", BREAK).record

    shown = preview(
        on_break, "return_to_learning", {"return_date": "2025-04-01"}, POLICY, today=TODAY
    )

    assert shown["new_planned_end_date"]["value"] == "2025-11-29"
    assert "242 days" in shown["new_planned_end_date"]["working"]
    assert shown["days_in_learning"]["value"] == 393
    assert shown["minimum_otj_hours"]["value"] == 300
    assert shown["planned_otj_meets_minimum"]["value"] is True
    assert shown["ilr_outcome"]["status"] == "applied"
    assert shown["ilr_patch"][0]["path"] == "/LearningDelivery/1"


def test_return_preview_counts_only_time_in_learning_after_two_breaks(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult]
) -> None:
    record = apply(enrolled, "break_in_learning", BREAK).record
    record = apply(record, "return_to_learning", {"return_date": "2025-04-01"}).record
    second_break = {
        **BREAK,
        "last_day_of_learning": "2025-06-30",
        "expected_return_date": "2025-09-01",
    }
    record = apply(record, "break_in_learning", second_break).record
    changes = {
        "return_date": "2025-09-01",
        "planned_end_date": "2025-11-10",
        "override_reason": "finishing early",
    }

    shown = preview(record, "return_to_learning", changes, POLICY, today=TODAY)

    assert shown["ilr_outcome"]["status"] == "rejected"
    assert "311 days" in shown["calculation_error"]


def test_break_preview_counts_the_learning_before_an_earlier_break(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult]
) -> None:
    record = apply(enrolled, "break_in_learning", BREAK).record
    record = apply(record, "return_to_learning", {"return_date": "2025-04-01"}).record
    second_break = {
        **BREAK,
        "last_day_of_learning": "2025-06-30",
        "expected_return_date": "2025-09-01",
    }

    shown = preview(record, "break_in_learning", second_break, POLICY, today=TODAY)

    assert shown["days_in_learning_before_break"]["value"] == 151 + 90


def _started_2025(enrolled: IlrLearner, std_code: int) -> IlrLearner:
    """A 2025/26 start (the published volume per standard applies) on ``std_code``."""
    record = copy.deepcopy(enrolled)
    programme = record["LearningDelivery"][0]
    programme.update(
        LearnStartDate="2025-09-01", LearnPlanEndDate="2026-10-30", StdCode=std_code, PHours=300
    )
    for fam in programme["LearningDeliveryFAM"]:
        fam["LearnDelFAMDateFrom"] = "2025-09-01"
    return record


def _return_preview(
    record: IlrLearner, policy: IlrPolicy, apply: Callable[..., ApplyResult]
) -> dict[str, Any]:
    on_break = apply(
        record,
        "break_in_learning",
        {"last_day_of_learning": "2025-12-19", "expected_return_date": "2026-01-05", "reason": "x"},
    ).record
    return preview(
        on_break, "return_to_learning", {"return_date": "2026-01-05"}, policy, today=TODAY
    )


def test_a_standard_missing_from_the_loaded_table_is_never_reported_as_met(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult]
) -> None:
    policy = IlrPolicy(otj_minimum_by_standard={244: 370})

    shown = _return_preview(_started_2025(enrolled, 91), policy, apply)

    assert shown["minimum_otj_hours"]["value"] is None
    assert (
        "minimum unknown: standard 91 is not in the loaded table"
        in shown["minimum_otj_hours"]["working"]
    )
    assert shown["planned_otj_meets_minimum"]["value"] is None
    assert "minimum unknown" in shown["planned_otj_meets_minimum"]["working"]


def test_the_loaded_table_decides_whether_planned_hours_meet_the_minimum(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult]
) -> None:
    policy = IlrPolicy(otj_minimum_by_standard={244: 370})

    shown = _return_preview(_started_2025(enrolled, 244), policy, apply)

    assert shown["minimum_otj_hours"]["value"] == 370
    assert shown["planned_otj_meets_minimum"]["value"] is False  # PHours 300 < 370


def test_preview_does_not_change_the_record(enrolled: IlrLearner) -> None:
    before = repr(enrolled)

    preview(
        enrolled,
        "withdrawal",
        {"last_day_of_learning": "2025-03-14", "reason": 44},
        POLICY,
        today=TODAY,
    )

    assert repr(enrolled) == before


def test_break_preview_estimates_the_planned_end_date(enrolled: IlrLearner) -> None:
    shown = preview(enrolled, "break_in_learning", BREAK, POLICY, today=TODAY)

    assert shown["expected_new_planned_end_date"]["value"] == "2025-11-29"
    assert shown["days_remaining"]["value"] == 242


def test_40_to_37_hours_is_not_material_and_keeps_the_band(enrolled: IlrLearner) -> None:
    changes = {"effective_date": "2025-02-03", "weekly_hours": 37}

    shown = preview(
        enrolled, "change_of_working_hours", changes, POLICY, today=TODAY, previous_weekly_hours=40
    )

    assert shown["material_impact"] == {
        "value": False,
        "working": "|37 - 40| / 40 = 7.5% < threshold 10%",
    }
    assert shown["eii_band"]["value"] == {"from": 8, "to": 8, "changes": False}
    assert (
        shown["minimum_otj_hours"]["value"]
        == shown["minimum_otj_hours_before_change"]["value"]
        == 300
    )
    assert shown["ilr_outcome"]["status"] == "no_ilr_change"


def test_drop_to_part_time_is_material_and_lowers_the_minimum(enrolled: IlrLearner) -> None:
    changes = {"effective_date": "2025-02-03", "weekly_hours": 16}

    shown = preview(
        enrolled,
        "change_of_working_hours",
        changes,
        POLICY,
        today=TODAY,
        previous_weekly_hours=37.5,
    )

    assert shown["material_impact"]["value"] is True
    assert shown["eii_band"]["value"] == {"from": 8, "to": 6, "changes": True}
    assert shown["minimum_otj_hours"]["value"] < shown["minimum_otj_hours_before_change"]["value"]
    assert "time-weighted" in shown["minimum_otj_hours"]["working"]


def test_material_impact_needs_the_previous_hours(enrolled: IlrLearner) -> None:
    shown = preview(
        enrolled,
        "change_of_employer",
        {
            "effective_date": "2025-02-03",
            "weekly_hours": 37,
            "employer": {"ern": "987654321", "name": "Beta"},
        },
        POLICY,
        today=TODAY,
    )

    assert shown["material_impact"]["value"] is None
    assert "previous_weekly_hours" in shown["material_impact"]["working"]


def test_withdrawal_preview_shows_the_mapped_reason(enrolled: IlrLearner) -> None:
    shown = preview(
        enrolled,
        "withdrawal",
        {"last_day_of_learning": "2025-03-14", "reason": "moved away"},
        POLICY,
        today=TODAY,
    )

    assert shown["withdraw_reason"] == {
        "value": 44,
        "working": "tenant reason 'moved away' maps to WithdrawReason 44",
    }


def test_bad_input_is_explained_not_raised(enrolled: IlrLearner) -> None:
    shown = preview(enrolled, "return_to_learning", {"return_date": "soon"}, POLICY, today=TODAY)

    assert shown["ilr_outcome"]["status"] == "rejected"
    assert "changes.return_date: must be a date" in shown["calculation_error"]
    assert "changes.return_date: must be a date" in shown["ilr_outcome"]["reason"]


def test_custom_tracker_preview(enrolled: IlrLearner) -> None:
    shown = preview(enrolled, "custom:anything", {}, POLICY, today=TODAY)

    assert shown["ilr_outcome"]["status"] == "no_ilr_change"


def test_preview_names_the_rules_processing_would_break(enrolled: IlrLearner) -> None:
    olass = {"last_day_of_learning": "2025-03-14", "reason": "28"}

    shown = preview(enrolled, "withdrawal", olass, POLICY, today=TODAY)

    checked = shown["ilr_validation"]
    assert checked["new_errors"] == [
        {
            "rule": "WithdrawReason_05",
            "message": "WithdrawReason 28 is for OLASS (custody) aims only",
            "path": "/LearningDelivery/0/WithdrawReason",
        }
    ]
    assert checked["valid"] is False
    assert set(checked["new_errors"][0].items()) <= {
        item for error in checked["errors"] for item in error.items()
    }


def test_errors_the_record_already_has_are_not_new(enrolled: IlrLearner) -> None:
    moved = {"last_day_of_learning": "2025-03-14", "reason": "moved away"}
    unpriced = copy.deepcopy(enrolled)
    del unpriced["LearningDelivery"][0]["AppFinRecord"]  # broken before and after

    shown = preview(unpriced, "withdrawal", moved, POLICY, today=TODAY)

    assert shown["ilr_validation"]["new_errors"] == []
    assert [e["rule"] for e in shown["ilr_validation"]["errors"]] == ["AFinType_12", "AFinType_13"]


def test_out_of_work_preview_shows_the_twelve_weeks_and_warns_once_they_are_over(
    enrolled: IlrLearner,
) -> None:
    redundancy = {"effective_date": "2025-03-03", "employment_status": 11, "made_redundant": True}

    shown = preview(
        enrolled, "change_of_employment_status", redundancy, POLICY, today=date(2025, 6, 2)
    )

    assert shown["ilr_outcome"]["status"] == "applied"
    assert shown["twelve_week_deadline"]["value"] == "2025-05-26"
    # 182 of 393 planned days done, and the last 6 months start 2025-03-30: not funded through
    assert shown["funded_to_completion"]["value"] is False
    assert "182 of 393 planned days" in shown["funded_to_completion"]["working"]
    [warning] = shown["ilr_validation"]["warnings"]
    assert warning["rule"] == "NoEmployer_12_weeks"
    assert shown["ilr_validation"]["new_errors"] == []


def test_leaving_work_without_redundancy_shows_no_funding_to_completion(
    enrolled: IlrLearner,
) -> None:
    changes = {"effective_date": "2025-03-03", "employment_status": 12}

    shown = preview(
        enrolled, "change_of_employment_status", changes, POLICY, today=date(2025, 3, 3)
    )

    assert shown["twelve_week_deadline"]["value"] == "2025-05-26"
    assert "funded_to_completion" not in shown
    assert shown["ilr_validation"]["warnings"] == []
