"""Correction: ULN, DateOfBirth, Sex and Ethnicity corrected on the Learner entity; group and
tutor are not ILR data; the QA lock guards only the ILR fields; the preview shows before -> after
and the ESFA rules the new values break."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from ilrflow.ilr_engine import ApplyResult, IlrLearner, IlrPolicy, preview

Apply = Callable[..., ApplyResult]
TODAY = date(2026, 1, 5)
REASON = {"reason": "Entered wrongly at sign-up"}


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"uln": "1000000043"}, "ULN", 1000000043),
        ({"date_of_birth": "2001-02-03"}, "DateOfBirth", "2001-02-03"),
        ({"sex": "M"}, "Sex", "M"),
        ({"ethnicity": 39}, "Ethnicity", 39),
    ],
)
def test_each_ilr_field_is_corrected_in_place(
    enrolled: IlrLearner, apply: Apply, changes: dict[str, Any], field: str, value: Any
) -> None:
    result = apply(enrolled, "correction", {**changes, **REASON})

    assert result.status == "applied"
    assert result.record[field] == value
    assert result.patch == [{"op": "replace", "path": f"/{field}", "value": value}]
    assert f"{field} {enrolled[field]} -> " in result.reason


def test_group_and_tutor_are_not_ilr_data(enrolled: IlrLearner, apply: Apply) -> None:
    changes = {"group": "cohort-b", "primary_tutor_id": "tutor-2", **REASON}

    result = apply(enrolled, "correction", changes)

    assert (result.status, result.patch) == ("no_ilr_change", [])
    assert "not ILR data" in result.reason


def test_a_correction_to_the_values_recorded_changes_nothing(
    enrolled: IlrLearner, apply: Apply
) -> None:
    result = apply(enrolled, "correction", {"uln": str(enrolled["ULN"]), "sex": "F", **REASON})

    assert (result.status, result.record) == ("no_ilr_change", enrolled)


def test_a_qa_verified_ilr_refuses_an_ilr_correction_without_the_qa_role(
    enrolled: IlrLearner, apply: Apply
) -> None:
    changes = {"sex": "M", "group": "cohort-b", **REASON}

    refused = apply(enrolled, "correction", changes, qa_verified=True)
    allowed = apply(enrolled, "correction", changes, qa_verified=True, roles=("admin", "ilr_qa"))

    assert refused.status == "rejected"
    assert "ILR QA role" in refused.reason
    assert allowed.status == "applied"


def test_a_qa_verified_ilr_still_takes_a_move_of_group_or_tutor(
    enrolled: IlrLearner, apply: Apply
) -> None:
    changes = {"group": "cohort-b", "primary_tutor_id": "tutor-2", **REASON}

    result = apply(enrolled, "correction", changes, qa_verified=True)

    assert result.status == "no_ilr_change"


def test_the_preview_shows_before_and_after(enrolled: IlrLearner) -> None:
    changes = {"uln": "1000000043", "date_of_birth": "2001-02-03", "group": "g2", **REASON}

    shown = preview(enrolled, "correction", changes, IlrPolicy(), today=TODAY)

    assert shown["corrected_ilr_fields"]["value"] == {
        "ULN": {"before": enrolled["ULN"], "after": 1000000043},
        "DateOfBirth": {"before": "2000-01-31", "after": "2001-02-03"},
    }
    assert "ULN 9276308686 -> 1000000043" in shown["corrected_ilr_fields"]["working"]
    assert shown["ilr_validation"]["new_errors"] == []


def test_the_preview_names_the_rule_a_school_age_date_of_birth_breaks(
    enrolled: IlrLearner,
) -> None:
    # 16 on 2025-01-01: of school age until 27 June 2025, after the start on 2 September 2024.
    changes = {"date_of_birth": "2009-01-01", **REASON}

    shown = preview(enrolled, "correction", changes, IlrPolicy(), today=TODAY)

    assert shown["ilr_outcome"]["status"] == "applied"
    assert [e["rule"] for e in shown["ilr_validation"]["new_errors"]] == ["DateOfBirth_48"]
