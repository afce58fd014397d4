"""The catalogue as a whole: metadata, unknown types, the canonical form, properties."""

from __future__ import annotations

from typing import Any

import pytest
from catalogue_helpers import canonical, problems
from hypothesis import given
from hypothesis import strategies as st

from ilrflow.contracts.trackers import TRACKER_TYPES, ChangesInvalid, parse_changes
from ilrflow.contracts.trackers.fields import normalise_postcode, normalise_telno

VALID: dict[str, dict[str, Any]] = {
    "change_of_name": {"given_names": "Ann", "family_name": "Lee"},
    "change_of_address": {"address": {"lines": ["1 High St"], "postcode": "ls11aa"}},
    "change_of_contact_details": {"email": "a@b.com", "phone": "+44 113 496 0000"},
    "break_in_learning": {
        "last_day_of_learning": "2025-01-31",
        "expected_return_date": "2025-04-01",
        "reason": "Illness",
    },
    "return_to_learning": {
        "return_date": "2025-04-01",
        "planned_end_date": "2025-12-01",
        "override_reason": "EPA date",
    },
    "change_of_employer": {
        "effective_date": "2025-02-03",
        "employer": {"ern": "123456789", "name": "Acme"},
        "weekly_hours": 30,
        "employment_status": 10,
    },
    "change_of_working_hours": {"effective_date": "2025-02-03", "weekly_hours": 37.5},
    "change_of_employment_status": {
        "effective_date": "2025-03-03",
        "employment_status": 11,
        "made_redundant": True,
    },
    "change_of_programme": {"last_day_of_learning": "2025-01-31", "new_standard_code": 91},
    "withdrawal": {"last_day_of_learning": "2025-01-31", "reason": "44"},
    "correction": {"uln": "9276308686", "reason": "Typed wrongly at sign-up"},
    "completion": {"practical_period_end": "2025-09-30", "otj_actual_hours": 320},
    "epa_result": {"achievement_date": "2025-11-14", "result": "pass"},
    "restart_after_withdrawal": {
        "restart_date": "2025-03-03",
        "planned_end_date": "2026-04-30",
        "planned_otj_hours": 320,
        "price": {"training": 7000, "assessment": 1000},
        "standard_code": 91,
    },
}


def test_the_catalogue_has_every_built_in_type() -> None:
    assert set(TRACKER_TYPES) == set(VALID)


def test_learner_led_types_are_raised_by_learners_and_staff() -> None:
    learner_led = {name for name, info in TRACKER_TYPES.items() if info.learner_led}
    assert learner_led == {"change_of_name", "change_of_address", "change_of_contact_details"}
    admins_only = {"correction"}
    for name, info in TRACKER_TYPES.items():
        expected = {"learner", "tutor", "admin"} if info.learner_led else {"tutor", "admin"}
        if name in admins_only:
            expected = {"admin"}
        assert info.default_raise_roles == expected, name
        assert info.default_edit_roles == {"admin"}
        assert info.default_process_roles == {"admin"}
        assert info.title
        assert info.description
        assert info.changes_ilr


def test_programme_changing_types_are_those_that_touch_aims_or_prices() -> None:
    changing = {name for name, info in TRACKER_TYPES.items() if info.programme_changing}
    assert changing == {
        "break_in_learning",
        "return_to_learning",
        "change_of_employer",
        "change_of_programme",
        "withdrawal",
        "completion",
        "epa_result",
        "restart_after_withdrawal",
    }


@pytest.mark.parametrize("tracker_type", sorted(VALID))
def test_the_canonical_form_parses_back_to_itself(tracker_type: str) -> None:
    first = canonical(tracker_type, VALID[tracker_type])
    assert canonical(tracker_type, first) == first


@pytest.mark.parametrize("tracker_type", sorted(VALID))
def test_unknown_fields_are_refused_for_every_type(tracker_type: str) -> None:
    found = problems(tracker_type, {**VALID[tracker_type], "surprise": 1})
    assert found == {"changes.surprise": "is not a field of this tracker type"}


@pytest.mark.parametrize("tracker_type", sorted(VALID))
def test_changes_must_be_an_object(tracker_type: str) -> None:
    assert problems(tracker_type, ["not", "an", "object"]) == {"changes": "must be an object"}


def test_an_unknown_type_names_the_known_ones() -> None:
    found = problems("change_of_heart", {})
    assert "change_of_heart" in found["tracker_type"]
    assert "withdrawal" in found["tracker_type"]


def test_the_exception_message_lists_every_problem() -> None:
    with pytest.raises(ChangesInvalid, match=r"changes\.given_names: is required"):
        parse_changes("change_of_name", {})


postcodes = st.from_regex(r"[A-PR-UWYZ][A-HK-Y]?[0-9] ?[0-9][ABD-HJLNP-UW-Z]{2}", fullmatch=True)


@given(
    postcode=postcodes,
    case=st.sampled_from([str.lower, str.upper]),
    spaces=st.text(" ", max_size=3),
)
def test_postcode_normalisation_is_idempotent(postcode: str, case: Any, spaces: str) -> None:
    normal = normalise_postcode(case(postcode) + spaces)
    assert normalise_postcode(normal) == normal
    assert normal == normal.upper()
    assert normal.count(" ") == 1
    assert len(normal.split(" ")[1]) == 3


@given(digits=st.text("0123456789", min_size=7, max_size=18), noise=st.sampled_from(["", " ", "-"]))
def test_telno_keeps_exactly_the_digits(digits: str, noise: str) -> None:
    spaced = noise.join(digits)
    assert normalise_telno(spaced) == digits
    assert normalise_telno(f"({digits[:3]}) {digits[3:]}") == digits


@given(name=st.text(min_size=1, max_size=120))
def test_names_are_accepted_only_when_the_ilr_would_accept_them(name: str) -> None:
    problems_found: list[str] = []
    try:
        result = parse_changes("change_of_name", {"given_names": name, "family_name": "Lee"})
    except ChangesInvalid as invalid:
        problems_found = [p["field"] for p in invalid.problems]
    if problems_found:
        assert problems_found == ["changes.given_names"]
        return
    stored = result.model_dump(mode="json")["given_names"]
    assert 1 <= len(stored) <= 100
    assert not any(c.isdigit() or c in '|"\r\n\t' for c in stored)


def test_the_changes_schema_comes_from_the_validating_model() -> None:
    from ilrflow.contracts.trackers import CUSTOM_CHANGES_SCHEMA, TRACKER_TYPES, changes_schema
    from ilrflow.contracts.trackers.catalogue import custom_type_info
    from ilrflow.contracts.trackers.custom import CustomFieldDefinition, CustomTypeDefinition

    withdrawal = TRACKER_TYPES["withdrawal"]
    schema = changes_schema(withdrawal)
    assert schema == withdrawal.changes_model.model_json_schema()  # type: ignore[union-attr]
    schema["properties"].clear()  # a copy: the next caller gets the whole schema again
    assert changes_schema(withdrawal)["properties"]
    custom = custom_type_info(
        CustomTypeDefinition(
            name="laptop",
            title="Laptop",
            fields=(CustomFieldDefinition(name="model", label="Model", type="text"),),
        )
    )
    assert changes_schema(custom) == CUSTOM_CHANGES_SCHEMA
