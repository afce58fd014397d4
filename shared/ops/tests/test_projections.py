"""The rebuild's check that the history it reads is whole, and how it applies the records."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import GroupCoordinatorNotAvailableError
from aiokafka.structs import OffsetAndMetadata

from ilrflow.contracts.events import EventType, TrackerProcessed, new_event, to_wire
from ilrflow.ops.projections import RebuildReport, _apply, _group_offsets, history_gone_before


def test_a_topic_starting_at_zero_everywhere_is_whole() -> None:
    begin = {TopicPartition("t", p): 0 for p in range(3)}
    assert history_gone_before(begin) == {}


def test_partitions_that_start_later_are_named_with_their_first_offset() -> None:
    begin = {TopicPartition("t", 2): 7, TopicPartition("t", 0): 3, TopicPartition("t", 1): 0}
    assert history_gone_before(begin) == {0: 3, 2: 7}


# --- applying the records: by key, concurrently --------------------------------------------


class ReplayConsumer:
    """Stands in for the aiokafka consumer: one partition's records, a batch per getmany."""

    def __init__(self, records: list[ConsumerRecord[Any, Any]], batch: int) -> None:
        self.records = records
        self.batch = batch
        self.at = 0

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.at = offset

    async def getmany(self, *tps: TopicPartition, timeout_ms: int) -> dict[Any, Any]:
        found = self.records[self.at : self.at + self.batch]
        self.at += len(found)
        return {TP: found}

    async def position(self, tp: TopicPartition) -> int:
        return self.at


TP = TopicPartition("tracker-processed", 0)


def learner_record(learner: str, offset: int) -> ConsumerRecord[Any, Any]:
    event = new_event(
        TrackerProcessed(
            tracker_id=str(offset),
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
    )
    key, headers, value = to_wire(event)
    return ConsumerRecord(
        topic=TP.topic,
        partition=0,
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


async def test_the_rebuild_applies_each_key_in_order_and_keys_at_once() -> None:
    records = [learner_record(f"L{n % 3}", n) for n in range(9)]
    order: list[tuple[str, int]] = []
    running = most = 0

    async def handler(event: Any) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        order.append((event.data.learner_id, int(event.data.tracker_id)))

    report = RebuildReport("tracker", "learners", "t", "g", "c")
    await _apply(
        ReplayConsumer(records, batch=6),  # type: ignore[arg-type]
        {EventType.TRACKER_PROCESSED: handler},
        {TP: 0},
        {TP: 8},  # the last record is past the stop
        report,
        lambda n: None,
        concurrency=4,
    )
    assert report.applied == 8
    assert most == 3  # three learners at once
    for learner in ("L0", "L1", "L2"):
        offsets = [o for lr, o in order if lr == learner]
        assert offsets == sorted(offsets)
    assert sorted(o for _, o in order) == list(range(8))


# --- the live group's offsets on a broker that has just started ----------------------------


class StartingBroker:
    """An admin client whose broker answers "no coordinator yet" ``refusals`` times."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.asked = 0

    async def list_consumer_group_offsets(
        self, group: str, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, OffsetAndMetadata]:
        self.asked += 1
        if self.asked <= self.refusals:
            raise GroupCoordinatorNotAvailableError()
        return {tp: OffsetAndMetadata(5, "") for tp in partitions}


async def test_the_group_offsets_are_asked_again_while_the_coordinator_starts() -> None:
    broker = StartingBroker(refusals=2)
    partitions = [TopicPartition("t", 0)]

    found = await _group_offsets(broker, "g", partitions)  # type: ignore[arg-type]

    assert found == {TopicPartition("t", 0): OffsetAndMetadata(5, "")}
    assert broker.asked == 3


async def test_a_coordinator_that_never_comes_fails_the_rebuild(monkeypatch: Any) -> None:
    monkeypatch.setattr("ilrflow.ops.projections.COORDINATOR_WAIT_SECONDS", 0.0)

    with pytest.raises(GroupCoordinatorNotAvailableError):
        await _group_offsets(StartingBroker(refusals=99), "g", [])  # type: ignore[arg-type]
