"""Break in learning, return to learning, change of programme, withdrawal."""

from __future__ import annotations

import pytest
from catalogue_helpers import canonical, problems

from ilrflow.contracts.trackers import ESFA_WITHDRAW_REASONS, Withdrawal, parse_changes

BREAK = {
    "last_day_of_learning": "2025-01-31",
    "expected_return_date": "2025-04-01",
    "reason": "Illness",
}
TENANT_REASONS = {"Moved out of area": 44, "Got a new job elsewhere": 97}


# --- break_in_learning -----------------------------------------------------------------------


def test_a_valid_break() -> None:
    assert canonical("break_in_learning", BREAK) == {**BREAK, "otj_actual_hours": None}


def test_a_break_may_carry_the_actual_otj_hours_so_far() -> None:
    assert (
        canonical("break_in_learning", {**BREAK, "otj_actual_hours": 95})["otj_actual_hours"] == 95
    )
    found = problems("break_in_learning", {**BREAK, "otj_actual_hours": -1})
    assert "greater than or equal to 0" in found["changes.otj_actual_hours"]


@pytest.mark.parametrize("expected_return", ["2025-01-31", "2025-01-01"])
def test_the_expected_return_must_follow_the_last_day(expected_return: str) -> None:
    found = problems("break_in_learning", {**BREAK, "expected_return_date": expected_return})
    assert found == {"changes.expected_return_date": "must be after last_day_of_learning"}


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("last_day_of_learning", "31/01/2025", "YYYY-MM-DD"),
        ("last_day_of_learning", "2025-02-30", "YYYY-MM-DD"),
        ("expected_return_date", None, "YYYY-MM-DD"),
        ("reason", "  ", "must not be empty"),
        ("reason", "x" * 2001, "at most 2000 characters"),
    ],
)
def test_invalid_break_fields(field: str, value: object, reason: str) -> None:
    found = problems("break_in_learning", {**BREAK, field: value})
    assert list(found) == [f"changes.{field}"]
    assert reason in found[f"changes.{field}"]


def test_a_break_needs_all_three_fields() -> None:
    assert problems("break_in_learning", {}) == {
        f"changes.{field}": "is required" for field in BREAK
    }


# --- return_to_learning ----------------------------------------------------------------------


def test_a_return_with_the_recalculated_planned_end_date() -> None:
    assert canonical("return_to_learning", {"return_date": "2025-04-01"}) == {
        "return_date": "2025-04-01",
        "planned_end_date": None,
        "override_reason": None,
    }


def test_overriding_the_planned_end_date_needs_a_reason() -> None:
    changes = {"return_date": "2025-04-01", "planned_end_date": "2025-12-01"}
    assert problems("return_to_learning", changes) == {
        "changes.override_reason": "is required when planned_end_date overrides the "
        "recalculated planned end date"
    }
    with_reason = canonical("return_to_learning", {**changes, "override_reason": "EPA booked"})
    assert with_reason["override_reason"] == "EPA booked"


def test_the_overridden_planned_end_date_must_follow_the_return() -> None:
    changes = {
        "return_date": "2025-04-01",
        "planned_end_date": "2025-04-01",
        "override_reason": "x",
    }
    assert problems("return_to_learning", changes) == {
        "changes.planned_end_date": "must be after return_date"
    }


def test_an_override_reason_without_an_override_is_refused() -> None:
    changes = {"return_date": "2025-04-01", "override_reason": "because"}
    assert problems("return_to_learning", changes) == {
        "changes.override_reason": "is only for overriding planned_end_date"
    }


def test_a_return_needs_a_return_date() -> None:
    assert problems("return_to_learning", {}) == {"changes.return_date": "is required"}


# --- change_of_programme ---------------------------------------------------------------------


def test_a_valid_change_of_programme() -> None:
    changes = {"last_day_of_learning": "2025-01-31", "new_standard_code": "123"}
    assert canonical("change_of_programme", changes) == {
        "last_day_of_learning": "2025-01-31",
        "new_standard_code": 123,
        "otj_actual_hours": None,
    }


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("new_standard_code", 0, "greater than or equal to 1"),
        ("new_standard_code", 100000, "less than or equal to 99999"),
        ("new_standard_code", "abc", "whole number"),
        ("otj_actual_hours", -1, "greater than or equal to 0"),
        ("otj_actual_hours", 10000, "less than or equal to 9999"),
        ("last_day_of_learning", "soon", "YYYY-MM-DD"),
    ],
)
def test_invalid_change_of_programme_fields(field: str, value: object, reason: str) -> None:
    changes = {"last_day_of_learning": "2025-01-31", "new_standard_code": 123, field: value}
    found = problems("change_of_programme", changes)
    assert list(found) == [f"changes.{field}"]
    assert reason in found[f"changes.{field}"]


# --- withdrawal --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(ESFA_WITHDRAW_REASONS))
def test_every_esfa_code_is_accepted_as_the_reason(code: int) -> None:
    changes = {"last_day_of_learning": "2025-01-31", "reason": code}
    result = canonical("withdrawal", changes, withdrawal_reasons={})
    assert (result["reason"], result["withdraw_reason_code"]) == (str(code), code)


def test_a_tenant_reason_maps_to_its_esfa_code_in_the_tenants_spelling() -> None:
    changes = {"last_day_of_learning": "2025-01-31", "reason": " moved OUT of area "}
    result = canonical("withdrawal", changes, withdrawal_reasons=TENANT_REASONS)
    assert (result["reason"], result["withdraw_reason_code"]) == ("Moved out of area", 44)


@pytest.mark.parametrize("reason", ["Bored", "99", "0", "1"])
def test_unknown_reasons_are_refused_naming_the_allowed_ones(reason: str) -> None:
    changes = {"last_day_of_learning": "2025-01-31", "reason": reason}
    found = problems("withdrawal", changes, withdrawal_reasons=TENANT_REASONS)
    assert list(found) == ["changes.reason"]
    assert "'Moved out of area'" in found["changes.reason"]
    assert "97" in found["changes.reason"]


def test_a_supplied_code_must_agree_with_the_reason() -> None:
    changes = {"last_day_of_learning": "2025-01-31", "reason": "43", "withdraw_reason_code": 44}
    assert problems("withdrawal", changes, withdrawal_reasons={}) == {
        "changes.withdraw_reason_code": "does not match reason '43' (code 43)"
    }
    assert (
        "ESFA"
        in problems("withdrawal", {**changes, "withdraw_reason_code": 5})[
            "changes.withdraw_reason_code"
        ]
    )


def test_a_stored_payload_reads_back_without_the_tenants_mapping() -> None:
    changes = {"last_day_of_learning": "2025-01-31", "reason": "Moved out of area"}
    stored = canonical("withdrawal", changes, withdrawal_reasons=TENANT_REASONS)
    read = parse_changes("withdrawal", stored)
    assert isinstance(read, Withdrawal)
    assert read.withdraw_reason_code == 44
    assert Withdrawal.model_validate(stored).model_dump(mode="json") == stored


def test_without_a_mapping_or_code_a_local_reason_cannot_be_resolved() -> None:
    found = problems("withdrawal", {"last_day_of_learning": "2025-01-31", "reason": "Moved"})
    assert list(found) == ["changes.reason"]
    assert "ESFA WithdrawReason code" in found["changes.reason"]


def test_withdrawal_needs_a_last_day_and_a_reason() -> None:
    assert problems("withdrawal", {}, withdrawal_reasons={}) == {
        "changes.last_day_of_learning": "is required",
        "changes.reason": "is required",
    }
