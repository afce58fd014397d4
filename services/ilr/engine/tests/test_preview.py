"""preview: values shown on a tracker before processing, each with its working."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date

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
