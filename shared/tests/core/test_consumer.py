"""The consumer's error policy, without a broker: skip, retry, dead-letter, done."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import ConsumerRecord
from faststream.kafka.message import KafkaMessage
from faststream.kafka.parser import AioKafkaParser
from pymongo.errors import AutoReconnect

from ilrflow.shared.errors import PermanentError
from ilrflow.shared.events import EventType, Topics, to_wire
from ilrflow.shared.kafka import ConsumerGroup, tolerant_parse, undecoded_body
from ilrflow.shared.settings import Settings
from tests.core.test_events import processed_event


class RecordingBroker:
    """Stands in for the FastStream broker: records what would be published."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(
        self, value: bytes, *, topic: str, key: bytes | None, headers: dict[str, str]
    ) -> None:
        self.published.append({"value": value, "topic": topic, "key": key, "headers": headers})


async def no_sleep(_: float) -> None:
    return None


def group(handler: Any, broker: RecordingBroker, attempts: int = 3) -> ConsumerGroup:
    return ConsumerGroup(
        topic=Topics.TRACKER_PROCESSED,
        group_id="ilrflow.test.tracker-processed",
        handlers={EventType.TRACKER_PROCESSED: handler},
        settings=Settings(consumer_max_attempts=attempts, topic_prefix=""),
        broker=broker,  # type: ignore[arg-type]
        sleep=no_sleep,
    )


def record() -> dict[str, Any]:
    key, headers, value = to_wire(processed_event())  # type: ignore[arg-type]
    return {
        "headers": {k: v.encode() for k, v in headers.items()},
        "value": value,
        "key": key,
        "partition": 3,
        "offset": 42,
    }


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
