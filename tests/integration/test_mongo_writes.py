"""On the real MongoDB-wire server: the write patterns every repository relies on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from ilrflow.contracts.events import LearnerSnapshot, LearnerUpdated, new_event
from ilrflow.learner.adapters.repository import LearnerRepository
from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.idempotency import (
    LEGACY_FIELD,
    RECENT_FIELD,
    Delivered,
    RecordPosition,
    applied_filter,
    applied_marks,
    applied_to,
    applied_update,
    chain_filter,
    chain_update,
    delivering,
    mark_applied,
    not_yet_applied,
)
from ilrflow.platform.lanes import POOLED, RoutingTable
from ilrflow.platform.outbox import OutboxRelay, merge_updates, new_document_outbox, outbox_update

pytestmark = pytest.mark.e2e


def event(n: int, tenant: str = "t") -> Any:
    learner = LearnerSnapshot(id="L1", given_names=f"N{n}", family_name="F")
    return new_event(
        LearnerUpdated(change="changed", learner=learner), tenant=tenant, subject="L1", actor="a"
    )


@dataclass
class FixedRoutes:
    """A routing table that does not change, for one process serving ``lanes``."""

    routing: RoutingTable
    lanes: tuple[str, ...]
    acknowledged: int = 0

    async def table(self) -> RoutingTable:
        return self.routing

    async def acknowledge(self) -> None:
        self.acknowledged += 1


async def test_concurrent_updates_of_one_document_lose_nothing(database: Any) -> None:
    """The relay's pull and a save racing on one document: both changes survive."""
    collection = serialised_writes(database["aggregates"])
    lost = 0
    for i in range(40):
        await collection.insert_one(
            {"_id": i, "outbox": [{"e": "a"}], "pending": 1, "status": "raised"}
        )
        relay = collection.update_one(
            {"_id": i}, {"$pullAll": {"outbox": [{"e": "a"}]}, "$inc": {"pending": -1}}
        )
        save = collection.update_one(
            {"_id": i},
            {
                "$set": {"status": "processed"},
                "$push": {"outbox": {"$each": [{"e": "b"}]}},
                "$inc": {"pending": 1},
            },
        )
        await asyncio.gather(relay, save)
        document = await collection.find_one({"_id": i})
        lost += document != {"_id": i, "outbox": [{"e": "b"}], "pending": 1, "status": "processed"}
    assert lost == 0


async def test_the_relay_publishes_in_order_and_empties_the_outbox(database: Any) -> None:
    collection = serialised_writes(database["aggregates"])
    events = [event(n) for n in range(3)]
    await collection.insert_one({"_id": "t:L1", "state": 1, **new_document_outbox(events[:2])})
    await collection.update_one(
        {"_id": "t:L1"}, merge_updates({"$set": {"state": 2}}, outbox_update(events[2:]))
    )
    published: list[Any] = []

    async def publish(e: Any, topic: str) -> None:
        published.append(e)

    relay = OutboxRelay([collection], publish)
    assert await relay.drain_once() == 3
    assert [e.id for e in published] == [e.id for e in events]
    assert published[0] == events[0]
    document = await collection.find_one({"_id": "t:L1"})
    assert document["outbox"] == []
    assert document["outbox_pending"] == 0
    assert await relay.drain_once() == 0


async def test_a_relay_that_dies_before_removing_its_events_publishes_them_again(
    database: Any,
) -> None:
    """At-least-once: a crash between publish and pull repeats the event (consumers dedupe)."""
    collection = serialised_writes(database["aggregates"])
    [only] = [event(1)]
    await collection.insert_one({"_id": "t:L1", **new_document_outbox([only])})
    calls: list[str] = []

    async def publish_then_crash(e: Any, topic: str) -> None:
        calls.append(e.id)
        raise ConnectionError("process killed after the broker acknowledged")

    with pytest.raises(ConnectionError):
        await OutboxRelay([collection], publish_then_crash).drain_once()

    async def publish(e: Any, topic: str) -> None:
        calls.append(e.id)

    assert await OutboxRelay([collection], publish).drain_once() == 1
    assert calls == [only.id, only.id]


async def test_an_effect_is_recorded_once_per_event_id(database: Any) -> None:
    collection = serialised_writes(database["aggregates"])
    await collection.insert_one({"_id": "a", "count": 0, "applied_events": []})
    results = []
    for _ in range(2):
        result = await collection.update_one(
            {"_id": "a", **not_yet_applied("event-1")},
            merge_updates({"$inc": {"count": 1}}, mark_applied("event-1")),
        )
        results.append(result.matched_count)
    assert results == [1, 0]
    assert (await collection.find_one({"_id": "a"}))["count"] == 1


async def test_a_delivery_is_applied_once_by_its_offset_and_a_copy_by_its_event_id(
    database: Any,
) -> None:
    collection = serialised_writes(database["aggregates"])
    await collection.insert_one({"_id": "a", "count": 0})
    await collection.insert_one({"_id": "old", "count": 1, LEGACY_FIELD: ["e0"]})

    async def deliver(identity: str, event_id: str, offset: int, topic: str = "t") -> int:
        with delivering(RecordPosition(topic, 0, offset)):
            result = await collection.update_one(
                {"_id": identity, **not_yet_applied(event_id)},
                merge_updates({"$inc": {"count": 1}}, mark_applied(event_id)),
            )
        return int(result.matched_count)

    assert await deliver("a", "e1", 5) == 1
    assert await deliver("a", "e1", 5) == 0  # read again after a crash
    assert await deliver("a", "e0", 4) == 0  # an earlier record of the partition
    assert await deliver("a", "e1", 9) == 0  # the relay's copy at a new offset
    assert await deliver("a", "e2", 6) == 1
    assert await deliver("a", "e3", 0, topic="lane-acme.t") == 1  # another partition
    assert await deliver("old", "e0", 0) == 0  # applied before the upgrade
    stored = await collection.find_one({"_id": "a"})
    assert stored["count"] == 3
    assert stored["applied_offsets"] == {"t:0": 6, "lane-acme/t:0": 0}
    assert stored[RECENT_FIELD] == ["e1", "e2", "e3"]


async def test_the_recent_event_ids_stay_within_their_window(database: Any) -> None:
    """The server slices the window (upstream FerretDB 1.24 ignored $slice: push-slice.patch)."""
    collection = serialised_writes(database["aggregates"])
    await collection.insert_one({"_id": "a"})
    for n in range(5):
        position = RecordPosition("t", 0, n)
        await collection.update_one(
            {"_id": "a", **applied_filter(f"e{n}", position)},
            applied_update(f"e{n}", position, window=3),
        )
    stored = await collection.find_one({"_id": "a"})
    assert stored[RECENT_FIELD] == ["e2", "e3", "e4"]


@pytest.mark.parametrize(
    "stored",
    [
        {},
        {"applied_offsets": {"t:0": 5}},
        {"applied_offsets": {"t:0": 7}, RECENT_FIELD: ["e1"]},
        {"applied_offsets": {"lane-acme/t:0": 9}, LEGACY_FIELD: ["e2"]},
    ],
)
async def test_the_check_on_loading_decides_as_the_servers_idempotency_filter(
    database: Any, stored: dict[str, Any]
) -> None:
    """``applied_to`` (a consumer's check of a document it loaded) is the negation of
    ``applied_filter`` as the server evaluates it."""
    raw = database["aggregates"]
    await raw.insert_one({"_id": "a", **stored})
    for event_id in ("e1", "e2", "e9"):
        for position in (
            None,
            RecordPosition("t", 0, 5),
            RecordPosition("t", 0, 6),
            RecordPosition("lane-acme.t", 0, 9),
        ):
            conditions = applied_filter(event_id, position)
            on_server = await raw.count_documents({"_id": "a", **conditions}) == 1
            applied = applied_to({"_id": "a", **stored}, event_id, position)
            assert applied is not on_server, (event_id, position)


async def test_each_relay_publishes_only_its_lanes_tenants_to_their_routed_topics(
    database: Any,
) -> None:
    collection = serialised_writes(database["aggregates"])
    for tenant in ("pooled-t", "acme-t", "paused-t"):
        await collection.insert_one({"_id": tenant, **new_document_outbox([event(1, tenant)])})
    table = RoutingTable().move("acme-t", "acme").pause("paused-t")
    published: list[tuple[str, str]] = []

    async def publish(e: Any, topic: str) -> None:
        published.append((e.tenant, topic))

    pooled = FixedRoutes(table, (POOLED,))
    assert await OutboxRelay([collection], publish, routes=pooled).drain_once() == 1
    acme = FixedRoutes(table, ("acme",))
    assert await OutboxRelay([collection], publish, routes=acme).drain_once() == 1
    assert published == [("pooled-t", "learner-updated"), ("acme-t", "lane-acme.learner-updated")]
    assert (pooled.acknowledged, acme.acknowledged) == (1, 1)
    paused = await collection.find_one({"_id": "paused-t"})
    assert paused["outbox_pending"] == 1  # waits in the outbox until the move is over


async def test_a_conditional_update_changes_only_a_matching_document(database: Any) -> None:
    """The server decides the whole filter (on FerretDB reading by the _id index)."""
    collection = serialised_writes(database["aggregates"])
    await collection.insert_one({"_id": "a", "version": 2, "applied_events": ["e1"]})
    stale = await collection.update_one({"_id": "a", "version": 1}, {"$set": {"x": 1}})
    missing = await collection.update_one({"_id": "b", "version": 2}, {"$set": {"x": 1}})
    fresh = await collection.update_one(
        {"_id": "a", "version": {"$lte": 2}, **not_yet_applied("e2")},
        {"$set": {"x": 2}, "$inc": {"version": 1}},
    )
    assert (stale.matched_count, missing.matched_count, fresh.matched_count) == (0, 0, 1)
    assert await collection.find_one({"_id": "a"}) == {
        "_id": "a",
        "version": 3,
        "applied_events": ["e1"],
        "x": 2,
    }


async def test_the_relay_reads_only_written_documents_and_still_scans_now_and_then(
    database: Any,
) -> None:
    collection = serialised_writes(database["aggregates"])
    published: list[str] = []

    async def publish(e: Any, topic: str) -> None:
        published.append(e.id)

    relay = OutboxRelay([collection], publish, scan_seconds=3600)
    assert await relay.drain_once() == 0  # the first pass scans
    told, untold = event(1), event(2)
    await collection.insert_one({"_id": "told", **new_document_outbox([told])})
    # Written behind the wrapper's back: only a full scan finds it.
    await database["aggregates"].insert_one({"_id": "untold", **new_document_outbox([untold])})
    assert await relay.drain_once() == 1
    assert published == [told.id]
    rescanning = OutboxRelay([collection], publish, scan_seconds=0)
    assert await rescanning.drain_once() == 1
    assert published == [told.id, untold.id]


async def test_an_event_written_while_the_relay_publishes_is_not_left_for_the_scan(
    database: Any,
) -> None:
    collection = serialised_writes(database["aggregates"])
    first, second = event(1), event(2)
    published: list[str] = []

    async def publish_and_write_meanwhile(e: Any, topic: str) -> None:
        published.append(e.id)
        if e.id == first.id:  # a save of the same document while its first event goes out
            await collection.update_one({"_id": "t:L1"}, outbox_update([second]))

    relay = OutboxRelay([collection], publish_and_write_meanwhile, scan_seconds=3600)
    assert await relay.drain_once() == 0  # the first pass scans
    await collection.insert_one({"_id": "t:L1", **new_document_outbox([first])})
    # The second is heard of (no scan is due for an hour) and goes out in the same pass.
    assert await relay.drain_once() == 2
    assert published == [first.id, second.id]
    assert (await collection.find_one({"_id": "t:L1"}))["outbox"] == []


async def test_pending_events_of_several_documents_go_out_in_the_order_written(
    database: Any,
) -> None:
    """Two trackers of one learner, both pending (after a lane move's pause): the older event
    is published first whatever the documents' ids, on a scan and on the written-documents
    pass, and a paused tenant's documents go out on the first pass after the pause."""
    collection = serialised_writes(database["aggregates"])
    first, second, third = event(1), event(2), event(3)
    await collection.insert_one({"_id": "zz", **new_document_outbox([first])})
    await collection.insert_one({"_id": "aa", **new_document_outbox([second])})
    published: list[str] = []

    async def publish(e: Any, topic: str) -> None:
        published.append(e.id)

    assert await OutboxRelay([collection], publish).drain_once() == 2  # a scan
    assert published == [first.id, second.id]

    paused = FixedRoutes(RoutingTable().pause("t"), (POOLED,))
    relay = OutboxRelay([collection], publish, routes=paused, scan_seconds=3600)
    assert await relay.drain_once() == 0
    fourth = event(4)
    await collection.update_one({"_id": "zz"}, outbox_update([third]))
    await collection.update_one({"_id": "aa"}, outbox_update([fourth]))
    assert await relay.drain_once() == 0  # held while paused
    paused.routing = RoutingTable()
    assert await relay.drain_once() == 2
    assert published == [first.id, second.id, third.id, fourth.id]


async def test_events_the_relay_was_not_told_of_go_out_after_the_sweep(database: Any) -> None:
    """The safety net: events written past the wrapper (a bug, another process) are found by
    the periodic sweep, which runs beside the passes, not in them."""
    raw = database["aggregates"]
    collection = serialised_writes(raw)
    published: list[Any] = []

    async def publish(e: Any, topic: str) -> None:
        published.append(e.id)

    relay = OutboxRelay([collection], publish)
    assert await relay.drain_once() == 0  # the first pass: a full scan, nothing there yet
    hidden = event(1)
    await raw.insert_one({"_id": "t:L1", **new_document_outbox([hidden])})  # relay not told
    told = event(2)
    await collection.insert_one({"_id": "t:L2", **new_document_outbox([told])})
    assert await relay.drain_once() == 1  # only what it was told of
    assert published == [told.id]
    await relay.sweep()
    assert await relay.drain_once() == 1
    assert published == [told.id, hidden.id]
    assert await relay.drain_once() == 0


async def test_a_pass_hands_every_event_over_before_awaiting_a_confirmation(database: Any) -> None:
    """One broker round trip per pass: the outboxes are cleared only once every event of the
    pass is confirmed."""
    collection = serialised_writes(database["aggregates"])
    for n in range(3):
        await collection.insert_one({"_id": f"t:L{n}", **new_document_outbox([event(n)])})
    handed: list[str] = []
    all_handed, delivered = asyncio.Event(), asyncio.Event()

    async def send(e: Any, topic: str) -> Any:
        handed.append(e.id)
        if len(handed) == 3:
            all_handed.set()

        async def confirmation() -> None:
            await delivered.wait()

        return confirmation()

    relay = asyncio.create_task(OutboxRelay([collection], send).drain_once())
    await asyncio.wait_for(all_handed.wait(), timeout=10)
    pending = [d["outbox_pending"] async for d in collection.find({})]
    assert pending == [1, 1, 1]  # handed over, not yet confirmed: nothing cleared
    delivered.set()
    assert await relay == 3
    assert [d["outbox_pending"] async for d in collection.find({})] == [0, 0, 0]


async def test_a_failed_confirmation_leaves_the_whole_pass_pending(database: Any) -> None:
    collection = serialised_writes(database["aggregates"])
    events = [event(n) for n in range(3)]
    for n, e in enumerate(events):
        await collection.insert_one({"_id": f"t:L{n}", **new_document_outbox([e])})

    async def send(e: Any, topic: str) -> Any:
        async def confirmation() -> None:
            if e.id == events[1].id:
                raise ConnectionError("the broker refused it")

        return confirmation()

    with pytest.raises(ConnectionError):
        await OutboxRelay([collection], send).drain_once()
    assert [d["outbox_pending"] async for d in collection.find({})] == [1, 1, 1]


def delivered(event_id: str, topic: str, offset: int) -> Delivered[Any]:
    return Delivered(event_with_id(event_id), RecordPosition(topic, 0, offset))


def event_with_id(event_id: str) -> Any:
    return event(0).model_copy(update={"id": event_id})


async def test_a_chain_write_matches_only_while_none_of_its_records_is_applied(
    database: Any,
) -> None:
    """``chain_filter`` on the server: one of the chain's ids in the window, or an offset at or
    above its first one, and the write matches nothing."""
    collection = serialised_writes(database["aggregates"])
    await collection.insert_one({"_id": "a", "count": 0})

    async def deliver(*chain: Delivered[Any]) -> int:
        result = await collection.update_one(
            {"_id": "a", **chain_filter(chain)},
            merge_updates({"$inc": {"count": len(chain)}}, chain_update(chain, chain[-1].position)),
        )
        return int(result.matched_count)

    assert await deliver(delivered("e1", "t", 5), delivered("e2", "t", 6)) == 1
    assert await deliver(delivered("e3", "t", 6), delivered("e4", "t", 7)) == 0  # offset 6
    assert await deliver(delivered("e5", "t", 8), delivered("e2", "t", 9)) == 0  # a copy of e2
    assert await deliver(delivered("e5", "t", 8), delivered("e6", "t", 9)) == 1
    stored = await collection.find_one({"_id": "a"})
    assert stored["count"] == 4
    assert stored["applied_offsets"] == {"t:0": 9}
    assert stored[RECENT_FIELD] == ["e1", "e2", "e5", "e6"]


async def test_a_copy_dropped_by_its_event_id_gets_its_offset_recorded(database: Any) -> None:
    """So that, read again after a crash, it is known by its offset even once its id has left
    the window (ilrflow.platform.idempotency.copy_offset)."""
    learners = LearnerRepository(database)
    await database["learners"].insert_one({"_id": "t:L1", "version": 1})
    original = delivered("e1", "t", 5)
    assert await learners.save_learner_chain(
        "t", "L1", None, 1, [], applying=[original], last=original.position
    )

    async def drop(*chain: Delivered[Any]) -> None:
        marks = applied_marks(await database["learners"].find_one({"_id": "t:L1"}))
        await learners.record_copies("t", "L1", marks, chain)

    await drop(delivered("e1", "lane-acme.t", 2))  # the relay's copy, another topic
    await drop(delivered("e0", "t", 3))  # an earlier record: its offset tells already
    stored = await database["learners"].find_one({"_id": "t:L1"})
    assert stored["applied_offsets"] == {"t:0": 5, "lane-acme/t:0": 2}
    assert stored[RECENT_FIELD] == ["e1"]
