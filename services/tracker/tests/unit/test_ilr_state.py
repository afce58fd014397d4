"""programme_dates: where the learning going on now started, and whether (and since when) the
ILR says the learner is on a break, awaiting the end-point assessment or withdrawn."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from ilrflow.contracts.events import EmployerRef, Enrolment, LearnerSnapshot
from ilrflow.contracts.trackers import ProgrammeDates
from ilrflow.ilr_engine import (
    IlrLearner,
    IlrPolicy,
    TrackerApplication,
    apply_tracker,
    learner_from_enrolment,
)
from ilrflow.tracker.domain.ilr_state import programme_dates


def _enrolled() -> IlrLearner:
    learner = LearnerSnapshot(id="L1", given_names="Ann", family_name="Smith", uln="9276308686")
    enrolment = Enrolment(
        id="E1",
        standard_code=123,
        start_date=date(2024, 9, 2),
        planned_end_date=date(2025, 9, 30),
        employer=EmployerRef(ern="123456789", name="Acme Ltd"),
        weekly_hours=37.5,
        planned_otj_hours=300,
    )
    return learner_from_enrolment(learner, enrolment, None)


_TRACKER_IDS = itertools.count(1)


def _apply(record: IlrLearner, tracker_type: str, changes: dict[str, Any]) -> IlrLearner:
    result = apply_tracker(
        record,
        TrackerApplication(
            tracker_id=f"T{next(_TRACKER_IDS)}",
            tracker_type=tracker_type,
            changes=changes,
            processor_roles=("admin",),
            qa_verified=False,
            policy=IlrPolicy(),
        ),
    )
    assert result.status == "applied", result.reason
    return result.record


BREAK = {
    "last_day_of_learning": "2025-01-31",
    "expected_return_date": "2025-04-01",
    "reason": "illness",
}


START = date(2024, 9, 2)


def test_a_learner_in_learning_is_not_on_a_break() -> None:
    assert programme_dates(_enrolled()) == ProgrammeDates(START, START, None)


def test_an_unknown_or_unreadable_ilr_has_no_programme() -> None:
    assert programme_dates(None) is None
    assert programme_dates({}) is None
    assert programme_dates({"LearningDelivery": "not a list"}) is None


def test_a_break_starts_at_the_last_day_of_learning() -> None:
    on_break = _apply(_enrolled(), "break_in_learning", BREAK)
    assert programme_dates(on_break) == ProgrammeDates(START, START, date(2025, 1, 31))


def test_after_a_return_the_learning_started_on_the_return_date() -> None:
    on_break = _apply(_enrolled(), "break_in_learning", BREAK)
    returned = _apply(on_break, "return_to_learning", {"return_date": "2025-04-01"})
    assert programme_dates(returned) == ProgrammeDates(START, date(2025, 4, 1), None)


def test_a_second_break_after_a_return_counts_from_its_own_last_day() -> None:
    on_break = _apply(_enrolled(), "break_in_learning", BREAK)
    returned = _apply(on_break, "return_to_learning", {"return_date": "2025-04-01"})
    second = {**BREAK, "last_day_of_learning": "2025-06-30", "expected_return_date": "2025-08-01"}
    again = _apply(returned, "break_in_learning", second)
    assert programme_dates(again) == ProgrammeDates(START, date(2025, 4, 1), date(2025, 6, 30))


def test_a_learner_withdrawn_from_a_break_is_withdrawn_on_the_last_day_of_learning() -> None:
    on_break = _apply(_enrolled(), "break_in_learning", BREAK)
    withdrawn = _apply(
        on_break,
        "withdrawal",
        {"last_day_of_learning": "2025-01-31", "reason": "44", "withdraw_reason_code": 44},
    )
    assert programme_dates(withdrawn) == ProgrammeDates(
        START, START, withdrawn_on=date(2025, 1, 31)
    )


def test_a_learner_who_changed_programme_is_withdrawn_too() -> None:
    changed = _apply(
        _enrolled(),
        "change_of_programme",
        {"last_day_of_learning": "2025-01-31", "new_standard_code": 91},
    )
    assert programme_dates(changed) == ProgrammeDates(START, START, withdrawn_on=date(2025, 1, 31))


COMPLETION = {"practical_period_end": "2025-09-30", "otj_actual_hours": 320}


def test_a_completed_practical_period_awaits_the_epa_since_its_end() -> None:
    completed = _apply(_enrolled(), "completion", COMPLETION)
    assert programme_dates(completed) == ProgrammeDates(
        START, START, awaiting_epa_since=date(2025, 9, 30)
    )


def test_an_achieved_learner_has_no_programme_to_check_against() -> None:
    completed = _apply(_enrolled(), "completion", COMPLETION)
    achieved = _apply(completed, "epa_result", {"achievement_date": "2025-11-14", "result": "pass"})
    assert programme_dates(achieved) is None


def test_after_a_restart_the_programme_starts_on_the_restart_date() -> None:
    withdrawn = _apply(
        _enrolled(),
        "withdrawal",
        {"last_day_of_learning": "2025-01-31", "reason": "44", "withdraw_reason_code": 44},
    )
    restarted = _apply(withdrawn, "restart_after_withdrawal", RESTART)
    restart = date(2025, 3, 3)
    assert programme_dates(restarted) == ProgrammeDates(restart, restart, None)


RESTART = {
    "restart_date": "2025-03-03",
    "planned_end_date": "2026-04-30",
    "planned_otj_hours": 320,
    "price": {"training": 7000, "assessment": 1000},
}
