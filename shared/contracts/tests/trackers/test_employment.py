"""Change of employer, change of working hours, change of employment status."""

from __future__ import annotations

import pytest
from catalogue_helpers import canonical, problems

EMPLOYER = {
    "effective_date": "2025-02-03",
    "employer": {"ern": "123456789", "name": "Acme Widgets Ltd"},
    "weekly_hours": 37.5,
}


def test_a_valid_change_of_employer_defaults_to_paid_employment() -> None:
    assert canonical("change_of_employer", EMPLOYER) == {
        **EMPLOYER,
        "employment_status": 10,
        "price": None,
        "contract_type": None,
    }


def test_ern_spaces_are_removed_and_numbers_padded() -> None:
    spaced = canonical(
        "change_of_employer", {**EMPLOYER, "employer": {"ern": "123 456 789", "name": "Acme"}}
    )
    assert spaced["employer"]["ern"] == "123456789"
    numeric = canonical(
        "change_of_employer", {**EMPLOYER, "employer": {"ern": 999999999, "name": "Acme"}}
    )
    assert numeric["employer"]["ern"] == "999999999"


@pytest.mark.parametrize("ern", ["12345678", "1234567890", "12345678A", ""])
def test_an_ern_must_be_nine_digits(ern: str) -> None:
    found = problems("change_of_employer", {**EMPLOYER, "employer": {"ern": ern, "name": "A"}})
    assert list(found) == ["changes.employer.ern"]
    assert "9 digits" in found["changes.employer.ern"]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("weekly_hours", 0, "greater than 0"),
        ("weekly_hours", -5, "greater than 0"),
        ("weekly_hours", 375, "less than or equal to 168"),
        ("weekly_hours", "lots", "must be a number"),
        ("employment_status", 13, "Input should be 10, 11, 12 or 98"),
        ("effective_date", "next week", "YYYY-MM-DD"),
    ],
)
def test_invalid_change_of_employer_fields(field: str, value: object, reason: str) -> None:
    found = problems("change_of_employer", {**EMPLOYER, field: value})
    assert list(found) == [f"changes.{field}"]
    assert reason in found[f"changes.{field}"]


@pytest.mark.parametrize("status", [10, 11, 12, 98, "11"])
def test_every_empstat_code_is_accepted(status: object) -> None:
    result = canonical("change_of_employer", {**EMPLOYER, "employment_status": status})
    assert result["employment_status"] == int(str(status))


def test_employer_needs_a_name_of_at_most_100_characters() -> None:
    found = problems("change_of_employer", {**EMPLOYER, "employer": {"ern": "123456789"}})
    assert found == {"changes.employer.name": "is required"}
    long_name = {"ern": "123456789", "name": "x" * 101}
    found = problems("change_of_employer", {**EMPLOYER, "employer": long_name})
    assert "at most 100 characters" in found["changes.employer.name"]


def test_a_valid_change_of_working_hours() -> None:
    changes = {"effective_date": "2025-02-03", "weekly_hours": "30"}
    assert canonical("change_of_working_hours", changes) == {
        "effective_date": "2025-02-03",
        "weekly_hours": 30.0,
    }


def test_working_hours_report_every_problem() -> None:
    assert problems("change_of_working_hours", {"weekly_hours": 0}) == {
        "changes.effective_date": "is required",
        "changes.weekly_hours": "Input should be greater than 0",
    }


def test_a_new_employer_may_bring_a_residual_price_and_contract_type() -> None:
    terms = {"price": {"training": "4000", "assessment": 600}, "contract_type": "2"}

    result = canonical("change_of_employer", {**EMPLOYER, **terms})

    assert result["price"] == {"training": 4000, "assessment": 600}
    assert result["contract_type"] == 2


@pytest.mark.parametrize(
    ("field", "value", "where", "reason"),
    [
        ("price", {"training": 0, "assessment": 600}, "price.training", "greater than or equal"),
        ("price", {"training": 4000}, "price.assessment", "is required"),
        ("price", {"training": 4000, "assessment": 1, "epa": 2}, "price.epa", "not a field"),
        ("contract_type", 3, "contract_type", "Input should be 1 or 2"),
    ],
)
def test_invalid_new_employer_terms(field: str, value: object, where: str, reason: str) -> None:
    found = problems("change_of_employer", {**EMPLOYER, field: value})
    assert list(found) == [f"changes.{where}"]
    assert reason in found[f"changes.{where}"]


def test_a_price_or_contract_type_needs_paid_employment() -> None:
    terms = {"price": {"training": 4000, "assessment": 600}, "contract_type": 1}

    found = problems("change_of_employer", {**EMPLOYER, **terms, "employment_status": 11})

    assert set(found) == {"changes.price", "changes.contract_type"}
    assert "only with employment_status 10" in found["changes.price"]


def test_a_valid_change_of_employment_status() -> None:
    changes = {"effective_date": "2025-03-03", "employment_status": "11", "made_redundant": True}

    assert canonical("change_of_employment_status", changes) == {
        "effective_date": "2025-03-03",
        "employment_status": 11,
        "made_redundant": True,
    }


@pytest.mark.parametrize("status", [10, 98, 13])
def test_a_change_of_employment_status_is_out_of_paid_employment(status: int) -> None:
    found = problems(
        "change_of_employment_status", {"effective_date": "2025-03-03", "employment_status": status}
    )
    assert found == {"changes.employment_status": "Input should be 11 or 12"}
