"""Tenant-defined tracker types: the form definition and requests checked against it."""

from __future__ import annotations

import pytest
from catalogue_helpers import canonical, problems
from pydantic import ValidationError

from ilrflow.contracts.trackers import CustomFieldDefinition, CustomTypeDefinition

LAPTOP = CustomTypeDefinition(
    name="laptop_request",
    title="Laptop request",
    fields=(
        CustomFieldDefinition(name="model", type="choice", required=True, choices=("mac", "pc")),
        CustomFieldDefinition(name="needed_by", type="date", required=True),
        CustomFieldDefinition(name="summary", type="string"),
        CustomFieldDefinition(name="details", type="text"),
        CustomFieldDefinition(name="budget", type="number"),
        CustomFieldDefinition(name="urgent", type="boolean"),
    ),
)
CUSTOM = {"custom_types": {"laptop_request": LAPTOP}}


def test_a_valid_request_gives_a_flat_json_object() -> None:
    changes = {"model": "mac", "needed_by": "2025-05-01", "budget": 900, "urgent": False}
    assert canonical("custom:laptop_request", changes, **CUSTOM) == changes


def test_optional_fields_left_out_or_null_are_omitted() -> None:
    changes = {"model": "pc", "needed_by": "2025-05-01", "summary": None}
    assert canonical("custom:laptop_request", changes, **CUSTOM) == {
        "model": "pc",
        "needed_by": "2025-05-01",
    }


def test_every_problem_is_named() -> None:
    found = problems(
        "custom:laptop_request",
        {
            "model": "linux",
            "summary": "x" * 201,
            "details": 5,
            "budget": True,
            "urgent": "yes",
            "colour": "red",
        },
        **CUSTOM,
    )
    assert found == {
        "changes.model": "must be one of 'mac', 'pc'",
        "changes.needed_by": "is required",
        "changes.summary": "must be at most 200 characters",
        "changes.details": "must be a string",
        "changes.budget": "must be a number",
        "changes.urgent": "must be true or false",
        "changes.colour": "is not a field of laptop_request",
    }


@pytest.mark.parametrize("value", ["01/05/2025", "2025-13-01", 20250501])
def test_dates_must_be_iso(value: object) -> None:
    found = problems("custom:laptop_request", {"model": "mac", "needed_by": value}, **CUSTOM)
    assert found == {"changes.needed_by": "must be a date in the form YYYY-MM-DD"}


def test_numbers_must_be_finite() -> None:
    changes = {"model": "mac", "needed_by": "2025-05-01", "budget": float("nan")}
    assert problems("custom:laptop_request", changes, **CUSTOM) == {
        "changes.budget": "must be a finite number"
    }


def test_an_undefined_custom_type_is_unknown() -> None:
    found = problems("custom:laptop_request", {})
    assert list(found) == ["tracker_type"]
    assert "unknown tracker type 'custom:laptop_request'" in found["tracker_type"]


def test_a_custom_type_is_named_with_its_prefix() -> None:
    found = problems("laptop_request", {"model": "mac", "needed_by": "2025-05-01"}, **CUSTOM)
    assert list(found) == ["tracker_type"]
    assert "custom:laptop_request" in found["tracker_type"]


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"name": "Bad Name", "type": "string"}, "should match pattern"),
        ({"name": "a.b", "type": "string"}, "should match pattern"),
        ({"name": "$x", "type": "string"}, "should match pattern"),
        ({"name": "pick", "type": "choice"}, "needs at least one choice"),
        ({"name": "flag", "type": "boolean", "choices": ["a"]}, "only a choice field"),
        ({"name": "when", "type": "datetime"}, "Input should be"),
    ],
)
def test_field_definitions_are_checked(definition: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CustomFieldDefinition.model_validate(definition)


def test_field_names_must_be_unique_and_the_form_non_empty() -> None:
    field = {"name": "a", "type": "string"}
    with pytest.raises(ValidationError, match="unique"):
        CustomTypeDefinition.model_validate({"name": "x", "title": "X", "fields": [field, field]})
    with pytest.raises(ValidationError, match="at least 1"):
        CustomTypeDefinition.model_validate({"name": "x", "title": "X", "fields": []})
