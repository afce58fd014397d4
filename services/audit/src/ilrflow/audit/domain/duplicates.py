"""Deciding what a delivery is: new, a duplicate of an event already stored, or a re-read.

Kafka delivers at least once and producers may retry, so the same event id can arrive again at
a new offset. The audit log stores every record (it is a log of what the broker carried) but
flags such a record as a duplicate of the first one. A record at coordinates already stored is a
re-read after a crash before the offset commit, and is not stored twice.

Duplicates are judged within one topic: a dead letter carries its original's event id on purpose,
and is not a duplicate of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple

from ilrflow.audit.domain.records import AuditEntry, RecordCoordinates

DeliveryKind = Literal["new", "duplicate", "already_stored"]


class DeliveryDecision(NamedTuple):
    kind: DeliveryKind
    duplicate_of: str | None = None

    @property
    def should_store(self) -> bool:
        return self.kind != "already_stored"


def decide_delivery(
    entry: AuditEntry, stored_with_same_event_id: Iterable[RecordCoordinates]
) -> DeliveryDecision:
    """Classify ``entry`` given the coordinates of stored entries carrying its topic and event id."""
    if entry.event_id is None:
        return DeliveryDecision("new")  # unidentifiable records cannot be duplicates
    earlier = sorted(c for c in stored_with_same_event_id if c.topic == entry.topic)
    if entry.coordinates in earlier:
        return DeliveryDecision("already_stored")
    if earlier:
        return DeliveryDecision("duplicate", earlier[0].entry_id)
    return DeliveryDecision("new")


def with_delivery(entry: AuditEntry, decision: DeliveryDecision) -> AuditEntry:
    """The entry to store: flagged when it duplicates an earlier delivery. Call before chaining."""
    return entry.model_copy(update={"duplicate_of": decision.duplicate_of})
