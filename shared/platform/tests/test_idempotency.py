"""Idempotent consumers: every event is applied exactly once, whatever is redelivered.

The property test models a consumer group reading a few topic-partitions that carry events for a
few aggregates, with everything that delivers a record again: a crash after the effect was
stored but before the offset was committed (the partition is read again from the committed
offset), the outbox relay re-publishing a copy of an event at a later offset, a permanent failure
sent to the dead letters and re-driven as a new record. Each handling does what a repository
does: the check on loading (``applied_to``), then the conditional single-document write, evaluated
in memory as the server would (``applied_filter`` matches exactly when ``applied_to`` is false:
tests/integration/test_mongo_writes.py shows it on the real server). Records are also taken in
chains, a key's records of a batch applied in one write (``chain_filter``, ``chain_update``), as a
consumer with a chain handler does, falling back to one by one when a record of the batch fails.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from ilrflow.platform.idempotency import (
    LEGACY_FIELD,
    OFFSETS_FIELD,
    RECENT_FIELD,
    Delivered,
    RecordPosition,
    applied_filter,
    applied_to,
    applied_update,
    chain_copy_offset,
    chain_filter,
    chain_update,
    copy_offset,
    copy_offset_write,
    delivering,
    mark_applied,
    not_applied,
    not_yet_applied,
    was_applied,
)
from ilrflow.platform.outbox import merge_updates

WINDOW = 3  # small, so that the stream outgrows it
TOPIC_PARTITIONS = (("tracker-processed", 0), ("lane-acme.tracker-processed", 0))
AGGREGATES = ("a", "b")


def apply_update(document: dict[str, Any], update: dict[str, Any]) -> None:
    """The update operators the repositories use, as the server applies them."""
    for operator, changes in update.items():
        for path, value in changes.items():
            *parents, name = path.split(".")
            target = document
            for step in parents:
                target = target.setdefault(step, {})
            if operator == "$set":
                target[name] = copy.deepcopy(value)
            elif operator == "$inc":
                target[name] = target.get(name, 0) + value
            elif operator == "$push":
                assert set(value) == {"$each", "$slice"}, value
                assert value["$slice"] < 0, value
                items = [*target.get(name, []), *value["$each"]]
                target[name] = items[value["$slice"] :]
            else:
                raise AssertionError(f"unexpected operator {operator}")


def matches(document: dict[str, Any], conditions: dict[str, Any]) -> bool:
    """The filter operators ``chain_filter`` uses, as the server evaluates them."""
    for path, condition in conditions.items():
        value: Any = document
        for step in path.split("."):
            value = value.get(step) if isinstance(value, dict) else None
        if "$nin" in condition and set(value or []) & set(condition["$nin"]):
            return False
        if "$not" in condition and value is not None and value >= condition["$not"]["$gte"]:
            return False
    return True


@dataclass(frozen=True)
class Record:
    event_id: str
    aggregate: str
    fails: bool = False  # handling it fails permanently: it goes to the dead letters


@dataclass
class Model:
    """The partitions' logs, the consumer's positions, the aggregates and what was applied."""

    logs: dict[tuple[str, int], list[Record]] = field(
        default_factory=lambda: {tp: [] for tp in TOPIC_PARTITIONS}
    )
    position: dict[tuple[str, int], int] = field(default_factory=dict)  # next offset to read
    committed: dict[tuple[str, int], int] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {a: {"_id": a, "effects": 0} for a in AGGREGATES}
    )
    applied: dict[str, list[str]] = field(default_factory=lambda: {a: [] for a in AGGREGATES})
    dead_letters: dict[tuple[tuple[str, int], int], Record] = field(default_factory=dict)
    redriven: set[tuple[tuple[str, int], int]] = field(default_factory=set)
    produced: list[Record] = field(default_factory=list)
    recorded: set[RecordPosition] = field(default_factory=set)  # whose offset was written

    def produce(self, tp: tuple[str, int], record: Record) -> None:
        self.logs[tp].append(record)

    def consume(self, tp: tuple[str, int]) -> None:
        offset = self.position.get(tp, 0)
        if offset >= len(self.logs[tp]):
            return
        record = self.logs[tp][offset]
        if record.fails:
            self.dead_letters[(tp, offset)] = record
        else:
            self.handle(record, RecordPosition(tp[0], tp[1], offset))
        self.position[tp] = offset + 1

    def consume_batch(self, tp: tuple[str, int], records: int) -> None:
        """Take up to ``records`` records as one batch: each aggregate's in one write, or all
        one by one if one of them fails (the consumer's fallback, ``ConsumerGroup.apply_chain``)."""
        start = self.position.get(tp, 0)
        taken = self.logs[tp][start : start + records]
        if any(record.fails for record in taken):
            for _ in taken:
                self.consume(tp)
            return
        chains: dict[str, list[Delivered[Any]]] = {}
        for offset, record in enumerate(taken, start):
            position = RecordPosition(tp[0], tp[1], offset)
            self.within_bound(record, position)
            envelope = cast(Any, SimpleNamespace(id=record.event_id))
            chains.setdefault(record.aggregate, []).append(Delivered(envelope, position))
        for aggregate, chain in chains.items():
            self.handle_chain(aggregate, chain)
        self.position[tp] = start + len(taken)

    def handle_chain(self, aggregate: str, chain: list[Delivered[Any]]) -> None:
        document = self.documents[aggregate]
        fresh = not_applied(document, chain)
        positions = {d.position for d in chain if d.position is not None}
        if not fresh:
            copy = chain_copy_offset(document, chain)
            if copy is not None:
                event("a chain of copies, its last offset recorded")
                apply_update(document, copy[1])
                self.recorded.update(positions)
            return
        if len(fresh) > 1:
            event("a chain applied in one write")
        assert matches(document, chain_filter(fresh))
        update = merge_updates(
            {"$inc": {"effects": len(fresh)}}, chain_update(fresh, chain[-1].position, WINDOW)
        )
        apply_update(document, update)
        self.applied[aggregate].extend(d.event.id for d in fresh)
        self.recorded.update(positions)

    def within_bound(self, record: Record, position: RecordPosition) -> None:
        """A copy at a new offset, read for the first time, is within the documented bound: it
        comes back before WINDOW other events are applied to the aggregate. A record whose
        offset was written (its effect, or its drop as a copy) has no bound."""
        document = self.documents[record.aggregate]
        already = applied_to(document, record.event_id, position)
        history = self.applied[record.aggregate]
        if record.event_id in history and position not in self.recorded:
            assume(already or history[::-1].index(record.event_id) < WINDOW)

    def handle(self, record: Record, position: RecordPosition) -> None:
        document = self.documents[record.aggregate]
        already = applied_to(document, record.event_id, position)
        history = self.applied[record.aggregate]
        self.within_bound(record, position)
        if position in self.recorded and record.event_id not in document.get(RECENT_FIELD, []):
            event("a redelivery only its offset tells apart")
        if already:  # the check on loading; a copy gets its offset recorded
            copy = copy_offset(document, record.event_id, position)
            if copy is not None:
                event("a copy dropped by its id, its offset recorded")
                apply_update(document, copy[1])
                self.recorded.add(position)
            return
        update = merge_updates(
            {"$inc": {"effects": 1}}, applied_update(record.event_id, position, WINDOW)
        )
        apply_update(document, update)
        history.append(record.event_id)
        self.recorded.add(position)

    def crash(self) -> None:
        """The consumer restarts: every partition is read again from its committed offset."""
        self.position = dict(self.committed)

    def commit(self) -> None:
        self.committed = dict(self.position)

    def redrive(self, choice: int) -> None:
        waiting = sorted(set(self.dead_letters) - self.redriven)
        if not waiting:
            return
        tp, offset = waiting[choice % len(waiting)]
        self.redriven.add((tp, offset))
        original = self.dead_letters[(tp, offset)]
        self.produce(tp, Record(original.event_id, original.aggregate))

    def drain(self) -> None:
        """Read every partition to its end, re-driving the dead letters, until nothing is left."""
        while True:
            for tp in TOPIC_PARTITIONS:
                while self.position.get(tp, 0) < len(self.logs[tp]):
                    self.consume(tp)
            if set(self.dead_letters) <= self.redriven:
                return
            self.redrive(0)


tps = st.sampled_from(TOPIC_PARTITIONS)
# Bursts of records, mostly handled fine, so that redeliveries after a crash outrun WINDOW.
size = st.integers(1, 3 * WINDOW)
failing = st.frozensets(st.integers(0, 3 * WINDOW), max_size=2)  # which records of a burst
actions = st.one_of(
    st.tuples(st.just("produce"), tps, st.sampled_from(AGGREGATES), size, failing),
    st.tuples(st.just("copy"), tps, st.integers(0, 50)),
    st.tuples(st.just("consume"), tps, st.integers(1, 3 * WINDOW)),
    st.tuples(st.just("batch"), tps, st.integers(1, 3 * WINDOW)),
    st.tuples(st.just("crash")),
    st.tuples(st.just("commit")),
    st.tuples(st.just("redrive"), st.integers(0, 50)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(actions, max_size=40), st.lists(st.sampled_from(AGGREGATES), max_size=4))
def test_every_event_is_applied_exactly_once(
    steps: list[tuple[Any, ...]], upgraded: list[str]
) -> None:
    model = Model()
    # Events applied before the upgrade: recorded in the old list, their offsets not committed.
    for n, aggregate in enumerate(upgraded):
        old = Record(f"old{n}", aggregate)
        model.produce(TOPIC_PARTITIONS[0], old)
        model.produced.append(old)
        model.documents[aggregate].setdefault(LEGACY_FIELD, []).append(old.event_id)
        model.documents[aggregate]["effects"] += 1
        model.applied[aggregate].append(old.event_id)
    model.position[TOPIC_PARTITIONS[0]] = len(upgraded)
    for step in steps:
        match step:
            case ("produce", tp, aggregate, records, failures):
                for n in range(records):
                    record = Record(f"e{len(model.produced)}", aggregate, n in failures)
                    model.produced.append(record)
                    model.produce(tp, record)
            case ("copy", tp, choice) if model.produced:  # the relay re-sends after a crash
                model.produce(tp, model.produced[choice % len(model.produced)])
            case ("consume", tp, records):
                for _ in range(records):
                    model.consume(tp)
            case ("batch", tp, records):
                model.consume_batch(tp, records)
            case ("crash",):
                model.crash()
            case ("commit",):
                model.commit()
            case ("redrive", choice):
                model.redrive(choice)
    model.drain()
    model.crash()  # once more, with every record read: all since the last commit come again
    model.drain()
    applied = [event_id for history in model.applied.values() for event_id in history]
    assert sorted(applied) == sorted(r.event_id for r in model.produced)
    for aggregate, document in model.documents.items():
        assert document["effects"] == len(model.applied[aggregate])
        assert len(document.get(RECENT_FIELD, [])) <= WINDOW


def test_the_consumer_position_is_used_inside_delivering_only() -> None:
    position = RecordPosition("lane-acme.tracker-processed", 4, 17)
    assert not_yet_applied("e1") == applied_filter("e1", None)
    with delivering(position):
        assert not_yet_applied("e1") == applied_filter("e1", position)
        assert mark_applied("e1") == {
            "$push": {RECENT_FIELD: {"$each": ["e1"], "$slice": -128}},
            "$set": {f"{OFFSETS_FIELD}.lane-acme/tracker-processed:4": 17},
        }
        assert was_applied({OFFSETS_FIELD: {"lane-acme/tracker-processed:4": 17}}, "e9")
        assert not was_applied({OFFSETS_FIELD: {"lane-acme/tracker-processed:4": 16}}, "e9")
    assert mark_applied("e1") == {"$push": {RECENT_FIELD: {"$each": ["e1"], "$slice": -128}}}


def test_a_document_written_before_still_knows_its_events() -> None:
    before = {"_id": "a", LEGACY_FIELD: ["e1", "e2"]}
    assert was_applied(before, "e2")
    assert not was_applied(before, "e3")


@settings(max_examples=5, deadline=None)
@given(st.integers(WINDOW, 3 * WINDOW))
def test_a_dropped_copy_read_again_after_the_window_moved_on_is_not_applied(others: int) -> None:
    """The relay's copy is dropped by its id; the aggregate then applies more than the window's
    events from another partition; a crash makes the consumer read the copy again."""
    model = Model()
    main, lane = TOPIC_PARTITIONS
    original = Record("e0", "a")
    model.produced.append(original)
    model.produce(main, original)
    model.produce(main, original)  # the relay's copy, at offset 1
    model.consume(main)
    model.consume(main)  # dropped by its id: its offset 1 is recorded
    assert model.documents["a"][OFFSETS_FIELD] == {"tracker-processed:0": 1}
    for n in range(others):
        other = Record(f"o{n}", "a")
        model.produced.append(other)
        model.produce(lane, other)
        model.consume(lane)
    assert "e0" not in model.documents["a"][RECENT_FIELD]
    model.position[main] = 1  # read again from the copy, its offset not committed
    model.consume(main)
    assert model.applied["a"].count("e0") == 1


def test_only_a_copy_dropped_by_its_id_records_its_offset() -> None:
    document = {OFFSETS_FIELD: {"t:0": 5}, RECENT_FIELD: ["e1"]}
    assert copy_offset(document, "e1", RecordPosition("t", 0, 9)) == (
        {f"{OFFSETS_FIELD}.t:0": {"$not": {"$gte": 9}}},
        {"$set": {f"{OFFSETS_FIELD}.t:0": 9}},
    )
    assert copy_offset(document, "e1", RecordPosition("t", 0, 5)) is None  # its offset tells
    assert copy_offset(document, "e2", RecordPosition("t", 0, 9)) is None  # not applied
    assert copy_offset(document, "e1", None) is None
    assert copy_offset_write(document, "e1") is None  # outside a consumer
    with delivering(RecordPosition("lane-acme.t", 0, 2)):
        assert copy_offset_write(document, "e1") == (
            {f"{OFFSETS_FIELD}.lane-acme/t:0": {"$not": {"$gte": 2}}},
            {"$set": {f"{OFFSETS_FIELD}.lane-acme/t:0": 2}},
        )


def test_a_chain_write_matches_only_while_none_of_its_records_is_applied() -> None:
    def at(offset: int, event_id: str) -> Delivered[Any]:
        envelope = cast(Any, SimpleNamespace(id=event_id))
        return Delivered(envelope, RecordPosition("t", 0, offset))

    chain = [at(5, "e5"), at(6, "e6"), at(8, "e8")]
    conditions = chain_filter(chain)
    assert matches({OFFSETS_FIELD: {"t:0": 4}, RECENT_FIELD: ["e1"]}, conditions)
    assert not matches({OFFSETS_FIELD: {"t:0": 5}}, conditions)  # the first one's offset
    assert not matches({RECENT_FIELD: ["e8"]}, conditions)  # the last one's id
    assert not matches({LEGACY_FIELD: ["e6"]}, conditions)
    assert chain_update(chain, RecordPosition("t", 0, 9)) == {
        "$push": {RECENT_FIELD: {"$each": ["e5", "e6", "e8"], "$slice": -128}},
        "$set": {f"{OFFSETS_FIELD}.t:0": 9},
    }
    # The relay's copy in the same chain as its original is applied once.
    assert [d.position for d in not_applied({}, [at(5, "e5"), at(7, "e5")])] == [
        RecordPosition("t", 0, 5)
    ]
