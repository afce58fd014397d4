"""The consumer's error policy, without a broker: skip, retry, dead-letter, done."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from consumer_doubles import RecordingBroker, group, processed_event, record
from faststream.kafka.message import KafkaMessage
from faststream.kafka.parser import AioKafkaParser
from pymongo.errors import AutoReconnect

from ilrflow.contracts.events import Topics
from ilrflow.platform.errors import PermanentError
from ilrflow.platform.kafka import (
    REDRIVE_GROUPS_HEADER,
    ConsumerGroup,
    OffsetCommitter,
    tolerant_parse,
    undecoded_body,
)
from ilrflow.platform.settings import Settings


async def test_a_handled_record_is_done() -> None:
    seen = []

    async def handler(event: Any) -> None:
        seen.append(event.data.tracker_id)

    broker = RecordingBroker()
    assert await group(handler, broker).handle_record(**record()) == "done"
    assert seen == ["T1"]
    assert broker.published == []


async def test_a_permanent_failure_goes_to_the_dead_letter_topic_with_its_coordinates() -> None:
    async def handler(event: Any) -> None:
        raise PermanentError("learner L1 is not enrolled")

    broker = RecordingBroker()
    assert await group(handler, broker).handle_record(**record()) == "dead-lettered"
    [dead] = broker.published
    assert dead["topic"] == "tracker-processed.dlt"
    assert dead["key"] == b"t1:L1"
    assert dead["value"] == record()["value"]
    assert dead["headers"]["dlt_reason"] == "learner L1 is not enrolled"
    assert dead["headers"]["dlt_original_partition"] == "3"
    assert dead["headers"]["dlt_original_offset"] == "42"
    assert dead["headers"]["dlt_consumer_group"] == "ilrflow.test.tracker-processed"
    assert dead["headers"]["ce_id"] == processed_event().id or dead["headers"]["ce_id"]


async def test_a_poison_record_is_dead_lettered_not_handled() -> None:
    async def handler(event: Any) -> None:
        pytest.fail("a poison record reached the handler")

    broker = RecordingBroker()
    outcome = await group(handler, broker).handle_record(
        headers={"ce_type": b"\xff\xfe"}, value=b"\x00\x01garbage", key=None, partition=0, offset=1
    )
    assert outcome == "dead-lettered"
    assert "missing headers" in broker.published[0]["headers"]["dlt_reason"]


async def test_a_transient_failure_is_retried_then_succeeds() -> None:
    calls = []

    async def flaky(event: Any) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise AutoReconnect("database restarting")

    broker = RecordingBroker()
    assert await group(flaky, broker, attempts=5).handle_record(**record()) == "done"
    assert len(calls) == 3


async def test_a_transient_failure_that_persists_is_read_again_not_lost() -> None:
    async def down(event: Any) -> None:
        raise AutoReconnect("database down")

    broker = RecordingBroker()
    assert await group(down, broker, attempts=2).handle_record(**record()) == "retry"
    assert broker.published == []


async def test_a_type_this_service_does_not_handle_is_skipped() -> None:
    broker = RecordingBroker()
    consumer = ConsumerGroup(
        topic=Topics.TRACKER_PROCESSED,
        group_id="g",
        handlers={},
        settings=Settings(topic_prefix=""),
        broker=broker,  # type: ignore[arg-type]
    )
    assert await consumer.handle_record(**record()) == "skipped"


async def test_a_record_with_undecodable_headers_and_body_still_reaches_the_handler() -> None:
    """FastStream's own parser and decoder fail on such a record before any handler runs (and
    the record would be skipped without a dead letter); ours hand it on."""
    poison = ConsumerRecord(
        topic="tracker-processed",
        partition=0,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"\xff not json",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=11,
        headers=(("ce_id", b"\xff\xfe"), ("content-type", b"application/json"), ("x", None)),
    )
    original = AioKafkaParser(KafkaMessage, None).parse_message
    with pytest.raises(UnicodeDecodeError):
        await original(poison)
    message = await tolerant_parse(poison, original)
    assert message.headers["ce_id"] == "\ufffd\ufffd"
    assert message.headers["x"] == ""
    assert await undecoded_body(message) == b"\xff not json"


# --- offsets committed in the background ---------------------------------------------------


class CommittingConsumer:
    """Stands in for the aiokafka consumer: its assignment and every commit it was asked for."""

    def __init__(self, *partitions: int, fail: bool = False) -> None:
        self.assigned = {TopicPartition("t", p) for p in partitions}
        self.commits: list[dict[TopicPartition, int]] = []
        self.fail = fail

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        await asyncio.sleep(0)
        if self.fail:
            raise CommitFailedError("rebalancing")
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})


async def test_handled_offsets_are_committed_after_the_record_the_latest_per_partition() -> None:
    consumer = CommittingConsumer(0, 1)
    commits = OffsetCommitter()
    for partition, offset in [(0, 5), (0, 6), (1, 9)]:
        commits.handled(consumer, "t", partition, offset)  # type: ignore[arg-type]
    await commits.flush()
    # The next offset to read: one past each partition's last handled record, nothing else.
    assert consumer.commits == [{TopicPartition("t", 0): 7, TopicPartition("t", 1): 10}]
    await commits.close()


async def test_offsets_of_revoked_partitions_are_left_to_be_read_again() -> None:
    consumer = CommittingConsumer(1)
    commits = OffsetCommitter()
    commits.handled(consumer, "t", 0, 3)  # type: ignore[arg-type]
    commits.handled(consumer, "t", 1, 4)  # type: ignore[arg-type]
    await commits.flush()
    assert consumer.commits == [{TopicPartition("t", 1): 5}]
    await commits.close()


async def test_a_failed_commit_is_not_an_error_the_records_are_read_again() -> None:
    consumer = CommittingConsumer(0, fail=True)
    commits = OffsetCommitter()
    commits.handled(consumer, "t", 0, 1)  # type: ignore[arg-type]
    await commits.flush()
    assert consumer.commits == []
    await commits.close()


async def test_the_background_task_commits_without_being_asked() -> None:
    consumer = CommittingConsumer(0)
    commits = OffsetCommitter()
    commits.handled(consumer, "t", 0, 41)  # type: ignore[arg-type]
    for _ in range(10):  # poll: the task runs on the next turns of the loop
        if consumer.commits:
            break
        await asyncio.sleep(0)
    assert consumer.commits == [{TopicPartition("t", 0): 42}]
    await commits.close()


async def test_a_redriven_copy_is_handled_only_by_the_groups_it_names() -> None:
    seen = []

    async def handler(event: Any) -> None:
        seen.append(event.id)

    broker = RecordingBroker()
    for groups, outcome in (
        (b"ilrflow.test.notify,ilrflow.test.tracker-processed", "done"),
        (b"ilrflow.test.notify", "skipped"),  # this group had handled the original
    ):
        redriven = record()
        redriven["headers"] = {**redriven["headers"], REDRIVE_GROUPS_HEADER: groups}
        assert await group(handler, broker).handle_record(**redriven) == outcome
    assert len(seen) == 1
