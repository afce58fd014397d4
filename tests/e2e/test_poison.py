"""Poison on every topic: random bytes, a wrong schema, fields of the wrong type, JSON nested too
deeply to parse, an unknown event type, a missing tenant.

Each poison record is dead-lettered by every consumer group that reads its topic, with the
reason; the valid event produced behind it on the same partition is still applied; and the audit
log stores the poison, its dead letters and the valid event alike, including on the topics that
no service consumes.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import MongoClient

from ilrflow.contracts.events import (
    ApiClientChanged,
    AuditAccessed,
    AuditCheckpointSigned,
    DocumentIssued,
    Enrolment,
    Envelope,
    IlrState,
    IlrUpdated,
    LearnerSnapshot,
    LearnerUpdated,
    OtjMinimum,
    OtjMinimumsLoaded,
    Payload,
    Topics,
    TrackerAllocated,
    TrackerCancelled,
    TrackerProcessed,
    TrackerRaised,
    TrackerRejected,
    TrackerSettingsChanged,
    dead_letter_topic,
    new_event,
    partition_key,
)
from ilrflow.platform.settings import Settings
from tests.conftest import Stack, eventually
from tests.e2e.helpers import (
    ENROLMENT,
    GROUP,
    Tenant,
    enrolled_learner,
    physical,
    produce,
    read_topic,
    run,
    tenant_with_staff,
    wire_record,
)
from tests.e2e.poison import Poison, poison_for

pytestmark = pytest.mark.e2e

SERVICES_WITH_CONSUMERS = ("learner", "tracker", "ilr", "notify", "audit")
PROBE_LEARNER = "L-poison-probe"


def consumer_groups_by_topic(db_prefix: str) -> dict[str, list[str]]:
    """Which services' consumer groups read each topic, as the services declare them (the audit
    reads every topic with a pattern subscription of its own, not listed here)."""
    settings = Settings(db_prefix=db_prefix, run_consumers=False, run_relay=False)
    groups: dict[str, list[str]] = {topic: [] for topic in Topics.ALL}
    for service in SERVICES_WITH_CONSUMERS:
        app = importlib.import_module(f"ilrflow.{service}.bootstrap").create_app(settings)
        for group in app.state.runtime.consumer_groups:
            groups[group.topic].append(group.group_id)
    return groups


def valid_payload(topic: str, learner_id: str) -> Payload:
    """One event per topic whose effect is harmless to the rest of the test and, where a
    service shows it, observable."""
    tracker_id = f"T-{topic}-after-poison"
    payloads: dict[str, Payload] = {
        Topics.TRACKER_RAISED: TrackerRaised(
            tracker_id=tracker_id,
            learner_id=learner_id,
            tracker_type="change_of_name",
            changes={"given_names": "Alicia"},
            raised_by=learner_id,
            raised_by_roles=["learner"],
            allocated_to="admin-1",
        ),
        Topics.TRACKER_ALLOCATED: TrackerAllocated(
            tracker_id=tracker_id,
            learner_id=learner_id,
            tracker_type="change_of_name",
            allocated_to="admin-1",
            allocated_by="tutor-1",
        ),
        Topics.TRACKER_PROCESSED: TrackerProcessed(
            tracker_id=tracker_id,
            learner_id=learner_id,
            tracker_type="change_of_contact_details",
            changes={"email": "after-poison@example.org"},
            processed_by="admin-1",
            processor_roles=["admin"],
            raised_by=learner_id,
            learner_led=True,
        ),
        Topics.TRACKER_REJECTED: TrackerRejected(
            tracker_id=tracker_id,
            learner_id=learner_id,
            tracker_type="change_of_name",
            reason="not needed",
            rejected_by="admin-1",
            raised_by="tutor-1",
        ),
        Topics.TRACKER_CANCELLED: TrackerCancelled(
            tracker_id=tracker_id,
            learner_id=learner_id,
            tracker_type="change_of_name",
            cancelled_by="tutor-1",
            raised_by="tutor-1",
        ),
        Topics.LEARNER_UPDATED: LearnerUpdated(
            change="enrolled",
            learner=LearnerSnapshot(
                id=PROBE_LEARNER,
                given_names="Pat",
                family_name="Probe",
                group=GROUP,
                enrolments=[Enrolment.model_validate({"id": "E-probe", **ENROLMENT})],
            ),
            enrolment_id="E-probe",
        ),
        Topics.ILR_UPDATED: IlrUpdated(
            learner_id=learner_id,
            cause="qa_verification",
            version=1,
            outcome="no_ilr_change",
            reason="a probe behind poison",
        ),
        Topics.LEARNER_DOCUMENTS: DocumentIssued(
            learner_id=learner_id,
            document_id="v99",
            version=99,
            title="Training plan",
            changed_fields=[],
            tracker_id=tracker_id,
            pdf_sha256="0" * 64,
        ),
        # Version 0 never overwrites the learner's real ILR state in the tracker's projection.
        Topics.ILR_STATE: IlrState(learner_id=learner_id, version=0, qa_verified=False, learner={}),
        # Loaded "in 2000": never replaces a table the tracker's projection already holds.
        Topics.REFERENCE_DATA: OtjMinimumsLoaded(
            source="a probe behind poison",
            loaded_at=datetime(2000, 1, 1, tzinfo=UTC),
            loaded_by="poison-test",
            minimums=[OtjMinimum(std_code=99999, minimum_otj_hours=0)],
        ),
        Topics.AUDIT_ACCESS: AuditAccessed(
            action="search", accessed_by="support-1", accessed_by_roles=["support"], results=0
        ),
        # A checkpoint of a chain no one has: nothing consumes the topic but the audit log.
        Topics.AUDIT_CHECKPOINTS: AuditCheckpointSigned(
            topic="poison-probe",
            partition=0,
            offset=0,
            head_hash="0" * 64,
            signed_at=datetime(2000, 1, 1, tzinfo=UTC),
            key_id="0" * 16,
            signature="",
        ),
        # A client no one uses: the learner service publishes the topic for the audit log alone.
        Topics.API_CLIENTS: ApiClientChanged(
            client_id="cli_poison_probe", name="a probe behind poison", scopes=[], change="created"
        ),
        # A settings change of a tenant that does not exist: the audit log alone reads it.
        Topics.TENANT_SETTINGS: TrackerSettingsChanged(version=1, changes=[], settings={}),
    }
    assert set(payloads) == set(Topics.ALL), "a topic without a valid event in this test"
    return payloads[topic]


@dataclass
class Produced:
    topic: str
    poison: list[Poison]
    valid: Envelope[Any]
    partition: int
    valid_offset: int


@dataclass
class World:
    stack: Stack
    tenant: Tenant
    learner_id: str
    key: bytes
    groups: dict[str, list[str]]
    produced: dict[str, Produced]


@pytest.fixture(scope="module")
def world(stack: Stack) -> World:
    tenant = tenant_with_staff(stack)
    learner_id = enrolled_learner(tenant)
    key = partition_key(tenant.name, learner_id).encode()
    produced = {}
    for topic in Topics.ALL:
        valid = new_event(
            valid_payload(topic, learner_id),
            tenant=tenant.name,
            subject=learner_id,
            actor="poison-test",
        )
        poison = poison_for(topic, valid, key)
        # Same key, so the same partition: the valid event waits behind every poison record.
        written = run(
            produce(
                stack.settings.kafka_bootstrap, [*(p.record for p in poison), wire_record(valid)]
            )
        )
        assert len({partition for partition, _ in written}) == 1
        for item, (_, offset) in zip(poison, written[:-1], strict=True):
            item.offset = offset
        produced[topic] = Produced(
            topic=topic,
            poison=poison,
            valid=valid,
            partition=written[-1][0],
            valid_offset=written[-1][1],
        )
    return World(
        stack, tenant, learner_id, key, consumer_groups_by_topic(stack.settings.db_prefix), produced
    )


def test_topics_without_consumers_are_known(world: World) -> None:
    unconsumed = sorted(topic for topic, groups in world.groups.items() if not groups)
    # api-clients, audit-access, audit-checkpoints and tenant-settings are for the audit alone
    # (which stores every topic, and is checked below) and for whoever keeps checkpoints outside.
    assert unconsumed == [
        Topics.API_CLIENTS,
        Topics.AUDIT_ACCESS,
        Topics.AUDIT_CHECKPOINTS,
        Topics.TENANT_SETTINGS,
    ]


@pytest.mark.parametrize("topic", Topics.ALL)
def test_poison_is_dead_lettered_by_every_group_with_its_reason(world: World, topic: str) -> None:
    produced = world.produced[topic]
    wanted_groups = world.groups[topic]

    def dead_letters_by_group() -> dict[str, list[Any]]:
        dead = run(
            read_topic(world.stack.settings.kafka_bootstrap, dead_letter_topic(topic), world.key)
        )
        by_group: dict[str, list[Any]] = defaultdict(list)
        for record in dead:
            by_group[dict(record.headers)["dlt_consumer_group"].decode()].append(record)
        complete = all(len(by_group[g]) >= len(produced.poison) for g in wanted_groups)
        return by_group if complete else {}

    by_group = eventually(dead_letters_by_group) if wanted_groups else dead_letters_by_group()
    assert sorted(by_group) == sorted(wanted_groups)
    poison_at = {p.offset: p for p in produced.poison}
    for group, records in by_group.items():
        offsets = sorted(int(dict(r.headers)["dlt_original_offset"]) for r in records)
        assert offsets == sorted(poison_at), f"{group}: exactly one dead letter per poison"
        for record in records:
            headers = dict(record.headers)
            offset = int(headers["dlt_original_offset"])
            assert headers["dlt_original_topic"] == topic.encode()
            assert int(headers["dlt_original_partition"]) == produced.partition
            assert poison_at[offset].reason in headers["dlt_reason"].decode(), headers["dlt_reason"]
            assert headers["dlt_error_class"] == b"PermanentError"
            assert record.value == poison_at[offset].record[3]  # the original bytes, untouched


@pytest.mark.parametrize("topic", Topics.ALL)
def test_every_group_moves_past_the_poison_and_applies_the_event_behind_it(
    world: World, topic: str
) -> None:
    produced = world.produced[topic]
    tp_name = physical(topic)

    def committed() -> dict[str, int]:
        offsets = run(_committed_offsets(world.stack.settings.kafka_bootstrap, world.groups[topic]))
        by_group = {g: o.get((tp_name, produced.partition), -1) for g, o in offsets.items()}
        # A committed offset is the next record to read: past the valid event means applied.
        return by_group if all(o > produced.valid_offset for o in by_group.values()) else {}

    if world.groups[topic]:
        eventually(committed)
    EFFECTS.get(topic, lambda _: None)(world)


async def _committed_offsets(
    bootstrap: str, groups: list[str]
) -> dict[str, dict[tuple[str, int], int]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        found = {}
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            found[group] = {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
        return found
    finally:
        await admin.close()


# --- the effect of the valid event, where a service shows it ----------------------------------


def _notified(world: World, recipient: str, roles: tuple[str, ...], topic: str) -> None:
    tracker_id = world.produced[topic].valid.data.tracker_id
    with world.tenant.as_("notify", recipient, *roles, groups=[GROUP]) as http:
        eventually(
            lambda: any(
                n["tracker_id"] == tracker_id for n in http.get("/v1/notifications").json()["items"]
            )
        )


def _processed_applied(world: World) -> None:
    with world.tenant.admin("ilr") as ilr:
        eventually(
            lambda: (
                ilr.get(f"/v1/learners/{world.learner_id}/ilr").json()["learner"].get("Email")
                == "after-poison@example.org"
            )
        )
    with world.tenant.admin("learner") as learners:
        eventually(
            lambda: (
                learners.get(f"/v1/learners/{world.learner_id}").json()["email"]
                == "after-poison@example.org"
            )
        )
    _notified(world, "tutor-1", ("tutor",), Topics.TRACKER_PROCESSED)


def _probe_learner_enrolled(world: World) -> None:
    with world.tenant.admin("ilr") as ilr:
        eventually(lambda: ilr.get(f"/v1/learners/{PROBE_LEARNER}/ilr").status_code == 200)
    # 404 while the tracker service's projection does not know the learner; then the next check
    # (the type is not enabled in this tenant) refuses it.
    probe = {"type": "change_of_name", "learner_id": PROBE_LEARNER, "changes": {}}
    with world.tenant.admin("tracker") as http:
        eventually(lambda: http.post("/v1/trackers", json=probe).status_code != 404)


EFFECTS: dict[str, Callable[[World], None]] = {
    Topics.TRACKER_RAISED: lambda w: _notified(w, "admin-1", ("admin",), Topics.TRACKER_RAISED),
    Topics.TRACKER_ALLOCATED: lambda w: _notified(
        w, "admin-1", ("admin",), Topics.TRACKER_ALLOCATED
    ),
    Topics.TRACKER_PROCESSED: _processed_applied,
    Topics.TRACKER_REJECTED: lambda w: _notified(w, "tutor-1", ("tutor",), Topics.TRACKER_REJECTED),
    Topics.LEARNER_UPDATED: _probe_learner_enrolled,
}


# --- the audit log -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def audit_entries(stack: Stack) -> Iterator[Any]:
    """The audit service's own collection: poison without a tenant is read by no tenant."""
    client: MongoClient[dict[str, Any]] = MongoClient(stack.settings.mongo_url)
    try:
        yield client[f"{stack.settings.db_prefix}_audit"]["audit_entries"]
    finally:
        client.close()


@pytest.mark.parametrize("topic", Topics.ALL)
def test_the_audit_log_stores_poison_dead_letters_and_the_valid_event(
    world: World, audit_entries: Any, topic: str
) -> None:
    produced = world.produced[topic]

    def entry(entry_topic: str, offset: int, partition: int | None = None) -> dict[str, Any]:
        entry_id = (
            f"{entry_topic}:{produced.partition if partition is None else partition}:{offset}"
        )
        return eventually(lambda: audit_entries.find_one({"_id": entry_id}), timeout=90)  # type: ignore[no-any-return]

    for poison in produced.poison:
        stored = entry(topic, poison.offset)
        assert any(poison.reason in problem for problem in stored["problems"]), stored["problems"]
    valid = entry(topic, produced.valid_offset)
    assert valid["event_id"] == produced.valid.id
    assert valid["problems"] == []

    dead = run(
        read_topic(world.stack.settings.kafka_bootstrap, dead_letter_topic(topic), world.key)
    )
    for record in dead:
        stored = entry(dead_letter_topic(topic), record.offset, record.partition)
        assert stored["dead_letter"]["reason"] == dict(record.headers)["dlt_reason"].decode()

    # What support staff see: the tenant's poison and its dead letters, with the reason.
    with world.tenant.as_("audit", "support-1", "support") as http:
        for poison in produced.poison:
            if poison.kind not in {"wrong-schema", "wrong-types", "deeply-nested", "unknown-type"}:
                continue  # no ce_tenant: no tenant may read it; the operator CLI shows it
            shown = http.get(f"/v1/audit/events/{topic}:{produced.partition}:{poison.offset}")
            assert shown.status_code == 200, shown.text
            assert any(poison.reason in p for p in shown.json()["problems"])
        for record in dead:
            if dict(record.headers).get("ce_tenant") == world.tenant.name.encode():
                shown = http.get(
                    f"/v1/audit/events/{dead_letter_topic(topic)}:{record.partition}:{record.offset}"
                )
                assert shown.status_code == 200, shown.text
                assert shown.json()["dead_letter"]["reason"]
