"""Kafka wiring: the broker factory with safe settings, topic creation, publishing and consuming.

Consumers take records in batches and apply each batch concurrently by key, each key's records in
order (``ilrflow.platform.batches``). They commit an offset only after the effects of that record
and of every earlier one of the partition are stored. A transient failure is retried with bounded
backoff and then re-read from the same offset; a permanent one sends the original record to
``<topic>.dlt`` with its coordinates and the reason, and the partition moves on.

A service may also give a *chain handler* for a type: it takes the records of one key of one
partition in a batch (a chain) in one call and stores their effect in one write
(``ilrflow.platform.idempotency.chain_filter``). If the chain cannot be taken together (a record
that does not decode, a re-driven copy, another type) or its handler fails other than
transiently, its records go one by one through the record handler, as without one, so a poison
record alone is dead-lettered and its mates applied.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from aiokafka.structs import OffsetAndMetadata
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from ilrflow.contracts.events import (
    CATALOGUE,
    Envelope,
    dead_letter_topic,
    from_wire,
    header_text,
    to_wire,
)
from ilrflow.platform import metrics
from ilrflow.platform.batches import (
    RETRY,
    PartitionProgress,
    chains,
    one_by_one,
    progress_by_partition,
    run_whole_chains,
)
from ilrflow.platform.errors import PermanentError, is_transient
from ilrflow.platform.faststream_batches import poll_without_idle_sleep
from ilrflow.platform.idempotency import Delivered, RecordPosition, delivering
from ilrflow.platform.lanes import POOLED, base_topic, lane_topics
from ilrflow.platform.logging import bound_context, get_logger
from ilrflow.platform.retention import configs_to_change, retention_configs
from ilrflow.platform.settings import Settings
from ilrflow.platform.tracing import batch_consumer_spans, consumer_span

log = get_logger(__name__)

Handler = Callable[[Envelope[Any]], Awaitable[None]]
# The records of one chain, in offset order, applied in one call (and one write).
ChainHandler = Callable[[Sequence[Delivered[Any]]], Awaitable[None]]
# On a re-driven copy: the consumer groups that are to handle it (the others skip it).
REDRIVE_GROUPS_HEADER = "redrive_groups"


def create_broker(settings: Settings, client_id: str) -> KafkaBroker:
    """A broker whose producer waits for every in-sync replica and never duplicates on retry."""
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        ack_policy=AckPolicy.MANUAL,
        graceful_timeout=15.0,
        # New topics (a new lane, a dead-letter topic) are noticed within seconds, not minutes.
        metadata_max_age_ms=10_000,
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,  # FastStream's per-message lines; the root level filters them
    )


async def publish_event(
    broker: KafkaBroker, event: Envelope[Any], prefix: str = "", topic: str | None = None
) -> None:
    """Publish ``event`` to ``topic`` (logical: a routed lane topic) or its catalogue topic."""
    await (await send_event(broker, event, prefix, topic))


async def send_event(
    broker: KafkaBroker, event: Envelope[Any], prefix: str = "", topic: str | None = None
) -> Awaitable[None]:
    """Hand ``event`` to the producer and return its delivery confirmation, to be awaited.

    Records handed over in turn keep their order on a partition (the producer is idempotent),
    so a caller may hand over many before awaiting any: one broker round trip for them all.
    """
    topic = topic or event.topic
    key, headers, value = to_wire(event)
    # FastStream writes a `correlation_id` header on every record (a random id unless given):
    # give it the story's, so it never contradicts ce_correlationid.
    delivery = await broker.publish(
        value,
        topic=prefix + topic,
        key=key,
        headers=headers,
        correlation_id=event.correlation_id,
        no_confirm=True,
    )

    async def confirmed() -> None:
        await delivery
        metrics.EVENTS_PUBLISHED.labels(topic=topic).inc()

    return confirmed()


def consumer_group_id(settings: Settings, service: str, topic: str) -> str:
    # The database prefix is part of the group id, so two deployments (or test runs)
    # sharing one broker never split each other's partitions.
    return f"{settings.db_prefix}.{service}.{topic}"


def all_topics(prefix: str = "", lanes: Iterable[str] = (POOLED,)) -> list[str]:
    """Every topic name of these lanes on the broker, dead-letter topics included, with the
    deployment's prefix (``ILRFLOW_TOPIC_PREFIX``)."""
    return [prefix + t for lane in lanes for t in lane_topics(lane)]


async def ensure_topics(
    bootstrap: str,
    partitions: int = 6,
    topics: Iterable[str] | None = None,
    wait_seconds: float = 60,
    prefix: str = "",
) -> list[str]:
    """Create the topics that do not exist yet and give the existing ones the retention they
    should have (``ilrflow.platform.retention``); idempotent. Return the topics it created."""
    admin = await _connected_admin(bootstrap, wait_seconds)
    try:
        existing = set(await admin.list_topics())
        wanted = list(topics) if topics is not None else all_topics(prefix)
        missing = [t for t in wanted if t not in existing]
        new_topics = [
            NewTopic(
                name=t,
                num_partitions=partitions,
                replication_factor=1,
                topic_configs=retention_configs(t.removeprefix(prefix)),
            )
            for t in missing
        ]
        if new_topics:
            # A concurrent caller may have created them first: that is what we wanted anyway.
            with suppress(TopicAlreadyExistsError):
                await admin.create_topics(new_topics)
        await _until_visible(admin, wanted, wait_seconds)
        present = [t for t in wanted if t in existing]
        await _align_retention(
            admin, {t: retention_configs(t.removeprefix(prefix)) for t in present}
        )
        return missing
    finally:
        await admin.close()


# DescribeConfigs' source of a value set on the topic itself (not a broker or default value).
_TOPIC_CONFIG_SOURCE = 1


async def _align_retention(
    admin: AIOKafkaAdminClient, wanted: Mapping[str, dict[str, str]]
) -> None:
    """Topics created before their retention was decided (the broker's default is 7 days) are
    altered. AlterConfigs replaces every value set on the topic, so those are sent along."""
    if not wanted:
        return
    resources = [ConfigResource(ConfigResourceType.TOPIC, t) for t in wanted]
    changes = []
    for response in await admin.describe_configs(resources):
        # (error_code, error_message, resource_type, resource_name, config_entries); an entry is
        # (name, value, read_only, config_source, is_sensitive, synonyms).
        for _, _, _, name, entries in response.resources:
            current = {e[0]: e[1] for e in entries}
            change = configs_to_change(wanted[name], current)
            if change:
                kept = {e[0]: e[1] for e in entries if e[3] == _TOPIC_CONFIG_SOURCE}
                changes.append(
                    ConfigResource(ConfigResourceType.TOPIC, name, configs=kept | wanted[name])
                )
                log.info("topic retention altered", topic=name, configs=change)
    if changes:
        for response in await admin.alter_configs(changes):
            failed = [r for r in response.resources if r[0] != 0]
            if failed:
                raise KafkaError(f"altering topic configs failed: {failed}")


async def _until_visible(
    admin: AIOKafkaAdminClient, topics: list[str], wait_seconds: float
) -> None:
    """Creation is asynchronous in KRaft: wait until every topic has its partitions, or a
    consumer subscribing now would see no partitions until its next metadata refresh."""
    deadline = time.monotonic() + wait_seconds
    while True:
        described = await admin.describe_topics(topics)
        ready = {
            d["topic"] for d in described if d.get("error_code", 0) == 0 and d.get("partitions")
        }
        if ready >= set(topics):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics not visible: {sorted(set(topics) - ready)}")
        await asyncio.sleep(0.2)


async def _connected_admin(bootstrap: str, wait_seconds: float) -> AIOKafkaAdminClient:
    deadline = time.monotonic() + wait_seconds
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            await admin.start()
            await admin.list_topics()
            return admin
        except KafkaConnectionError:
            await admin.close()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def tolerant_parse(
    raw: ConsumerRecord[Any, Any] | tuple[ConsumerRecord[Any, Any], ...],
    original: Callable[[Any], Awaitable[Any]],
) -> Any:
    """FastStream reads every header value as strict UTF-8 before any handler runs: a record
    with other bytes (or a null) in a header would fail there, outside ``handle_record``, and be
    skipped without a dead letter (in batch mode, with its whole batch). Such values are read
    here with replacement characters, so the record reaches the handler and is dead-lettered
    like any other poison."""
    try:
        return await original(raw)
    except (UnicodeDecodeError, AttributeError):
        for record in raw if isinstance(raw, tuple) else (raw,):
            record.headers = tuple(
                (name, b"" if value is None else value.decode(errors="replace").encode())
                for name, value in record.headers
            )
        return await original(raw)


async def undecoded_body(message: Any) -> Any:
    """The handler reads the raw record; FastStream's own decoding (JSON by content-type) would
    fail on a poison body before the handler could dead-letter it."""
    return message.body


class OffsetCommitter:
    """Commits the offsets of handled records in the background, a few at a time.

    A record's effect (with its position, ``ilrflow.platform.idempotency``) is stored before its
    offset is recorded here, so a commit that is late or lost (a crash, a rebalance) only means
    the record is read again, and the handler drops it by its offset. Waiting for each commit before taking the next record
    cost a broker round trip per record (~10 ms on a busy box), in every consumer, in sequence.
    Only offsets of handled records are committed, never the consumer's position: the record
    being handled must not be committed before its effect is stored.
    """

    def __init__(self) -> None:
        self._handled: dict[TopicPartition, int] = {}  # next offset to read, per partition
        self._consumer: AIOKafkaConsumer | None = None
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._one_at_a_time = asyncio.Lock()  # an older commit must not land after a newer one

    def handled(self, consumer: AIOKafkaConsumer, topic: str, partition: int, offset: int) -> None:
        self._consumer = consumer
        self._handled[TopicPartition(topic, partition)] = offset + 1
        self._wanted.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="offset-commits")

    async def flush(self) -> None:
        """Commit what is handled by now (a graceful stop, before the consumers close)."""
        await self._commit()

    async def close(self) -> None:
        """Stop committing (the consumers are closed): what is left is read again on restart."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            await self._commit()  # records handled meanwhile wait for the next round

    async def _commit(self) -> None:
        async with self._one_at_a_time:
            await self._commit_handled()

    async def _commit_handled(self) -> None:
        offsets, self._handled = self._handled, {}
        if not offsets or self._consumer is None:
            return
        assigned = self._consumer.assignment()
        mine = {tp: OffsetAndMetadata(o, "") for tp, o in offsets.items() if tp in assigned}
        if not mine:
            return  # revoked: the new owner reads them again and drops them by their offsets
        try:
            await self._consumer.commit(mine)
        except (KafkaError, AssertionError) as error:  # a rebalance, a stopping consumer
            log.info("offset commit skipped; the records will be read again", error=repr(error))


@dataclass
class ConsumerGroup:
    """The handlers one service runs for one topic, keyed by event type.

    Types that the catalogue puts on the topic but that have no handler here are skipped; types
    the catalogue does not know are dead-lettered. A type with a chain handler as well has its
    chains of two or more records applied in one call (``apply_chain``).
    """

    topic: str
    group_id: str
    handlers: Mapping[str, Handler]
    settings: Settings
    broker: KafkaBroker
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)
    chain_handlers: Mapping[str, ChainHandler] = field(default_factory=dict)
    subscriber: Any = field(default=None, init=False, repr=False)
    commits: OffsetCommitter = field(default_factory=OffsetCommitter, init=False, repr=False)

    def subscribe(self) -> None:
        """Take the topic in batches, applied concurrently by key (``on_batch``)."""
        self.subscriber = subscriber = self.broker.subscriber(
            self.settings.topic_prefix + self.topic,
            group_id=self.group_id,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
            batch=True,
            max_records=self.settings.consumer_batch_max_records,
            batch_timeout_ms=self.settings.consumer_batch_wait_ms,
            parser=tolerant_parse,
            decoder=undecoded_body,
        )
        poll_without_idle_sleep(subscriber)
        subscriber(self.on_batch)

    async def lag(self) -> dict[int, int]:
        """Per assigned partition: highwater - position of this process's consumer (for the
        ``ilrflow_consumer_lag`` gauge). Partitions whose highwater or position is not known yet
        (nothing fetched since assignment) are left out."""
        consumer = getattr(self.subscriber, "consumer", None)
        if consumer is None:
            return {}
        return {tp.partition: lag for tp, lag in (await partition_lags(consumer)).items()}

    async def on_batch(self, message: KafkaMessage) -> None:
        await self.apply_batch(message.consumer, message.raw_message)
        if not self.subscriber.running:
            # A graceful stop waits for this batch before it closes the consumer: commit the
            # batch's offsets now, not on the background committer's next turn, which may come
            # after the consumer is closed (the batch would then be read again on restart).
            await self.commits.flush()

    async def apply_batch(
        self, consumer: AIOKafkaConsumer, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> None:
        """Apply a batch by key: each key's records in order, up to ``consumer_concurrency``
        keys at once (``ilrflow.platform.batches``). A partition's offset is committed only up
        to its first record that is not finished; a partition with a record to retry is read
        again from that record."""
        progress = progress_by_partition(records)

        def note(record: ConsumerRecord[Any, Any], outcome: str) -> None:
            partition = progress[(record.topic, record.partition)]
            if outcome == RETRY:
                partition.retry(record.offset)
                return
            finished = partition.finish(record.offset)
            if finished is not None:
                self.commits.handled(consumer, record.topic, record.partition, finished)

        async def apply(record: ConsumerRecord[Any, Any]) -> str:
            outcome = await self._timed_record(record)
            note(record, outcome)
            return outcome

        record_by_record = one_by_one(apply)

        async def apply_chain(chain: Sequence[ConsumerRecord[Any, Any]]) -> None:
            outcome = await self.apply_chain(chain)
            if outcome is None:
                await record_by_record(chain)
            elif outcome == RETRY:
                note(chain[0], RETRY)  # read again from its first record
            else:
                for record in chain:
                    note(record, outcome)

        await run_whole_chains(chains(records), apply_chain, self.settings.consumer_concurrency)
        self._rewind(consumer, progress)

    async def apply_chain(self, chain: Sequence[ConsumerRecord[Any, Any]]) -> str | None:
        """Apply a chain (one key's records of one partition, in order) through its chain
        handler in one call: 'done', or 'retry' after a transient failure outlasting the
        retries (read again from its first record). None: not taken together (no chain
        handler, a single record, a record that is not for it) or failed other than
        transiently; the caller then applies its records one by one.

        Per record, as on the record path: a "record handled" line with its context, a consumer
        span (the handler runs in the first record's; the others' cover the chain's time) and
        the handler-seconds metric, each record observed with its share of the chain's time."""
        taken = self._chain_of(chain)
        if taken is None:
            return None
        handler, deliveries = taken
        first, last = chain[0], chain[-1]
        started, started_ns = time.perf_counter(), time.time_ns()
        with (
            bound_context(
                topic=self.topic,
                partition=first.partition,
                offset=first.offset,
                last_offset=last.offset,
                chain=len(chain),
                tenant=deliveries[0].event.tenant,
            ),
            consumer_span(
                self.topic,
                dict(first.headers),
                **{"messaging.consumer.group.name": self.group_id, "ilrflow.chain": len(chain)},
            ) as span,
        ):
            try:
                outcome = await self._run_with_retries(lambda: handler(deliveries))
            except Exception as error:
                if is_transient(error):
                    log.warning("transient failure; chain will be read again", error=str(error))
                    outcome = RETRY
                else:
                    log.warning("chain failed; applying its records one by one", error=str(error))
                    return None
            span.set_attribute("ilrflow.outcome", outcome)
        self._chain_handled(chain, outcome, time.perf_counter() - started, started_ns)
        return outcome

    def _chain_of(
        self, chain: Sequence[ConsumerRecord[Any, Any]]
    ) -> tuple[ChainHandler, list[Delivered[Any]]] | None:
        """The chain handler and the chain's events, if every record is for it."""
        if len(chain) < 2:
            return None
        deliveries = []
        for record in chain:
            headers = dict(record.headers)
            if not self._mine(headers):
                return None
            try:
                event = from_wire(headers, record.value)
            except Exception:  # poison: the record path dead-letters it
                return None
            position = RecordPosition(self.topic, record.partition, record.offset)
            deliveries.append(Delivered(event, position))
        types = {delivered.event.type for delivered in deliveries}
        if len(types) != 1 or CATALOGUE[(kind := types.pop())].topic != base_topic(self.topic):
            return None
        handler = self.chain_handlers.get(kind)
        return None if handler is None else (handler, deliveries)

    def _chain_handled(
        self, chain: Sequence[ConsumerRecord[Any, Any]], outcome: str, seconds: float, ns: int
    ) -> None:
        batch_consumer_spans(
            self.topic,
            [dict(record.headers) for record in chain[1:]],
            ns,
            **{"messaging.consumer.group.name": self.group_id, "ilrflow.outcome": outcome},
        )
        share = seconds / len(chain)
        for record in chain:
            headers = dict(record.headers)
            metrics.HANDLER_SECONDS.labels(
                topic=self.topic, group=self.group_id, outcome=outcome
            ).observe(share)
            with bound_context(
                topic=self.topic,
                partition=record.partition,
                offset=record.offset,
                event_id=header_text(headers, "ce_id"),
                tenant=header_text(headers, "ce_tenant"),
                correlation_id=header_text(headers, "ce_correlationid"),
            ):
                log.info(
                    "record handled",
                    outcome=outcome,
                    event_type=header_text(headers, "ce_type"),
                    chain=len(chain),
                )

    async def _timed_record(self, record: ConsumerRecord[Any, Any]) -> str:
        started = time.perf_counter()
        outcome = await self.handle_record(
            headers=dict(record.headers),
            value=record.value,
            key=record.key,
            partition=record.partition,
            offset=record.offset,
        )
        metrics.HANDLER_SECONDS.labels(
            topic=self.topic, group=self.group_id, outcome=outcome
        ).observe(time.perf_counter() - started)
        return outcome

    def _rewind(
        self, consumer: AIOKafkaConsumer, progress: Mapping[tuple[str, int], PartitionProgress]
    ) -> None:
        """Read each partition with a record to retry again from its lowest such record. The
        records of other keys after it that were applied in this batch are read again too, and
        their handlers drop them by their offsets (``ilrflow.platform.idempotency``); a poison
        record among them is dead-lettered once more."""
        assigned = consumer.assignment()
        for (topic, partition), found in progress.items():
            offset = found.rewind_to()
            tp = TopicPartition(topic, partition)
            if offset is not None and tp in assigned:  # a revoked one is its new owner's
                consumer.seek(tp, offset)

    async def handle_record(
        self,
        *,
        headers: dict[str, Any],
        value: bytes | None,
        key: bytes | None,
        partition: int,
        offset: int,
    ) -> str:
        """Run the handler; return 'done', 'skipped', 'dead-lettered' or 'retry'."""
        # Bound around everything, the "record handled" line included: each line about a
        # record names its tenant, story (correlation id) and event.
        with (
            bound_context(
                topic=self.topic,
                partition=partition,
                offset=offset,
                event_id=header_text(headers, "ce_id"),
                tenant=header_text(headers, "ce_tenant"),
                correlation_id=header_text(headers, "ce_correlationid"),
            ),
            consumer_span(
                self.topic, headers, **{"messaging.consumer.group.name": self.group_id}
            ) as span,
        ):
            outcome = await self._handle(headers, value, key, partition, offset)
            span.set_attribute("ilrflow.outcome", outcome)
            log.info(
                "record handled",
                outcome=outcome,
                event_type=header_text(headers, "ce_type"),
            )
            return outcome

    async def _handle(
        self,
        headers: dict[str, Any],
        value: bytes | None,
        key: bytes | None,
        partition: int,
        offset: int,
    ) -> str:
        if not self._mine(headers):
            return "skipped"
        try:
            event = from_wire(headers, value)
            if CATALOGUE[event.type].topic != base_topic(self.topic):
                raise PermanentError(f"event type {event.type} does not belong on {self.topic}")
            handler = self.handlers.get(event.type)
            if handler is None:
                return "skipped"
            # The position tells a redelivered record apart (ilrflow.platform.idempotency).
            with delivering(RecordPosition(self.topic, partition, offset)):
                return await self._run_with_retries(lambda: handler(event))
        except Exception as error:
            if is_transient(error):
                log.warning("transient failure; record will be read again", error=str(error))
                return RETRY
            await self._dead_letter(headers, value, key, partition, offset, error)
            return "dead-lettered"

    def _mine(self, headers: dict[str, Any]) -> bool:
        """A re-driven copy is for the groups that dead-lettered the original only: the others
        applied it, perhaps long ago (``ilrflow dlt redrive``)."""
        groups = header_text(headers, REDRIVE_GROUPS_HEADER)
        return groups is None or self.group_id in groups.split(",")

    async def _run_with_retries(self, call: Callable[[], Awaitable[None]]) -> str:
        attempt = 1
        while True:
            try:
                await call()
                return "done"
            except Exception as error:
                if not is_transient(error) or attempt >= self.settings.consumer_max_attempts:
                    raise
                delay = min(
                    self.settings.consumer_backoff_seconds * 2 ** (attempt - 1),
                    self.settings.consumer_backoff_max_seconds,
                )
                log.warning(
                    "transient failure; backing off", attempt=attempt, delay=delay, error=str(error)
                )
                await self.sleep(delay)
                attempt += 1

    async def _dead_letter(
        self,
        headers: dict[str, Any],
        value: bytes | None,
        key: bytes | None,
        partition: int,
        offset: int,
        error: BaseException,
    ) -> None:
        reason = str(error) or type(error).__name__
        # A poison record may carry non-UTF-8 headers; the audit log keeps the original bytes.
        dlt_headers = {
            k: (v.decode(errors="replace") if isinstance(v, bytes) else str(v))
            for k, v in headers.items()
        }
        dlt_headers.update(
            {
                "dlt_original_topic": self.topic,
                "dlt_original_partition": str(partition),
                "dlt_original_offset": str(offset),
                "dlt_consumer_group": self.group_id,
                "dlt_error_class": type(error).__name__,
                "dlt_reason": reason[:2000],
            }
        )
        await self.broker.publish(
            value or b"",
            topic=self.settings.topic_prefix + dead_letter_topic(self.topic),
            key=key,
            headers=dlt_headers,
            correlation_id=header_text(headers, "ce_correlationid"),
        )
        metrics.DEAD_LETTERS.labels(topic=self.topic, group=self.group_id).inc()
        log.error("dead-lettered", reason=reason, error_class=type(error).__name__)


async def partition_lags(consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
    """Per partition assigned to ``consumer``: highwater - position. Partitions whose highwater or
    position is not known yet (nothing fetched since assignment) are left out."""
    lags: dict[TopicPartition, int] = {}
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        if highwater is None:
            continue
        try:
            position = await asyncio.wait_for(consumer.position(tp), timeout=0.5)
        except Exception:  # not positioned yet, or rebalancing
            continue
        lags[tp] = max(highwater - position, 0)
    return lags
