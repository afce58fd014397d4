"""The learner's programme status, read off the current ILR record (issue #14).

The ILR is the truth, not the tracker that changed it: the status is that of the current
programme aim, the one of AimType 1 with the highest AimSeqNumber (a return from a break adds a
restarted programme aim, so the latest is the one in learning now).

| programme aim | status | since |
|---|---|---|
| CompStatus 1 (continuing) | ``active`` | LearnStartDate (the restart date after a break) |
| CompStatus 6 (agreed break in learning, no restart yet) | ``on_break`` | LearnActEndDate |
| CompStatus 3 (withdrawn) | ``withdrawn``, with a :class:`WithdrawalKind` | LearnActEndDate |
| CompStatus 2, Outcome 8 or none (practical period done, EPA awaited) | ``completed_practical_period`` | LearnActEndDate |
| CompStatus 2, Outcome 1 (achieved) | ``achieved`` | AchDate |
| CompStatus 2, Outcome 3 (no achievement: the EPA was failed) | ``not_achieved`` | AchDate |

CompStatus and Outcome codes: domain.md §3.6 [D20][D21]; a standard's programme aim is completed
(CompStatus 2) at the end of the practical period with Outcome 8, and gets Outcome 1 or 3 with
AchDate, the day the EPA ended, pass or fail [D35]. A learner who stops learning is withdrawn
(CompStatus 3), whatever the outcome, so ``not_achieved`` is CompStatus 2 only. Outcome 2
(partial achievement) is for prescribed HE only and is no achievement of an apprenticeship.

"since" is the ILR date the status comes from: for a break or a withdrawal, LearnActEndDate is
the last day of learning (the tracker service's ``on_break_since`` is the same date).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from ilrflow.ilr_engine.records import PROGRAMME_AIM_TYPE, Aim, IlrLearner, Learner, load

QUALIFYING_PERIOD_DAYS = 42
"""The funding qualifying period of an apprenticeship (domain.md §4.7 [C28])."""


class Status(StrEnum):
    ACTIVE = "active"
    ON_BREAK = "on_break"
    WITHDRAWN = "withdrawn"
    COMPLETED_PRACTICAL_PERIOD = "completed_practical_period"
    ACHIEVED = "achieved"
    NOT_ACHIEVED = "not_achieved"


class WithdrawalKind(StrEnum):
    NON_STARTER = "non_starter"
    EARLY_LEAVER = "early_leaver"


@dataclass(frozen=True)
class ProgrammeStatus:
    status: Status
    since: date | None
    withdrawal_kind: WithdrawalKind | None = None


def programme_status(record: IlrLearner) -> ProgrammeStatus | None:
    """The status of the learner's current programme; None when the record is empty (no ILR
    yet) or has no programme aim. Raises ValueError for a record that is not an ILR learner or
    whose programme aim has a CompStatus the ILR does not define."""
    if not record:
        return None
    learner = load(record)
    aim = current_programme_aim(learner)
    return None if aim is None else _status_of(learner, aim)


def current_programme_aim(learner: Learner) -> Aim | None:
    programme_aims = [aim for aim in learner.LearningDelivery if aim.AimType == PROGRAMME_AIM_TYPE]
    return max(programme_aims, key=lambda aim: aim.AimSeqNumber, default=None)


def _status_of(learner: Learner, aim: Aim) -> ProgrammeStatus:
    match aim.CompStatus:
        case 1:
            return ProgrammeStatus(Status.ACTIVE, aim.LearnStartDate)
        case 6:
            return ProgrammeStatus(Status.ON_BREAK, aim.LearnActEndDate)
        case 3:
            return ProgrammeStatus(
                Status.WITHDRAWN, aim.LearnActEndDate, withdrawal_kind(learner, aim)
            )
        case 2:
            return _completed(aim)
    raise ValueError(f"CompStatus {aim.CompStatus} is not one the ILR defines (1, 2, 3, 6)")


def _completed(aim: Aim) -> ProgrammeStatus:
    if aim.Outcome == 1:
        return ProgrammeStatus(Status.ACHIEVED, aim.AchDate or aim.LearnActEndDate)
    if aim.Outcome in (2, 3):
        return ProgrammeStatus(Status.NOT_ACHIEVED, aim.AchDate or aim.LearnActEndDate)
    return ProgrammeStatus(Status.COMPLETED_PRACTICAL_PERIOD, aim.LearnActEndDate)


def withdrawal_kind(learner: Learner, aim: Aim) -> WithdrawalKind:
    """A non-starter left within the qualifying period: fewer than 42 days in learning on the
    apprenticeship, counted over every spell of it (each restart after a break continues the
    same programme) with both the first and the last day of a spell in learning.

    This follows ESFA's achievement-rate exclusion of withdrawals "within the funding qualifying
    period" (QAR apprenticeships scenario 5: actual duration under 42 days, CompStatus 3, not a
    restart). A programme that itself began as a restart after a withdrawal (RES without
    OrigLearnStartDate) is never a non-starter: the learner had started it before. The funding
    rules re-apply the qualifying period to a restarted aim for payments [C28]; that decides
    what is paid, not whether the learner started.
    """
    spells = learner.aim_history(aim)
    if spells[0].is_restart:
        return WithdrawalKind.EARLY_LEAVER
    if sum(_days_in_learning(spell) for spell in spells) < QUALIFYING_PERIOD_DAYS:
        return WithdrawalKind.NON_STARTER
    return WithdrawalKind.EARLY_LEAVER


def _days_in_learning(aim: Aim) -> int:
    last_day = aim.LearnActEndDate or aim.LearnStartDate
    return (last_day - aim.LearnStartDate).days + 1
