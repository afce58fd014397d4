"""A learner's history as readable lines, for support staff answering "what happened, and when".

Duplicate deliveries and compacted ILR snapshots are left out: the first repeats an event already
on the timeline, the second restates what the ``ilr-updated`` line before it says. Reads of the
audit log itself are left out too: they are about the reader, and every timeline read would add
one; ask for them by type (``ilrflow.audit.accessed.v1``) instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import NamedTuple

from ilrflow.audit.domain.ingest import base_topic
from ilrflow.audit.domain.records import AuditEntry
from ilrflow.audit.domain.summary import describe
from ilrflow.contracts.events import Topics


class TimelineLine(NamedTuple):
    time: datetime
    entry_id: str
    text: str

    def __str__(self) -> str:
        return self.text


def learner_timeline(entries: Iterable[AuditEntry], tz: tzinfo = UTC) -> list[TimelineLine]:
    """One line per meaningful entry, oldest first, e.g. "2026-01-05 10:00 — learner L1's ..."."""
    shown = sorted((e for e in entries if belongs_on_timeline(e)), key=lambda e: (e.time, e.id))
    return [timeline_line(entry, tz) for entry in shown]


def belongs_on_timeline(entry: AuditEntry) -> bool:
    return not entry.is_duplicate and base_topic(entry.topic) not in _NOT_ON_TIMELINE


_NOT_ON_TIMELINE = frozenset({Topics.ILR_STATE, Topics.AUDIT_ACCESS})


def timeline_line(entry: AuditEntry, tz: tzinfo = UTC) -> TimelineLine:
    local = entry.time.astimezone(tz)
    return TimelineLine(local, entry.id, f"{local:%Y-%m-%d %H:%M} — {describe(entry)}")
