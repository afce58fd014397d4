"""What the tracker service reads off a learner's current ILR (the ``ilr-state`` projection).

The learner record knows the programme's dates as enrolled, but not whether the learner is on a
break, nor where the learning going on now started: only the ILR does (programme aims closed with
CompStatus 6 that no restart has taken over yet, and the restarted aims after a return).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import ValidationError

from ilrflow.contracts.trackers import ProgrammeDates
from ilrflow.ilr_engine.records import PROGRAMME_AIM_TYPE, Aim, Learner, load

COMPLETED, WITHDRAWN = 2, 3  # CompStatus
AWAITING_EPA = 8  # Outcome: learning complete, outcome not yet known


def programme_dates(ilr_learner: Mapping[str, Any] | None) -> ProgrammeDates | None:
    """The programme the ILR says the learner is on: its original start, the start of the current
    programme aim (the open one, else the one on a break) and the break, if any; or, when the
    learner has left learning, the programme awaiting its end-point assessment or the one they
    were withdrawn from. None when the ILR is unknown or unreadable, or shows none of these."""
    learner = _readable(ilr_learner)
    if learner is None:
        return None
    current = _current_programme_aim(learner)
    if current is None:
        return _ended_programme(learner)
    return ProgrammeDates(
        started=current.original_start,
        learning_started=current.LearnStartDate,
        on_break_since=_break_started(learner),
    )


def _ended_programme(learner: Learner) -> ProgrammeDates | None:
    """The latest programme aim, when it awaits its end-point assessment (CompStatus 2, Outcome 8)
    or was withdrawn (CompStatus 3): what an EPA result or a restart is checked against."""
    programmes = [a for a in learner.LearningDelivery if a.AimType == PROGRAMME_AIM_TYPE]
    latest = max(programmes, key=lambda aim: aim.AimSeqNumber, default=None)
    if latest is None or latest.LearnActEndDate is None:
        return None
    awaiting_epa = latest.CompStatus == COMPLETED and latest.Outcome == AWAITING_EPA
    withdrawn = latest.CompStatus == WITHDRAWN
    if not (awaiting_epa or withdrawn):
        return None
    return ProgrammeDates(
        started=latest.original_start,
        learning_started=latest.LearnStartDate,
        awaiting_epa_since=latest.LearnActEndDate if awaiting_epa else None,
        withdrawn_on=latest.LearnActEndDate if withdrawn else None,
    )


def _readable(ilr_learner: Mapping[str, Any] | None) -> Learner | None:
    if not ilr_learner:
        return None
    try:
        return load(dict(ilr_learner))
    except ValidationError:
        return None


def _break_started(learner: Learner) -> date | None:
    """The last day of learning before the break the learner is on now, or None when the learner
    is in learning: the latest LearnActEndDate of the programme aims with CompStatus 6 that no later restart
    (RES) aim has taken over. A break followed by a withdrawal (6 -> 3) is no break."""
    ends = [
        aim.LearnActEndDate
        for aim in learner.aims_on_break()
        if aim.AimType == PROGRAMME_AIM_TYPE and aim.LearnActEndDate is not None
    ]
    return max(ends, default=None)


def _current_programme_aim(learner: Learner) -> Aim | None:
    """The latest open programme aim, else the latest one on a break."""
    for aims in (learner.open_aims(), learner.aims_on_break()):
        programme_aims = [aim for aim in aims if aim.AimType == PROGRAMME_AIM_TYPE]
        if programme_aims:
            return max(programme_aims, key=lambda aim: aim.AimSeqNumber)
    return None
