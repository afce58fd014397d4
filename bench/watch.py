"""Watching a pipeline run from the outside: its records on Kafka, how far the audit has stored
them, and what the database served (``bench.pipeline`` and ``bench.bare_pipeline`` both use it)."""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import MongoClient

from ilrflow.contracts.events import Topics, header_text
from ilrflow.platform.kafka import all_topics
from ilrflow.platform.settings import Settings


@dataclass(frozen=True)
class Stamp:
    """One record as the hops see it: when the event was written (``ce_time``, set when the
    state change is saved) and when the relay published it (the broker timestamp)."""

    written: float
    published: float


class PipelineWatch:
    """A consumer of tracker-processed and ilr-updated in a thread: tracker id -> each record's
    stamps, so a tracker's latency splits into its hops (one host, one clock)."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.processed: dict[str, Stamp] = {}
        self.updated: dict[str, Stamp] = {}
        self._topics = {prefix + Topics.TRACKER_PROCESSED: self.processed,
                        prefix + Topics.ILR_UPDATED: self.updated}  # fmt: skip
        self._bootstrap = bootstrap
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    @property
    def seen(self) -> dict[str, float]:
        """Tracker id -> when its ilr-updated was on Kafka."""
        # A copy first (one step under the GIL): the consumer thread adds to it meanwhile.
        return {t: stamp.published for t, stamp in list(self.updated.items())}

    def __enter__(self) -> PipelineWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=f"bench{secrets.token_hex(3)}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=200)
                for tp, records in batches.items():
                    for record in records:
                        self._note(self._topics[tp.topic], record)
        finally:
            await consumer.stop()

    @staticmethod
    def _note(stamps: dict[str, Stamp], record: Any) -> None:
        tracker_id = json.loads(record.value).get("tracker_id")
        written = header_text(dict(record.headers), "ce_time")
        if tracker_id and written:
            stamp = Stamp(datetime.fromisoformat(written).timestamp(), record.timestamp / 1000)
            stamps.setdefault(tracker_id, stamp)

    def hops(self, starts: dict[str, float]) -> dict[str, dict[str, float]]:
        """Where each tracker's time from process call to ilr-updated went, hop by hop."""
        done = [t for t in starts if t in self.processed and t in self.updated]
        spans = {
            "http_save (call -> tracker saved with its event)": [
                self.processed[t].written - starts[t] for t in done
            ],
            "tracker_relay (saved -> tracker-processed on Kafka)": [
                self.processed[t].published - self.processed[t].written for t in done
            ],
            "ilr_consume_apply (on Kafka -> ILR saved with ilr-updated)": [
                self.updated[t].written - self.processed[t].published for t in done
            ],
            "ilr_relay (ILR saved -> ilr-updated on Kafka)": [
                self.updated[t].published - self.updated[t].written for t in done
            ],
        }
        return {name: percentiles(values) for name, values in spans.items() if values}


class AuditProgress:
    """How far the audit service has stored the run's topics, read from Kafka (its committed
    offsets against the end offsets), so that waiting for the audit log costs the database
    nothing: counting ``audit_entries`` is a scan of the whole log on FerretDB."""

    def __init__(self, bootstrap: str, group_id: str, settings: Settings) -> None:
        self._bootstrap, self._group_id = bootstrap, group_id
        self._partitions = [
            TopicPartition(topic, partition)
            for topic in all_topics(settings.topic_prefix)
            for partition in range(settings.topic_partitions)
        ]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    def __enter__(self) -> AuditProgress:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=60)

    async def _start(self) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await self._admin.start()
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap)
        await self._consumer.start()

    async def _stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()

    def stored_and_written(self) -> tuple[int, int]:
        """(records the audit has stored and committed, records on the run's topics)."""
        result: tuple[int, int] = self._call(self._offsets())
        return result

    async def _offsets(self) -> tuple[int, int]:
        if self._admin is None or self._consumer is None:
            raise RuntimeError("AuditProgress used outside its with-block")
        committed = await self._admin.list_consumer_group_offsets(self._group_id)
        ends = await self._consumer.end_offsets(self._partitions)
        stored = sum(max(meta.offset, 0) for tp, meta in committed.items() if tp in ends)
        return stored, sum(ends.values())

    def caught_up(self) -> bool:
        stored, written = self.stored_and_written()
        return stored >= written

    def records_by_topic(self) -> dict[str, int]:
        """Records on each of the run's topics so far (their end offsets), by topic name."""
        result: dict[str, int] = self._call(self._records_by_topic())
        return result

    async def _records_by_topic(self) -> dict[str, int]:
        if self._consumer is None:
            raise RuntimeError("AuditProgress used outside its with-block")
        totals: dict[str, int] = {}
        for tp, end in (await self._consumer.end_offsets(self._partitions)).items():
            totals[tp.topic] = totals.get(tp.topic, 0) + end
        return totals


def db_commands(mongo: MongoClient[dict[str, Any]]) -> dict[str, int]:
    """How many of each command FerretDB has served since it started (``serverStatus``'s
    ``metrics.commands``: the database's own count, whoever sent them)."""
    status = mongo.admin.command("serverStatus")
    counted = status.get("metrics", {}).get("commands", {})
    return {name: int(figures.get("total", 0)) for name, figures in counted.items()}


def per_tracker(
    before: dict[str, int], after: dict[str, int], trackers: int, strip_prefix: str = ""
) -> dict[str, float]:
    """What grew between two counts, per tracker, by name (``strip_prefix`` taken off)."""
    grown = {name: after[name] - before.get(name, 0) for name in sorted(after)}
    return {
        name.removeprefix(strip_prefix): round(count / trackers, 2)
        for name, count in grown.items()
        if count > 0
    }


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49] * 1000, 1),
        "p95_ms": round(cuts[94] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }
