"""A learner's timeline on a 100,000-entry audit log comes back through the database's key
lookup, and fast. Run with ``-s`` to see the figures (also: ``uv run python -m bench.audit_timeline``,
which uses the builder below).

What the database reports, honestly: MongoDB answers with an index scan (IXSCAN). FerretDB 1.24
on SQLite pushes a filter down to the backend only when it is a single ``_id`` equality
(``filterPushdown: true``); the SQLite plan still reads ``SCAN`` because FerretDB's ``_id`` index
expression differs from the one its query uses, but it scans the small per-learner timeline
collection, not the log. The same learner's query on the log itself is not pushed down at all.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from ilrflow.audit.adapters.repository import AuditRepository
from ilrflow.audit.domain.chain import chain
from ilrflow.audit.domain.ingest import entry_from_record
from ilrflow.audit.domain.query import AuditQuery, build_find
from ilrflow.audit.domain.records import AuditEntry
from ilrflow.audit.domain.timeline import TimelineLine, belongs_on_timeline, timeline_line
from ilrflow.shared.events import TrackerProcessed, TrackerRaised, new_event, to_wire
from ilrflow.shared.settings import get_settings

pytestmark = pytest.mark.e2e

ENTRIES = 100_000
LEARNERS = 1_000

TENANT = "bench-tenant"
PARTITIONS = 6
INSERT_BATCH = 5_000
T0 = datetime(2026, 1, 5, tzinfo=UTC)


@dataclass
class Figures:
    entries: int
    build_seconds: float
    timeline_lines: int
    timeline_ms: list[float]
    timeline_explain: dict[str, Any]
    log_query_explain: dict[str, Any]
    ferretdb: bool
    log_query_ms: float | None = None

    def report(self) -> str:
        return "\n".join(
            [
                f"database: {'FerretDB' if self.ferretdb else 'MongoDB'}; entries: {self.entries}; "
                f"built in {self.build_seconds:.1f}s",
                f"learner timeline ({self.timeline_lines} lines), {len(self.timeline_ms)} reads: "
                f"median {statistics.median(self.timeline_ms):.1f} ms, "
                f"max {max(self.timeline_ms):.1f} ms",
                f"  explain: {plan_summary(self.timeline_explain)}",
                "same learner via the log (/v1/audit/events query): "
                + (f"{self.log_query_ms:.0f} ms" if self.log_query_ms is not None else "not timed"),
                f"  explain: {plan_summary(self.log_query_explain)}",
            ]
        )


def plan_summary(explain: dict[str, Any]) -> str:
    """FerretDB: its pushdown flags and SQLite plan; MongoDB: the winning plan's stages."""
    if "filterPushdown" in explain:
        plan = explain.get("queryPlanner", {}).get("Plan", [])
        return f"filterPushdown={explain['filterPushdown']} plan={plan}"
    return str(stages(explain.get("queryPlanner", {}).get("winningPlan", {})))


def stages(plan: dict[str, Any]) -> list[str]:
    found = [str(plan.get("stage"))] if plan.get("stage") else []
    for child in [plan.get("inputStage"), *plan.get("inputStages", [])]:
        if isinstance(child, dict):
            found += stages(child)
    return found


def synthetic_entries(count: int, learners: int) -> list[AuditEntry]:
    """Raised/processed pairs spread over learners and partitions, in offset order."""
    next_offset: dict[int, int] = defaultdict(int)
    entries = []
    for n in range(count):
        learner = f"L{n % learners:05d}"
        partition = n % learners % PARTITIONS
        event = new_event(
            _payload(n, learner), tenant=TENANT, subject=learner, actor="admin-1"
        ).model_copy(update={"time": T0 + timedelta(seconds=n)})
        key, headers, value = to_wire(event)
        offset = next_offset[partition]
        next_offset[partition] += 1
        millis = int(event.time.timestamp() * 1000)
        entries.append(
            entry_from_record(event.topic, partition, offset, key, headers, value, millis)
        )
    return entries


def _payload(n: int, learner: str) -> TrackerRaised | TrackerProcessed:
    tracker = f"T{n // 2:06d}"
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


async def build_log(repository: AuditRepository, count: int, learners: int) -> None:
    """Chain per topic partition, insert in bulk, and write the learners' timelines."""
    await repository.ensure_indexes()
    by_partition: dict[tuple[str, int], list[AuditEntry]] = defaultdict(list)
    for entry in synthetic_entries(count, learners):
        by_partition[(entry.topic, entry.partition)].append(entry)
    lines: dict[tuple[str, str], list[TimelineLine]] = defaultdict(list)
    for partition_entries in by_partition.values():
        chained = chain(partition_entries)
        for start in range(0, len(chained), INSERT_BATCH):
            await repository.insert(chained[start : start + INSERT_BATCH])
        for entry in chained:
            if entry.learner_id and belongs_on_timeline(entry):
                lines[(TENANT, entry.learner_id)].append(timeline_line(entry))
    await repository.add_timeline_lines(lines)


async def measure(
    count: int = 100_000, learners: int = 1_000, reads: int = 20, time_log_query: bool = True
) -> Figures:
    """Build the log, time the timeline reads (and, if asked, the learner's query on the log:
    minutes on FerretDB at 100,000 entries), explain both."""
    settings = get_settings()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    name = f"bench_audit_{secrets.token_hex(3)}"
    repository = AuditRepository(client[name])
    try:
        started = time.perf_counter()
        await build_log(repository, count, learners)
        built = time.perf_counter() - started
        learner = "L00042"
        timings = []
        for _ in range(reads):
            started = time.perf_counter()
            timeline = await repository.timeline(TENANT, learner)
            timings.append((time.perf_counter() - started) * 1000)
        find = build_find(AuditQuery(learner_id=learner), TENANT)
        log_ms = None
        if time_log_query:
            started = time.perf_counter()
            await repository.find(find.filter, find.sort, find.limit)
            log_ms = (time.perf_counter() - started) * 1000
        return Figures(
            entries=count,
            build_seconds=built,
            timeline_lines=len(timeline),
            timeline_ms=timings,
            timeline_explain=await repository.explain_timeline(TENANT, learner),
            log_query_ms=log_ms,
            log_query_explain=await repository.explain_find(find.filter, find.sort, find.limit),
            ferretdb=await repository.is_ferretdb(),
        )
    finally:
        await client.drop_database(name)
        await client.close()


@pytest.mark.timeout(1800)  # building 100,000 entries on FerretDB takes minutes
def test_learner_timeline_on_a_100k_log_is_a_key_lookup() -> None:
    figures = asyncio.run(measure(ENTRIES, LEARNERS, time_log_query=False))
    print("\n" + figures.report())

    assert figures.timeline_lines == ENTRIES // LEARNERS
    if figures.ferretdb:
        assert figures.timeline_explain["filterPushdown"] is True
        assert figures.log_query_explain["filterPushdown"] is False  # why the timeline exists
    else:
        # An _id lookup: IDHACK (MongoDB 7) or EXPRESS_IXSCAN (8); never a collection scan.
        used = stages(figures.timeline_explain["queryPlanner"]["winningPlan"])
        assert used, plan_summary(figures.timeline_explain)
        assert "COLLSCAN" not in used, used
    # Latency is a figure to read (printed above, and by bench/audit_timeline.py), not a pass mark.
