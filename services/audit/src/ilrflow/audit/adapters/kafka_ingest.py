"""The audit consumer: every topic, dead-letter topics included, read in batches.

It subscribes by pattern so that topics created later (a new lane, a new dead-letter topic) are
picked up from their earliest offset, and commits each partition's offset only after its batch
is stored. It uses aiokafka directly because it needs per-partition batches and explicit offsets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from ilrflow.audit.domain.sequence import oldest_first
from ilrflow.audit.service.ingest import AuditIngest, RawRecord
from ilrflow.platform import lanes
from ilrflow.platform.errors import is_transient
from ilrflow.platform.kafka import partition_lags
from ilrflow.platform.logging import get_logger
from ilrflow.platform.metrics import CONSUMER_LAG
from ilrflow.platform.settings import Settings
from ilrflow.platform.tracing import batch_consumer_spans

log = get_logger(__name__)

# Records stored per partition batch: a batch's cost is mostly per lookup key and per learner it
# touches, whatever its size, so fuller batches cost less per record. ``max_records`` caps a poll
# across all its partitions (1,000 used to leave a partition ~80 records when a dozen lagged),
# so a poll may hold several partitions' full batches; a partition's fetch (1 MiB by default,
# ~1,000 audit records) is what it has buffered anyway.
PARTITION_BATCH = 1000
POLL_RECORDS = 10 * PARTITION_BATCH


def topic_pattern(prefix: str) -> str:
    """This deployment's topics and dead-letter topics, on every lane (``lane-<name>.<topic>``):
    names under its prefix, never Kafka's internal ones (``__consumer_offsets``) nor another
    deployment's (``<other prefix>.x``)."""
    return lanes.topic_pattern(prefix)


class AuditConsumer:
    def __init__(self, settings: Settings, ingest: AuditIngest, group_id: str) -> None:
        self._settings = settings
        self._ingest = ingest
        self._group_id = group_id
        self._consumer: AIOKafkaConsumer | None = None
        self.stored = 0

    async def record_lag(self) -> None:
        """Set ``ilrflow_consumer_lag`` for each partition this process consumes (the shared
        consumers' gauge, which only sees FastStream subscribers)."""
        if self._consumer is None:
            return
        for tp, lag in (await partition_lags(self._consumer)).items():
            CONSUMER_LAG.labels(
                topic=self._logical_topic(tp.topic),
                group=self._group_id,
                partition=str(tp.partition),
            ).set(lag)

    def _logical_topic(self, topic: str) -> str:
        # The log and the metrics speak of logical topics: the deployment's prefix is not part.
        return topic.removeprefix(self._settings.topic_prefix)

    async def run_forever(self) -> None:
        """Consume until cancelled; after an unexpected failure, start over from the committed
        offsets (nothing is lost: an offset is committed only after its records are stored)."""
        while True:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("audit consumer failed; restarting from committed offsets")
                await asyncio.sleep(1)

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap,
            group_id=self._group_id,
            client_id="ilrflow-audit",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=5000,
        )
        consumer.subscribe(pattern=topic_pattern(self._settings.topic_prefix))
        await consumer.start()
        self._consumer = consumer
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=POLL_RECORDS)
                # Oldest batch first: the ingest sequence (the order searches serve) then
                # follows the order events happened across partitions, as far as whole
                # partition batches allow (a tracker raised before it is processed).
                for partition, records in oldest_first(
                    batches, lambda r: r.timestamp, PARTITION_BATCH
                ):
                    await self._store_with_retry(consumer, partition, records)
        finally:
            self._consumer = None
            await consumer.stop()

    async def _store_with_retry(
        self,
        consumer: AIOKafkaConsumer,
        partition: TopicPartition,
        records: Sequence[ConsumerRecord[Any, Any]],
    ) -> None:
        raw = [
            RawRecord(
                offset=r.offset,
                key=r.key,
                headers=dict(r.headers),
                value=r.value,
                timestamp_ms=r.timestamp,
            )
            for r in records
        ]
        delay = self._settings.consumer_backoff_seconds
        started_ns = time.time_ns()
        while True:
            try:
                topic = self._logical_topic(partition.topic)
                self.stored += await self._ingest.store_batch(topic, partition.partition, raw)
                break
            except Exception as error:
                if not is_transient(error):
                    raise
                log.warning("audit store failed; retrying", error=str(error), delay=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._settings.consumer_backoff_max_seconds)
        await consumer.commit({partition: OffsetAndMetadata(records[-1].offset + 1, "")})
        batch_consumer_spans(
            topic,
            [r.headers for r in raw],
            started_ns,
            **{"messaging.consumer.group.name": self._group_id},
        )
