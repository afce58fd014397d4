"""Shared steps for the end-to-end tests: a tenant with staff and tracker types, an enrolled
learner the tracker service knows, raw Kafka. The staff, learner and enrolment are the workload's
(``deploy/local/workload.py``), so the fault run and the benchmark set up a tenant the same way."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from workload import ENROLMENT, GROUP, LEARNER, STAFF, tracker_probe

from ilrflow.contracts.events import Envelope, to_wire
from ilrflow.platform.paging import MAX_PAGE_SIZE
from tests.conftest import REPO, Stack, eventually, new_tenant


@dataclass
class Tenant:
    stack: Stack
    name: str

    def admin(self, service: str) -> httpx.Client:
        return self.stack.client(service, self.name, "admin-1", "admin", groups=[GROUP])

    def as_(
        self, service: str, sub: str, *roles: str, groups: list[str] | None = None
    ) -> httpx.Client:
        return self.stack.client(service, self.name, sub, *roles, groups=groups)


def tenant_with_staff(stack: Stack) -> Tenant:
    tenant = Tenant(stack, new_tenant())
    with tenant.admin("learner") as http:
        for staff in STAFF:
            assert http.post("/v1/staff", json=staff).status_code == 201
    return tenant


BUILT_IN_TYPES = (
    "change_of_name",
    "change_of_address",
    "change_of_contact_details",
    "break_in_learning",
    "return_to_learning",
    "change_of_employer",
    "change_of_working_hours",
    "change_of_employment_status",
    "change_of_programme",
    "withdrawal",
    "correction",
    "completion",
    "epa_result",
    "restart_after_withdrawal",
)


def configure_trackers(
    tenant: Tenant,
    *,
    custom: Mapping[str, dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
) -> None:
    """Every built-in tracker type on, the given custom types defined, the tenant's tracker
    settings (allocation rules, withdrawal reasons) set."""
    with tenant.admin("tracker") as http:
        for tracker_type in BUILT_IN_TYPES:
            enabled = http.put(f"/v1/tracker-types/{tracker_type}", json={"enabled": True})
            assert enabled.status_code == 200, enabled.text
        for tracker_type, definition in (custom or {}).items():
            defined = http.put(f"/v1/tracker-types/{tracker_type}", json=definition)
            assert defined.status_code == 200, defined.text
        if settings is not None:
            stored = http.put("/v1/tracker-settings", json=settings)
            assert stored.status_code == 200, stored.text


def enrolled_learner(tenant: Tenant, **overrides: Any) -> str:
    """Create and enrol a learner; return its id once its ILR exists (version 1)."""
    with tenant.admin("learner") as http:
        created = http.post("/v1/learners", json={**LEARNER, **overrides})
        assert created.status_code == 201, created.text
        learner_id: str = created.json()["id"]
        assert http.post(f"/v1/learners/{learner_id}/enrolments", json=ENROLMENT).status_code == 201
    with tenant.admin("ilr") as ilr:
        eventually(lambda: ilr.get(f"/v1/learners/{learner_id}/ilr").status_code == 200)
    return learner_id


def every_learner(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """``GET /v1/learners`` with ``params``, every page of it."""
    return every_item(http, "/v1/learners", **params)


def every_item(http: httpx.Client, path: str, **params: Any) -> list[Any]:
    """``GET path`` with ``params``, every page of the list, following ``next_cursor``."""
    items: list[Any] = []
    query = {"limit": MAX_PAGE_SIZE, **params}
    while True:
        response = http.get(path, params=query)
        assert response.status_code == 200, response.text
        items.extend(response.json()["items"])
        if response.json()["next_cursor"] is None:
            return items
        query["cursor"] = response.json()["next_cursor"]


def known_learner(tenant: Tenant, **overrides: Any) -> str:
    """An enrolled learner that the tracker service's projections already know."""
    learner_id = enrolled_learner(tenant, **overrides)
    with tenant.admin("tracker") as http:
        eventually(
            lambda: http.post("/v1/trackers", json=tracker_probe(learner_id)).status_code == 422
        )
    return learner_id


def physical(topic: str) -> str:
    """The broker's name for a topic in this test run (the stack fixture sets the prefix)."""
    return os.environ.get("ILRFLOW_TOPIC_PREFIX", "") + topic


async def produce(
    bootstrap: str, records: list[tuple[str, bytes | None, dict[str, bytes], bytes | None]]
) -> list[tuple[int, int]]:
    """Publish raw (topic, key, headers, value) records in order, as any client could; return
    each one's (partition, offset). Topic names are the logical ones (``tracker-processed``);
    the run's prefix is added here."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        written = []
        for topic, key, headers, value in records:
            metadata = await producer.send_and_wait(
                physical(topic), value, key=key, headers=list(headers.items())
            )
            written.append((metadata.partition, metadata.offset))
        return written
    finally:
        await producer.stop()


def wire_record(event: Envelope[Any]) -> tuple[str, bytes, dict[str, bytes], bytes]:
    key, headers, value = to_wire(event)
    return event.topic, key, {k: v.encode() for k, v in headers.items()}, value


async def read_topic(bootstrap: str, topic: str, key: bytes) -> list[Any]:
    """Every record with this key on every partition of the (logical) topic, from the start."""
    topic = physical(topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        found = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            batches = await consumer.getmany(timeout_ms=500)
            found.extend(r for records in batches.values() for r in records if r.key == key)
        return found
    finally:
        await consumer.stop()


def run(coroutine: Any) -> Any:
    return asyncio.new_event_loop().run_until_complete(coroutine)


def downstream_example() -> ModuleType:
    """docs/examples/downstream_consumer.py, loaded as a module (it is not a package)."""
    path = REPO / "docs" / "examples" / "downstream_consumer.py"
    spec = importlib.util.spec_from_file_location("downstream_consumer", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module
