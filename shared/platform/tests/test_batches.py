"""Batches applied concurrently by key: the chain split, the runner, the commit arithmetic, and a
consumer group applying a batch (without a broker)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from consumer_doubles import RecordingBroker, no_sleep
from faststream.kafka.message import KafkaMessage
from faststream.kafka.parser import AioKafkaBatchParser
from pymongo.errors import AutoReconnect

from ilrflow.contracts.events import (
    EventType,
    Topics,
    TrackerProcessed,
    new_event,
    partition_key,
    to_wire,
)
from ilrflow.platform.batches import RETRY, PartitionProgress, chains, run_chains
from ilrflow.platform.errors import PermanentError
from ilrflow.platform.kafka import ConsumerGroup, tolerant_parse
from ilrflow.platform.settings import Settings


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    key: bytes | None


def test_a_batch_splits_into_chains_by_partition_and_key_each_in_offset_order() -> None:
    batch = [
        Rec("t", 0, 5, b"a"),
        Rec("t", 0, 3, b"b"),
        Rec("t", 1, 4, b"a"),  # same key, other partition: its own chain
        Rec("t", 0, 1, b"a"),
        Rec("t", 0, 7, None),
    ]
    assert [[(r.partition, r.offset) for r in chain] for chain in chains(batch)] == [
        [(0, 1), (0, 5)],
        [(0, 3)],
        [(1, 4)],
        [(0, 7)],
    ]


async def test_chains_run_concurrently_each_in_order() -> None:
    started_b = asyncio.Event()
    order: list[tuple[bytes | None, int]] = []

    async def apply(record: Rec) -> str:
        if record.key == b"a" and record.offset == 0:
            # Finishes only once b's chain has started: a runner taking one chain after the
            # other never gets there.
            await asyncio.wait_for(started_b.wait(), timeout=2)
        if record.key == b"b":
            started_b.set()
        order.append((record.key, record.offset))
        return "done"

    batch = [Rec("t", 0, 0, b"a"), Rec("t", 0, 1, b"a"), Rec("t", 0, 2, b"b")]
    await run_chains(chains(batch), apply, concurrency=4)
    assert [o for k, o in order if k == b"a"] == [0, 1]
    assert order[0] == (b"b", 2)


async def test_no_more_chains_run_at_once_than_the_concurrency() -> None:
    running = 0
    most = 0

    async def apply(record: Rec) -> str:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)
        running -= 1
        return "done"

    batch = [Rec("t", 0, n, str(n % 5).encode()) for n in range(20)]
    await run_chains(chains(batch), apply, concurrency=2)
    assert most == 2


async def test_a_chain_stops_at_a_record_to_retry_the_others_go_on() -> None:
    applied = []

    async def apply(record: Rec) -> str:
        applied.append(record.offset)
        return RETRY if record.offset == 1 else "done"

    batch = [Rec("t", 0, n, b"a" if n < 3 else b"b") for n in range(5)]
    await run_chains(chains(batch), apply, concurrency=2)
    assert sorted(applied) == [0, 1, 3, 4]  # a's record 2 waits for 1


async def test_an_exception_stops_the_run_and_is_raised() -> None:
    async def apply(record: Rec) -> str:
        if record.key == b"b":
            raise ValueError("broken")
        await asyncio.sleep(1)
        return "done"

    with pytest.raises(ValueError, match="broken"):
        await run_chains(chains([Rec("t", 0, 0, b"a"), Rec("t", 0, 1, b"b")]), apply, 2)


def test_the_committable_offset_stops_at_the_first_record_not_finished() -> None:
    progress = PartitionProgress([10, 11, 12, 13])
    assert progress.finish(12) is None  # 10 and 11 are not finished yet
    assert progress.finish(10) == 10
    assert progress.finish(11) == 12  # 10 to 12 finished: commit past 12
    progress.retry(13)
    assert progress.rewind_to() == 13


def test_a_partition_is_read_again_from_its_lowest_record_to_retry() -> None:
    progress = PartitionProgress([4, 5, 6, 7])
    progress.retry(6)
    progress.retry(5)
    assert progress.finish(4) == 4
    assert progress.finish(7) is None  # past a record to retry: never committed
    assert progress.rewind_to() == 5
    assert PartitionProgress([1]).rewind_to() is None


# --- a consumer group applying a batch -----------------------------------------------------


class BatchConsumer:
    """Stands in for the aiokafka consumer: commits and seeks, partitions 0 and 1 assigned."""

    def __init__(self) -> None:
        self.commits: dict[TopicPartition, int] = {}
        self.seeks: dict[TopicPartition, int] = {}

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(Topics.TRACKER_PROCESSED, p) for p in (0, 1)}

    async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commits.update({tp: meta.offset for tp, meta in offsets.items()})

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp] = offset


def tracker_record(learner: str, partition: int, offset: int) -> ConsumerRecord[Any, Any]:
    event = new_event(
        TrackerProcessed(
            tracker_id=f"T-{offset}",
            learner_id=learner,
            tracker_type="change_of_address",
            changes={},
            processed_by="admin-1",
            processor_roles=["admin"],
            raised_by=learner,
            learner_led=True,
        ),
        tenant="t1",
        subject=learner,
        actor="admin-1",
        correlation_id=f"T-{offset}",
    )
    key, headers, value = to_wire(event)
    assert key == partition_key("t1", learner).encode()
    return ConsumerRecord(
        topic=Topics.TRACKER_PROCESSED,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value),
        headers=tuple((k, v.encode()) for k, v in headers.items()),
    )


def batch_group(handler: Any, broker: RecordingBroker) -> ConsumerGroup:
    return ConsumerGroup(
        topic=Topics.TRACKER_PROCESSED,
        group_id="ilrflow.test.tracker-processed",
        handlers={EventType.TRACKER_PROCESSED: handler},
        settings=Settings(consumer_max_attempts=1, topic_prefix=""),
        broker=broker,  # type: ignore[arg-type]
        sleep=no_sleep,
    )


async def test_a_poison_record_is_dead_lettered_alone_and_its_batch_mates_applied() -> None:
    applied = []

    async def handler(event: Any) -> None:
        if event.data.tracker_id == "T-1":
            raise PermanentError("bad tracker")
        applied.append(event.data.tracker_id)

    broker = RecordingBroker()
    consumer = BatchConsumer()
    group = batch_group(handler, broker)
    batch = [tracker_record("L1", 0, 0), tracker_record("L1", 0, 1), tracker_record("L1", 0, 2)]
    batch += [tracker_record("L2", 1, 0)]
    await group.apply_batch(consumer, batch)  # type: ignore[arg-type]
    await group.commits.flush()
    assert sorted(applied) == ["T-0", "T-0", "T-2"]
    assert [p["headers"]["dlt_original_offset"] for p in broker.published] == ["1"]
    assert consumer.commits == {
        TopicPartition(Topics.TRACKER_PROCESSED, 0): 3,
        TopicPartition(Topics.TRACKER_PROCESSED, 1): 1,
    }
    assert consumer.seeks == {}
    await group.commits.close()


async def test_a_transient_failure_commits_nothing_from_it_on_and_rewinds_to_it() -> None:
    applied = []

    async def handler(event: Any) -> None:
        if event.data.tracker_id == "T-2":
            raise AutoReconnect("database away")
        applied.append(event.data.tracker_id)

    consumer = BatchConsumer()
    group = batch_group(handler, RecordingBroker())
    # Partition 0: L1 at 1, L2 at 2 (fails), L1 at 3, L2 at 4 (waits for 2).
    batch = [tracker_record(learner, 0, n) for n, learner in [(1, "L1"), (2, "L2")]]
    batch += [tracker_record(learner, 0, n) for n, learner in [(3, "L1"), (4, "L2")]]
    await group.apply_batch(consumer, batch)  # type: ignore[arg-type]
    await group.commits.flush()
    assert sorted(applied) == ["T-1", "T-3"]
    assert consumer.commits == {TopicPartition(Topics.TRACKER_PROCESSED, 0): 2}
    assert consumer.seeks == {TopicPartition(Topics.TRACKER_PROCESSED, 0): 2}
    await group.commits.close()


async def test_a_batch_with_a_header_that_is_not_utf8_still_parses() -> None:
    good = tracker_record("L1", 0, 0)
    poison = tracker_record("L2", 0, 1)
    poison.headers = (*poison.headers, ("x", b"\xff"), ("y", None))
    original = AioKafkaBatchParser(KafkaMessage, None).parse_batch
    message = await tolerant_parse((good, poison), original)
    assert message.batch_headers[1]["x"] == "\ufffd"
    assert message.batch_headers[1]["y"] == ""


# --- a chain handler: a key's records of a batch in one call -------------------------------


def chain_group(
    handler: Any, chain_handler: Any, broker: RecordingBroker, attempts: int = 1
) -> ConsumerGroup:
    return ConsumerGroup(
        topic=Topics.TRACKER_PROCESSED,
        group_id="ilrflow.test.tracker-processed",
        handlers={EventType.TRACKER_PROCESSED: handler},
        settings=Settings(consumer_max_attempts=attempts, topic_prefix=""),
        broker=broker,  # type: ignore[arg-type]
        sleep=no_sleep,
        chain_handlers={EventType.TRACKER_PROCESSED: chain_handler},
    )


async def test_a_keys_records_go_to_the_chain_handler_in_one_call_with_their_positions() -> None:
    calls: list[list[tuple[str, int | None]]] = []
    single: list[str] = []

    async def handler(event: Any) -> None:
        single.append(event.data.tracker_id)

    async def chain_handler(deliveries: Any) -> None:
        calls.append([(d.event.data.tracker_id, d.position.offset) for d in deliveries])

    consumer = BatchConsumer()
    group = chain_group(handler, chain_handler, RecordingBroker())
    batch = [tracker_record("L1", 0, n) for n in (4, 5, 6)] + [tracker_record("L2", 0, 7)]
    await group.apply_batch(consumer, batch)  # type: ignore[arg-type]
    await group.commits.flush()
    assert calls == [[("T-4", 4), ("T-5", 5), ("T-6", 6)]]
    assert single == ["T-7"]  # a chain of one takes the record path
    assert consumer.commits == {TopicPartition(Topics.TRACKER_PROCESSED, 0): 8}
    await group.commits.close()


async def test_a_chain_that_fails_is_applied_record_by_record_its_poison_dead_lettered_alone() -> (
    None
):
    single: list[str] = []

    async def handler(event: Any) -> None:
        if event.data.tracker_id == "T-1":
            raise PermanentError("bad tracker")
        single.append(event.data.tracker_id)

    async def chain_handler(deliveries: Any) -> None:
        raise PermanentError("bad tracker in the chain")

    broker = RecordingBroker()
    consumer = BatchConsumer()
    group = chain_group(handler, chain_handler, broker)
    await group.apply_batch(consumer, [tracker_record("L1", 0, n) for n in range(3)])  # type: ignore[arg-type]
    await group.commits.flush()
    assert single == ["T-0", "T-2"]
    assert [p["headers"]["dlt_original_offset"] for p in broker.published] == ["1"]
    assert consumer.commits == {TopicPartition(Topics.TRACKER_PROCESSED, 0): 3}
    await group.commits.close()


async def test_a_chain_with_a_record_that_does_not_decode_takes_the_record_path() -> None:
    async def chain_handler(deliveries: Any) -> None:
        raise AssertionError("not to be called with a poison record in the chain")

    applied: list[str] = []

    async def handler(event: Any) -> None:
        applied.append(event.data.tracker_id)

    broker = RecordingBroker()
    group = chain_group(handler, chain_handler, broker)
    batch = [tracker_record("L1", 0, n) for n in range(3)]
    batch[1].value = b"{not json"
    await group.apply_batch(BatchConsumer(), batch)  # type: ignore[arg-type]
    assert applied == ["T-0", "T-2"]
    assert [p["headers"]["dlt_original_offset"] for p in broker.published] == ["1"]
    await group.commits.close()


async def test_a_chain_failing_transiently_is_retried_then_read_again_from_its_first_record() -> (
    None
):
    attempts = 0
    single: list[str] = []

    async def handler(event: Any) -> None:
        single.append(event.data.tracker_id)

    async def chain_handler(deliveries: Any) -> None:
        nonlocal attempts
        attempts += 1
        raise AutoReconnect("database away")

    consumer = BatchConsumer()
    group = chain_group(handler, chain_handler, RecordingBroker(), attempts=3)
    batch = [tracker_record("L1", 0, 2), tracker_record("L1", 0, 3)]
    await group.apply_batch(consumer, [tracker_record("L2", 0, 1), *batch])  # type: ignore[arg-type]
    await group.commits.flush()
    assert attempts == 3
    assert single == ["T-1"]  # L2's chain of one; L1's chain is not applied record by record
    assert consumer.commits == {TopicPartition(Topics.TRACKER_PROCESSED, 0): 2}
    assert consumer.seeks == {TopicPartition(Topics.TRACKER_PROCESSED, 0): 2}
    await group.commits.close()
