"""FastStream's batch subscriber sleeps after an empty poll, on top of the poll's own wait; ours
polls again at once (``ilrflow.platform.faststream_batches``). Shown on FastStream's own class,
made by a broker that is never connected, polling a consumer double that has no records."""

from __future__ import annotations

import time
from typing import Any

from faststream.kafka import KafkaBroker

from ilrflow.platform.faststream_batches import poll_without_idle_sleep

WAIT_MS = 400


class EmptyTopic:
    """An AIOKafkaConsumer with nothing to give: ``getmany`` answers at once, empty."""

    def __init__(self) -> None:
        self.polls: list[dict[str, Any]] = []

    async def getmany(self, *partitions: Any, **options: Any) -> dict[Any, list[Any]]:
        self.polls.append(options)
        return {}


def batch_subscriber() -> Any:
    broker = KafkaBroker("127.0.0.1:1")
    return broker.subscriber(
        "a-topic", group_id="a-group", batch=True, max_records=7, batch_timeout_ms=WAIT_MS
    )


async def _seconds_to_get(subscriber: Any, consumer: EmptyTopic) -> tuple[float, Any]:
    started = time.monotonic()
    got = await subscriber.get_msg(consumer)
    return time.monotonic() - started, got


async def test_faststream_sleeps_the_whole_wait_after_an_empty_poll() -> None:
    seconds, got = await _seconds_to_get(batch_subscriber(), EmptyTopic())

    assert got == ()
    assert seconds >= WAIT_MS / 1000 * 0.9  # the defect: a record arriving now would wait


async def test_ours_returns_from_an_empty_poll_at_once_with_the_same_poll() -> None:
    subscriber, consumer = batch_subscriber(), EmptyTopic()
    poll_without_idle_sleep(subscriber)

    seconds, got = await _seconds_to_get(subscriber, consumer)

    assert got == ()
    assert seconds < WAIT_MS / 1000 / 4
    assert consumer.polls == [{"timeout_ms": WAIT_MS, "max_records": 7}]


async def test_ours_gives_the_records_of_every_partition_in_one_batch() -> None:
    class TwoPartitions(EmptyTopic):
        async def getmany(self, *partitions: Any, **options: Any) -> dict[Any, list[Any]]:
            return {"p0": ["a", "b"], "p1": ["c"]}

    subscriber = batch_subscriber()
    poll_without_idle_sleep(subscriber)

    assert await subscriber.get_msg(TwoPartitions()) == ("a", "b", "c")
