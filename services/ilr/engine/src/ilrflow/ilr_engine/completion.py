"""The end of an apprenticeship: completion of the practical period, then the end-point assessment.

domain.md §3.5 (CompStatus, Outcome, AchDate, LearnActEndDate of a standard's programme aim) and
§3.7 (completion): at the end of the practical period (gateway) the programme aim is returned with
CompStatus 2 and Outcome 8 while the EPA is awaited [D20][D21][D35]; the EPA's result then gives
Outcome 1 and AchDate on a pass, Outcome 3 on a fail.
"""

from __future__ import annotations

from datetime import date, timedelta

from ilrflow.contracts.trackers import Completion, EpaResult
from ilrflow.contracts.trackers.programme import EPA_DAYS_AFTER_PRACTICAL_PERIOD
from ilrflow.ilr_engine import funding
from ilrflow.ilr_engine.policy import ChangeRejectedError, IlrPolicy, Outcome, changed
from ilrflow.ilr_engine.programme import end_aim, learning_spells, not_before_start
from ilrflow.ilr_engine.records import PROGRAMME_AIM_TYPE, Aim, Learner

COMPLETED = 2
ACHIEVED, NO_ACHIEVEMENT, AWAITING_EPA = 1, 3, 8


def completion(record: Learner, changes: Completion, _: IlrPolicy) -> Outcome:
    end = changes.practical_period_end
    programme = _programme_in_learning(record)
    not_before_start([programme], end, "practical_period_end")
    in_learning = days_in_learning_at_end(record, programme, end)
    minimum = minimum_duration_at_end(programme)
    if int(str(in_learning.value)) < int(str(minimum.value)):
        raise ChangeRejectedError(
            f"practical_period_end {end} leaves {in_learning.value} days in learning "
            f"({in_learning.working}), fewer than the minimum duration ({minimum.working})"
        )
    end_aim(programme, end, COMPLETED, outcome=AWAITING_EPA)
    programme.OTJActHours = changes.otj_actual_hours
    return changed(
        f"aim {programme.AimSeqNumber} completed its practical period: CompStatus 2, Outcome 8 "
        f"(awaiting the end-point assessment), LearnActEndDate {end}, OTJActHours "
        f"{changes.otj_actual_hours}{_below_plan(programme)}; ACT and LSF end on {end}"
    )


def _programme_in_learning(record: Learner) -> Aim:
    open_programmes = [a for a in record.open_aims() if a.AimType == PROGRAMME_AIM_TYPE]
    if open_programmes:
        return max(open_programmes, key=lambda aim: aim.AimSeqNumber)
    if record.aims_on_break():
        raise ChangeRejectedError("the learner is on a break in learning: record the return first")
    raise ChangeRejectedError("the learner has no programme in learning to complete")


def days_in_learning_at_end(record: Learner, programme: Aim, end: date) -> funding.Computed:
    """The programme's time in learning if its practical period ends on ``end``: every spell,
    breaks left out (a restart after a withdrawal starts a programme of its own)."""
    return funding.days_in_learning(learning_spells(record, programme, end))


def minimum_duration_at_end(programme: Aim) -> funding.Computed:
    """The minimum an actual duration must reach: 12 months (8 from 2025/26). Part-timers may
    finish before their extended planned end once the 12 months are met (2023/24 P69), so no
    extension applies here (domain.md §4.1)."""
    return funding.minimum_duration_days(funding.RuleSet.for_start(programme.original_start), None)


def _below_plan(programme: Aim) -> str:
    planned, actual = programme.PHours, programme.OTJActHours
    if planned is None or actual is None or actual >= planned:
        return ""
    return (
        f" (under PHours {planned}: the funding rules want a statement signed by the employer "
        "and the apprentice saying why)"
    )


def epa_result(record: Learner, changes: EpaResult, _: IlrPolicy) -> Outcome:
    achieved_on = changes.achievement_date
    programme = awaiting_epa(record)
    practical_end = programme.LearnActEndDate or programme.LearnStartDate
    earliest = practical_end + timedelta(days=EPA_DAYS_AFTER_PRACTICAL_PERIOD)
    if achieved_on < earliest:
        raise ChangeRejectedError(
            f"AchDate_11: achievement_date {achieved_on} must be at least "
            f"{EPA_DAYS_AFTER_PRACTICAL_PERIOD} days after the end of the practical period "
            f"({practical_end})"
        )
    if changes.result == "fail":
        programme.Outcome = NO_ACHIEVEMENT
        return changed(
            f"aim {programme.AimSeqNumber}: end-point assessment failed on {achieved_on}: "
            "Outcome 3 (no achievement), CompStatus 2 kept"
        )
    programme.Outcome = ACHIEVED
    programme.AchDate = achieved_on
    _contract_to_achievement(programme, achieved_on)
    return changed(
        f"aim {programme.AimSeqNumber}: end-point assessment passed: Outcome 1, AchDate "
        f"{achieved_on}; the latest ACT ends on the AchDate"
    )


def awaiting_epa(record: Learner) -> Aim:
    awaiting = [
        aim
        for aim in record.LearningDelivery
        if aim.AimType == PROGRAMME_AIM_TYPE
        and aim.CompStatus == COMPLETED
        and aim.Outcome == AWAITING_EPA
    ]
    if not awaiting:
        raise ChangeRejectedError(
            "the learner is not awaiting an end-point assessment (no programme aim with "
            "CompStatus 2 and Outcome 8): record the completion of the practical period first"
        )
    return max(awaiting, key=lambda aim: aim.AimSeqNumber)


def _contract_to_achievement(programme: Aim, achieved_on: date) -> None:
    """On completion the latest ACT's DateTo is the AchDate [D35] (LearnDelFAMDateTo_05 allows
    no later)."""
    acts = programme.fams("ACT")
    if acts:
        latest = max(acts, key=lambda fam: fam.LearnDelFAMDateFrom or date.min)
        latest.LearnDelFAMDateTo = achieved_on
