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

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import NamedTuple

from ilrflow.audit.domain.ingest import base_topic
from ilrflow.audit.domain.records import AuditEntry, normalise_time
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


# --- stored in pages ----------------------------------------------------------------------
#
# A learner's lines are stored in pages of ``PAGE_LINES``: the *head* holds the open page (the
# newest lines), how many full pages were *sealed* before it and, per source partition, the
# offset of the newest entry whose line it holds (``through``: what makes a replay after a crash
# add nothing twice). A page is read by ``_id`` alone, so a page of the timeline costs the same
# at any depth. Lines are served page by page, each page in (time, entry id) order: the order of
# events, except that a line stored after its page was sealed (a partition far behind the others)
# is served on a later page.

PAGE_LINES = 100
DEFAULT_LIMIT = 100
MAX_LIMIT = 500


class TimelineHead(NamedTuple):
    sealed: int = 0
    lines: tuple[TimelineLine, ...] = ()
    through: Mapping[str, int] = {}


class TimelineAppend(NamedTuple):
    """What one batch's lines do to a timeline: the pages to seal (numbered on from the head's
    ``sealed``) and the open page after them; ``lines`` are the new lines, replays left out."""

    lines: list[TimelineLine]
    sealed_pages: list[list[TimelineLine]]
    open_lines: list[TimelineLine]
    through: dict[str, int]


class TimelineCursor(NamedTuple):
    """Where a page of the timeline ended: the page it was read from and its last line, and
    whether that line ends its (sealed) page, so the next request starts at the next stored page
    without reading this one again. Cursors made before the flag existed read it as unset."""

    page: int
    time: datetime
    entry_id: str
    page_done: bool = False

    @property
    def first_page(self) -> int:
        """The first stored page that may hold lines after the cursor."""
        return self.page + 1 if self.page_done else self.page

    def encode(self) -> str:
        fields: dict[str, object] = {
            "page": self.page,
            "time": self.time.isoformat(),
            "id": self.entry_id,
        }
        if self.page_done:
            fields["done"] = True
        raw = json.dumps(fields, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> TimelineCursor:
        """Raises ValueError when the cursor was not made by ``encode``."""
        try:
            raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            page, entry, done = raw["page"], raw["id"], raw.get("done", False)
            time = normalise_time(datetime.fromisoformat(raw["time"]))
        except (binascii.Error, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError("invalid cursor") from error
        if (
            type(page) is not int
            or page < 0
            or not isinstance(entry, str)
            or done not in (True, False)
        ):
            raise ValueError("invalid cursor")
        return cls(page, time, entry, done)


def source_of(line: TimelineLine) -> tuple[str, int]:
    """The line's source partition (as ``through`` names it) and offset, from its entry id
    (``topic:partition:offset``; topic names hold no ':')."""
    topic, partition, offset = line.entry_id.rsplit(":", 2)
    return f"{topic}:{partition}", int(offset)


def appended(
    head: TimelineHead, lines: Iterable[TimelineLine], page_lines: int = PAGE_LINES
) -> TimelineAppend:
    """Add lines to a timeline: those already stored (a replay: their offset is not past the
    head's ``through``, or their entry is on the open page) are left out; when the open page
    overflows, full pages are sealed, the lines in order."""
    through = dict(head.through)
    on_open_page = {line.entry_id for line in head.lines}
    new: list[TimelineLine] = []
    for line in lines:
        source, offset = source_of(line)
        if offset > through.get(source, -1) and line.entry_id not in on_open_page:
            new.append(line)
            on_open_page.add(line.entry_id)
        through[source] = max(offset, through.get(source, -1))
    combined = [*head.lines, *new]
    if len(combined) <= page_lines:
        return TimelineAppend(new, [], combined, through)
    ordered = in_order(combined)  # sealed pages hold their lines in order
    full = len(ordered) // page_lines * page_lines
    if full == len(ordered):
        full -= page_lines  # the open page is never left empty: it is the newest lines
    pages = [ordered[start : start + page_lines] for start in range(0, full, page_lines)]
    return TimelineAppend(new, pages, ordered[full:], through)


def in_order(lines: Iterable[TimelineLine]) -> list[TimelineLine]:
    """A page's lines in the order served, each entry once."""
    unique = {line.entry_id: line for line in lines}
    return sorted(unique.values(), key=_order_key)


def after(
    page: int, lines: Iterable[TimelineLine], cursor: TimelineCursor | None
) -> list[TimelineLine]:
    """The lines of page ``page`` (in order) that come after ``cursor``."""
    if cursor is not None and page < cursor.page:
        return []
    ordered = in_order(lines)
    if cursor is None or page > cursor.page:
        return ordered
    return [line for line in ordered if _order_key(line) > (cursor.time, cursor.entry_id)]


def cursor_at(page: int, line: TimelineLine, *, page_done: bool = False) -> TimelineCursor:
    return TimelineCursor(page, normalise_time(line.time), line.entry_id, page_done)


def in_window(
    time: datetime, entry_id: str, start: TimelineCursor | None, end: TimelineCursor | None
) -> bool:
    """Whether a line at (``time``, ``entry_id``) falls after ``start`` and not after ``end``
    (none: unbounded)."""
    key = (normalise_time(time), entry_id)
    if start is not None and key <= (start.time, start.entry_id):
        return False
    return end is None or key <= (end.time, end.entry_id)


def _order_key(line: TimelineLine) -> tuple[datetime, str]:
    return normalise_time(line.time), line.entry_id
