"""Checks of a tracker's dates against the learner's enrolment.

The catalogue models check a request on its own; these checks need the programme's start and
planned end and whether the learner is on a break, which only the caller (the tracker service's
learner projection) knows.
"""

from __future__ import annotations

from datetime import date

from ilrflow.contracts.trackers.catalogue import ChangesModel
from ilrflow.contracts.trackers.employment import ChangeOfEmployer, ChangeOfWorkingHours
from ilrflow.contracts.trackers.learning import (
    BreakInLearning,
    ChangeOfProgramme,
    ReturnToLearning,
    Withdrawal,
)
from ilrflow.contracts.trackers.problems import CHANGES_ROOT, FieldProblem, dotted, problem


def check_against_programme(
    changes: ChangesModel,
    programme_start: date,
    planned_end: date | None,
    on_break_since: date | None,
) -> list[FieldProblem]:
    """Every way ``changes`` contradicts the enrolment; an empty list when they fit.

    ``planned_end`` is the programme's current planned end date (None when not known);
    ``on_break_since`` is the last day of learning recorded by the break the learner is on now,
    or None when the learner is in learning. Types without dates (name, address, contact,
    custom) always fit.
    """
    window = _Window(programme_start, planned_end, on_break_since)
    match changes:
        case BreakInLearning():
            return _break(changes, window)
        case ReturnToLearning():
            return _return(changes, window)
        case Withdrawal() | ChangeOfProgramme():
            return _leaving(changes, window)
        case ChangeOfEmployer() | ChangeOfWorkingHours():
            return window.outside("effective_date", changes.effective_date)
        case _:
            return []


class _Window:
    def __init__(self, start: date, planned_end: date | None, break_since: date | None) -> None:
        self.start = start
        self.planned_end = planned_end
        self.break_since = break_since

    def outside(self, field: str, day: date) -> list[FieldProblem]:
        """A date on which the learner must be on the programme (start to planned end)."""
        path = dotted(CHANGES_ROOT, field)
        if day < self.start:
            return [problem(path, f"is before the programme started ({self.start.isoformat()})")]
        if self.planned_end is not None and day > self.planned_end:
            return [
                problem(path, f"is after the planned end date ({self.planned_end.isoformat()})")
            ]
        return []

    def not_on_break(self, field: str) -> list[FieldProblem]:
        if self.break_since is None:
            return []
        return [
            problem(
                dotted(CHANGES_ROOT, field),
                f"the learner is on a break since {self.break_since.isoformat()}; "
                "raise a return to learning first",
            )
        ]


def _break(changes: BreakInLearning, window: _Window) -> list[FieldProblem]:
    return window.not_on_break("last_day_of_learning") or window.outside(
        "last_day_of_learning", changes.last_day_of_learning
    )


def _return(changes: ReturnToLearning, window: _Window) -> list[FieldProblem]:
    path = dotted(CHANGES_ROOT, "return_date")
    if window.break_since is None:
        return [problem(path, "the learner is not on a break")]
    if changes.return_date <= window.break_since:
        since = window.break_since.isoformat()
        return [problem(path, f"must be after the break started (last day of learning {since})")]
    return []


def _leaving(changes: Withdrawal | ChangeOfProgramme, window: _Window) -> list[FieldProblem]:
    """Withdrawal and change of programme: a learner on a break leaves from the break, so the
    last day of learning is the break's (aims go 6 -> 3 keeping LearnActEndDate)."""
    last_day = changes.last_day_of_learning
    if window.break_since is not None and last_day > window.break_since:
        since = window.break_since.isoformat()
        return [
            problem(
                dotted(CHANGES_ROOT, "last_day_of_learning"),
                f"must not be after the start of the learner's break (last day of learning {since})",
            )
        ]
    return window.outside("last_day_of_learning", last_day)
