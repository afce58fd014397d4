"""docs/examples/downstream_consumer.py record by record, without Kafka: every poison record the
poison suite sends on ilr-state and ilr-updated is skipped with a reason, and the valid records
around them are still applied."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from ilrflow.contracts.events import IlrState, IlrUpdated, PatchOperation, Topics, new_event
from tests.e2e.helpers import downstream_example, wire_record
from tests.e2e.poison import poison_for

TENANT = "t-example"
LEARNER = "L-1"
KEY = f"{TENANT}:{LEARNER}".encode()
example = downstream_example()


def message(record: tuple[str, bytes, dict[str, bytes], bytes], offset: int) -> Any:
    topic, key, headers, value = record
    return SimpleNamespace(
        topic=topic, partition=0, offset=offset, key=key, headers=list(headers.items()), value=value
    )


def state(version: int, learner: dict[str, Any]) -> Any:
    payload = IlrState(
        learner_id=LEARNER, tenant=TENANT, version=version, qa_verified=False, learner=learner
    )
    return new_event(payload, tenant=TENANT, subject=LEARNER, actor="test")


def update(version: int, patch: list[dict[str, Any]]) -> Any:
    payload = IlrUpdated(
        learner_id=LEARNER,
        tenant=TENANT,
        cause="tracker",
        version=version,
        outcome="applied",
        reason="a change",
        patch=[PatchOperation.model_validate(op) for op in patch],
    )
    return new_event(payload, tenant=TENANT, subject=LEARNER, actor="test")


@pytest.fixture
def mirror() -> Any:
    mirror = example.IlrMirror("127.0.0.1:1", tenant=TENANT)
    mirror.refetched = []

    async def refetch(key: tuple[str, str]) -> None:  # no Kafka here
        mirror.refetched.append(key)

    mirror._refetch = refetch
    return mirror


def test_every_poison_record_on_ilr_state_is_skipped_with_a_reason(mirror: Any) -> None:
    valid = state(1, {"GivenNames": "Ann"})
    poison = poison_for(Topics.ILR_STATE, state(7, {"GivenNames": "Poison"}), KEY)

    mirror._take_state(message(wire_record(valid), 0))
    for offset, item in enumerate(poison, start=1):
        assert mirror._take_state(message(item.record, offset)) is None, item.kind

    assert mirror.records[(TENANT, LEARNER)].learner == {"GivenNames": "Ann"}
    assert [s.offset for s in mirror.skipped] == list(range(1, len(poison) + 1))
    reasons = {item.kind: s.reason for item, s in zip(poison, mirror.skipped, strict=True)}
    assert reasons["deeply-nested"] == "the value is JSON nested too deeply to parse"
    assert reasons["no-tenant"] == "not a CloudEvent: missing headers ce_tenant"
    assert all(reasons.values())


def test_every_poison_record_on_ilr_updated_is_skipped_and_the_next_update_applies(
    mirror: Any,
) -> None:
    mirror._take_state(message(wire_record(state(1, {"GivenNames": "Ann"})), 0))
    poison = poison_for(Topics.ILR_UPDATED, update(2, []), KEY)
    rename = update(2, [{"op": "replace", "path": "/GivenNames", "value": "Anne"}])

    for offset, item in enumerate(poison):
        asyncio.run(mirror._take_update(message(item.record, offset)))
    asyncio.run(mirror._take_update(message(wire_record(rename), len(poison))))

    held = mirror.records[(TENANT, LEARNER)]
    assert (held.version, held.learner) == (2, {"GivenNames": "Anne"})
    assert len(mirror.skipped) == len(poison)
    assert mirror.refetched == []


def test_a_patch_that_does_not_apply_is_skipped_and_the_learner_refetched(mirror: Any) -> None:
    mirror._take_state(message(wire_record(state(1, {"GivenNames": "Ann"})), 0))
    broken = update(2, [{"op": "replace", "path": "/LearningDelivery/3/CompStatus", "value": 6}])

    asyncio.run(mirror._take_update(message(wire_record(broken), 1)))

    assert mirror.records[(TENANT, LEARNER)].version == 1
    assert "its patch does not apply" in mirror.skipped[0].reason
    assert mirror.refetched == [(TENANT, LEARNER)]


def test_other_tenants_records_are_ignored_without_a_complaint(mirror: Any) -> None:
    other = IlrState(learner_id="L-2", tenant="t-other", version=1, qa_verified=False, learner={})
    event = new_event(other, tenant="t-other", subject="L-2", actor="test")

    assert mirror._take_state(message(wire_record(event), 0)) is None
    assert mirror.skipped == []
