"""One readable sentence per audit entry, shared by the exports and the learner timeline.

Sentences are built from the stored payload validated against the shared contract; anything that
does not validate is described by its first parse problem instead, never by raising.

A sentence is built as *parts*: text, and mentions of staff members by id. Rendering a sentence
puts each mentioned person's name beside their id when the caller knows it (``names``, staff id
-> name), so a timeline line stored at ingest can show the names current when it is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from pydantic import ValidationError

from ilrflow.audit.domain.records import AuditEntry, DeadLetterInfo
from ilrflow.contracts.events import (
    CATALOGUE,
    ApiClientChanged,
    ApiClientTokenIssued,
    ApiClientTokenRefused,
    AuditAccessed,
    IlrSettingsChanged,
    IlrState,
    IlrUpdated,
    LearnerUpdated,
    PatchOperation,
    Payload,
    SettingChange,
    StaffUpdated,
    TrackerAllocated,
    TrackerCancelled,
    TrackerProcessed,
    TrackerRaised,
    TrackerRejected,
    TrackerSettingsChanged,
)

# When someone holds several roles, the one that explains their action best comes first.
_ROLE_PRECEDENCE = ("admin", "ilr_qa", "tutor", "support", "operator", "learner")
_OUTCOME_WORDS = {"applied": "applied", "no_ilr_change": "no ILR change", "rejected": "rejected"}
MAX_PATCH_LINES = 5
MAX_VALUE_LENGTH = 60
MAX_NOTE_LENGTH = 200
NO_NAMES: Mapping[str, str] = {}


class StaffMention(NamedTuple):
    """A member of staff named in a sentence: "admin A1", or "admin Ada Admin (A1)" once the
    name is known. ``role`` is the word shown before them, if any."""

    staff_id: str
    role: str | None = None

    def render(self, names: Mapping[str, str]) -> str:
        name = names.get(self.staff_id)
        who = f"{name} ({self.staff_id})" if name else self.staff_id
        return f"{self.role} {who}" if self.role else who


Part = str | StaffMention


def describe(entry: AuditEntry, names: Mapping[str, str] = NO_NAMES) -> str:
    """What the entry records, e.g. "learner L1's tracker T1 (change_of_name) processed by admin
    Ada Admin (A1)"; staff appear by id alone when ``names`` does not know them."""
    return render(describe_parts(entry), names)


def describe_parts(entry: AuditEntry) -> list[Part]:
    """The entry's sentence as text and staff mentions, to be rendered with ``render``."""
    parts = _describe_event(entry)
    if entry.dead_letter:
        origin = entry.dead_letter
        reason = origin.reason or "no reason given"
        parts = [f"dead letter from {_origin_of(origin)} ({reason}): ", *parts]
    if entry.duplicate_of:
        parts = [*parts, f" (duplicate delivery of {entry.duplicate_of})"]
    return [part for part in parts if part]


def render(parts: Iterable[Part], names: Mapping[str, str] = NO_NAMES) -> str:
    return "".join(p if isinstance(p, str) else p.render(names) for p in parts)


def mentioned_staff(parts: Iterable[Part]) -> set[str]:
    return {p.staff_id for p in parts if isinstance(p, StaffMention)}


def people_of(entries: Iterable[AuditEntry]) -> set[str]:
    """Everyone the entries' rows name: each actor and each member of staff mentioned."""
    found: set[str] = set()
    for entry in entries:
        found |= mentioned_staff(describe_parts(entry))
        if entry.actor:
            found.add(entry.actor)
    return found


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


def _describe_event(entry: AuditEntry) -> list[Part]:
    payload = typed_payload(entry)
    if payload is None:
        return [_describe_unreadable(entry)]
    match payload:
        case TrackerRaised() | TrackerAllocated() | TrackerProcessed() | TrackerRejected():
            return [f"{_tracker_of(payload)} ", *_tracker_action(payload)]
        case LearnerUpdated():
            return [_learner_change(payload)]
        case StaffUpdated():
            return [
                f"staff {payload.id} ({payload.name}) updated; roles {', '.join(payload.roles)}"
            ]
        case IlrUpdated():
            return [_ilr_outcome(payload)]
        case IlrState():
            return [
                f"ILR state snapshot for learner {payload.learner_id}, version {payload.version}"
            ]
        case TrackerCancelled():
            by = StaffMention(payload.cancelled_by)
            return [f"{_tracker_of(payload)} cancelled by ", by, *_because(payload.reason)]
        case AuditAccessed():
            return _audit_access(payload)
        case ApiClientChanged():
            return [
                f"API client {payload.client_id} ({payload.name}) {payload.change}; "
                f"scopes {', '.join(payload.scopes)}"
            ]
        case ApiClientTokenIssued():
            return [
                f"API client {payload.client_id} got a token ({' '.join(payload.scopes)}) "
                f"valid until {payload.expires_at.isoformat()}"
            ]
        case ApiClientTokenRefused():
            return [f"API client {payload.client_id} was refused a token: {payload.reason}"]
        case TrackerSettingsChanged():
            return [_settings_change("tracker", payload.changes, f" (version {payload.version})")]
        case IlrSettingsChanged():
            return [_settings_change("ILR", payload.changes, "")]
    return [entry.event_type or "event"]


def _settings_change(area: str, changes: list[SettingChange], version: str) -> str:
    changed = "; ".join(f"{c.path} {_setting(c.before)} → {_setting(c.after)}" for c in changes)
    return f"{area} settings changed{version}: {changed or 'nothing'}"


def _setting(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


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
) -> list[Part]:
    match payload:
        case TrackerRaised():
            by = _person(payload.raised_by, payload.raised_by_roles, payload.learner_id)
            behalf = " on the learner's behalf" if payload.on_behalf_of_learner else ""
            allocated: list[Part] = (
                [", allocated to ", StaffMention(payload.allocated_to, "admin")]
                if payload.allocated_to
                else []
            )
            return ["raised by ", by, behalf, *allocated, *_noted(payload.note)]
        case TrackerAllocated():
            was = payload.previously_allocated_to
            moved: list[Part] = (
                ["re-allocated from ", StaffMention(was), " to "] if was else ["allocated to "]
            )
            return [
                *moved,
                StaffMention(payload.allocated_to, "admin"),
                " by ",
                StaffMention(payload.allocated_by),
            ]
        case TrackerProcessed():
            by = _person(payload.processed_by, payload.processor_roles, payload.learner_id)
            return ["processed by ", by, *_changes(payload.changes)]
        case TrackerRejected():
            return ["rejected by ", StaffMention(payload.rejected_by), *_because(payload.reason)]


def _person(person_id: str, roles: list[str], learner_id: str) -> Part:
    if person_id == learner_id:
        return f"learner {person_id}"
    return StaffMention(person_id, next((r for r in _ROLE_PRECEDENCE if r in roles), None))


def _changes(changes: dict[str, Any]) -> list[Part]:
    """Which fields the tracker changes, e.g. " (changes: address)": the "what" of the line."""
    return [f" (changes: {', '.join(sorted(changes))})"] if changes else []


def _noted(note: str | None) -> list[Part]:
    """The note whoever raised it gave: the "why" of the request."""
    return [f" — note: {_quoted(note)}"] if note else []


def _because(reason: str | None) -> list[Part]:
    return [f": {_quoted(reason)}"] if reason else []


def _quoted(text: str) -> str:
    clipped = text if len(text) <= MAX_NOTE_LENGTH else text[: MAX_NOTE_LENGTH - 1] + "…"
    return json.dumps(clipped, ensure_ascii=False)


def _audit_access(payload: AuditAccessed) -> list[Part]:
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
    shown = f" ({filters})" if filters else ""
    return [by, f" {what}{shown}: {payload.results} entries"]


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
