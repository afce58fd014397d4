"""On the real MongoDB-wire server: the audit repository's paged timelines. Lines sealed into
pages as the open page overflows, replays after a crash at any write adding nothing (with the
writer's memory of its heads and without), and a head stored before pages existed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ilrflow.audit.adapters.repository import AuditRepository, timeline_page_id
from ilrflow.audit.domain.staff import StaffName
from ilrflow.audit.domain.summary import StaffMention
from ilrflow.audit.domain.timeline import PAGE_LINES, TimelineCursor, TimelineLine, line_of
from ilrflow.audit.service.queries import AuditQueries
from ilrflow.contracts.identity import Principal

pytestmark = pytest.mark.e2e
T0 = datetime(2026, 1, 5, tzinfo=UTC)
LEARNER = ("acme", "L1")
SUPPORT = Principal(sub="support-1", tenant="acme", roles=["support"])


class CrashError(Exception):
    """The process died here."""


def lines(first: int, count: int, topic: str = "tracker-raised") -> list[TimelineLine]:
    return [
        TimelineLine(T0 + timedelta(minutes=n), f"{topic}:0:{n}", f"line {n}")
        for n in range(first, first + count)
    ]


async def walk(repository: AuditRepository, limit: int = 37) -> list[str]:
    queries = AuditQueries(repository, reads_recorded=lambda: None)
    seen, cursor = [], None
    while True:
        page = await queries.timeline(SUPPORT, "L1", cursor=cursor, limit=limit)
        seen += [line.entry_id for line in page.lines]
        if page.next_cursor is None:
            return seen
        cursor = TimelineCursor.decode(page.next_cursor)


def expected(count: int) -> list[str]:
    return [f"tracker-raised:0:{n}" for n in range(count)]


async def test_lines_are_sealed_into_pages_and_walked_once_in_order(database: Any) -> None:
    repository = AuditRepository(database)
    for first in range(0, 250, 30):
        await repository.add_timeline_lines({LEARNER: lines(first, min(30, 250 - first))})

    head = await repository.timeline_head(*LEARNER)
    assert head.sealed == 250 // PAGE_LINES
    assert len(head.lines) == 250 - head.sealed * PAGE_LINES
    assert await walk(repository) == expected(250)


@pytest.mark.parametrize("collection", ["timeline_pages", "timelines"])
@pytest.mark.parametrize("warm", [True, False], ids=["same process", "restarted"])
async def test_a_batch_replayed_after_a_crash_at_any_write_adds_no_line_twice(
    database: Any, collection: str, warm: bool
) -> None:
    repository = AuditRepository(database)
    await repository.add_timeline_lines({LEARNER: lines(0, PAGE_LINES - 10)})
    crash_once(repository, collection)

    with pytest.raises(CrashError):
        await repository.add_timeline_lines({LEARNER: lines(PAGE_LINES - 10, 40)})
    again = repository if warm else AuditRepository(database)
    await again.add_timeline_lines({LEARNER: lines(PAGE_LINES - 10, 40)})
    await again.add_timeline_lines({LEARNER: lines(PAGE_LINES - 10, 60)})

    assert await walk(again) == expected(PAGE_LINES + 50)


async def test_a_head_stored_before_pages_is_served_then_sealed_by_its_next_write(
    database: Any,
) -> None:
    repository = AuditRepository(database)
    legacy = [{"time": x.time, "entry_id": x.entry_id, "text": x.text} for x in lines(0, 150)]
    await repository.timelines.insert_one({"_id": "acme\x1fL1", "lines": legacy})
    assert await walk(repository) == expected(150)

    await repository.add_timeline_lines({LEARNER: lines(149, 11)})

    assert (await repository.timeline_head(*LEARNER)).sealed == 1
    assert await walk(repository) == expected(160)


def described(first: int, count: int) -> list[TimelineLine]:
    """Lines as the ingest makes them: parts, one of them a member of staff."""
    return [
        line_of(
            T0 + timedelta(minutes=n),
            f"tracker-raised:0:{n}",
            (f"line {n} by ", StaffMention("S1")),
        )
        for n in range(first, first + count)
    ]


async def test_lines_are_stored_as_text_and_lines_stored_as_documents_still_read(
    database: Any,
) -> None:
    """Lines stored as documents of their parts (before lines were text) in a sealed page and
    the head read as they did; lines appended now are stored as text, beside them."""
    repository = AuditRepository(database)
    as_documents = [
        {"time": x.time, "entry_id": x.entry_id, "parts": [x.parts[0], {"staff": "S1"}]}
        for x in described(0, 130)
    ]
    await repository.timeline_pages.insert_one(
        {"_id": timeline_page_id("acme\x1fL1", 0), "lines": as_documents[:PAGE_LINES]}
    )
    await repository.timelines.insert_one(
        {"_id": "acme\x1fL1", "sealed": 1, "lines": as_documents[PAGE_LINES:]}
    )
    await repository.add_timeline_lines({LEARNER: described(130, 20)})

    stored = await repository.timelines.find_one({"_id": "acme\x1fL1"})
    assert stored is not None
    assert all(isinstance(x, str) for x in stored["lines"][-20:])
    await repository.record_staff_names({("acme", "S1"): StaffName("Sam Support", T0)})
    shown = await walk(repository)
    assert shown == expected(150)
    queries = AuditQueries(repository, reads_recorded=lambda: None)
    page = await queries.timeline(SUPPORT, "L1", limit=150)
    assert [x.text for x in page.lines] == [
        f"{x.time:%Y-%m-%d %H:%M} — line {n} by Sam Support (S1)"
        for n, x in enumerate(described(0, 150))
    ]


def crash_once(repository: AuditRepository, collection: str) -> None:
    """The next write to ``collection`` is done, then the process dies."""
    target = getattr(repository, collection)

    class Crashing:
        def __getattr__(self, name: str) -> Any:
            return getattr(target, name)

        async def update_one(self, *args: Any, **kwargs: Any) -> Any:
            return await self._crash("update_one", *args, **kwargs)

        async def insert_many(self, *args: Any, **kwargs: Any) -> Any:
            return await self._crash("insert_many", *args, **kwargs)

        async def _crash(self, name: str, *args: Any, **kwargs: Any) -> Any:
            setattr(repository, collection, target)
            await getattr(target, name)(*args, **kwargs)
            raise CrashError(collection)

    setattr(repository, collection, Crashing())
