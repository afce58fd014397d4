"""Factories for audit unit tests: real wire records made with the shared contract. This folder
goes on ``sys.path`` so the tests can share ``audit_fakes`` (the suite runs with
``--import-mode=importlib``, which does not)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ilrflow.audit.domain import AuditEntry, chain, entry_from_record
from ilrflow.contracts.events import (
    Envelope,
    Payload,
    TrackerProcessed,
    TrackerRaised,
    new_event,
    to_wire,
)

sys.path.insert(0, str(Path(__file__).parent))

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def raised(tracker_id: str = "T1", learner_id: str = "L1") -> TrackerRaised:
    return TrackerRaised(
        tracker_id=tracker_id,
        learner_id=learner_id,
        tracker_type="change_of_address",
        changes={"address": {"lines": ["1 High St"], "postcode": "AB1 2CD"}},
        raised_by=learner_id,
        raised_by_roles=["learner"],
    )


def processed(tracker_id: str = "T1", learner_id: str = "L1") -> TrackerProcessed:
    return TrackerProcessed(
        tracker_id=tracker_id,
        learner_id=learner_id,
        tracker_type="change_of_address",
        changes={},
        processed_by="A1",
        processor_roles=["admin"],
        raised_by=learner_id,
        learner_led=True,
    )


def event_of(data: Payload, time: datetime = T0, **overrides: Any) -> Envelope[Any]:
    learner_id = getattr(data, "learner_id", "L1")
    event = new_event(data, tenant="acme", subject=learner_id, actor="A1", correlation_id="C1")
    return event.model_copy(update={"time": time, **overrides})


RecordFactory = Callable[..., AuditEntry]


@pytest.fixture
def record_entry() -> RecordFactory:
    """An entry made from a shared-contract event, as the consumer would see it."""

    def make(
        data: Payload | None = None,
        *,
        topic: str | None = None,
        partition: int = 0,
        offset: int = 0,
        time: datetime = T0,
        **overrides: Any,
    ) -> AuditEntry:
        event = event_of(data or raised(), time, **overrides)
        key, headers, value = to_wire(event)
        timestamp_ms = int(time.timestamp() * 1000)
        return entry_from_record(
            topic or event.topic, partition, offset, key, headers, value, timestamp_ms
        )

    return make


@pytest.fixture
def partition_chain(record_entry: RecordFactory) -> Callable[[int], list[AuditEntry]]:
    """A chained partition of ``n`` entries at offsets 0..n-1."""

    def make(n: int) -> list[AuditEntry]:
        entries = [record_entry(raised(f"T{i}"), offset=i) for i in range(n)]
        return chain(entries)

    return make
