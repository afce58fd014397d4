"""Idempotent consumers, exact and bounded: what an aggregate has applied is recorded in the same
single-document write as the effect, so a crash at any point loses nothing and applies nothing
twice. An update filtered with ``not_yet_applied`` and carrying ``mark_applied`` matches nothing
when the event was applied before, so a redelivered event changes nothing.

Two marks on the aggregate's document say what it applied, and neither grows with its history:

- ``applied_offsets``: per source topic-partition (``<topic>:<partition>``, the logical topic, a
  lane's included, its dots written as ``/``), the offset of the last record applied. A consumer
  reads a partition in order, so a record at or below it was handled before: the redelivery of a
  record whose effect was stored but whose offset was not committed (a crash, a rebalance).
- ``recent_events``: the ids of the last ``RECENT_EVENTS`` events applied (``$push`` with
  ``$slice``). A copy of an event at a new offset has the same id: the outbox relay re-sending
  what it published just before a crash. The copy is recognised while fewer than
  ``RECENT_EVENTS`` other events were applied to the aggregate since the original. A copy so
  dropped has its own offset recorded (``copy_offset_write``: a write only for copies, which are
  rare), so the same copy read again after a crash is known by its offset however many events
  the aggregate applied meanwhile.

A re-driven dead letter is a new record at a new offset whose id the groups that dead-lettered
it never applied: they apply it. The groups that had applied the original skip the copy by its
``redrive_groups`` header (``ilrflow.platform.kafka``), however long ago that was. A tenant moved
to its own lane reads other topics: their partitions are new keys.

Documents written before keep their ``applied_events`` list (every id they ever applied); it no
longer grows and is still checked, so a stack upgraded in place re-applies nothing.

The consumer (``ilrflow.platform.kafka.ConsumerGroup``) runs each handler inside
``delivering(position)``; ``not_yet_applied``, ``mark_applied`` and ``was_applied`` use that
position. Outside a consumer (no position) only the event ids are checked.

A chain handler takes the records of one key of one partition together (``Delivered``, in
offset order) and stores the effect of all of them in one write: ``chain_filter`` holds only if
no record of the chain is applied (no offset at or above the first one's, none of their ids), and
``chain_update`` records every id and the last record's offset. The records a handler skipped as
applied stay out of the filter (they are applied) but are covered by the last offset, so a
redelivery of any record of the chain changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ilrflow.contracts.events import Envelope, Payload

OFFSETS_FIELD = "applied_offsets"
RECENT_FIELD = "recent_events"
LEGACY_FIELD = "applied_events"  # the unbounded list of documents written before; read only
MARK_FIELDS = (OFFSETS_FIELD, RECENT_FIELD, LEGACY_FIELD)
# The relay re-sends within seconds of its crash; an aggregate applies a handful of events in
# that time. 128 ids of ~36 characters keep the mark under 5 KB.
RECENT_EVENTS = 128


@dataclass(frozen=True)
class RecordPosition:
    """Where a consumed record sits: its logical topic (lane included), partition and offset."""

    topic: str
    partition: int
    offset: int

    @property
    def key(self) -> str:
        # A field name: a dot would make it a path into a sub-document.
        return f"{self.topic.replace('.', '/')}:{self.partition}"

    @property
    def field(self) -> str:
        return f"{OFFSETS_FIELD}.{self.key}"


P = TypeVar("P", bound=Payload)


@dataclass(frozen=True)
class Delivered(Generic[P]):
    """One record of a chain given to a chain handler: its event and where it sits (None
    outside a consumer)."""

    event: Envelope[P]
    position: RecordPosition | None


_delivering: ContextVar[RecordPosition | None] = ContextVar("delivering", default=None)


@contextmanager
def delivering(position: RecordPosition) -> Iterator[None]:
    """Handle the record at ``position`` inside this block (the consumer does)."""
    token = _delivering.set(position)
    try:
        yield
    finally:
        _delivering.reset(token)


def current_position() -> RecordPosition | None:
    return _delivering.get()


def applied_filter(event_id: str, position: RecordPosition | None) -> dict[str, Any]:
    """Conditions a document meets only if the event at ``position`` is not applied to it."""
    conditions: dict[str, Any] = {
        RECENT_FIELD: {"$ne": event_id},
        LEGACY_FIELD: {"$ne": event_id},
    }
    if position is not None:
        # $not also matches a missing offset: the first record of that partition.
        conditions[position.field] = {"$not": {"$gte": position.offset}}
    return conditions


def applied_update(
    event_id: str, position: RecordPosition | None, window: int = RECENT_EVENTS
) -> dict[str, Any]:
    """Update operators recording that the event at ``position`` is applied."""
    update: dict[str, Any] = {"$push": {RECENT_FIELD: {"$each": [event_id], "$slice": -window}}}
    if position is not None:
        update["$set"] = {position.field: position.offset}
    return update


def applied_to(document: dict[str, Any], event_id: str, position: RecordPosition | None) -> bool:
    """Whether ``document`` says the event at ``position`` is applied (``applied_filter``'s
    negation, for a consumer that checks before it does the work)."""
    return _offset_covered(document, position) or _id_applied(document, event_id)


def copy_offset(
    document: dict[str, Any], event_id: str, position: RecordPosition | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """For the record at ``position`` dropped as a copy of an event ``document`` applied (its id
    is there, its offset is not covered): the conditions and update recording its offset. Else
    None: nothing to record (a redelivery its offset tells apart, or outside a consumer)."""
    if position is None or _offset_covered(document, position):
        return None
    if not _id_applied(document, event_id):
        return None
    # Conditional: a record further on in the partition may have been recorded meanwhile.
    conditions = {position.field: {"$not": {"$gte": position.offset}}}
    return conditions, {"$set": {position.field: position.offset}}


def _offset_covered(document: dict[str, Any], position: RecordPosition | None) -> bool:
    if position is None:
        return False
    stored = (document.get(OFFSETS_FIELD) or {}).get(position.key)
    return isinstance(stored, int) and position.offset <= stored


def _id_applied(document: dict[str, Any], event_id: str) -> bool:
    return event_id in (document.get(RECENT_FIELD) or []) or event_id in (
        document.get(LEGACY_FIELD) or []
    )


def not_yet_applied(event_id: str) -> dict[str, Any]:
    """``applied_filter`` at the position of the record being handled."""
    return applied_filter(event_id, current_position())


def mark_applied(event_id: str) -> dict[str, Any]:
    """``applied_update`` at the position of the record being handled."""
    return applied_update(event_id, current_position())


def was_applied(document: dict[str, Any], event_id: str) -> bool:
    """``applied_to`` at the position of the record being handled."""
    return applied_to(document, event_id, current_position())


def copy_offset_write(
    document: dict[str, Any], event_id: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``copy_offset`` at the position of the record being handled: a consumer that drops the
    record because ``was_applied`` found its event id sends this conditional update (filter:
    the document's ``_id`` and these conditions)."""
    return copy_offset(document, event_id, current_position())


def applied_marks(document: dict[str, Any]) -> dict[str, Any]:
    """The marks of a stored document, for ``was_applied`` on a copy kept in memory."""
    return {name: document[name] for name in MARK_FIELDS if name in document}


def chain_filter(applying: Sequence[Delivered[Any]]) -> dict[str, Any]:
    """Conditions a document meets only if no record of ``applying`` (one chain's records in
    offset order, those to apply) is applied to it: ``applied_filter`` for every one of them."""
    ids = [delivered.event.id for delivered in applying]
    conditions: dict[str, Any] = {RECENT_FIELD: {"$nin": ids}, LEGACY_FIELD: {"$nin": ids}}
    first = applying[0].position
    if first is not None:
        # One partition, in offset order: below the first offset is below every one.
        conditions[first.field] = {"$not": {"$gte": first.offset}}
    return conditions


def chain_update(
    applying: Sequence[Delivered[Any]], last: RecordPosition | None, window: int = RECENT_EVENTS
) -> dict[str, Any]:
    """Update operators recording that every record of ``applying`` is applied, and ``last``
    (the chain's last record, applied or skipped) as the partition's offset."""
    ids = [delivered.event.id for delivered in applying]
    update: dict[str, Any] = {"$push": {RECENT_FIELD: {"$each": ids, "$slice": -window}}}
    if last is not None:
        update["$set"] = {last.field: last.offset}
    return update


def not_applied(document: dict[str, Any], chain: Sequence[Delivered[P]]) -> list[Delivered[P]]:
    """The records of ``chain`` to apply, in order: those ``document`` says are not applied
    yet, each event once (the relay's copy may sit in the same chain as its original)."""
    fresh: list[Delivered[P]] = []
    for delivered in chain:
        taken = any(f.event.id == delivered.event.id for f in fresh)
        if not taken and not applied_to(document, delivered.event.id, delivered.position):
            fresh.append(delivered)
    return fresh


def chain_copy_offset(
    document: dict[str, Any], chain: Sequence[Delivered[Any]]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """For a chain none of whose records is to apply: ``copy_offset`` of its last record (if
    that one is known by its offset, every earlier one is)."""
    last = chain[-1]
    return copy_offset(document, last.event.id, last.position)
