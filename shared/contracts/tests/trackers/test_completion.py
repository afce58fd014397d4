"""Completion, EPA result and restart after a withdrawal: the request on its own, and against the
learner's programme (in learning, on a break, awaiting the EPA, withdrawn)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from catalogue_helpers import canonical, problems

from ilrflow.contracts.trackers import ProgrammeDates, check_against_programme, parse_changes

START = date(2025, 9, 1)
IN_LEARNING = ProgrammeDates(started=START, learning_started=START)
ON_BREAK = ProgrammeDates(START, START, on_break_since=date(2025, 12, 19))
AWAITING_EPA = ProgrammeDates(START, START, awaiting_epa_since=date(2026, 10, 30))
WITHDRAWN = ProgrammeDates(START, START, withdrawn_on=date(2026, 1, 30))

COMPLETION = {"practical_period_end": "2026-10-30", "otj_actual_hours": 410}
EPA = {"achievement_date": "2026-11-20", "result": "pass"}
RESTART = {
    "restart_date": "2026-03-02",
    "planned_end_date": "2027-03-31",
    "planned_otj_hours": 380,
    "price": {"training": 7500, "assessment": 1000},
}


def check(tracker_type: str, changes: dict[str, Any], programme: ProgrammeDates) -> list[Any]:
    return check_against_programme(parse_changes(tracker_type, changes), programme)


def test_a_completion_needs_the_actual_off_the_job_hours() -> None:
    found = problems("completion", {"practical_period_end": "2026-10-30"})

    assert found == {"changes.otj_actual_hours": "is required"}


def test_an_epa_result_is_a_pass_or_a_fail() -> None:
    found = problems("epa_result", {**EPA, "result": "merit"})

    assert list(found) == ["changes.result"]


def test_a_restart_ends_after_it_starts() -> None:
    found = problems("restart_after_withdrawal", {**RESTART, "planned_end_date": "2026-03-02"})

    assert found == {"changes.planned_end_date": "must be after restart_date"}


def test_a_restart_has_a_price_for_training_and_assessment() -> None:
    found = problems("restart_after_withdrawal", {**RESTART, "price": {"training": -1}})

    assert set(found) == {"changes.price.training", "changes.price.assessment"}


def test_a_restart_keeps_the_withdrawn_standard_unless_given() -> None:
    assert canonical("restart_after_withdrawal", RESTART)["standard_code"] is None
    assert (
        canonical("restart_after_withdrawal", {**RESTART, "standard_code": 92})["standard_code"]
        == 92
    )


def test_a_completion_fits_a_learner_in_learning() -> None:
    assert check("completion", COMPLETION, IN_LEARNING) == []


@pytest.mark.parametrize(
    ("programme", "changes", "reason"),
    [
        (
            IN_LEARNING,
            {**COMPLETION, "practical_period_end": "2025-08-31"},
            "is before the programme started (2025-09-01)",
        ),
        (ON_BREAK, COMPLETION, "the learner is on a break since 2025-12-19; raise a return first"),
        (AWAITING_EPA, COMPLETION, "the practical period already ended on 2026-10-30"),
        (WITHDRAWN, COMPLETION, "the learner was withdrawn on 2026-01-30"),
    ],
)
def test_a_completion_is_refused_where_learning_is_not_going_on(
    programme: ProgrammeDates, changes: dict[str, Any], reason: str
) -> None:
    assert check("completion", changes, programme) == [
        {"field": "changes.practical_period_end", "reason": reason}
    ]


def test_an_epa_result_fits_a_learner_awaiting_it_from_a_week_after() -> None:
    assert check("epa_result", {**EPA, "achievement_date": "2026-11-06"}, AWAITING_EPA) == []


@pytest.mark.parametrize(
    ("programme", "day", "reason"),
    [
        (
            IN_LEARNING,
            "2026-11-20",
            "the learner is not awaiting an end-point assessment: record the completion of the "
            "practical period first",
        ),
        (
            AWAITING_EPA,
            "2026-11-05",
            "AchDate_11: must be at least 7 days after the end of the practical period "
            "(2026-10-30), so 2026-11-06 or later",
        ),
    ],
)
def test_an_epa_result_is_refused_too_early(
    programme: ProgrammeDates, day: str, reason: str
) -> None:
    assert check("epa_result", {**EPA, "achievement_date": day}, programme) == [
        {"field": "changes.achievement_date", "reason": reason}
    ]


def test_a_restart_fits_a_withdrawn_learner_after_the_last_day() -> None:
    assert check("restart_after_withdrawal", RESTART, WITHDRAWN) == []


@pytest.mark.parametrize(
    ("programme", "day", "reason"),
    [
        (IN_LEARNING, "2026-03-02", "the learner is not withdrawn from a programme"),
        (ON_BREAK, "2026-03-02", "the learner is not withdrawn from a programme"),
        (WITHDRAWN, "2026-01-30", "must be after the last day of learning (2026-01-30)"),
    ],
)
def test_a_restart_is_refused_unless_withdrawn_before_it(
    programme: ProgrammeDates, day: str, reason: str
) -> None:
    assert check("restart_after_withdrawal", {**RESTART, "restart_date": day}, programme) == [
        {"field": "changes.restart_date", "reason": reason}
    ]
