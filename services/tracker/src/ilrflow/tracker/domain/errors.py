"""What the tracker domain refuses, as kinds of the shared domain errors (the platform maps each
kind to its HTTP status).

``IllegalTransition`` is a conflict with the current state; ``VersionConflict`` a conflict with
the current version; ``InvalidCommandError`` names the field and the reason;
``LastDayNotReachedError`` names the day still to come (last day of learning, end of the
practical period, achievement date).
"""

from __future__ import annotations

from datetime import date

from ilrflow.contracts.errors import Conflict, FieldProblem, InvalidInput


class IllegalTransition(Conflict):
    """The action is not allowed in the tracker's current state."""

    def __init__(self, current_state: str, action: str) -> None:
        self.current_state = current_state
        self.action = action
        super().__init__(
            f"cannot {action} a tracker that is {current_state}",
            code="illegal_transition",
            details={"current_state": current_state},
        )


class VersionConflict(Conflict):
    """The caller acted on a stale copy: someone changed the tracker since they read it."""

    def __init__(self, current_version: int, expected_version: int | None = None) -> None:
        self.current_version = current_version
        self.expected_version = expected_version
        super().__init__(
            f"the tracker is at version {current_version}, not {expected_version}; "
            "reload it and try again",
            code="version_conflict",
            details={"current_version": current_version},
        )


class InvalidCommandError(InvalidInput, ValueError):
    """A command's own input is wrong (e.g. a rejection without a reason)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}", [FieldProblem(field=field, reason=reason)])


class LastDayNotReachedError(InvalidInput):
    """ESFA's LearnActEndDate_04: an ILR cannot record learning as ended after the day it is
    recorded, so a tracker ending learning is processed on or after its last day of learning (or
    end of the practical period); an end-point assessment's result likewise from its date."""

    def __init__(self, last_day: date, today: date, field: str = "last_day_of_learning") -> None:
        self.last_day = last_day
        what = _DAY_NAMES[field]
        reason = (
            f"{what} {last_day.isoformat()} is after today ({today.isoformat()}); process the "
            "tracker on or after that day"
        )
        path = f"changes.{field}"
        super().__init__(
            f"{path}: {reason}",
            [FieldProblem(field=path, reason=reason)],
            code="last_day_not_reached",
        )


_DAY_NAMES = {
    "last_day_of_learning": "LearnActEndDate_04: the last day of learning",
    "practical_period_end": "LearnActEndDate_04: the end of the practical period",
    "achievement_date": "the achievement date",
}
