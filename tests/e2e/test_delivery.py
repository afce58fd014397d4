"""Delivery guarantees on the real broker: poison goes to the dead-letter topic and the partition
keeps flowing; an event delivered twice has one effect."""

from __future__ import annotations

import pytest

from ilrflow.contracts.events import TrackerProcessed, new_event, partition_key
from tests.conftest import Stack, eventually
from tests.e2e.helpers import (
    enrolled_learner,
    every_item,
    produce,
    read_topic,
    run,
    tenant_with_staff,
    wire_record,
)

pytestmark = pytest.mark.e2e

CONSUMERS_OF_TRACKER_PROCESSED = ("learner", "ilr", "notify")


def processed(tenant: str, learner_id: str, tracker_id: str, changes: dict) -> object:  # type: ignore[type-arg]
    return new_event(
        TrackerProcessed(
            tracker_id=tracker_id,
            learner_id=learner_id,
            tracker_type="change_of_contact_details",
            changes=changes,
            processed_by="admin-1",
            processor_roles=["admin"],
            raised_by=learner_id,
            learner_led=True,
        ),
        tenant=tenant,
        subject=learner_id,
        actor="admin-1",
        correlation_id=tracker_id,
    )


def test_poison_is_dead_lettered_and_the_partition_keeps_flowing(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    learner_id = enrolled_learner(tenant)
    key = partition_key(tenant.name, learner_id).encode()
    ce = {
        "ce_id": b"p-1",
        "ce_source": b"test",
        "ce_time": b"2026-01-01T00:00:00Z",
        "ce_subject": learner_id.encode(),
        "ce_tenant": tenant.name.encode(),
    }
    poison = [
        ("tracker-processed", key, {}, b"\x00\xffrandom bytes"),
        ("tracker-processed", key, {**ce, "ce_type": b"ilrflow.unheard.of.v1"}, b"{}"),
        (
            "tracker-processed",
            key,
            {**ce, "ce_type": b"ilrflow.tracker.processed.v1"},
            b'{"wrong": "schema"}',
        ),
    ]
    good = processed(tenant.name, learner_id, "T-after-poison", {"email": "after@example.org"})
    # Same key, so the same partition: the good event waits behind the poison.
    run(produce(stack.settings.kafka_bootstrap, [*poison, wire_record(good)]))  # type: ignore[arg-type]

    with tenant.admin("ilr") as ilr:

        def applied() -> dict:  # type: ignore[type-arg]
            current = ilr.get(f"/v1/learners/{learner_id}/ilr").json()
            return current if current["learner"].get("Email") == "after@example.org" else {}

        assert eventually(applied)["version"] == 2

    def all_dead_lettered() -> list:  # type: ignore[type-arg]
        dead = run(read_topic(stack.settings.kafka_bootstrap, "tracker-processed.dlt", key))
        groups = {h[1].decode() for r in dead for h in r.headers if h[0] == "dlt_consumer_group"}
        wanted = {
            f"{stack.settings.db_prefix}.{s}.tracker-processed"
            for s in CONSUMERS_OF_TRACKER_PROCESSED
        }
        return dead if groups >= wanted and len(dead) >= 3 * len(wanted) else []

    dead = eventually(all_dead_lettered)
    reasons = {dict(r.headers)["dlt_reason"].decode() for r in dead}
    assert any("missing headers" in r for r in reasons)
    assert any("unknown event type 'ilrflow.unheard.of.v1'" in r for r in reasons)
    assert any("payload does not match ilrflow.tracker.processed.v1" in r for r in reasons)
    for record in dead:
        headers = dict(record.headers)
        assert headers["dlt_original_topic"] == b"tracker-processed"
        assert int(headers["dlt_original_offset"]) >= 0
        assert record.value in {p[3] for p in poison}  # the original bytes, untouched


def test_an_event_delivered_twice_has_one_effect(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    learner_id = enrolled_learner(tenant)
    once = processed(tenant.name, learner_id, "T-twice", {"email": "twice@example.org"})
    # Contact details always carry the email (the contract requires it); the marker keeps it.
    marker_changes = {"email": "twice@example.org", "phone": "07700900999"}
    marker = processed(tenant.name, learner_id, "T-marker", marker_changes)
    # The same record twice (as a producer retry or a replay would), then a marker behind it.
    run(
        produce(
            stack.settings.kafka_bootstrap,
            [wire_record(once), wire_record(once), wire_record(marker)],
        )
    )  # type: ignore[arg-type]

    with tenant.admin("ilr") as ilr:

        def marker_applied() -> list:  # type: ignore[type-arg]
            history = every_item(ilr, f"/v1/learners/{learner_id}/ilr/history")
            return history if any(h["tracker_id"] == "T-marker" for h in history) else []

        history = eventually(marker_applied)
    assert [h["tracker_id"] for h in history] == [None, "T-twice", "T-marker"]
    assert [h["version"] for h in history] == [1, 2, 3]

    with tenant.admin("learner") as learners:

        def learner_has_marker() -> dict:  # type: ignore[type-arg]
            record = learners.get(f"/v1/learners/{learner_id}").json()
            return record if record["phone"] == "07700900999" else {}

        assert eventually(learner_has_marker)["email"] == "twice@example.org"

    # The primary tutor was told once about T-twice (one in-app notification), not twice.
    with tenant.as_("notify", "tutor-1", "tutor", groups=["cohort-a"]) as tutor:

        def tutor_told_of_marker() -> list:  # type: ignore[type-arg]
            items = tutor.get("/v1/notifications").json()["items"]
            return items if any(n["tracker_id"] == "T-marker" for n in items) else []

        items = eventually(tutor_told_of_marker)
    assert [n["tracker_id"] for n in items].count("T-twice") == 1

    # The learner service published one learner-updated for T-twice, not two.
    key = partition_key(tenant.name, learner_id).encode()
    updates = run(read_topic(stack.settings.kafka_bootstrap, "learner-updated", key))
    caused_by_twice = [
        r for r in updates if dict(r.headers).get(b"ce_causationid".decode()) == once.id.encode()
    ]  # type: ignore[attr-defined]
    assert len(caused_by_twice) == 1
