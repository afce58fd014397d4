"""How fast does the audit service store a backlog, and how fast are bare bulk inserts of the
same documents?

    uv run python -m bench.audit_ingest [--records 20000] [--learners 200] [--batch 1000]

A catch-up after an outage: ``--records`` Kafka records (the wire form of tracker events, as the
services publish them) spread over the partitions of two topics are handed to the audit
service's own ``AuditIngest.store_batch``, a partition batch of up to ``--batch`` records at a
time (default: the consumer's ``PARTITION_BATCH``), oldest batch first, as the consumer hands
over what ``getmany`` returned. Kafka itself is
left out: the figure is what the ingest does with the database. Then the same documents, unchained
and unnumbered, are inserted with ``insert_many`` in the same batches into an empty collection:
``bare_audit_insert_per_s``, the ceiling the chaining, duplicate claims, timelines and lookups are
measured against. ``--breakdown`` prints the seconds spent in each repository call and the commands sent to
each collection.

Everything runs on a scratch database of the configured MongoDB URL, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

from pymongo import monitoring

from bench.audit_scale import (
    ACTORS,
    PARTITIONS,
    T0,
    TENANT,
    TRACKER_EVENTS,
    scratch_repository,
    tracker_payload,
)
from ilrflow.audit.adapters.kafka_ingest import PARTITION_BATCH
from ilrflow.audit.adapters.repository import AuditRepository, to_document
from ilrflow.audit.domain.ingest import entry_from_record
from ilrflow.audit.service.ingest import AuditIngest, RawRecord
from ilrflow.contracts.events import new_event, to_wire

PartitionBatch = tuple[str, int, list[RawRecord]]


def backlog(records: int, learners: int) -> dict[tuple[str, int], list[RawRecord]]:
    """The records of ``records // TRACKER_EVENTS`` trackers, per (topic, partition) in offset
    order; a learner's records share a partition, as the services key them."""
    by_partition: dict[tuple[str, int], list[RawRecord]] = defaultdict(list)
    for n in range(records):
        tracker = n // TRACKER_EVENTS
        learner = f"L{tracker % learners:05d}"
        event = new_event(
            tracker_payload(n, f"T{tracker:06d}", learner),
            tenant=TENANT,
            subject=learner,
            actor=f"admin-{tracker % ACTORS}",
            correlation_id=f"T{tracker:06d}",
        ).model_copy(update={"time": T0 + timedelta(seconds=n)})
        key, headers, value = to_wire(event)
        queue = by_partition[(event.topic, tracker % learners % PARTITIONS)]
        millis = int(event.time.timestamp() * 1000)
        queue.append(RawRecord(len(queue), key, headers, value, millis))
    return by_partition


def batches(
    by_partition: dict[tuple[str, int], list[RawRecord]], size: int
) -> Iterator[PartitionBatch]:
    """Partition batches of up to ``size`` records, round after round, as consumer polls hand
    them over while a backlog drains."""
    start = 0
    while any(start < len(records) for records in by_partition.values()):
        for (topic, partition), records in sorted(by_partition.items()):
            if chunk := records[start : start + size]:
                yield topic, partition, chunk
        start += size


class CommandCounts(monitoring.CommandListener):
    """How many commands of each kind the client sends to each collection."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent[f"{event.command_name} {event.command.get(event.command_name)}"] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Counted when sent."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Counted when sent."""


class TimedCalls:
    """Seconds spent in each of the repository's coroutine methods, summed."""

    def __init__(self, repository: AuditRepository) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        for name in dir(repository):
            method = getattr(repository, name)
            if not name.startswith("_") and asyncio.iscoroutinefunction(method):
                setattr(repository, name, self._timed(name, method))

    def _timed(
        self, name: str, method: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed


async def ingest_rate(records: int, learners: int, size: int, breakdown: bool) -> dict[str, Any]:
    by_partition = backlog(records, learners)
    counts = CommandCounts()
    async with scratch_repository("bench_ingest", [counts] if breakdown else []) as repository:
        await repository.ensure_indexes()
        calls = TimedCalls(repository) if breakdown else None
        ingest = AuditIngest(repository)
        stored, started = 0, time.perf_counter()
        counts.sent.clear()
        for topic, partition, chunk in batches(by_partition, size):
            stored += await ingest.store_batch(topic, partition, chunk)
        seconds = time.perf_counter() - started
        sent = dict(sorted(counts.sent.items()))
    result: dict[str, Any] = {
        "records": records,
        "stored": stored,
        "seconds": round(seconds, 2),
        "audit_ingest_per_s": round(stored / seconds, 1),
    }
    if calls is not None:
        result["seconds_by_call"] = {k: round(v, 2) for k, v in sorted(calls.seconds.items())}
        result["commands"] = sum(sent.values())
        result["commands_by_collection"] = sent
    return result


async def bare_insert_rate(records: int, learners: int, size: int) -> dict[str, Any]:
    """``insert_many`` of the same entries' documents, unchained, in the same batches."""
    by_partition = backlog(records, learners)
    documents = [
        [
            to_document(
                entry_from_record(
                    topic, partition, r.offset, r.key, r.headers, r.value, r.timestamp_ms
                )
            )
            for r in chunk
        ]
        for topic, partition, chunk in batches(by_partition, size)
    ]
    async with scratch_repository("bench_bare") as repository:
        started = time.perf_counter()
        for chunk_documents in documents:
            await repository.entries.insert_many(chunk_documents, ordered=True)
        seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "bare_audit_insert_per_s": round(records / seconds, 1)}


async def measure(
    records: int = 20_000,
    learners: int = 200,
    size: int = PARTITION_BATCH,
    breakdown: bool = False,
) -> dict[str, Any]:
    ingest = await ingest_rate(records, learners, size, breakdown)
    bare = await bare_insert_rate(records, learners, size)
    return {
        "records": records,
        "learners": learners,
        "batch": size,
        "audit_ingest_per_s": ingest["audit_ingest_per_s"],
        "bare_audit_insert_per_s": bare["bare_audit_insert_per_s"],
        "ingest": ingest,
        "bare": bare,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--batch", type=int, default=PARTITION_BATCH)
    parser.add_argument("--breakdown", action="store_true")
    arguments = parser.parse_args()
    result = asyncio.run(
        measure(arguments.records, arguments.learners, arguments.batch, arguments.breakdown)
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
