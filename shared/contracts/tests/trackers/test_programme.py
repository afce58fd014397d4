"""check_against_programme: a tracker's dates against the learner's programme."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ilrflow.contracts.trackers import ProgrammeDates, check_against_programme, parse_changes

START = date(2024, 9, 2)
RETURNED = date(2025, 4, 1)
ON_BREAK = date(2025, 1, 31)
IN_LEARNING = ProgrammeDates(started=START, learning_started=START)
AFTER_A_RETURN = ProgrammeDates(started=START, learning_started=RETURNED)
# Later than any planned end date the learner had (2025-09-30 as enrolled, 2025-11-29 after the
# return): a late completer is still in learning.
LATE = "2026-02-27"


def check(
    tracker_type: str, changes: dict[str, Any], programme: ProgrammeDates = IN_LEARNING
) -> list[Any]:
    parsed = parse_changes(tracker_type, changes, withdrawal_reasons={})
    return check_against_programme(parsed, programme)


def on_break(programme: ProgrammeDates = IN_LEARNING) -> ProgrammeDates:
    return ProgrammeDates(programme.started, programme.learning_started, ON_BREAK)


def break_from(day: str) -> dict[str, str]:
    return {"last_day_of_learning": day, "expected_return_date": "2026-12-31", "reason": "r"}


def test_a_break_during_the_programme_fits() -> None:
    assert check("break_in_learning", break_from("2025-01-31")) == []


def test_a_late_completer_may_take_a_break_after_the_planned_end_date() -> None:
    assert check("break_in_learning", break_from(LATE)) == []


@pytest.mark.parametrize(
    ("programme", "day", "reason"),
    [
        (IN_LEARNING, "2024-09-01", "is before the programme started (2024-09-02)"),
        (AFTER_A_RETURN, "2025-03-31", "is before the learner returned (2025-04-01)"),
    ],
)
def test_a_break_before_the_learning_it_ends_is_refused(
    programme: ProgrammeDates, day: str, reason: str
) -> None:
    assert check("break_in_learning", break_from(day), programme) == [
        {"field": "changes.last_day_of_learning", "reason": reason}
    ]


def test_a_learner_already_on_a_break_cannot_start_another() -> None:
    (found,) = check("break_in_learning", break_from("2025-03-01"), on_break())
    assert found["field"] == "changes.last_day_of_learning"
    assert "on a break since 2025-01-31" in found["reason"]


def test_a_return_must_follow_the_break() -> None:
    assert check("return_to_learning", {"return_date": "2025-04-01"}, on_break()) == []
    assert check("return_to_learning", {"return_date": "2025-01-31"}, on_break()) == [
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
def test_leaving_dates_fit_the_learning_and_any_break(
    tracker_type: str, extra: dict[str, Any]
) -> None:
    def leaving(day: str, programme: ProgrammeDates = IN_LEARNING) -> list[Any]:
        return check(tracker_type, {"last_day_of_learning": day, **extra}, programme)

    assert leaving("2025-03-01") == []
    assert leaving(LATE) == []  # a late completer leaves after the planned end date
    assert leaving("2025-01-31", on_break()) == []
    assert "before the programme started" in leaving("2024-08-01")[0]["reason"]
    assert "before the learner returned" in leaving("2025-03-01", AFTER_A_RETURN)[0]["reason"]
    (found,) = leaving("2025-03-01", on_break())
    assert found["field"] == "changes.last_day_of_learning"
    assert "must not be after the start of the learner's break" in found["reason"]


EMPLOYMENT_CHANGES: dict[str, dict[str, Any]] = {
    "change_of_employer": {"weekly_hours": 30, "employer": {"ern": "123456789", "name": "Acme"}},
    "change_of_working_hours": {"weekly_hours": 30},
    "change_of_employment_status": {"employment_status": 11},
}


@pytest.mark.parametrize("tracker_type", sorted(EMPLOYMENT_CHANGES))
def test_employment_changes_take_effect_from_the_programme_start(tracker_type: str) -> None:
    changes = EMPLOYMENT_CHANGES[tracker_type]

    def effective(day: str) -> list[Any]:
        return check(tracker_type, {**changes, "effective_date": day}, AFTER_A_RETURN)

    assert effective("2025-02-03") == []
    assert effective(LATE) == []
    assert effective("2024-09-01") == [
        {
            "field": "changes.effective_date",
            "reason": "is before the programme started (2024-09-02)",
        }
    ]


def test_a_new_employer_on_a_break_is_the_return_so_comes_after_the_break() -> None:
    changes = EMPLOYMENT_CHANGES["change_of_employer"]

    def effective(day: str) -> list[Any]:
        return check("change_of_employer", {**changes, "effective_date": day}, on_break())

    assert effective("2025-02-01") == []
    (found,) = effective("2025-01-31")
    assert found["field"] == "changes.effective_date"
    assert "a new employer returns them to learning" in found["reason"]


def test_types_without_dates_always_fit() -> None:
    parsed = parse_changes("change_of_name", {"given_names": "Ann", "family_name": "Lee"})
    assert check_against_programme(parsed, on_break()) == []
