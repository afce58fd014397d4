"""apply_tracker's gates and properties: QA lock, custom and unknown types, patches that replay."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ilrflow.ilr_engine import (
    APPLIED_TRACKERS_KEY,
    ApplyResult,
    IlrLearner,
    IlrPolicy,
    TrackerApplication,
    apply_patch,
    apply_tracker,
    published,
    uln_is_valid,
)

Apply = Callable[..., ApplyResult]
PROGRAMME_CHANGES: dict[str, dict[str, Any]] = {
    "break_in_learning": {"last_day_of_learning": "2025-01-31"},
    "return_to_learning": {"return_date": "2025-04-01"},
    "change_of_employer": {
        "effective_date": "2025-02-03",
        "weekly_hours": 37,
        "employer": {"ern": "987654321", "name": "Beta"},
    },
    "change_of_programme": {"last_day_of_learning": "2025-03-14", "new_standard_code": 244},
    "withdrawal": {"last_day_of_learning": "2025-03-14", "reason": 44},
}


@pytest.mark.parametrize("tracker_type", sorted(PROGRAMME_CHANGES))
def test_qa_verified_ilr_refuses_programme_changes(
    enrolled: IlrLearner, apply: Apply, tracker_type: str
) -> None:
    result = apply(enrolled, tracker_type, PROGRAMME_CHANGES[tracker_type], qa_verified=True)

    assert result.status == "rejected"
    assert "ILR QA" in result.reason
    assert result.record == enrolled


def test_ilr_qa_role_may_change_a_verified_ilr(enrolled: IlrLearner, apply: Apply) -> None:
    result = apply(
        enrolled,
        "withdrawal",
        PROGRAMME_CHANGES["withdrawal"],
        qa_verified=True,
        roles=("admin", "ilr_qa"),
    )

    assert result.status == "applied"


def test_working_hours_are_not_a_programme_change(enrolled: IlrLearner, apply: Apply) -> None:
    # Same list as the tracker catalogue: hours change an EII status, not aims or prices.
    changes = {"effective_date": "2025-02-03", "weekly_hours": 16}

    result = apply(enrolled, "change_of_working_hours", changes, qa_verified=True)

    assert result.status == "applied"


def test_tenant_defined_type_flagged_custom_changes_nothing(
    enrolled: IlrLearner,
) -> None:
    application = TrackerApplication("t-9", "laptop_loan", {"x": 1}, ("admin",), False, custom=True)

    result = apply_tracker(enrolled, application)

    assert (result.status, result.patch) == ("no_ilr_change", [])


def test_the_engine_keeps_no_bookkeeping_in_the_record(enrolled: IlrLearner, apply: Apply) -> None:
    applied = apply(enrolled, "withdrawal", PROGRAMME_CHANGES["withdrawal"], tracker_id="t-1")

    assert APPLIED_TRACKERS_KEY not in applied.record
    assert published(applied.record) == applied.record
    assert not any(APPLIED_TRACKERS_KEY in op["path"] for op in applied.patch)


def test_an_old_record_loads_publishes_and_drops_its_tracker_list(
    enrolled: IlrLearner, apply: Apply
) -> None:
    old = {**enrolled, APPLIED_TRACKERS_KEY: ["t-0", "t-1"]}

    again = apply(old, "withdrawal", PROGRAMME_CHANGES["withdrawal"], tracker_id="t-1")
    fresh = apply(enrolled, "withdrawal", PROGRAMME_CHANGES["withdrawal"], tracker_id="t-1")

    assert published(old) == enrolled
    assert (again.status, again.record, again.patch) == ("applied", fresh.record, fresh.patch)


def test_custom_tracker_changes_nothing(enrolled: IlrLearner, apply: Apply) -> None:
    result = apply(enrolled, "custom:laptop_loan", {"anything": 1}, qa_verified=True)

    assert (result.status, result.reason) == ("no_ilr_change", "custom trackers change no ILR data")
    assert result.patch == []


def test_unknown_type_is_rejected(enrolled: IlrLearner, apply: Apply) -> None:
    result = apply(enrolled, "change_of_shoe_size", {})

    assert result.status == "rejected"
    assert "unknown tracker type" in result.reason


def test_invalid_record_is_rejected_not_raised(apply: Apply) -> None:
    result = apply(
        {"LearnRefNumber": "X"}, "change_of_name", {"given_names": "A", "family_name": "B"}
    )

    assert result.status == "rejected"
    assert "not valid" in result.reason


def test_malformed_changes_are_rejected_not_raised(enrolled: IlrLearner, apply: Apply) -> None:
    for tracker_type in [
        *PROGRAMME_CHANGES,
        "change_of_name",
        "change_of_address",
        "change_of_contact_details",
    ]:
        result = apply(
            enrolled, tracker_type, {"address": "nowhere", "email": 5, "given_names": None}
        )
        assert result.status in ("rejected", "no_ilr_change"), tracker_type


def test_input_record_is_not_mutated(enrolled: IlrLearner, apply: Apply) -> None:
    before = repr(enrolled)

    apply(enrolled, "break_in_learning", PROGRAMME_CHANGES["break_in_learning"])

    assert repr(enrolled) == before


def test_uln_check_digit() -> None:
    assert uln_is_valid("9276308686")
    assert not uln_is_valid("1234567890")
    assert not uln_is_valid("9999999999")
    assert not uln_is_valid("0276308686")
    assert not uln_is_valid("927630868")


any_change = st.sampled_from(
    [
        ("change_of_name", {"given_names": "Jo", "family_name": "Bloggs"}),
        ("change_of_address", {"address": {"lines": ["2 Road"], "postcode": "M1 1AA"}}),
        ("change_of_contact_details", {"phone": "0113 496 0000"}),
        *PROGRAMME_CHANGES.items(),
        ("change_of_working_hours", {"effective_date": "2025-02-03", "weekly_hours": 37}),
        ("custom:note", {}),
    ]
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(st.lists(any_change, max_size=6), st.booleans())
def test_applying_a_tracker_twice_equals_once_and_patches_replay(
    enrolled: IlrLearner, steps: list[tuple[str, dict[str, Any]]], qa_verified: bool
) -> None:
    # The rules are idempotent by themselves: the engine keeps no list of applied trackers (the
    # ILR service tells a duplicate delivery by its event id before it gets here).
    record = enrolled
    for number, (tracker_type, changes) in enumerate(steps):
        application = TrackerApplication(
            f"t-{number}", tracker_type, changes, ("ilr_qa",), qa_verified, IlrPolicy()
        )
        once = apply_tracker(record, application)
        twice = apply_tracker(once.record, application)

        assert twice.record == once.record
        assert twice.patch == []
        assert apply_patch(record, once.patch) == once.record
        assert (once.patch != []) == (once.status == "applied")
        record = once.record


@pytest.mark.parametrize("tracker_type", ["break_in_learning", "withdrawal", "change_of_programme"])
def test_a_last_day_of_learning_after_the_processing_day_is_refused(
    enrolled: IlrLearner, tracker_type: str
) -> None:
    changes = {**PROGRAMME_CHANGES[tracker_type], "last_day_of_learning": "2025-03-14"}
    if tracker_type == "break_in_learning":
        changes |= {"expected_return_date": "2025-05-01", "reason": "illness"}
    application = TrackerApplication(
        "t-early", tracker_type, changes, ("admin",), False, today=date(2025, 3, 13)
    )

    early = apply_tracker(enrolled, application)
    on_the_day = apply_tracker(enrolled, replace(application, today=date(2025, 3, 14)))

    assert (early.status, early.patch) == ("rejected", [])
    assert early.reason.startswith("LearnActEndDate_04: the last day of learning 2025-03-14")
    assert on_the_day.status == "applied"
