"""The learner service's rules, without a database or a broker."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from ilrflow.contracts.events import EmployerRef, Enrolment, LearnerSnapshot
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
        EnrolmentIn.model_validate(
            {
                "standard_code": 91,
                "start_date": "2025-09-01",
                "planned_end_date": "2025-08-31",
                "employer": {"ern": "123456789", "name": "Acme"},
                "weekly_hours": 30,
                "planned_otj_hours": 300,
            }
        )


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
