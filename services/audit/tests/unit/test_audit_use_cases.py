"""The audit use cases through an in-memory log: ingest (chained, idempotent, duplicates
flagged, a lagging chain head recovered) and the audited searches, in milliseconds. The
end-to-end tests prove the wiring on Kafka and FerretDB."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from audit_fakes import FakeAuditLog, audit_ingest, audit_queries

from ilrflow.audit.domain.query import AuditQuery
from ilrflow.audit.service.ingest import RawRecord
from ilrflow.contracts.events import Envelope, EventType, to_wire
from ilrflow.contracts.identity import Principal

from .conftest import T0, event_of, processed, raised

RefusalOf = Callable[[Awaitable[object]], Awaitable[Any]]  # the fixture in services/conftest.py
TOPIC = "tracker-raised"
SUPPORT = Principal(sub="support-1", tenant="acme", roles=["support"])
OTHER_TENANT = Principal(sub="support-9", tenant="other", roles=["support"])


def _record(event: Envelope[Any], offset: int) -> RawRecord:
    key, headers, value = to_wire(event)
    return RawRecord(offset, key, headers, value, int(T0.timestamp() * 1000))


@pytest.fixture
def log() -> FakeAuditLog:
    return FakeAuditLog()


async def _ingest(log: FakeAuditLog, *events: Envelope[Any], first_offset: int = 0) -> int:
    records = [_record(e, first_offset + i) for i, e in enumerate(events)]
    return await audit_ingest(log).store_batch(TOPIC, 0, records)


# --- ingest ------------------------------------------------------------------------------------


async def test_a_batch_is_stored_chained_and_its_tail_recorded(log: FakeAuditLog) -> None:
    stored = await _ingest(log, event_of(raised("T1")), event_of(raised("T2")))

    entries = await log.partition_entries(TOPIC, 0)
    assert stored == 2
    assert [e.id for e in entries] == [f"{TOPIC}:0:0", f"{TOPIC}:0:1"]
    assert entries[1].prev_hash == entries[0].hash
    assert await log.recorded_tail(TOPIC, 0) == (1, entries[1].hash)


async def test_a_redelivered_batch_stores_nothing(log: FakeAuditLog) -> None:
    batch = (event_of(raised("T1")), event_of(raised("T2")))
    await _ingest(log, *batch)

    again = await _ingest(log, *batch)

    assert again == 0
    assert len(log.entries) == 2


async def test_a_repeated_event_id_at_a_new_offset_is_stored_and_flagged(
    log: FakeAuditLog,
) -> None:
    event = event_of(raised("T1"))
    await _ingest(log, event)

    await _ingest(log, event, first_offset=1)

    first, repeat = await log.partition_entries(TOPIC, 0)
    assert (first.duplicate_of, repeat.duplicate_of) == (None, first.id)


async def test_a_chain_head_behind_the_log_is_recovered_from_the_log(log: FakeAuditLog) -> None:
    await _ingest(log, event_of(raised("T1")), event_of(raised("T2")))
    log.lose_recorded_tails()

    stored = await _ingest(
        log, event_of(raised("T1")), event_of(raised("T2")), event_of(raised("T3"))
    )

    entries = await log.partition_entries(TOPIC, 0)
    assert stored == 1
    assert entries[2].prev_hash == entries[1].hash
    assert (await audit_queries(log).verify_log()).ok


# --- audited reads -----------------------------------------------------------------------------


async def test_a_search_finds_the_learners_entries_and_is_itself_audited(
    log: FakeAuditLog,
) -> None:
    await _ingest(log, event_of(raised("T1", "L1")), event_of(raised("T2", "L2")))

    page = await audit_queries(log).search(SUPPORT, AuditQuery(learner_id="L1"))

    assert [e.tracker_id for e in page.entries] == ["T1"]
    [read] = log.reads
    assert read.type == EventType.AUDIT_ACCESSED
    assert (read.data.action, read.data.results, read.data.learner_id) == ("search", 1, "L1")


async def test_another_tenant_finds_nothing(log: FakeAuditLog) -> None:
    await _ingest(log, event_of(raised("T1", "L1")))

    page = await audit_queries(log).search(OTHER_TENANT, AuditQuery())

    assert page.entries == []
    assert await audit_queries(log).get(SUPPORT, f"{TOPIC}:0:0") is not None


async def test_an_unknown_entry_is_not_found_and_the_attempt_is_audited(
    log: FakeAuditLog, refusal_of: RefusalOf
) -> None:
    refusal = await refusal_of(audit_queries(log).get(SUPPORT, "nowhere:0:0"))

    assert refusal.code == "not_found"
    assert [(r.data.action, r.data.results) for r in log.reads] == [("get", 0)]


async def test_the_timeline_tells_the_learners_story_in_order(log: FakeAuditLog) -> None:
    await _ingest(log, event_of(raised("T1", "L1")), event_of(processed("T1", "L1")))

    page = await audit_queries(log).timeline(SUPPORT, "L1")

    assert [line.entry_id for line in page.lines] == [f"{TOPIC}:0:0", f"{TOPIC}:0:1"]
    assert page.next_cursor is None
    assert log.reads[-1].data.action == "timeline"


async def test_verification_finds_a_tampered_entry(log: FakeAuditLog) -> None:
    await _ingest(log, event_of(raised("T1")), event_of(raised("T2")))
    entry_id = f"{TOPIC}:0:0"
    log.entries[entry_id] = log.entries[entry_id].model_copy(update={"actor": "mallory"})

    verification = await audit_queries(log).verify(SUPPORT)

    assert not verification.ok
    assert log.reads[-1].data.action == "verify"
