"""Correction: typed fields, at least one of them, a reason, and which ones the QA lock guards."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from catalogue_helpers import canonical, problems

from ilrflow.contracts.trackers import TRACKER_TYPES

REASON = {"reason": "Entered wrongly at sign-up"}


def test_each_field_is_taken_in_its_canonical_form() -> None:
    changes = {
        "uln": " 9276308686 ",
        "date_of_birth": "2004-05-06",
        "sex": "F",
        "ethnicity": 39,
        "group": "cohort-b",
        "primary_tutor_id": "tutor-2",
        **REASON,
    }
    assert canonical("correction", changes) == {**changes, "uln": "9276308686"}


def test_fields_left_out_stay_unset() -> None:
    assert canonical("correction", {"group": "cohort-b", **REASON}) == {
        "uln": None,
        "date_of_birth": None,
        "sex": None,
        "ethnicity": None,
        "group": "cohort-b",
        "primary_tutor_id": None,
        **REASON,
    }


def test_a_correction_of_nothing_is_refused() -> None:
    found = problems("correction", REASON)
    assert list(found) == ["changes"]
    assert "at least one of uln, date_of_birth" in found["changes"]


def test_the_reason_is_required() -> None:
    assert problems("correction", {"sex": "M"}) == {"changes.reason": "is required"}
    assert problems("correction", {"sex": "M", "reason": "  "}) == {
        "changes.reason": "must not be empty"
    }


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("uln", "1234567890", "check digit"),
        ("uln", "0276308686", "should match pattern"),
        ("uln", "927630868", "should match pattern"),
        ("uln", 9276308686, "must be a string"),
        ("date_of_birth", (date.today() + timedelta(days=1)).isoformat(), "in the past"),
        ("date_of_birth", "1899-12-31", "in the past"),
        ("date_of_birth", "06/05/2004", "YYYY-MM-DD"),
        ("sex", "U", "'F' or 'M'"),
        ("ethnicity", 30, "ILR Ethnicity code"),
        ("group", "", "at least 1 character"),
        ("group", "g" * 65, "at most 64 characters"),
        ("primary_tutor_id", "tutor 2", "should match pattern"),
    ],
)
def test_each_field_is_checked_by_the_learners_own_rules(
    field: str, value: Any, reason: str
) -> None:
    found = problems("correction", {field: value, **REASON})
    assert list(found) == [f"changes.{field}"]
    assert reason in found[f"changes.{field}"]


@pytest.mark.parametrize(
    ("changes", "locked"),
    [
        ({"uln": "9276308686"}, True),
        ({"date_of_birth": "2004-05-06"}, True),
        ({"sex": "F"}, True),
        ({"ethnicity": 39}, True),
        ({"group": "cohort-b", "primary_tutor_id": "tutor-2"}, False),
        ({"group": "cohort-b", "sex": "M"}, True),
        ({"uln": None, "group": "cohort-b"}, False),
    ],
)
def test_only_the_ilr_bearing_fields_are_qa_locked(changes: dict[str, Any], locked: bool) -> None:
    assert TRACKER_TYPES["correction"].qa_locked({**changes, **REASON}) is locked


def test_programme_changes_are_always_qa_locked_and_details_never() -> None:
    assert TRACKER_TYPES["withdrawal"].qa_locked({})
    assert not TRACKER_TYPES["change_of_name"].qa_locked({"given_names": "Ann"})


def test_correction_is_staff_led_raised_and_processed_by_admins() -> None:
    info = TRACKER_TYPES["correction"]
    assert not info.learner_led
    assert not info.programme_changing
    assert info.default_raise_roles == {"admin"}
    assert info.default_process_roles == {"admin"}
