"""The tracker service's domain: the Tracker aggregate and its state machine, the tenant's
tracker policy, permission checks and allocation. Pure code: no I/O, no framework imports."""

from ilrflow.tracker.domain.actors import ILR_SERVICE, Actor, as_actor
from ilrflow.tracker.domain.errors import (
    IllegalTransition,
    InvalidCommandError,
    LastDayNotReachedError,
    VersionConflict,
)
from ilrflow.tracker.domain.permissions import (
    Decision,
    Refused,
    allocate,
    candidate_processors,
    check_qa_lock,
    may_allocate,
    may_be_allocated,
    may_cancel,
    may_edit,
    may_process,
    may_raise,
    may_reject,
    may_see_learner,
    may_see_tracker,
    reads_whole_tenant,
)
from ilrflow.tracker.domain.policy import AllocationRule, TenantTrackerSettings, TypeSettings
from ilrflow.tracker.domain.tracker import (
    OPEN_STATES,
    TERMINAL_STATES,
    HistoryEntry,
    IlrOutcome,
    Tracker,
    TrackerStatus,
)

__all__ = [
    "ILR_SERVICE",
    "OPEN_STATES",
    "TERMINAL_STATES",
    "Actor",
    "AllocationRule",
    "Decision",
    "HistoryEntry",
    "IllegalTransition",
    "IlrOutcome",
    "InvalidCommandError",
    "LastDayNotReachedError",
    "Refused",
    "TenantTrackerSettings",
    "Tracker",
    "TrackerStatus",
    "TypeSettings",
    "VersionConflict",
    "allocate",
    "as_actor",
    "candidate_processors",
    "check_qa_lock",
    "may_allocate",
    "may_be_allocated",
    "may_cancel",
    "may_edit",
    "may_process",
    "may_raise",
    "may_reject",
    "may_see_learner",
    "may_see_tracker",
    "reads_whole_tenant",
]
