"""Retention on the real broker: topics get the retention their readers need (existing ones are
altered), and a projection rebuild refuses when the history it reads is gone, or, with
``--from-available``, builds from what is left and says so. Kafka and FerretDB only: the five
services are not needed, so this runs without the ``stack`` fixture."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import GroupCoordinatorNotAvailableError
from pymongo import MongoClient
from typer.testing import CliRunner

from ilrflow.contracts.events import LearnerSnapshot, LearnerUpdated, Topics, new_event
from ilrflow.ops import app
from ilrflow.ops.common import EXIT_FAILED
from ilrflow.platform.kafka import ensure_topics
from ilrflow.platform.settings import Settings
from ilrflow.tracker.adapters.projections import LEARNERS
from tests.conftest import eventually
from tests.e2e.helpers import produce, run, wire_record

pytestmark = pytest.mark.e2e

runner = CliRunner()
T = TypeVar("T")
SEGMENT_BYTES = "1048576"  # the smallest segment the broker allows


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    run_id = secrets.token_hex(3)
    env = {
        "ILRFLOW_KAFKA_BOOTSTRAP": os.environ.get("ILRFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        "ILRFLOW_MONGO_URL": os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/"),
        "ILRFLOW_DB_PREFIX": f"retention{run_id}",
        "ILRFLOW_TOPIC_PREFIX": f"retention{run_id}.",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s = Settings(
        kafka_bootstrap=env["ILRFLOW_KAFKA_BOOTSTRAP"],
        mongo_url=env["ILRFLOW_MONGO_URL"],
        db_prefix=env["ILRFLOW_DB_PREFIX"],
        topic_prefix=env["ILRFLOW_TOPIC_PREFIX"],
    )
    yield s
    run(_delete_topics(s))
    with MongoClient(s.mongo_url) as client:
        client.drop_database(s.database_name("tracker"))


async def _delete_topics(s: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith(s.topic_prefix)]
        await admin.delete_topics(ours)
    finally:
        await admin.close()


async def _admin_call(s: Settings, call: Callable[[AIOKafkaAdminClient], Awaitable[T]]) -> T:
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
    await admin.start()
    try:
        return await call(admin)
    finally:
        await admin.close()


def _configs(s: Settings, topic: str) -> dict[str, str]:
    async def describe(admin: AIOKafkaAdminClient) -> dict[str, str]:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        return {e[0]: e[1] for e in response.resources[0][4]}

    return run(_admin_call(s, describe))


def _old_topic_with_small_segments(s: Settings, topic: str) -> None:
    """A topic as an earlier release created it: the broker's retention, small segments."""

    async def create(admin: AIOKafkaAdminClient) -> None:
        await admin.create_topics(
            [NewTopic(topic, 1, 1, topic_configs={"segment.bytes": SEGMENT_BYTES})]
        )

    run(_admin_call(s, create))


def _learner_events(s: Settings, count: int) -> None:
    records = []
    for n in range(count):
        learner = LearnerSnapshot(id=f"L{n}", given_names=f"Given{n}", family_name="Family")
        event = new_event(
            LearnerUpdated(change="created", learner=learner),
            tenant="retention-tenant",
            subject=learner.id,
            actor="admin-1",
        )
        records.append(wire_record(event))
    run(produce(s.kafka_bootstrap, records))


def _delete_records_before(s: Settings, topic: str, offset: int) -> None:
    """What retention does to old segments: the partition now starts at ``offset``."""

    async def delete(admin: AIOKafkaAdminClient) -> None:
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(offset)})

    run(_admin_call(s, delete))


def _group_coordinator_ready(s: Settings) -> None:
    """On a broker no consumer group has used yet, the offsets topic is created on the first
    coordinator lookup and lookups fail until it exists; the rebuild reads the live group's
    offsets, which a stack that has run its services always has."""

    async def lookup(admin: AIOKafkaAdminClient) -> bool:
        try:
            await admin.find_coordinator(f"{s.db_prefix}.probe")
        except GroupCoordinatorNotAvailableError:
            return False
        return True

    eventually(lambda: run(_admin_call(s, lookup)), timeout=30)


def _learner_ids(s: Settings) -> list[str]:
    with MongoClient(s.mongo_url) as client:
        collection = client[s.database_name("tracker")][LEARNERS]
        return sorted(d["_id"].split(":")[1] for d in collection.find())


def test_topics_are_kept_for_ever_and_a_rebuild_refuses_a_partial_history(
    settings: Settings,
) -> None:
    s = settings
    topic = s.topic_prefix + Topics.LEARNER_UPDATED
    _old_topic_with_small_segments(s, topic)
    assert _configs(s, topic)["retention.ms"] == "604800000"  # the broker's 7 days

    dead_letters = s.topic_prefix + Topics.LEARNER_UPDATED + ".dlt"
    state = s.topic_prefix + Topics.ILR_STATE
    run(ensure_topics(s.kafka_bootstrap, 1, [topic, dead_letters, state], prefix=s.topic_prefix))
    altered = _configs(s, topic)
    assert (altered["retention.ms"], altered["retention.bytes"]) == ("-1", "-1")
    assert altered["segment.bytes"] == SEGMENT_BYTES  # the topic's own settings are kept
    assert _configs(s, dead_letters)["retention.ms"] == str(30 * 24 * 3600 * 1000)
    assert _configs(s, state)["cleanup.policy"] == "compact"

    _group_coordinator_ready(s)
    _learner_events(s, 6)
    _delete_records_before(s, topic, 2)

    refused = runner.invoke(app, ["projections", "rebuild", "tracker", "learners"])
    assert refused.exit_code == EXIT_FAILED, refused.output
    assert "gone before offset 2 of partition 0" in refused.output
    assert "--from-available" in refused.output
    assert _learner_ids(s) == []  # nothing was built or swapped in

    built = runner.invoke(
        app,
        ["projections", "rebuild", "tracker", "learners", "--from-available", "--json"],
    )
    assert built.exit_code == 0, built.output
    report = json.loads(built.stdout)
    assert report["history_gone_before"] == {"0": 2}
    assert report["applied"] == 4
    assert _learner_ids(s) == ["L2", "L3", "L4", "L5"]

    said = runner.invoke(app, ["projections", "rebuild", "tracker", "learners", "--from-available"])
    assert said.exit_code == 0, said.output
    assert "built from the records still available" in said.output
