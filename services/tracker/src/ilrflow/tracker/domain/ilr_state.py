"""What the tracker service reads off a learner's current ILR (the ``ilr-state`` projection).

The learner record knows the programme's dates but not whether the learner is on a break: only
the ILR does (programme aims closed with CompStatus 6 that no restart has taken over yet).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import ValidationError

from ilrflow.ilr_engine.records import PROGRAMME_AIM_TYPE, load


def break_started(ilr_learner: Mapping[str, Any] | None) -> date | None:
    """The last day of learning before the break the learner is on now, or None when the
    learner is in learning (or the ILR is unknown or unreadable).

    That is the latest LearnActEndDate of the programme aims with CompStatus 6 that no later
    restart (RES) aim has taken over. A break followed by a withdrawal (6 -> 3) is no break.
    """
    if not ilr_learner:
        return None
    try:
        learner = load(dict(ilr_learner))
    except ValidationError:
        return None
    ends = [
        aim.LearnActEndDate
        for aim in learner.aims_on_break()
        if aim.AimType == PROGRAMME_AIM_TYPE and aim.LearnActEndDate is not None
    ]
    return max(ends, default=None)
