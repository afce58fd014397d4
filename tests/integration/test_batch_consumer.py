"""On the real Kafka and FerretDB: a consumer group takes batches and applies them concurrently by
key (``ilrflow.platform.batches``). Each test has a one-partition topic of its own (so every key
shares the partition and the commit arithmetic is exercised across keys) and a handler that
stores each tracker on its learner's document the way the services do: one conditional update
that drops a record whose offset the document already holds (``ilrflow.platform.idempotency``).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo.errors import AutoReconnect

from ilrflow.contracts.events import (
    EventType,
    Topics,
    TrackerProcessed,
    dead_letter_topic,
    new_event,
)
from ilrflow.platform.errors import PermanentError
from ilrflow.platform.idempotency import mark_applied, not_yet_applied
from ilrflow.platform.kafka import ConsumerGroup, create_broker, ensure_topics, publish_event
from ilrflow.platform.settings import Settings

pytestmark = pytest.mark.e2e

TOPIC = Topics.TRACKER_PROCESSED
Hook = Callable[[str], Awaitable[None]]  # run with the tracker id before the record is stored


async def eventually_async(check: Callable[[], Awaitable[Any]], seconds: float = 30.0) -> Any:
    """Poll ``check`` until it returns a truthy value; fail with the last assertion."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            result = await check()
            if result:
                return result
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds}s (last result {result!r})")
        await asyncio.sleep(0.1)  # poll interval


@dataclass
class Run:
    """One test's topic, group and learners' documents, and what its handler saw."""

    settings: Settings
    database: Any
    group_id: str
    attempts: dict[str, int] = field(default_factory=dict)  # tracker id -> handler calls
    spans: list[tuple[str, float, float]] = field(default_factory=list)  # learner, start, end

    async def publish(self, trackers: list[tuple[str, str]]) -> None:
        """Publish (learner, tracker id) in this order; each learner's document is created."""
        learners = sorted({learner for learner, _ in trackers})
        await self.database.learners.insert_many([{"_id": lr, "applied": []} for lr in learners])
        broker = create_broker(self.settings, client_id="itest-producer")
        await broker.start()
        try:
            for learner, tracker in trackers:
                await publish_event(broker, processed(learner, tracker), self.settings.topic_prefix)
        finally:
            await broker.stop()

    async def applied(self) -> dict[str, list[str]]:
        return {d["_id"]: d["applied"] async for d in self.database.learners.find()}

    def handler(self, hook: Hook) -> Callable[[Any], Awaitable[None]]:
        async def store(event: Any) -> None:
            tracker = event.data.tracker_id
            self.attempts[tracker] = self.attempts.get(tracker, 0) + 1
            started = time.monotonic()
            await hook(tracker)
            update = mark_applied(event.id)
            update["$push"]["applied"] = tracker
            await self.database.learners.update_one(
                {"_id": event.data.learner_id, **not_yet_applied(event.id)}, update
            )
            self.spans.append((event.data.learner_id, started, time.monotonic()))

        return store

    @property
    def partition(self) -> TopicPartition:
        return TopicPartition(self.settings.topic_prefix + TOPIC, 0)

    async def committed(self) -> int | None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        await admin.start()
        try:
            found = await admin.list_consumer_group_offsets(self.group_id)
        finally:
            await admin.close()
        meta = found.get(self.partition)
        return meta.offset if meta is not None and meta.offset >= 0 else None

    async def dead_letters(self) -> list[int]:
        """The original offsets of the records on the topic's dead-letter topic."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            dlt = TopicPartition(self.settings.topic_prefix + dead_letter_topic(TOPIC), 0)
            consumer.assign([dlt])
            batches = await consumer.getmany(timeout_ms=2000)
            return [int(dict(r.headers)["dlt_original_offset"]) for r in batches.get(dlt, [])]
        finally:
            await consumer.stop()


def processed(learner: str, tracker: str) -> Any:
    return new_event(
        TrackerProcessed(
            tracker_id=tracker,
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
        correlation_id=tracker,
    )


@pytest.fixture
async def run(database: Any) -> Run:
    prefix = f"itest{secrets.token_hex(3)}."
    settings = Settings(
        topic_prefix=prefix,
        consumer_max_attempts=1,  # a transient failure is re-read at once
        consumer_concurrency=8,
    )
    await ensure_topics(
        settings.kafka_bootstrap,
        partitions=1,
        topics=[prefix + TOPIC, prefix + dead_letter_topic(TOPIC)],
        prefix=prefix,
    )
    return Run(settings=settings, database=database, group_id=f"{prefix}group")


@pytest.fixture
async def consuming(run: Run) -> AsyncIterator[Callable[[Hook], Awaitable[ConsumerGroup]]]:
    """Start the consumer group with a hook in its handler (after the records are published, so
    its first batch holds them all)."""
    groups: list[ConsumerGroup] = []

    async def start(hook: Hook) -> ConsumerGroup:
        broker = create_broker(run.settings, client_id="itest-consumer")
        group = ConsumerGroup(
            topic=TOPIC,
            group_id=run.group_id,
            handlers={EventType.TRACKER_PROCESSED: run.handler(hook)},
            settings=run.settings,
            broker=broker,
        )
        group.subscribe()
        await broker.start()
        groups.append(group)
        return group

    yield start
    for group in groups:
        await group.commits.flush()
        await group.broker.stop()
        await group.commits.close()


async def nothing(_: str) -> None:
    return None


async def test_each_learners_records_are_applied_in_order_and_learners_overlap(
    run: Run, consuming: Any
) -> None:
    trackers = [(f"L{n % 4}", f"T{n:02}") for n in range(20)]
    await run.publish(trackers)

    in_flight = 0
    two_at_once = asyncio.Event()

    async def waits_for_another(_: str) -> None:
        # Each record waits (up to a deadline) for a record of another learner to be in flight:
        # applied one after the other, none ever sees another, and the spans never overlap.
        nonlocal in_flight
        in_flight += 1
        if in_flight >= 2:
            two_at_once.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(two_at_once.wait(), timeout=1.0)
        finally:
            in_flight -= 1

    await consuming(waits_for_another)
    expected = {lr: [t for learner, t in trackers if learner == lr] for lr, _ in trackers}

    async def all_applied() -> bool:
        assert await run.applied() == expected
        return True

    await eventually_async(all_applied)
    overlapping = [
        (a, b)
        for a in run.spans
        for b in run.spans
        if a[0] < b[0] and a[1] < b[2] and b[1] < a[2]  # two learners, at the same time
    ]
    assert overlapping, "records of different learners were applied one after the other"
    await eventually_async(lambda: _is(run.committed(), 20))


async def test_a_poison_record_is_dead_lettered_alone_and_its_batch_mates_applied(
    run: Run, consuming: Any
) -> None:
    trackers = [("L1", "T0"), ("L2", "T1"), ("L1", "POISON"), ("L2", "T3"), ("L1", "T4")]
    await run.publish(trackers)

    async def poison(tracker: str) -> None:
        if tracker == "POISON":
            raise PermanentError("this tracker cannot be applied")

    await consuming(poison)

    async def applied() -> bool:
        assert await run.applied() == {"L1": ["T0", "T4"], "L2": ["T1", "T3"]}
        return True

    await eventually_async(applied)
    await eventually_async(lambda: _is(run.committed(), 5))
    await eventually_async(lambda: _is(run.dead_letters(), [2]))


async def test_a_transient_failure_is_read_again_from_that_record_and_nothing_applied_twice(
    run: Run, consuming: Any
) -> None:
    # L1's second record fails once; the records of L2 after it are applied in the same batch,
    # read again with it and dropped by their offsets.
    trackers = [("L1", "T0"), ("L2", "T1"), ("L1", "FLAKY"), ("L2", "T3"), ("L1", "T4")]
    trackers += [("L2", "T5")]
    await run.publish(trackers)

    async def flaky(tracker: str) -> None:
        if tracker == "FLAKY" and run.attempts[tracker] == 1:
            raise AutoReconnect("the database went away")

    await consuming(flaky)

    async def applied() -> bool:
        assert await run.applied() == {"L1": ["T0", "FLAKY", "T4"], "L2": ["T1", "T3", "T5"]}
        return True

    await eventually_async(applied)
    await eventually_async(lambda: _is(run.committed(), 6))
    # Published before the group started, the six records are its first batch: L2's records
    # after FLAKY ran in it and ran again after the re-read (their update matched nothing); L1's
    # T4 waited for FLAKY.
    assert run.attempts == {"T0": 1, "T1": 1, "FLAKY": 2, "T3": 2, "T4": 1, "T5": 2}


async def test_an_offset_is_committed_only_once_its_record_and_every_earlier_one_is_stored(
    run: Run, consuming: Any
) -> None:
    trackers = [("L1", "HELD"), ("L2", "T1"), ("L2", "T2"), ("L3", "T3")]
    await run.publish(trackers)
    release = asyncio.Event()

    async def held(tracker: str) -> None:
        if tracker == "HELD":
            await release.wait()

    group = await consuming(held)

    async def others_applied() -> bool:
        assert await run.applied() == {"L1": [], "L2": ["T1", "T2"], "L3": ["T3"]}
        return True

    await eventually_async(others_applied)
    await group.commits.flush()  # whatever is handled by now is committed
    assert await run.committed() is None  # offset 0 holds the partition back
    release.set()
    await eventually_async(lambda: _is(run.committed(), 4))
    assert (await run.applied())["L1"] == ["HELD"]


async def _is(value: Awaitable[Any], expected: Any) -> bool:
    return await value == expected


async def test_a_graceful_stop_finishes_the_batch_in_hand_and_commits_it(
    run: Run, consuming: Any
) -> None:
    trackers = [("L1", "HELD"), ("L1", "T1"), ("L2", "T2")]
    await run.publish(trackers)
    release = asyncio.Event()
    held = asyncio.Event()

    async def hold(tracker: str) -> None:
        if tracker == "HELD":
            held.set()
            await release.wait()

    group = await consuming(hold)
    await asyncio.wait_for(held.wait(), timeout=30)
    stopping = asyncio.create_task(group.broker.stop())
    release.set()
    await stopping
    assert await run.applied() == {"L1": ["HELD", "T1"], "L2": ["T2"]}
    assert await run.committed() == 3
