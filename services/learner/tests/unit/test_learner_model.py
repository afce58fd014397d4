"""The learner service's rules, without a database or a broker."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

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


def learner() -> object:
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
            {"family_name": "Smith"},
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
            {"last_day_of_learning": "2026-01-01"},
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
    after, fields = apply_processed_tracker(before, tracker_type, changes)  # type: ignore[arg-type]
    assert fields == changed
    assert check(after)  # type: ignore[operator]
    assert after.date_of_birth == date(2004, 5, 17)


def test_the_same_change_twice_changes_nothing_the_second_time() -> None:
    once, _ = apply_processed_tracker(learner(), "change_of_name", {"family_name": "Smith"})  # type: ignore[arg-type]
    twice, fields = apply_processed_tracker(once, "change_of_name", {"family_name": "Smith"})
    assert twice == once
    assert fields == []
