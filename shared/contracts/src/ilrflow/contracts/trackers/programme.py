"""Checks of a tracker's dates against the learner's programme.

The catalogue models check a request on its own; these checks need the programme's dates and
whether the learner is on a break, which only the caller knows (the tracker service reads them off
the learner's current ILR, or off the enrolment while the ILR is not known).

There is no upper bound at the planned end date. A planned end date is a plan: a learner may still
be in learning after it (a late completer), and the ILR records that with a LearnActEndDate after
the LearnPlanEndDate, which no ESFA rule forbids (domain.md §3.5, §4.5: a break may even start after
the planned end date had passed). So a break, withdrawal, change of programme, employer or hours
dated after it is legitimate. What bounds a last day of learning is the start of the learning it
ends (ESFA's LearnActEndDate_01) and the day it is recorded (LearnActEndDate_04, checked when the
tracker is processed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ilrflow.contracts.trackers.catalogue import ChangesModel
from ilrflow.contracts.trackers.completion import Completion, EpaResult, RestartAfterWithdrawal
from ilrflow.contracts.trackers.employment import (
    ChangeOfEmployer,
    ChangeOfEmploymentStatus,
    ChangeOfWorkingHours,
)
from ilrflow.contracts.trackers.learning import (
    BreakInLearning,
    ChangeOfProgramme,
    ReturnToLearning,
    Withdrawal,
)
from ilrflow.contracts.trackers.problems import CHANGES_ROOT, FieldProblem, dotted, problem


@dataclass(frozen=True)
class ProgrammeDates:
    """The learner's programme as far as a tracker's dates are concerned.

    ``started``: the programme's first day (the original start, also after a restart).
    ``learning_started``: the first day of the learning going on now, or interrupted by the break
    the learner is on: the programme aim's LearnStartDate (the return date after a break).
    ``on_break_since``: the last day of learning before the break the learner is on now, or None
    when the learner is in learning.
    ``awaiting_epa_since``: the end of the practical period of a programme awaiting its end-point
    assessment (CompStatus 2, Outcome 8), else None.
    ``withdrawn_on``: the last day of learning of a programme the learner was withdrawn from, when
    that is where the learner is now, else None.
    """

    started: date
    learning_started: date
    on_break_since: date | None = None
    awaiting_epa_since: date | None = None
    withdrawn_on: date | None = None


# AchDate_11: a standard's programme aim is achieved at least 7 days after its LearnActEndDate.
EPA_DAYS_AFTER_PRACTICAL_PERIOD = 7


def check_against_programme(changes: ChangesModel, programme: ProgrammeDates) -> list[FieldProblem]:
    """Every way ``changes`` contradicts the programme; an empty list when they fit. Types
    without dates (name, address, contact, custom) always fit."""
    match changes:
        case BreakInLearning():
            return _break(changes, programme)
        case ReturnToLearning():
            return _return(changes, programme)
        case Withdrawal() | ChangeOfProgramme():
            return _leaving(changes, programme)
        case ChangeOfEmployer():
            return _new_employer(changes, programme)
        case ChangeOfWorkingHours() | ChangeOfEmploymentStatus():
            return _before_programme("effective_date", changes.effective_date, programme)
        case Completion():
            return _completion(changes, programme)
        case EpaResult():
            return _epa_result(changes, programme)
        case RestartAfterWithdrawal():
            return _restart(changes, programme)
        case _:
            return []


def _break(changes: BreakInLearning, programme: ProgrammeDates) -> list[FieldProblem]:
    if programme.on_break_since is not None:
        return [
            problem(
                dotted(CHANGES_ROOT, "last_day_of_learning"),
                f"the learner is on a break since {programme.on_break_since.isoformat()}; "
                "raise a return to learning first",
            )
        ]
    return _before_learning(changes.last_day_of_learning, programme)


def _return(changes: ReturnToLearning, programme: ProgrammeDates) -> list[FieldProblem]:
    path = dotted(CHANGES_ROOT, "return_date")
    if programme.on_break_since is None:
        return [problem(path, "the learner is not on a break")]
    if changes.return_date <= programme.on_break_since:
        since = programme.on_break_since.isoformat()
        return [problem(path, f"must be after the break started (last day of learning {since})")]
    return []


def _new_employer(changes: ChangeOfEmployer, programme: ProgrammeDates) -> list[FieldProblem]:
    """On a break, a new employer is the learner's return (the funding rules' return to learning
    with the new employer): its date must come after the break started, as a return's must."""
    effective = changes.effective_date
    if programme.on_break_since is not None and effective <= programme.on_break_since:
        since = programme.on_break_since.isoformat()
        return [
            problem(
                dotted(CHANGES_ROOT, "effective_date"),
                f"the learner is on a break since {since}: a new employer returns them to "
                "learning, so the date must be after the break started",
            )
        ]
    return _before_programme("effective_date", effective, programme)


def _leaving(
    changes: Withdrawal | ChangeOfProgramme, programme: ProgrammeDates
) -> list[FieldProblem]:
    """Withdrawal and change of programme: a learner on a break leaves from the break, so the
    last day of learning is the break's (aims go 6 -> 3 keeping LearnActEndDate)."""
    last_day = changes.last_day_of_learning
    if programme.on_break_since is not None and last_day > programme.on_break_since:
        since = programme.on_break_since.isoformat()
        return [
            problem(
                dotted(CHANGES_ROOT, "last_day_of_learning"),
                f"must not be after the start of the learner's break (last day of learning {since})",
            )
        ]
    return _before_learning(last_day, programme)


def _before_learning(
    last_day: date, programme: ProgrammeDates, field: str = "last_day_of_learning"
) -> list[FieldProblem]:
    """LearnActEndDate_01: learning cannot end before it started (after a return, the restart)."""
    start = programme.learning_started
    if last_day >= start:
        return []
    began = "the programme started" if start == programme.started else "the learner returned"
    return [problem(dotted(CHANGES_ROOT, field), f"is before {began} ({start.isoformat()})")]


def _completion(changes: Completion, programme: ProgrammeDates) -> list[FieldProblem]:
    path = dotted(CHANGES_ROOT, "practical_period_end")
    if programme.on_break_since is not None:
        since = programme.on_break_since.isoformat()
        return [problem(path, f"the learner is on a break since {since}; raise a return first")]
    if programme.awaiting_epa_since is not None:
        ended = programme.awaiting_epa_since.isoformat()
        return [problem(path, f"the practical period already ended on {ended}")]
    if programme.withdrawn_on is not None:
        return [problem(path, f"the learner was withdrawn on {programme.withdrawn_on.isoformat()}")]
    return _before_learning(changes.practical_period_end, programme, "practical_period_end")


def _epa_result(changes: EpaResult, programme: ProgrammeDates) -> list[FieldProblem]:
    path = dotted(CHANGES_ROOT, "achievement_date")
    ended = programme.awaiting_epa_since
    if ended is None:
        return [
            problem(
                path,
                "the learner is not awaiting an end-point assessment: record the completion of "
                "the practical period first",
            )
        ]
    earliest = ended + timedelta(days=EPA_DAYS_AFTER_PRACTICAL_PERIOD)
    if changes.achievement_date < earliest:
        return [
            problem(
                path,
                f"AchDate_11: must be at least {EPA_DAYS_AFTER_PRACTICAL_PERIOD} days after the "
                f"end of the practical period ({ended.isoformat()}), so {earliest.isoformat()} "
                "or later",
            )
        ]
    return []


def _restart(changes: RestartAfterWithdrawal, programme: ProgrammeDates) -> list[FieldProblem]:
    path = dotted(CHANGES_ROOT, "restart_date")
    withdrawn = programme.withdrawn_on
    if withdrawn is None:
        return [problem(path, "the learner is not withdrawn from a programme")]
    if changes.restart_date <= withdrawn:
        return [problem(path, f"must be after the last day of learning ({withdrawn.isoformat()})")]
    return []


def _before_programme(field: str, day: date, programme: ProgrammeDates) -> list[FieldProblem]:
    if day >= programme.started:
        return []
    started = programme.started.isoformat()
    return [problem(dotted(CHANGES_ROOT, field), f"is before the programme started ({started})")]
