"""On the real Kafka and FerretDB: the ILR service's consumer takes one learner's processed trackers
of a batch as a chain and writes the learner's record once for all of them
(``ConsumerGroup.apply_chain``, ``IlrService.on_tracker_processed_chain``). The result is what
applying them one by one gives; a poison record among them is dead-lettered alone; the whole
topic read again (a crash before any commit) applies nothing twice."""

from __future__ import annotations

import os
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient, monitoring

from ilrflow.contracts.events import (
    Address,
    EmployerRef,
    Enrolment,
    EventType,
    LearnerSnapshot,
    LearnerUpdated,
    Topics,
    TrackerProcessed,
    dead_letter_topic,
    new_event,
    partition_key,
    to_wire,
)
from ilrflow.ilr.adapters.reference import ReferenceRepository
from ilrflow.ilr.adapters.repository import IlrRepository, doc_id
from ilrflow.ilr.adapters.settings import IlrSettingsRepository
from ilrflow.ilr.service.use_cases import IlrService
from ilrflow.platform.kafka import ConsumerGroup, create_broker, ensure_topics, publish_event
from ilrflow.platform.mongo import Document
from ilrflow.platform.settings import Settings
from tests.integration.test_batch_consumer import eventually_async

pytestmark = pytest.mark.e2e

TOPIC = Topics.TRACKER_PROCESSED
TENANT = "acme"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POSTCODES = ["LS1 5AB", "YO1 7HH", "BD1 1AA", "HX1 2BB", "WF1 2AB"]


class RecordWrites(monitoring.CommandListener):
    """How many update commands the client sent to each ILR record (database, ``_id``)."""

    def __init__(self) -> None:
        self.writes: Counter[tuple[str, str]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "update" and event.command["update"] == "ilr_records":
            for statement in event.command["updates"]:
                self.writes[(event.database_name, str(statement["q"]["_id"]))] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Only the commands sent count."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Only the commands sent count."""


class Ilr:
    """An ILR service on a database of its own, its records' writes counted."""

    def __init__(self, database: Any, writes: RecordWrites) -> None:
        self.repository = IlrRepository(database)
        self.service = IlrService(
            self.repository,
            IlrSettingsRepository(database),
            ReferenceRepository(database),
            lambda: None,
            default_ukprn=10000001,
            clock=lambda: T0,
        )
        self.writes = writes
        self.database_name = database.name

    async def enrol(self, learner: str) -> None:
        await self.service.on_learner_updated(enrolled(learner))

    async def state(self, learner: str) -> tuple[int, Any, list[tuple[int, str | None]]]:
        record = await self.repository.get(TENANT, learner)
        assert record is not None
        history = await self.repository.history(record)
        return record.version, record.learner, [(h["version"], h["tracker_id"]) for h in history]

    def writes_of(self, learner: str) -> int:
        return self.writes.writes[(self.database_name, doc_id(TENANT, learner))]


@pytest.fixture
async def databases() -> AsyncIterator[tuple[Ilr, Ilr]]:
    """Two ILR services: one fed by the consumer, one applying the same events one by one."""
    writes = RecordWrites()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/"),
        retryWrites=False,
        event_listeners=[writes],
    )
    names = [f"itest{secrets.token_hex(3)}" for _ in range(2)]
    try:
        yield Ilr(client[names[0]], writes), Ilr(client[names[1]], writes)
    finally:
        for name in names:
            await client.drop_database(name)
        await client.close()


@pytest.fixture
async def settings() -> Settings:
    prefix = f"itest{secrets.token_hex(3)}."
    settings = Settings(topic_prefix=prefix, consumer_max_attempts=1, consumer_concurrency=8)
    await ensure_topics(
        settings.kafka_bootstrap,
        partitions=1,
        topics=[prefix + TOPIC, prefix + dead_letter_topic(TOPIC)],
        prefix=prefix,
    )
    return settings


def enrolled(learner: str) -> Any:
    enrolment = Enrolment(
        id=f"enrolment-{learner}",
        standard_code=123,
        start_date=date(2024, 9, 2),
        planned_end_date=date(2025, 9, 30),
        employer=EmployerRef(ern="123456789", name="Acme Ltd"),
        weekly_hours=37.5,
        planned_otj_hours=300,
    )
    snapshot = LearnerSnapshot(
        id=learner,
        given_names="Ann",
        family_name="Smith",
        email="ann@example.org",
        date_of_birth=date(2000, 1, 31),
        uln="9276308686",
        address=Address(lines=["1 High Street", "Leeds"], postcode="LS1 4AP"),
        group="cohort-a",
        enrolments=[enrolment],
    )
    payload = LearnerUpdated(change="enrolled", learner=snapshot, enrolment_id=enrolment.id)
    return new_event(payload, tenant=TENANT, subject=learner, actor="admin-1")


def moved(learner: str, n: int) -> Any:
    tracker = TrackerProcessed(
        tracker_id=f"{learner}-T{n}",
        learner_id=learner,
        tracker_type="change_of_address",
        changes={"address": {"lines": [f"{n} Park Row", "Leeds"], "postcode": POSTCODES[n]}},
        processed_by="admin-1",
        processor_roles=["admin"],
        raised_by=learner,
        learner_led=True,
    )
    return new_event(tracker, tenant=TENANT, subject=learner, actor="admin-1")


async def publish(settings: Settings, events: list[Any], poison_after: int | None = None) -> None:
    """Publish ``events`` in order; with ``poison_after``, a record of the first event's key
    whose body does not parse after that many events."""
    broker = create_broker(settings, client_id="itest-producer")
    await broker.start()
    try:
        for n, event in enumerate(events):
            if n == poison_after:
                await publish_poison(settings, event)
            await publish_event(broker, event, settings.topic_prefix)
    finally:
        await broker.stop()


async def publish_poison(settings: Settings, like: Any) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        _, headers, _ = to_wire(like)
        headers["ce_id"] = "poison-1"
        await producer.send_and_wait(
            settings.topic_prefix + TOPIC,
            b"{not json",
            key=partition_key(TENANT, like.data.learner_id).encode(),
            headers=[(k, v.encode()) for k, v in headers.items()],
        )
    finally:
        await producer.stop()


async def consume_until(
    settings: Settings, ilr: Ilr, done: Any, group_id: str | None = None
) -> None:
    """Run the ILR service's consumer group (chain handler included) until ``done()``."""
    broker = create_broker(settings, client_id="itest-ilr")
    kind = EventType.TRACKER_PROCESSED
    group = ConsumerGroup(
        topic=TOPIC,
        group_id=group_id or f"{settings.topic_prefix}ilr",
        handlers={kind: ilr.service.on_tracker_processed},
        settings=settings,
        broker=broker,
        chain_handlers={kind: ilr.service.on_tracker_processed_chain},
    )
    group.subscribe()
    await broker.start()
    try:
        await eventually_async(done)
        await group.commits.flush()
    finally:
        await broker.stop()
        await group.commits.close()


async def dead_lettered_ids(settings: Settings) -> list[str]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        dlt = TopicPartition(settings.topic_prefix + dead_letter_topic(TOPIC), 0)
        consumer.assign([dlt])
        batches = await consumer.getmany(timeout_ms=2000)
        return [dict(r.headers)["ce_id"].decode() for r in batches.get(dlt, [])]
    finally:
        await consumer.stop()


async def test_a_learners_trackers_in_a_batch_are_one_write_and_equal_one_by_one(
    databases: tuple[Ilr, Ilr], settings: Settings
) -> None:
    consumed, one_by_one = databases
    for ilr in databases:
        await ilr.enrol("L1")
        await ilr.enrol("L2")
    events = [moved("L1", n) for n in range(5)] + [moved("L2", n) for n in range(2)]
    await publish(settings, events)
    before = consumed.writes_of("L1")

    async def all_applied() -> bool:
        return (await consumed.state("L1"))[0] == 6 and (await consumed.state("L2"))[0] == 3

    await consume_until(settings, consumed, all_applied)
    for event in events:
        await one_by_one.service.on_tracker_processed(event)

    assert consumed.writes_of("L1") == before + 1
    assert await consumed.state("L1") == await one_by_one.state("L1")
    assert (await consumed.state("L1"))[2][-5:] == [(2 + n, f"L1-T{n}") for n in range(5)]
    assert await consumed.state("L2") == await one_by_one.state("L2")

    # Read again from the start (a crash before any commit): nothing changes, nothing written.
    writes = consumed.writes_of("L1"), consumed.writes_of("L2")
    state = await consumed.state("L1")
    again = f"{settings.topic_prefix}again"
    await consume_until(settings, consumed, lambda: _is(committed(settings, again), 7), again)
    assert await consumed.state("L1") == state
    assert (consumed.writes_of("L1"), consumed.writes_of("L2")) == writes


async def test_a_poison_record_among_a_learners_trackers_is_dead_lettered_alone(
    databases: tuple[Ilr, Ilr], settings: Settings
) -> None:
    consumed, _ = databases
    await consumed.enrol("L1")
    await publish(settings, [moved("L1", n) for n in range(4)], poison_after=2)

    async def applied() -> bool:
        return (await consumed.state("L1"))[0] == 5

    await consume_until(settings, consumed, applied)
    assert (await consumed.state("L1"))[2][-4:] == [(2 + n, f"L1-T{n}") for n in range(4)]
    assert await dead_lettered_ids(settings) == ["poison-1"]


async def committed(settings: Settings, group_id: str) -> int | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    meta = found.get(TopicPartition(settings.topic_prefix + TOPIC, 0))
    return meta.offset if meta is not None and meta.offset >= 0 else None


async def _is(value: Awaitable[Any], expected: Any) -> bool:
    return await value == expected
