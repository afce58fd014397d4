"""A crash at any write of a batch, before or after the write, then the redelivery the
uncommitted offsets bring: every entry stored once and chained, the repeated event flagged once,
every timeline line and search result once, nothing held back by a writer's mark."""

from __future__ import annotations

from typing import Any

import pytest
from audit_fakes import FakeAuditLog, audit_ingest, audit_queries

from ilrflow.audit.domain.query import AuditQuery
from ilrflow.audit.service.ingest import RawRecord
from ilrflow.contracts.events import Envelope, to_wire
from ilrflow.contracts.identity import Principal

from .conftest import event_of, processed, raised

SUPPORT = Principal(sub="support-1", tenant="acme", roles=["support"])
TOPIC = "tracker-raised"
WRITES = (
    "claim_event_ids",
    "reserve_sequences",
    "add_timeline_lines",
    "record_staff_names",
    "insert",
    "add_lookups",
    "release_sequences",
    "record_tail",
)


class CrashError(Exception):
    """The process died here."""


def crash_once(log: FakeAuditLog, write: str, *, after_it: bool) -> None:
    """The next call of ``write`` fails, having done its work first when ``after_it``."""
    real = getattr(log, write)

    async def crashing(*args: Any, **kwargs: Any) -> Any:
        setattr(log, write, real)
        if after_it:
            await real(*args, **kwargs)
        raise CrashError(write)

    setattr(log, write, crashing)


def records(events: list[Envelope[Any]], first_offset: int) -> list[RawRecord]:
    found = []
    for n, event in enumerate(events):
        key, headers, value = to_wire(event)
        found.append(RawRecord(first_offset + n, key, headers, value, None))
    return found


@pytest.mark.parametrize("after_it", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("write", WRITES)
async def test_a_crash_at_any_write_then_the_redelivery_stores_the_batch_exactly_once(
    write: str, after_it: bool
) -> None:
    log = FakeAuditLog()
    first = [event_of(raised("T1")), event_of(processed("T1"))]
    second = [event_of(raised("T2")), first[0], event_of(processed("T2"))]  # a republished copy
    await audit_ingest(log).store_batch(TOPIC, 0, records(first, 0))
    crash_once(log, write, after_it=after_it)

    with pytest.raises(CrashError):
        await audit_ingest(log).store_batch(TOPIC, 0, records(second, 2))
    await audit_ingest(log).store_batch(TOPIC, 0, records(second, 2))
    await audit_ingest(log).store_batch(TOPIC, 0, records(first + second, 0))

    entries = await log.partition_entries(TOPIC, 0)
    assert [e.offset for e in entries] == [0, 1, 2, 3, 4]
    assert [e.duplicate_of for e in entries] == [None, None, None, f"{TOPIC}:0:0", None]
    assert (await audit_queries(log).verify_log()).ok
    timeline = await audit_queries(log).timeline(SUPPORT, "L1")
    assert [x.entry_id for x in timeline.lines] == [f"{TOPIC}:0:{n}" for n in (0, 1, 2, 4)]
    search = await audit_queries(log).search(SUPPORT, AuditQuery(learner_id="L1", order="oldest"))
    assert [e.offset for e in search.entries] == [0, 1, 2, 3, 4]
