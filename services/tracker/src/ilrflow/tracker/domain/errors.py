"""What the tracker domain refuses, as kinds of the shared domain errors (the platform maps each
kind to its HTTP status).

``IllegalTransition`` is a conflict with the current state; ``VersionConflict`` a conflict with
the current version; ``InvalidCommandError`` names the field and the reason;
``LastDayNotReachedError`` names the last day of learning that is still to come.
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
    recorded, so a tracker ending learning is processed on or after its last day of learning."""

    FIELD = "changes.last_day_of_learning"

    def __init__(self, last_day: date, today: date) -> None:
        self.last_day = last_day
        reason = (
            f"LearnActEndDate_04: the last day of learning {last_day.isoformat()} is after today "
            f"({today.isoformat()}); process the tracker on or after that day"
        )
        super().__init__(
            f"{self.FIELD}: {reason}",
            [FieldProblem(field=self.FIELD, reason=reason)],
            code="last_day_not_reached",
        )
