"""A synthetic audit log of any size, built with the audit service's own repository, and what
its reads cost: the learner timeline and every ``/v1/audit/events`` filter.

Used by ``bench/audit_timeline.py``, ``bench/audit_verify.py``, ``bench/pipeline.py`` and the
tests ``tests/e2e/test_audit_scale.py`` and ``tests/e2e/test_audit_verify_pass.py``.

What the database reports, honestly: MongoDB answers an ``_id`` lookup with IDHACK or
EXPRESS_IXSCAN. FerretDB 1.24 on SQLite pushes a filter down to the backend only when it is a
single ``_id`` equality (``filterPushdown: true``); the SQLite plan still reads ``SCAN`` because
FerretDB's ``_id`` index expression differs from the one its query uses, so SQLite reads the
table's rows (without FerretDB decoding them) until it finds the one asked for: a lookup's cost
grows with the size of its collection. A filter on anything else is not pushed down at all, and
FerretDB decodes and filters every document of the log itself (minutes at 100,000 entries).
"""

from __future__ import annotations

import itertools
import secrets
import statistics
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient, monitoring

from bench.audit_lookups import (
    Read,
    expected_ids,
    explain_reads,
    plan_stages,
    record_reads,
    served_ids,
)
from ilrflow.audit.adapters.repository import AuditRepository
from ilrflow.audit.domain.chain import GENESIS_HASH, chain
from ilrflow.audit.domain.ingest import entry_from_record
from ilrflow.audit.domain.lookup import paginate
from ilrflow.audit.domain.query import AuditQuery
from ilrflow.audit.domain.records import AuditEntry
from ilrflow.audit.domain.sequence import counts_by_tenant, numbered
from ilrflow.audit.domain.timeline import (
    TimelineCursor,
    TimelineLine,
    belongs_on_timeline,
    timeline_line,
)
from ilrflow.audit.service.queries import AuditQueries
from ilrflow.contracts.events import TrackerProcessed, TrackerRaised, new_event, to_wire
from ilrflow.contracts.identity import Principal
from ilrflow.platform.settings import get_settings

ENTRIES = 100_000
LEARNERS = 1_000
TRACKER_EVENTS = 10  # entries per tracker, and per correlation id (a tracker's story)
ACTORS = 20

TENANT = "bench-tenant"
PARTITIONS = 6
INSERT_BATCH = 5_000
BULK_WRITER = "bulk-load"  # the writer named in the tenant's sequence while a log is built
T0 = datetime(2026, 1, 5, tzinfo=UTC)
PAGE = 50
TIMELINE_PAGE = 100
READER = Principal(sub="bench", tenant=TENANT, roles=["support"])


@dataclass
class Figures:
    entries: int
    build_seconds: float
    timeline_lines: int
    timeline_ms: list[float]
    timeline_explain: dict[str, Any]
    ferretdb: bool
    search_ms: dict[str, list[float]] = field(default_factory=dict)
    fetch_ms: list[float] = field(default_factory=list)
    ingest_ms: float | None = None
    reads: list[Read] = field(default_factory=list)
    explains: dict[str, Any] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    def report(self) -> str:
        lines = [
            f"database: {'FerretDB' if self.ferretdb else 'MongoDB'}; entries: {self.entries}; "
            f"built in {self.build_seconds:.1f}s",
            f"learner timeline ({self.timeline_lines} lines, pages of {TIMELINE_PAGE}): "
            f"{_median_max(self.timeline_ms)}",
            f"  explain: {plan_summary(self.timeline_explain)}",
            f"/v1/audit/events selection (a page of {PAGE} refs from the lookup documents):",
        ]
        lines += [f"  {name}: {_median_max(ms)}" for name, ms in self.search_ms.items()]
        if self.fetch_ms:
            lines.append(
                f"fetching one served entry by _id from the log: {_median_max(self.fetch_ms)}"
            )
        if self.ingest_ms is not None:
            lines.append(f"lookups of one 10-record batch ingested on top: {self.ingest_ms:.0f} ms")
        lines.append(
            f"two pages of each search against a plain sort: {self.mismatches or 'all equal'}"
        )
        lines.append(f"{len(self.reads)} reads issued by the query path; explain per collection:")
        lines += [f"  {c}: {plan_summary(e)}" for c, e in self.explains.items()]
        return "\n".join(lines)


def _median_max(ms: list[float]) -> str:
    return f"median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms ({len(ms)} reads)"


def plan_summary(explain: dict[str, Any]) -> str:
    """FerretDB: its pushdown flags and SQLite plan; MongoDB: the winning plan's stages."""
    if "filterPushdown" in explain:
        plan = explain.get("queryPlanner", {}).get("Plan", [])
        return f"filterPushdown={explain['filterPushdown']} plan={plan}"
    return str(plan_stages(explain.get("queryPlanner", {}).get("winningPlan", {})))


def synthetic_entries(count: int, learners: int, start: int = 0) -> list[AuditEntry]:
    """Trackers of ``TRACKER_EVENTS`` entries (raised and processed, alternating), each with its
    learner, actor and correlation id, one second apart, in offset order per partition."""
    return list(iter_synthetic_entries(count, learners, start))


def iter_synthetic_entries(count: int, learners: int, start: int = 0) -> Iterator[AuditEntry]:
    """``synthetic_entries`` one at a time (a log of millions does not fit in memory)."""
    next_offset: dict[tuple[str, int], int] = defaultdict(int)
    for n in range(start, start + count):
        tracker = n // TRACKER_EVENTS
        learner = f"L{tracker % learners:05d}"
        partition = tracker % learners % PARTITIONS
        event = new_event(
            tracker_payload(n, f"T{tracker:06d}", learner),
            tenant=TENANT,
            subject=learner,
            actor=f"admin-{tracker % ACTORS}",
            correlation_id=f"T{tracker:06d}",
        ).model_copy(update={"time": T0 + timedelta(seconds=n)})
        key, headers, value = to_wire(event)
        offset = next_offset[(event.topic, partition)] + (start and ENTRIES)
        next_offset[(event.topic, partition)] += 1
        millis = int(event.time.timestamp() * 1000)
        yield entry_from_record(event.topic, partition, offset, key, headers, value, millis)


def tracker_payload(n: int, tracker: str, learner: str) -> TrackerRaised | TrackerProcessed:
    if n % 2 == 0:
        return TrackerRaised(
            tracker_id=tracker,
            learner_id=learner,
            tracker_type="change_of_address",
            changes={"address": {"lines": ["1 High Street", "Leeds"], "postcode": "LS1 4AP"}},
            raised_by=learner,
            raised_by_roles=["learner"],
            allocated_to="admin-1",
        )
    return TrackerProcessed(
        tracker_id=tracker,
        learner_id=learner,
        tracker_type="change_of_address",
        changes={},
        processed_by="admin-1",
        processor_roles=["admin"],
        raised_by=learner,
        learner_led=True,
    )


async def build_log(repository: AuditRepository, count: int, learners: int) -> list[AuditEntry]:
    """Chain per topic partition, insert in bulk, write the learners' timelines and the lookup
    documents (as one batch: a bulk load inserts them all, where live batches update pages)."""
    await repository.ensure_indexes()
    stored = await store_chunk(repository, synthetic_entries(count, learners), tails={})
    await repository.add_lookups(stored)
    await repository.release_sequences(BULK_WRITER, [TENANT])
    return stored


async def build_timelines(
    repository: AuditRepository, count: int, learners: int, chunk: int = 100_000
) -> None:
    """The log and the learners' timelines at any size, in bounded memory: entries are made,
    chained and inserted a chunk at a time. No lookup documents: the timeline read does not
    use them."""
    await repository.ensure_indexes()
    tails: dict[tuple[str, int], str] = {}
    entries = iter_synthetic_entries(count, learners)
    while made := list(itertools.islice(entries, chunk)):
        await store_chunk(repository, made, tails)
    await repository.release_sequences(BULK_WRITER, [TENANT])


async def store_chunk(
    repository: AuditRepository, entries: list[AuditEntry], tails: dict[tuple[str, int], str]
) -> list[AuditEntry]:
    """Chain ``entries`` per topic partition, each going on from its last hash in ``tails``
    (updated), number them in the tenant's sequence (in the order given; the caller releases
    it), insert them in bulk and append the learners' timeline lines; return them chained."""
    by_partition: dict[tuple[str, int], list[AuditEntry]] = defaultdict(list)
    starts = await repository.reserve_sequences(BULK_WRITER, counts_by_tenant(entries))
    for entry in numbered(entries, starts):
        by_partition[(entry.topic, entry.partition)].append(entry)
    lines: dict[tuple[str, str], list[TimelineLine]] = defaultdict(list)
    stored: list[AuditEntry] = []
    for key, partition_entries in by_partition.items():
        chained = chain(partition_entries, tails.get(key, GENESIS_HASH))
        tails[key] = str(chained[-1].hash)
        for start in range(0, len(chained), INSERT_BATCH):
            await repository.insert(chained[start : start + INSERT_BATCH])
        for entry in chained:
            if entry.learner_id and belongs_on_timeline(entry):
                lines[(TENANT, entry.learner_id)].append(timeline_line(entry))
        stored += chained
    await repository.add_timeline_lines(lines)
    return stored


@asynccontextmanager
async def scratch_repository(
    prefix: str, listeners: Sequence[monitoring.CommandListener] = ()
) -> AsyncIterator[AuditRepository]:
    """An audit repository on a database of its own, dropped afterwards; ``listeners`` hear
    every command its client sends."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        get_settings().mongo_url, tz_aware=True, event_listeners=list(listeners)
    )
    name = f"{prefix}_{secrets.token_hex(3)}"
    try:
        yield AuditRepository(client[name])
    finally:
        await client.drop_database(name)
        await client.close()


async def measure_timeline(count: int, learners: int, reads: int = 40) -> Figures:
    """Build a log of ``count`` entries with ``build_timelines``; time every page of the
    timelines of ``reads`` different learners, and explain one."""
    async with scratch_repository("bench_timeline") as repository:
        started = time.perf_counter()
        await build_timelines(repository, count, learners)
        built = time.perf_counter() - started
        queries = AuditQueries(repository, reads_recorded=lambda: None)
        timings, lengths = [], set()
        for n in range(reads):
            learner = f"L{n * max(learners // reads, 1) % learners:05d}"
            lines, page_ms = await walk_timeline(queries, learner)
            timings += page_ms
            lengths.add(lines)
        return Figures(
            entries=await repository.entries.estimated_document_count(),
            build_seconds=built,
            timeline_lines=min(lengths),
            timeline_ms=timings,
            timeline_explain=await repository.explain_timeline(TENANT, "L00000"),
            ferretdb=await repository.is_ferretdb(),
        )


async def walk_timeline(queries: AuditQueries, learner: str) -> tuple[int, list[float]]:
    """Read the learner's whole timeline a page of ``TIMELINE_PAGE`` lines at a time, as the
    HTTP endpoint does (audited read included); return the lines seen and each page's time."""
    lines, timings, cursor = 0, [], None
    while True:
        started = time.perf_counter()
        page = await queries.timeline(READER, learner, cursor=cursor, limit=TIMELINE_PAGE)
        timings.append((time.perf_counter() - started) * 1000)
        lines += len(page.lines)
        if page.next_cursor is None:
            return lines, timings
        cursor = TimelineCursor.decode(page.next_cursor)


def searches(learner: str, count: int, learners: int) -> dict[str, dict[str, Any]]:
    """One search per filter; the tracker, correlation and actor are the learner's own."""
    rounds = count // TRACKER_EVENTS // learners  # trackers per learner
    tracker = f"T{int(learner[1:]) + rounds // 2 * learners:06d}"
    middle = (T0 + timedelta(seconds=count // 2)).isoformat()
    return {
        "learner": {"learner_id": learner},
        "tracker": {"tracker_id": tracker},
        "correlation": {"correlation_id": tracker},
        "type": {"type": "ilrflow.tracker.processed.v1"},
        "actor": {"actor": f"admin-{int(learner[1:]) % ACTORS}"},
        "time window": {
            "from": middle,
            "to": (T0 + timedelta(seconds=count // 2 + 600)).isoformat(),
        },
        "tenant-wide": {},
        "learner + type, oldest": {
            "learner_id": learner,
            "type": "ilrflow.tracker.raised.v1",
            "order": "oldest",
        },
        "actor + window, oldest": {
            "actor": f"admin-{int(learner[1:]) % ACTORS}",
            "from": middle,
            "order": "oldest",
        },
    }


async def measure(count: int = ENTRIES, learners: int = LEARNERS, reads: int = 5) -> Figures:
    """Build the log; time the timeline, every search's first page (and check two pages of each
    against a plain sort), one entry fetch and one live batch; explain every read issued."""
    async with scratch_repository("bench_audit") as repository:
        started = time.perf_counter()
        entries = await build_log(repository, count, learners)
        built = time.perf_counter() - started
        learner = "L00042"
        queries = AuditQueries(repository, reads_recorded=lambda: None)
        timings: list[float] = []
        for _ in range(reads):
            lines, page_ms = await walk_timeline(queries, learner)
            timings += page_ms
        figures = Figures(
            entries=count,
            build_seconds=built,
            timeline_lines=lines,
            timeline_ms=timings,
            timeline_explain=await repository.explain_timeline(TENANT, learner),
            ferretdb=await repository.is_ferretdb(),
        )
        figures.reads = record_reads(repository)
        for label, params in searches(learner, count, learners).items():
            query = AuditQuery.model_validate({**params, "limit": PAGE})
            figures.search_ms[label] = [
                await _timed(queries.select(TENANT, query, PAGE + 1)) for _ in range(reads)
            ]
            two_pages = await served_ids(queries, TENANT, query, max_pages=2)
            if two_pages != expected_ids(entries, TENANT, query)[: 2 * PAGE]:
                figures.mismatches.append(label)
        page = paginate(await queries.select(TENANT, AuditQuery(learner_id=learner), 3), 2)
        for ref in page.refs:
            figures.fetch_ms.append(await _timed(repository.entries_by_id(TENANT, [ref.entry_id])))
        fresh = synthetic_entries(10, learners, start=count)
        live = numbered(fresh, await repository.reserve_sequences("live", counts_by_tenant(fresh)))
        figures.ingest_ms = await _timed(repository.add_lookups(live))
        figures.explains = await explain_reads(repository, figures.reads)
        return figures


async def _timed(work: Any) -> float:
    started = time.perf_counter()
    await work
    return (time.perf_counter() - started) * 1000
