"""check_against_programme: a tracker's dates against the learner's enrolment."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ilrflow.contracts.trackers import check_against_programme, parse_changes

START = date(2024, 9, 2)
PLANNED_END = date(2025, 9, 30)
ON_BREAK = date(2025, 1, 31)


def check(tracker_type: str, changes: dict[str, Any], on_break: date | None = None) -> list[Any]:
    parsed = parse_changes(tracker_type, changes, withdrawal_reasons={})
    return check_against_programme(parsed, START, PLANNED_END, on_break)


def break_from(day: str) -> dict[str, str]:
    return {"last_day_of_learning": day, "expected_return_date": "2025-12-31", "reason": "r"}


def test_a_break_inside_the_programme_fits() -> None:
    assert check("break_in_learning", break_from("2025-01-31")) == []


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        ("2024-09-01", "is before the programme started (2024-09-02)"),
        ("2025-10-01", "is after the planned end date (2025-09-30)"),
    ],
)
def test_a_break_outside_the_programme_is_refused(day: str, reason: str) -> None:
    assert check("break_in_learning", break_from(day)) == [
        {"field": "changes.last_day_of_learning", "reason": reason}
    ]


def test_a_learner_already_on_a_break_cannot_start_another() -> None:
    (found,) = check("break_in_learning", break_from("2025-03-01"), on_break=ON_BREAK)
    assert found["field"] == "changes.last_day_of_learning"
    assert "on a break since 2025-01-31" in found["reason"]


def test_a_return_must_follow_the_break() -> None:
    assert check("return_to_learning", {"return_date": "2025-04-01"}, on_break=ON_BREAK) == []
    assert check("return_to_learning", {"return_date": "2025-01-31"}, on_break=ON_BREAK) == [
        {
            "field": "changes.return_date",
            "reason": "must be after the break started (last day of learning 2025-01-31)",
        }
    ]


def test_only_a_learner_on_a_break_can_return() -> None:
    assert check("return_to_learning", {"return_date": "2025-04-01"}) == [
        {"field": "changes.return_date", "reason": "the learner is not on a break"}
    ]


@pytest.mark.parametrize(
    ("tracker_type", "extra"),
    [("withdrawal", {"reason": "44"}), ("change_of_programme", {"new_standard_code": 91})],
)
def test_leaving_dates_fit_the_programme_and_any_break(
    tracker_type: str, extra: dict[str, Any]
) -> None:
    def leaving(day: str, on_break: date | None = None) -> list[Any]:
        return check(tracker_type, {"last_day_of_learning": day, **extra}, on_break)

    assert leaving("2025-03-01") == []
    assert leaving("2025-01-31", ON_BREAK) == []
    assert "before the programme started" in leaving("2024-08-01")[0]["reason"]
    assert "after the planned end date" in leaving("2025-10-01")[0]["reason"]
    (found,) = leaving("2025-03-01", ON_BREAK)
    assert found["field"] == "changes.last_day_of_learning"
    assert "must not be after the start of the learner's break" in found["reason"]


@pytest.mark.parametrize("tracker_type", ["change_of_employer", "change_of_working_hours"])
def test_employment_changes_take_effect_inside_the_programme(tracker_type: str) -> None:
    changes = {"weekly_hours": 30, "employer": {"ern": "123456789", "name": "Acme"}}
    if tracker_type == "change_of_working_hours":
        changes = {"weekly_hours": 30}

    def effective(day: str) -> list[Any]:
        return check(tracker_type, {**changes, "effective_date": day})

    assert effective("2025-02-03") == []
    assert effective("2024-09-01")[0]["field"] == "changes.effective_date"
    assert effective("2025-10-01")[0]["field"] == "changes.effective_date"


def test_an_open_ended_programme_has_no_upper_bound() -> None:
    parsed = parse_changes(
        "change_of_working_hours", {"effective_date": "2030-01-01", "weekly_hours": 30}
    )
    assert check_against_programme(parsed, START, None, None) == []


def test_types_without_dates_always_fit() -> None:
    parsed = parse_changes("change_of_name", {"given_names": "Ann", "family_name": "Lee"})
    assert check_against_programme(parsed, START, PLANNED_END, ON_BREAK) == []
