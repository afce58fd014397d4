"""The Tracker aggregate: one change-of-circumstance request and its workflow.

States::

    raised ──allocate──► allocated ──allocate──► allocated (re-allocation)
      │                    │
      ├──process───────────┴──► processed ──record_ilr_outcome──► processed (+ ILR outcome)
      ├──reject (reason)───────► rejected
      └──cancel────────────────► cancelled

``edit`` and ``override_planned_end_date`` keep the state. Every successful command bumps
``version`` by one and appends exactly one history entry (who, when, what), so
``version == len(history)`` always holds. Processed, rejected and cancelled are terminal.
Commands take the time and the actor explicitly and return the events to publish; whether the
actor *may* act is decided by :mod:`ilrflow.tracker.domain.permissions` before the call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from ilrflow.contracts.events import (
    IlrOutcomeStatus,
    Payload,
    TrackerAllocated,
    TrackerCancelled,
    TrackerProcessed,
    TrackerRaised,
    TrackerRejected,
)
from ilrflow.contracts.trackers import (
    TRACKER_TYPES,
    ChangesInvalid,
    ChangesModel,
    CustomChanges,
    ReturnToLearning,
)
from ilrflow.contracts.trackers.problems import problems_from_validation_error
from ilrflow.tracker.domain.actors import ILR_SERVICE, Actor
from ilrflow.tracker.domain.errors import (
    IllegalTransition,
    InvalidCommandError,
    LastDayNotReachedError,
    VersionConflict,
)
from ilrflow.tracker.domain.storable import storage_problem

TrackerStatus = Literal["raised", "allocated", "processed", "rejected", "cancelled"]
DATES_THAT_MUST_HAVE_COME = ("last_day_of_learning", "practical_period_end", "achievement_date")
"""Fields naming a day the ILR records as past: the last day of learning and the end of the
practical period (LearnActEndDate), and the end-point assessment's date (AchDate)."""
DATE_REACHED_BEFORE_PROCESSING: dict[str, str] = {
    name: field
    for name, info in TRACKER_TYPES.items()
    if info.changes_model is not None
    for field in DATES_THAT_MUST_HAVE_COME
    if field in info.changes_model.model_fields
}
"""Type -> the field whose day must have come before the tracker is processed (break,
withdrawal, change of programme, completion, EPA result)."""
OPEN_STATES: frozenset[str] = frozenset({"raised", "allocated"})
TERMINAL_STATES: frozenset[str] = frozenset({"processed", "rejected", "cancelled"})


def as_utc(moment: datetime) -> datetime:
    """MongoDB gives back naive datetimes that mean UTC; keep every moment aware and in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class HistoryEntry(BaseModel):
    """One successful command: what happened, who did it, when, and the details (before/after)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str
    actor: str
    actor_roles: list[str] = Field(default_factory=list)
    at: UtcDatetime
    version: int
    details: dict[str, Any] = Field(default_factory=dict)


class IlrOutcome(BaseModel):
    """What the ILR service did with the processed tracker, so nobody has to guess."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: IlrOutcomeStatus
    reason: str
    ilr_version: int | None = None
    recorded_at: UtcDatetime
    patch: list[dict[str, Any]] = Field(default_factory=list)


class Tracker(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    tenant: str
    learner_id: str
    learner_group: str | None = None
    tracker_type: str
    changes: dict[str, Any]
    note: str | None = None
    status: TrackerStatus
    version: int = Field(ge=1)
    raised_by: str
    raised_by_roles: list[str] = Field(default_factory=list)
    raised_at: UtcDatetime
    updated_at: UtcDatetime
    on_behalf_of_learner: bool = False
    allocated_to: str | None = None
    preview: dict[str, Any] | None = Field(
        default=None, description="Computed values with their working, from the ILR engine."
    )
    decided_by: str | None = Field(default=None, description="Who processed/rejected/cancelled.")
    decided_at: UtcDatetime | None = None
    decision_reason: str | None = None
    ilr_outcome: IlrOutcome | None = None
    history: list[HistoryEntry] = Field(default_factory=list)

    # --- creation ------------------------------------------------------------------------------

    @classmethod
    def raise_new(
        cls,
        *,
        tracker_id: str,
        tenant: str,
        learner_id: str,
        learner_group: str | None,
        tracker_type: str,
        changes: ChangesModel,
        actor: Actor,
        now: datetime,
        note: str | None = None,
        on_behalf_of_learner: bool = False,
        allocated_to: str | None = None,
        candidate_processors: Sequence[str] = (),
        preview: dict[str, Any] | None = None,
    ) -> tuple[Self, list[Payload]]:
        """A new tracker, allocated when ``allocated_to`` is given, else left for the pool."""
        _check_changes_model(tracker_type, changes)
        _check_storable("preview", preview)
        at = as_utc(now)
        tracker = cls(
            id=tracker_id,
            tenant=tenant,
            learner_id=learner_id,
            learner_group=learner_group,
            tracker_type=tracker_type,
            changes=changes.model_dump(mode="json"),
            note=note,
            status="allocated" if allocated_to else "raised",
            version=1,
            raised_by=actor.id,
            raised_by_roles=sorted(actor.roles),
            raised_at=at,
            updated_at=at,
            on_behalf_of_learner=on_behalf_of_learner,
            allocated_to=allocated_to or None,
            preview=preview,
            history=[_entry("raised", actor, at, 1, {"allocated_to": allocated_to or None})],
        )
        return tracker, [tracker._raised_event(candidate_processors)]

    # --- commands ------------------------------------------------------------------------------

    def allocate(
        self,
        to: str,
        actor: Actor,
        now: datetime,
        *,
        expected_version: int | None = None,
        reason: str | None = None,
    ) -> list[Payload]:
        """(Re-)allocate to an admin, the ``reason`` (if any) kept in the history; whether ``to``
        may process it is the policy's question."""
        self._guard("allocate", expected_version)
        if not to:
            raise InvalidCommandError("allocated_to", "must name the admin to allocate to")
        previous = self.allocated_to
        details = {"from": previous, "to": to}
        if reason and reason.strip():
            details["reason"] = reason.strip()
        self._record("allocate", actor, now, details)
        self.status = "allocated"
        self.allocated_to = to
        return [
            TrackerAllocated(
                tracker_id=self.id,
                learner_id=self.learner_id,
                tracker_type=self.tracker_type,
                allocated_to=to,
                previously_allocated_to=previous,
                allocated_by=actor.id,
            )
        ]

    def edit(
        self,
        expected_version: int,
        changes: ChangesModel,
        actor: Actor,
        now: datetime,
        *,
        preview: dict[str, Any] | None = None,
        note: str | None = None,
    ) -> list[Payload]:
        """Replace the proposed values (and the preview computed from them) before processing.

        ``preview``/``note`` of None keep the current ones. History keeps, for every top-level
        field that changed, its value before and after.
        """
        self._guard("edit", expected_version)
        _check_changes_model(self.tracker_type, changes)
        _check_storable("preview", preview)
        self._replace_changes("edit", changes.model_dump(mode="json"), actor, now, preview, note)
        return []

    def override_planned_end_date(
        self,
        expected_version: int,
        planned_end_date: date,
        reason: str,
        actor: Actor,
        now: datetime,
        *,
        preview: dict[str, Any] | None = None,
    ) -> list[Payload]:
        """Override the recalculated planned end date of a return to learning, with a reason."""
        self._guard("override_planned_end_date", expected_version)
        if self.tracker_type != "return_to_learning":
            raise InvalidCommandError(
                "planned_end_date", f"a {self.tracker_type} tracker has no planned end date"
            )
        proposed = {**self.changes, "planned_end_date": planned_end_date, "override_reason": reason}
        try:
            changes = ReturnToLearning.model_validate(proposed)
        except ValidationError as error:
            raise ChangesInvalid(problems_from_validation_error(error)) from error
        _check_storable("preview", preview)
        self._replace_changes(
            "override_planned_end_date",
            changes.model_dump(mode="json"),
            actor,
            now,
            preview,
            None,
        )
        return []

    def process(
        self, actor: Actor, now: datetime, *, expected_version: int | None = None
    ) -> list[Payload]:
        """Approve the change for the ILR and the learner record. A tracker ending learning
        (break, withdrawal, change of programme, completion) may be raised ahead of the last day
        of learning, but is processed only from that day on (LearnActEndDate_04); an EPA result
        only from its achievement date."""
        self._guard("process", expected_version)
        self._check_last_day_reached(as_utc(now).date())
        self._record("process", actor, now, {})
        self._decide("processed", actor, now, None)
        return [
            TrackerProcessed(
                tracker_id=self.id,
                learner_id=self.learner_id,
                tracker_type=self.tracker_type,
                changes=self.changes,
                processed_by=actor.id,
                processor_roles=sorted(actor.roles),
                raised_by=self.raised_by,
                learner_led=self.learner_led,
            )
        ]

    def reject(
        self, reason: str, actor: Actor, now: datetime, *, expected_version: int | None = None
    ) -> list[Payload]:
        self._guard("reject", expected_version)
        reason = _required_reason("reason", reason, "a rejection needs a reason")
        self._record("reject", actor, now, {"reason": reason})
        self._decide("rejected", actor, now, reason)
        return [
            TrackerRejected(
                tracker_id=self.id,
                learner_id=self.learner_id,
                tracker_type=self.tracker_type,
                reason=reason,
                rejected_by=actor.id,
                raised_by=self.raised_by,
            )
        ]

    def cancel(
        self,
        actor: Actor,
        now: datetime,
        *,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> list[Payload]:
        """Withdraw the request before anyone decides it (by the raiser or an admin); the
        allocated admin and the audit log learn of it from ``tracker-cancelled``."""
        reason = reason.strip() or None if reason else None
        self._guard("cancel", expected_version)
        self._record("cancel", actor, now, {"reason": reason})
        self._decide("cancelled", actor, now, reason)
        return [
            TrackerCancelled(
                tracker_id=self.id,
                learner_id=self.learner_id,
                tracker_type=self.tracker_type,
                reason=reason,
                cancelled_by=actor.id,
                raised_by=self.raised_by,
                allocated_to=self.allocated_to,
            )
        ]

    def record_ilr_outcome(
        self,
        status: IlrOutcomeStatus,
        reason: str,
        now: datetime,
        *,
        ilr_version: int | None = None,
        patch: Sequence[dict[str, Any]] = (),
        actor: Actor = ILR_SERVICE,
    ) -> list[Payload]:
        """Record what the ILR service did. A repeat of the same outcome changes nothing (the
        ``ilr-updated`` consumer may see a message twice); a different second outcome is refused.
        """
        outcome = IlrOutcome(
            status=status,
            reason=reason,
            ilr_version=ilr_version,
            recorded_at=as_utc(now),
            patch=list(patch),
        )
        if self._same_outcome(outcome):
            return []
        self._guard("record_ilr_outcome", None)
        if self.ilr_outcome is not None:
            raise IllegalTransition(f"{self.status} with an ILR outcome", "record_ilr_outcome")
        _check_storable("patch", outcome.patch)
        details = {"status": status, "reason": reason, "ilr_version": ilr_version}
        self._record("record_ilr_outcome", actor, now, details)
        self.ilr_outcome = outcome
        return []

    # --- queries -------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATES

    @property
    def learner_led(self) -> bool:
        info = TRACKER_TYPES.get(self.tracker_type)
        return info.learner_led if info is not None else False

    def to_document(self) -> dict[str, Any]:
        """The MongoDB form: ``_id`` is the tracker id; datetimes stay BSON dates (UTC)."""
        document = self.model_dump(mode="python")
        document["_id"] = document.pop("id")
        problem = storage_problem(document, "tracker")
        if problem:
            raise ValueError(problem)
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Self:
        """Rebuild from :meth:`to_document`'s form; keys the repository adds (outbox, processed
        event ids) are not the aggregate's and are ignored."""
        fields = {k: v for k, v in document.items() if k in cls.model_fields}
        fields["id"] = document.get("_id", document.get("id"))
        return cls.model_validate(fields)

    # --- the state machine ---------------------------------------------------------------------

    def allows(self, action: str) -> bool:
        """Whether the tracker's state allows ``action`` (a command's other checks aside)."""
        return self.status in _ALLOWED_FROM[action]

    def _check_last_day_reached(self, today: date) -> None:
        field = DATE_REACHED_BEFORE_PROCESSING.get(self.tracker_type)
        if field is None:
            return
        day = date.fromisoformat(self.changes[field])
        if day > today:
            raise LastDayNotReachedError(day, today, field)

    def _guard(self, action: str, expected_version: int | None) -> None:
        """Refuse an action the state does not allow, or one based on a stale version.

        Commands call this before checking their own input, so a closed tracker answers
        "illegal in this state" whatever was sent.
        """
        if not self.allows(action):
            raise IllegalTransition(self.status, action)
        if expected_version is not None and expected_version != self.version:
            raise VersionConflict(self.version, expected_version)

    def _record(self, action: str, actor: Actor, now: datetime, details: dict[str, Any]) -> None:
        """One successful command: one history entry and the next version."""
        at = as_utc(now)
        self.version += 1
        self.updated_at = at
        self.history.append(_entry(_PAST_TENSE[action], actor, at, self.version, details))

    def _decide(
        self, status: TrackerStatus, actor: Actor, now: datetime, reason: str | None
    ) -> None:
        self.status = status
        self.decided_by = actor.id
        self.decided_at = as_utc(now)
        self.decision_reason = reason

    def _replace_changes(
        self,
        action: str,
        changes: dict[str, Any],
        actor: Actor,
        now: datetime,
        preview: dict[str, Any] | None,
        note: str | None,
    ) -> None:
        details = {
            "before": {k: self.changes.get(k) for k in _changed_keys(self.changes, changes)},
            "after": {k: changes.get(k) for k in _changed_keys(self.changes, changes)},
            "preview_replaced": preview is not None,
        }
        if note is not None:
            details["note"] = {"before": self.note, "after": note}
        self._record(action, actor, now, details)
        self.changes = changes
        self.preview = preview if preview is not None else self.preview
        self.note = note if note is not None else self.note

    def _same_outcome(self, outcome: IlrOutcome) -> bool:
        recorded = self.ilr_outcome
        return recorded is not None and (
            recorded.status,
            recorded.reason,
            recorded.ilr_version,
        ) == (
            outcome.status,
            outcome.reason,
            outcome.ilr_version,
        )

    def _raised_event(self, candidate_processors: Sequence[str]) -> TrackerRaised:
        return TrackerRaised(
            tracker_id=self.id,
            learner_id=self.learner_id,
            tracker_type=self.tracker_type,
            changes=self.changes,
            note=self.note,
            raised_by=self.raised_by,
            raised_by_roles=self.raised_by_roles,
            on_behalf_of_learner=self.on_behalf_of_learner,
            allocated_to=self.allocated_to,
            candidate_processors=[] if self.allocated_to else list(candidate_processors),
        )


_ALLOWED_FROM: dict[str, frozenset[str]] = {
    "allocate": OPEN_STATES,
    "edit": OPEN_STATES,
    "override_planned_end_date": OPEN_STATES,
    "process": OPEN_STATES,
    "reject": OPEN_STATES,
    "cancel": OPEN_STATES,
    "record_ilr_outcome": frozenset({"processed"}),
}

_PAST_TENSE = {
    "allocate": "allocated",
    "edit": "edited",
    "override_planned_end_date": "planned_end_date_overridden",
    "process": "processed",
    "reject": "rejected",
    "cancel": "cancelled",
    "record_ilr_outcome": "ilr_outcome_recorded",
}


def _entry(
    action: str, actor: Actor, at: datetime, version: int, details: dict[str, Any]
) -> HistoryEntry:
    return HistoryEntry(
        action=action,
        actor=actor.id,
        actor_roles=sorted(actor.roles),
        at=at,
        version=version,
        details=details,
    )


def _changed_keys(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def _check_changes_model(tracker_type: str, changes: ChangesModel) -> None:
    """The changes must have been parsed for this tracker's type, not another's."""
    info = TRACKER_TYPES.get(tracker_type)
    expected: type = info.changes_model if info and info.changes_model else CustomChanges
    if type(changes) is not expected:
        raise InvalidCommandError(
            "changes", f"were parsed as {type(changes).__name__}, not for {tracker_type}"
        )


def _check_storable(field: str, value: Any) -> None:
    problem = storage_problem(value, field)
    if problem:
        raise InvalidCommandError(field, problem)


def _required_reason(field: str, reason: str | None, message: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidCommandError(field, message)
    return text
