"""One readable sentence per audit entry, shared by the exports and the learner timeline.

Sentences are built from the stored payload validated against the shared contract; anything that
does not validate is described by its first parse problem instead, never by raising.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from ilrflow.audit.domain.records import AuditEntry, DeadLetterInfo
from ilrflow.contracts.events import (
    CATALOGUE,
    AuditAccessed,
    IlrState,
    IlrUpdated,
    LearnerUpdated,
    PatchOperation,
    Payload,
    StaffUpdated,
    TrackerAllocated,
    TrackerCancelled,
    TrackerProcessed,
    TrackerRaised,
    TrackerRejected,
)

# When someone holds several roles, the one that explains their action best comes first.
_ROLE_PRECEDENCE = ("admin", "ilr_qa", "tutor", "support", "operator", "learner")
_OUTCOME_WORDS = {"applied": "applied", "no_ilr_change": "no ILR change", "rejected": "rejected"}
MAX_PATCH_LINES = 5
MAX_VALUE_LENGTH = 60


def describe(entry: AuditEntry) -> str:
    """What the entry records, e.g. "learner L1's tracker T1 (change_of_name) processed by admin A1"."""
    sentence = _describe_event(entry)
    if entry.dead_letter:
        origin = entry.dead_letter
        reason = origin.reason or "no reason given"
        sentence = f"dead letter from {_origin_of(origin)} ({reason}): {sentence}"
    if entry.duplicate_of:
        sentence += f" (duplicate delivery of {entry.duplicate_of})"
    return sentence


def _origin_of(origin: DeadLetterInfo) -> str:
    where = [origin.original_topic or "unknown topic"]
    if origin.original_partition is not None:
        where.append(f"partition {origin.original_partition}")
    if origin.original_offset is not None:
        where.append(f"offset {origin.original_offset}")
    return " ".join(where)


def typed_payload(entry: AuditEntry) -> Payload | None:
    """The payload as its contract model, or None when the type is unknown or it does not fit."""
    catalogued = CATALOGUE.get(entry.event_type or "")
    payload = entry.payload()
    if catalogued is None or payload is None:
        return None
    try:
        return catalogued.payload.model_validate(payload)
    except ValidationError:
        return None


def _describe_event(entry: AuditEntry) -> str:
    payload = typed_payload(entry)
    if payload is None:
        return _describe_unreadable(entry)
    match payload:
        case TrackerRaised() | TrackerAllocated() | TrackerProcessed() | TrackerRejected():
            return f"{_tracker_of(payload)} {_tracker_action(payload)}"
        case LearnerUpdated():
            return _learner_change(payload)
        case StaffUpdated():
            return f"staff {payload.id} ({payload.name}) updated; roles {', '.join(payload.roles)}"
        case IlrUpdated():
            return _ilr_outcome(payload)
        case IlrState():
            return f"ILR state snapshot for learner {payload.learner_id}, version {payload.version}"
        case TrackerCancelled():
            return f"{_tracker_of(payload)} cancelled by {payload.cancelled_by}"
        case AuditAccessed():
            return _audit_access(payload)
    return entry.event_type or "event"


def _describe_unreadable(entry: AuditEntry) -> str:
    if entry.value is None and not entry.problems:
        return f"tombstone for key {entry.key.as_text() if entry.key else '(none)'}"
    reason = entry.problems[0] if entry.problems else "payload does not match its type"
    return f"unreadable {entry.event_type or 'record'}: {reason}"


def _tracker_of(
    payload: TrackerRaised
    | TrackerAllocated
    | TrackerProcessed
    | TrackerRejected
    | TrackerCancelled,
) -> str:
    return f"learner {payload.learner_id}'s tracker {payload.tracker_id} ({payload.tracker_type})"


def _tracker_action(
    payload: TrackerRaised | TrackerAllocated | TrackerProcessed | TrackerRejected,
) -> str:
    match payload:
        case TrackerRaised():
            by = _person(payload.raised_by, payload.raised_by_roles, payload.learner_id)
            behalf = " on the learner's behalf" if payload.on_behalf_of_learner else ""
            allocated = (
                f", allocated to admin {payload.allocated_to}" if payload.allocated_to else ""
            )
            return f"raised by {by}{behalf}{allocated}"
        case TrackerAllocated():
            was = payload.previously_allocated_to
            moved = f"re-allocated from {was} to" if was else "allocated to"
            return f"{moved} admin {payload.allocated_to} by {payload.allocated_by}"
        case TrackerProcessed():
            by = _person(payload.processed_by, payload.processor_roles, payload.learner_id)
            return f"processed by {by}"
        case TrackerRejected():
            return f"rejected by {payload.rejected_by}: {payload.reason}"


def _person(person_id: str, roles: list[str], learner_id: str) -> str:
    if person_id == learner_id:
        return f"learner {person_id}"
    role = next((r for r in _ROLE_PRECEDENCE if r in roles), None)
    return f"{role} {person_id}" if role else person_id


def _audit_access(payload: AuditAccessed) -> str:
    by = _person(payload.accessed_by, payload.accessed_by_roles, "")
    what = {
        "search": "searched the audit log",
        "get": f"read audit entry {payload.entry_id}",
        "timeline": f"read learner {payload.learner_id}'s audit timeline",
        "export_csv": "exported the audit log as CSV",
        "export_xlsx": "exported the audit log as XLSX",
        "verify": "verified the audit hash chains",
    }[payload.action]
    filters = ", ".join(f"{k}={v}" for k, v in sorted(payload.filters.items()))
    return f"{by} {what}" + (f" ({filters})" if filters else "") + f": {payload.results} entries"


def _learner_change(payload: LearnerUpdated) -> str:
    learner = f"learner {payload.learner.id}"
    source = f" (tracker {payload.tracker_id})" if payload.tracker_id else ""
    if payload.change == "created":
        return f"{learner} created"
    if payload.change == "enrolled":
        return f"{learner} enrolled (enrolment {payload.enrolment_id or 'unknown'}){source}"
    fields = ", ".join(payload.changed_fields) or "record"
    return f"{learner}'s details changed: {fields}{source}"


def _ilr_outcome(payload: IlrUpdated) -> str:
    head = f"ILR version {payload.version}: {_OUTCOME_WORDS[payload.outcome]}"
    cause = f" (tracker {payload.tracker_id})" if payload.tracker_id else f" ({payload.cause})"
    if payload.outcome == "applied" and payload.patch:
        return f"{head} — {_patch_summary(payload.patch)}{cause}"
    return f"{head} — {payload.reason}{cause}"


def _patch_summary(patch: list[PatchOperation]) -> str:
    lines = [_patch_line(operation) for operation in patch[:MAX_PATCH_LINES]]
    if len(patch) > MAX_PATCH_LINES:
        lines.append(f"and {len(patch) - MAX_PATCH_LINES} more")
    return "; ".join(lines)


def _patch_line(operation: PatchOperation) -> str:
    field = _pointer_label(operation.path)
    if operation.op == "remove":
        return f"{field} removed"
    verb = "changed to" if operation.op == "replace" else "set to"
    return f"{field} {verb} {_short(operation.value)}"


def _pointer_label(path: str) -> str:
    """``/LearningDelivery/0/CompStatus`` -> ``LearningDelivery.0.CompStatus`` (RFC 6901 unescaped)."""
    segments = [s.replace("~1", "/").replace("~0", "~") for s in path.lstrip("/").split("/")]
    return ".".join(segments) or "(whole record)"


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= MAX_VALUE_LENGTH else text[: MAX_VALUE_LENGTH - 1] + "…"
