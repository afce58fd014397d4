"""A learner's timeline stored in pages and read a page at a time: sealing, replays left out,
cursors, and the walk through the use case (the fake stores pages with the same rule)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from audit_fakes import FakeAuditLog, audit_ingest, audit_queries

from ilrflow.audit.domain.timeline import (
    TimelineCursor,
    TimelineHead,
    TimelineLine,
    after,
    appended,
    cursor_at,
)
from ilrflow.audit.service.ingest import RawRecord
from ilrflow.contracts.events import AuditAccessed, Envelope, to_wire
from ilrflow.contracts.identity import Principal

from .conftest import T0, event_of, processed, raised

SUPPORT = Principal(sub="support-1", tenant="acme", roles=["support"])


def line(offset: int, minutes: int | None = None, topic: str = "tracker-raised") -> TimelineLine:
    time = T0 + timedelta(minutes=offset if minutes is None else minutes)
    return TimelineLine(time, f"{topic}:0:{offset}", f"line {offset}")


def ids(lines: list[TimelineLine]) -> list[str]:
    return [x.entry_id for x in lines]


def test_lines_that_fit_go_on_the_open_page() -> None:
    change = appended(TimelineHead(), [line(0), line(1)], page_lines=3)

    assert change.sealed_pages == []
    assert (
        ids(change.open_lines) == ids(change.lines) == ["tracker-raised:0:0", "tracker-raised:0:1"]
    )
    assert change.through == {"tracker-raised:0": 1}


def test_an_overflowing_open_page_seals_full_pages_in_time_order_and_keeps_the_newest_open() -> (
    None
):
    head = TimelineHead(0, (line(1), line(0, minutes=5)), {"tracker-raised:0": 1})

    change = appended(head, [line(2), line(3), line(4), line(5)], page_lines=3)

    assert [ids(p) for p in change.sealed_pages] == [
        ["tracker-raised:0:1", "tracker-raised:0:2", "tracker-raised:0:3"]
    ]
    assert ids(change.open_lines) == [
        "tracker-raised:0:4",
        "tracker-raised:0:0",
        "tracker-raised:0:5",
    ]


def test_the_open_page_is_never_left_empty() -> None:
    change = appended(TimelineHead(), [line(n) for n in range(6)], page_lines=3)

    assert [len(p) for p in change.sealed_pages] == [3]
    assert len(change.open_lines) == 3


def test_a_replayed_batch_adds_nothing_even_after_its_lines_were_sealed() -> None:
    first = appended(TimelineHead(), [line(n) for n in range(5)], page_lines=2)
    head = TimelineHead(len(first.sealed_pages), tuple(first.open_lines), first.through)

    again = appended(head, [line(n) for n in range(5)], page_lines=2)

    assert again.lines == []
    assert again.sealed_pages == []


def test_lines_of_another_partition_are_not_taken_for_a_replay() -> None:
    head = TimelineHead(0, (line(7),), {"tracker-raised:0": 7})

    change = appended(head, [line(3, topic="tracker-processed")], page_lines=5)

    assert ids(change.lines) == ["tracker-processed:0:3"]


def test_a_head_stored_before_pages_leaves_out_lines_it_holds() -> None:
    legacy = TimelineHead(0, (line(0), line(1)), {})

    change = appended(legacy, [line(1), line(2)], page_lines=5)

    assert ids(change.lines) == ["tracker-raised:0:2"]


def test_a_cursor_round_trips_and_a_forged_one_is_refused() -> None:
    cursor = cursor_at(3, line(4))

    assert TimelineCursor.decode(cursor.encode()) == cursor
    for forged in ("", "e30", "not base64!", TimelineCursor(-1, T0, "x").encode()):
        with pytest.raises(ValueError, match="invalid cursor"):
            TimelineCursor.decode(forged)


def test_a_cursor_at_a_page_end_starts_at_the_next_page_and_an_older_cursor_still_reads() -> None:
    done = cursor_at(3, line(4), page_done=True)

    assert TimelineCursor.decode(done.encode()) == done
    assert done.first_page == 4
    fields = {"page": 3, "time": T0.isoformat(), "id": "tracker-raised:0:4"}
    older = _encoded(fields)
    assert TimelineCursor.decode(older) == TimelineCursor(3, T0, "tracker-raised:0:4")
    assert TimelineCursor.decode(older).first_page == 3
    with pytest.raises(ValueError, match="invalid cursor"):
        TimelineCursor.decode(_encoded({**fields, "done": "yes"}))


def _encoded(fields: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode()


def test_a_page_after_a_cursor_keeps_only_later_lines_of_its_own_page() -> None:
    lines = [line(2), line(0), line(1)]
    cursor = cursor_at(1, line(0))

    assert ids(after(1, lines, cursor)) == ["tracker-raised:0:1", "tracker-raised:0:2"]
    assert after(0, lines, cursor) == []
    assert len(after(2, lines, cursor)) == 3


# --- through the use cases ---------------------------------------------------------------------


def _records(events: list[Envelope[Any]], first_offset: int) -> list[RawRecord]:
    records = []
    for n, event in enumerate(events):
        key, headers, value = to_wire(event)
        records.append(RawRecord(first_offset + n, key, headers, value, None))
    return records


async def _story(log: FakeAuditLog, trackers: int, batch: int) -> None:
    events = [
        event_of(make(f"T{n}", "L1"), T0 + timedelta(minutes=2 * n + step))
        for n in range(trackers)
        for step, make in enumerate((raised, processed))
    ]
    ingest = audit_ingest(log)
    for start in range(0, len(events), batch):
        await ingest.store_batch(
            "tracker-raised", 0, _records(events[start : start + batch], start)
        )


async def _walk(log: FakeAuditLog, limit: int, include_access: bool = False) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = await audit_queries(log).timeline(
            SUPPORT, "L1", cursor=cursor, limit=limit, include_access=include_access
        )
        pages.append(ids(page.lines))
        if page.next_cursor is None:
            return pages
        cursor = TimelineCursor.decode(page.next_cursor)


async def test_walking_the_pages_shows_every_line_once_in_order() -> None:
    log = FakeAuditLog()
    log.timeline_page_lines = 7
    await _story(log, trackers=20, batch=6)

    pages = await _walk(log, limit=5)

    everything = [entry for page in pages for entry in page]
    assert everything == [f"tracker-raised:0:{n}" for n in range(40)]
    assert [len(page) for page in pages] == [5] * 8
    assert log.reads[-1].data.action == "timeline"


async def test_a_page_larger_than_a_stored_page_reads_on_into_the_next() -> None:
    log = FakeAuditLog()
    log.timeline_page_lines = 4
    await _story(log, trackers=5, batch=3)

    assert [len(page) for page in await _walk(log, limit=9)] == [9, 1]


async def test_a_walk_in_pages_of_the_stored_size_reads_each_stored_page_once() -> None:
    log = FakeAuditLog()
    log.timeline_page_lines = 4
    await _story(log, trackers=5, batch=3)  # 10 lines: two sealed pages, two lines open

    assert [len(page) for page in await _walk(log, limit=4)] == [4, 4, 2]
    assert log.timeline_pages_read == 2


async def test_a_batch_replayed_after_its_tail_was_lost_adds_no_line_twice() -> None:
    log = FakeAuditLog()
    log.timeline_page_lines = 3
    await _story(log, trackers=4, batch=8)
    log.lose_recorded_tails()

    await _story(log, trackers=4, batch=8)

    assert [entry for page in await _walk(log, limit=2) for entry in page] == [
        f"tracker-raised:0:{n}" for n in range(8)
    ]


async def test_reads_of_the_log_join_the_page_they_fall_in_once_each() -> None:
    log = FakeAuditLog()
    log.timeline_page_lines = 3
    await _story(log, trackers=3, batch=2)  # lines at T0 + 0..5 minutes
    read = AuditAccessed(
        action="timeline",
        accessed_by="S1",
        accessed_by_roles=["support"],
        learner_id="L1",
        results=1,
    )
    reads = [event_of(read, T0 + timedelta(minutes=m, seconds=30)) for m in (0, 1, 3, 9)]
    await audit_ingest(log).store_batch("audit-access", 0, _records(reads, 0))

    pages = await _walk(log, limit=2, include_access=True)

    assert pages == [
        ["tracker-raised:0:0", "audit-access:0:0", "tracker-raised:0:1"],
        ["audit-access:0:1", "tracker-raised:0:2", "tracker-raised:0:3"],
        ["audit-access:0:2", "tracker-raised:0:4", "tracker-raised:0:5", "audit-access:0:3"],
    ]
    assert await _walk(log, limit=2) == [[x for x in p if "access" not in x] for p in pages]
