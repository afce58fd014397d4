"""A learner's history as readable lines, for support staff answering "what happened, and when".

Duplicate deliveries and compacted ILR snapshots are left out: the first repeats an event already
on the timeline, the second restates what the ``ilr-updated`` line before it says. Reads of the
audit log itself are left out too: they are about the reader, and every timeline read would add
one; ask for them with ``include_access`` (read then from the lookup documents, not stored here).

A line is stored at ingest with its sentence's parts (``summary.describe_parts``), so the names of
the staff it mentions are filled in when it is read (``TimelineLine.named``): the current names,
whenever the person's staff event arrived. ``text`` is the line without names, as stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import NamedTuple

from ilrflow.audit.domain.ingest import base_topic
from ilrflow.audit.domain.records import AuditEntry
from ilrflow.audit.domain.summary import Part, describe_parts, mentioned_staff, render
from ilrflow.contracts.events import Topics


class TimelineLine(NamedTuple):
    time: datetime
    entry_id: str
    text: str
    parts: tuple[Part, ...] = ()  # empty on lines stored before names were shown

    def __str__(self) -> str:
        return self.text

    @property
    def staff(self) -> set[str]:
        return mentioned_staff(self.parts)

    def named(self, names: Mapping[str, str]) -> TimelineLine:
        """The line with the names of the staff it mentions, where ``names`` knows them."""
        if not self.parts:
            return self
        stamp = self.text.partition(_STAMP_END)[0]  # in the zone the line was written in
        return self._replace(text=stamp + _STAMP_END + render(self.parts, names))


def learner_timeline(
    entries: Iterable[AuditEntry], tz: tzinfo = UTC, *, include_access: bool = False
) -> list[TimelineLine]:
    """One line per meaningful entry, oldest first, e.g. "2026-01-05 10:00 — learner L1's ..."."""
    shown = sorted(
        (e for e in entries if belongs_on_timeline(e, include_access=include_access)),
        key=lambda e: (e.time, e.id),
    )
    return [timeline_line(entry, tz) for entry in shown]


def merged(*timelines: Iterable[TimelineLine]) -> list[TimelineLine]:
    """Lines of several sources as one timeline, oldest first, each entry once."""
    unique = {line.entry_id: line for lines in timelines for line in lines}
    return sorted(unique.values(), key=lambda line: (line.time, line.entry_id))


def belongs_on_timeline(entry: AuditEntry, *, include_access: bool = False) -> bool:
    if entry.is_duplicate or base_topic(entry.topic) == Topics.ILR_STATE:
        return False
    return include_access or base_topic(entry.topic) != Topics.AUDIT_ACCESS


def timeline_line(entry: AuditEntry, tz: tzinfo = UTC) -> TimelineLine:
    return line_of(entry.time.astimezone(tz), entry.id, tuple(describe_parts(entry)))


def line_of(time: datetime, entry_id: str, parts: tuple[Part, ...]) -> TimelineLine:
    """The line of stored parts, without names; ``time`` in the zone to show."""
    return TimelineLine(time, entry_id, f"{time:%Y-%m-%d %H:%M}{_STAMP_END}{render(parts)}", parts)


_STAMP_END = " — "
