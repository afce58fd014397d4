"""The learner service's rules, without a database or a broker."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from ilrflow.contracts.events import EmployerRef, Employment, Enrolment, LearnerSnapshot, Price
from ilrflow.contracts.trackers import ChangesInvalid, read_changes
from ilrflow.learner.domain.model import (
    EnrolmentIn,
    LearnerIn,
    apply_processed_tracker,
    new_learner_id,
    snapshot_from_input,
)

VALID = {
    "given_names": "Alice",
    "family_name": "Walker",
    "email": "alice@example.org",
    "phone": "07700900123",
    "date_of_birth": "2004-05-17",
    "uln": "9276308686",
    "address": {"lines": ["1 High Street", "Leeds"], "postcode": " ls1 4ap "},
    "group": "cohort-a",
    "sex": "F",
}
ENROLMENT = {
    "standard_code": 91,
    "start_date": "2025-09-01",
    "planned_end_date": "2027-03-31",
    "employer": {"ern": "123456789", "name": "Acme"},
    "weekly_hours": 30,
    "planned_otj_hours": 300,
    "price": {"training": 9000, "assessment": 1000},
    "employment": {"length_of_employment": 4},
}


def learner() -> LearnerSnapshot:
    return snapshot_from_input("L1", LearnerIn.model_validate(VALID))


def test_a_learner_id_can_serve_as_the_learn_ref_number() -> None:
    ids = {new_learner_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 12 and i.isalnum() for i in ids)


def test_the_postcode_is_normalised_and_the_uln_checked() -> None:
    snapshot = learner()
    assert snapshot.address.postcode == "LS1 4AP"  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="check digit"):
        LearnerIn.model_validate({**VALID, "uln": "9276308687"})


def test_an_enrolment_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationError, match="planned_end_date must be after start_date"):
        EnrolmentIn.model_validate({**ENROLMENT, "planned_end_date": "2025-08-31"})


def _refusals(model: type[LearnerIn | EnrolmentIn], data: dict[str, Any]) -> dict[str, str]:
    """Each refused field (dotted path) and its reason."""
    with pytest.raises(ValidationError) as refused:
        model.model_validate(data)
    return {".".join(map(str, e["loc"])): e["msg"] for e in refused.value.errors()}


def test_sex_is_required_and_has_no_default() -> None:
    without_sex = {k: v for k, v in VALID.items() if k != "sex"}

    assert _refusals(LearnerIn, without_sex) == {"sex": "Field required"}
    assert "sex" in _refusals(LearnerIn, {**VALID, "sex": "U"})


def test_ethnicity_and_lldd_default_to_not_provided() -> None:
    snapshot = learner()

    assert (snapshot.sex, snapshot.ethnicity, snapshot.lldd_health_problem) == ("F", 99, 9)
    assert (snapshot.lldd_categories, snapshot.primary_lldd) == ([], None)
    assert (snapshot.ni_number, snapshot.prior_attainment) == (None, None)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"ethnicity": 30}, "ethnicity", "31-47"),
        ({"ethnicity": 48}, "ethnicity", "31-47"),
        ({"lldd_health_problem": 3}, "lldd_health_problem", "1, 2 or 9"),
        ({"prior_attainment": 4}, "prior_attainment", "PriorLevel"),
        ({"ni_number": "QQ123456C"}, "ni_number", "NINumber_01"),
        ({"ni_number": "AB123456E"}, "ni_number", "NINumber_01"),
        (
            {"lldd_health_problem": 1},
            "lldd_categories",
            "LLDDHealthProb_06: give at least one category",
        ),
        (
            {"lldd_health_problem": 1, "lldd_categories": [4, 12]},
            "primary_lldd",
            "PrimaryLLDD_01",
        ),
        (
            {"lldd_health_problem": 1, "lldd_categories": [4], "primary_lldd": 12},
            "primary_lldd",
            "one of lldd_categories",
        ),
        ({"lldd_health_problem": 2, "lldd_categories": [4]}, "lldd_categories", "only taken"),
        (
            {"lldd_health_problem": 1, "lldd_categories": [4, 4], "primary_lldd": 4},
            "lldd_categories",
            "once",
        ),
        (
            {"lldd_health_problem": 1, "lldd_categories": [3], "primary_lldd": 3},
            "lldd_categories.0",
            "LLDDCat",
        ),
    ],
)
def test_the_ilr_codes_are_checked(change: dict[str, Any], field: str, words: str) -> None:
    refusals = _refusals(LearnerIn, {**VALID, **change})

    assert words in refusals[field]


def test_lldd_categories_with_their_primary_and_a_spaced_ni_number_are_taken() -> None:
    data = {
        **VALID,
        "lldd_health_problem": 1,
        "lldd_categories": [4, 12],
        "primary_lldd": 12,
        "ni_number": "ab 12 34 56 c",
        "prior_attainment": 98,
    }

    snapshot = snapshot_from_input("L1", LearnerIn.model_validate(data))

    assert (snapshot.lldd_categories, snapshot.primary_lldd) == ([4, 12], 12)
    assert (snapshot.ni_number, snapshot.prior_attainment) == ("AB123456C", 98)


def test_an_enrolment_needs_a_price_and_the_employment_at_the_start() -> None:
    without = {k: v for k, v in ENROLMENT.items() if k not in ("price", "employment")}

    assert _refusals(EnrolmentIn, without) == {
        "price": "Field required",
        "employment": "Field required",
    }


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            {"employment": {"date_from": "2025-09-01", "length_of_employment": 4}},
            "employment",
            "EmpStat_09: employment.date_from must be before start_date",
        ),
        ({"employment": {"length_of_employment": 5}}, "employment.length_of_employment", "4"),
        ({"price": {"training": -1, "assessment": 0}}, "price.training", "0"),
        ({"price": {"training": 1000000, "assessment": 0}}, "price.training", "999999"),
        ({"agreement_id": "AB12"}, "agreement_id", "6-character"),
        ({"delivery_postcode": "NOPE"}, "delivery_postcode", "UK postcode"),
    ],
)
def test_an_enrolment_that_breaks_an_ilr_rule_is_refused(
    change: dict[str, Any], field: str, words: str
) -> None:
    refusals = _refusals(EnrolmentIn, {**ENROLMENT, **change})

    assert words in refusals[field]


def test_employment_without_a_date_applies_from_the_day_before_the_start() -> None:
    enrolment = EnrolmentIn.model_validate(ENROLMENT).to_enrolment("E1")

    assert enrolment.employment == Employment(
        date_from=date(2025, 8, 31), length_of_employment=4, small_employer=False
    )
    assert enrolment.price == Price(training=9000, assessment=1000)


def test_an_enrolment_carries_its_agreement_id_and_delivery_postcode() -> None:
    data = {
        **ENROLMENT,
        "employment": {"date_from": "2023-01-09", "length_of_employment": 4},
        "agreement_id": " a1b2c3 ",
        "delivery_postcode": "bd1 1aa",
    }

    enrolment = EnrolmentIn.model_validate(data).to_enrolment("E1")

    assert enrolment.employment is not None
    assert enrolment.employment.date_from == date(2023, 1, 9)
    assert (enrolment.agreement_id, enrolment.delivery_postcode) == ("A1B2C3", "BD1 1AA")


@pytest.mark.parametrize(
    ("tracker_type", "changes", "changed", "check"),
    [
        (
            "change_of_name",
            {"given_names": "Alice", "family_name": "Smith"},
            ["family_name"],
            lambda learner: learner.family_name == "Smith",
        ),
        (
            "change_of_address",
            {"address": {"lines": ["2 Low Road"], "postcode": "BD1 1AA"}},
            ["address"],
            lambda learner: learner.address.postcode == "BD1 1AA",
        ),
        (
            "change_of_contact_details",
            {"email": "new@example.org"},
            ["email"],
            lambda learner: learner.email == "new@example.org",
        ),
        (
            "break_in_learning",
            {
                "last_day_of_learning": "2026-01-01",
                "expected_return_date": "2026-03-01",
                "reason": "illness",
            },
            [],
            lambda learner: learner.family_name == "Walker",
        ),
    ],
)
def test_a_processed_tracker_changes_only_what_it_names(
    tracker_type: str,
    changes: dict,
    changed: list[str],
    check: object,  # type: ignore[type-arg]
) -> None:
    before = learner()
    after, fields = apply_processed_tracker(before, read_changes(tracker_type, changes))
    assert fields == changed
    assert check(after)  # type: ignore[operator]
    assert after.date_of_birth == date(2004, 5, 17)


def test_the_same_change_twice_changes_nothing_the_second_time() -> None:
    change = read_changes("change_of_name", {"given_names": "Alice", "family_name": "Smith"})
    once, _ = apply_processed_tracker(learner(), change)
    twice, fields = apply_processed_tracker(once, change)
    assert twice == once
    assert fields == []


def enrolled() -> LearnerSnapshot:
    enrolment = Enrolment(
        id="E1",
        standard_code=91,
        start_date=date(2025, 9, 1),
        planned_end_date=date(2027, 3, 1),
        employer=EmployerRef(ern="123456789", name="Acme"),
        weekly_hours=30,
        planned_otj_hours=300,
    )
    return learner().model_copy(update={"enrolments": [enrolment]})


def test_a_change_of_employer_moves_the_current_enrolment_to_the_new_employer() -> None:
    change = read_changes(
        "change_of_employer",
        {
            "effective_date": "2026-01-05",
            "employer": {"ern": "987654321", "name": "Beta"},
            "weekly_hours": "22.5",
        },
    )
    after, fields = apply_processed_tracker(enrolled(), change)
    assert fields == ["enrolments"]
    assert after.enrolments[-1].employer == EmployerRef(ern="987654321", name="Beta")
    assert after.enrolments[-1].weekly_hours == 22.5


def test_a_custom_tracker_changes_nothing_on_the_learner() -> None:
    change = read_changes("custom:parking_permit", {"anything": "at all"})
    assert change is None
    assert apply_processed_tracker(learner(), change) == (learner(), [])


def test_a_payload_that_breaks_its_contract_is_refused_not_half_applied() -> None:
    with pytest.raises(ChangesInvalid, match=r"changes\.address\.postcode"):
        read_changes("change_of_address", {"address": {"lines": ["2 Low Road"]}})
