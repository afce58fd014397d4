"""Issue #12 item 10 end to end: the ILR service tells a duplicate by the record's offset and the
event's id, never by the engine's old list.

A record stored by an earlier version carries the engine's old list of applied tracker ids
(``_applied_trackers``). Such a record is still served without it, a tracker whose id is in the
list is applied (the list decides nothing any more), the next version is stored without it, and
a republished copy of a ``tracker-processed`` event (same event id, as the relay sends after a
crash) changes nothing and publishes nothing. Issue #16: the record keeps the last offset it
applied per topic-partition and its recent event ids, not every event id it ever applied; a
record written before, with that list, still knows the events in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.collection import Collection

from ilrflow.contracts.events import Topics, from_wire, header_text, partition_key
from ilrflow.ilr_engine import APPLIED_TRACKERS_KEY
from ilrflow.platform.idempotency import LEGACY_FIELD, OFFSETS_FIELD, RECENT_FIELD
from tests.conftest import Stack
from tests.e2e.helpers import Tenant, produce, read_topic, run
from tests.e2e.test_ilr_trackers import (
    enrol,
    ilr_of,
    ilr_outcome,
    process,
    raise_tracker,
    tenant_ready_for_every_type,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tenant(stack: Stack) -> Tenant:
    return tenant_ready_for_every_type(stack)


@pytest.fixture
def ilr_records(stack: Stack) -> Iterator[Collection[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(stack.settings.mongo_url, tz_aware=True)
    try:
        yield client[stack.settings.database_name("ilr")]["ilr_records"]
    finally:
        client.close()


def test_an_old_record_with_applied_trackers_is_served_applied_and_stored_without_them(
    tenant: Tenant, ilr_records: Collection[dict[str, Any]]
) -> None:
    learner_id = enrol(tenant)
    before = ilr_of(tenant, learner_id)
    change = {"given_names": "Old", "family_name": "Record"}
    tracker = raise_tracker(tenant, learner_id, "change_of_name", change)
    record_id = f"{tenant.name}:{learner_id}"
    # As an earlier version stored it, listing this very tracker as applied.
    listed = ["tracker-from-long-ago", tracker["id"]]
    old = ilr_records.update_one(
        {"_id": record_id}, {"$set": {f"learner.{APPLIED_TRACKERS_KEY}": listed}}
    )
    assert old.modified_count == 1
    assert ilr_of(tenant, learner_id) == before  # never shown

    assert process(tenant, tracker["id"]).status_code == 200
    outcome = ilr_outcome(tenant, tracker["id"])

    assert (outcome["status"], outcome["ilr_version"]) == ("applied", 2), outcome
    assert outcome["patch"] == tracker["preview"]["ilr_patch"]
    assert not any(APPLIED_TRACKERS_KEY in op["path"] for op in outcome["patch"])
    stored = ilr_records.find_one({"_id": record_id})
    assert stored is not None
    assert APPLIED_TRACKERS_KEY not in stored["learner"]
    assert stored["learner"]["GivenNames"] == "Old"


def test_a_republished_tracker_processed_event_changes_nothing(
    tenant: Tenant, ilr_records: Collection[dict[str, Any]]
) -> None:
    learner_id = enrol(tenant)
    first = raise_tracker(
        tenant, learner_id, "change_of_name", {"given_names": "Once", "family_name": "Again"}
    )
    assert process(tenant, first["id"]).status_code == 200
    assert ilr_outcome(tenant, first["id"])["ilr_version"] == 2
    bootstrap = tenant.stack.settings.kafka_bootstrap
    key = partition_key(tenant.name, learner_id).encode()
    [original] = [
        r
        for r in run(read_topic(bootstrap, Topics.TRACKER_PROCESSED, key))
        if from_wire(dict(r.headers), r.value).data.tracker_id == first["id"]
    ]

    # The same record again, as the relay republishes one it was not sure it had sent; then a
    # second tracker behind it on the same partition, so its outcome means the copy was read.
    run(
        produce(
            bootstrap, [(Topics.TRACKER_PROCESSED, key, dict(original.headers), original.value)]
        )
    )
    second = raise_tracker(tenant, learner_id, "change_of_contact_details", {"email": "b@x.org"})
    assert process(tenant, second["id"]).status_code == 200

    assert ilr_outcome(tenant, second["id"])["ilr_version"] == 3
    assert ilr_of(tenant, learner_id)["version"] == 3
    updates = [
        from_wire(dict(r.headers), r.value).data
        for r in run(read_topic(bootstrap, Topics.ILR_UPDATED, key))
    ]
    assert [u.version for u in updates if u.tracker_id == first["id"]] == [2]
    stored = ilr_records.find_one({"_id": f"{tenant.name}:{learner_id}"})
    assert stored is not None
    assert APPLIED_TRACKERS_KEY not in stored["learner"]
    [second_record] = [
        r
        for r in run(read_topic(bootstrap, Topics.TRACKER_PROCESSED, key))
        if from_wire(dict(r.headers), r.value).data.tracker_id == second["id"]
    ]
    position = f"{Topics.TRACKER_PROCESSED}:{second_record.partition}"
    assert stored[OFFSETS_FIELD][position] == second_record.offset
    assert stored[RECENT_FIELD][-1] == header_text(dict(second_record.headers), "ce_id")
    assert LEGACY_FIELD not in stored  # no list of every event id ever applied


def test_a_record_written_before_still_knows_the_events_in_its_old_list(
    tenant: Tenant, ilr_records: Collection[dict[str, Any]]
) -> None:
    learner_id = enrol(tenant)
    first = raise_tracker(
        tenant, learner_id, "change_of_name", {"given_names": "Up", "family_name": "Graded"}
    )
    assert process(tenant, first["id"]).status_code == 200
    assert ilr_outcome(tenant, first["id"])["ilr_version"] == 2
    bootstrap = tenant.stack.settings.kafka_bootstrap
    key = partition_key(tenant.name, learner_id).encode()
    [original] = [
        r
        for r in run(read_topic(bootstrap, Topics.TRACKER_PROCESSED, key))
        if from_wire(dict(r.headers), r.value).data.tracker_id == first["id"]
    ]
    # As the version before stored it: every event id in one list, no offsets, no recent ids.
    upgraded = ilr_records.update_one(
        {"_id": f"{tenant.name}:{learner_id}"},
        {
            "$set": {LEGACY_FIELD: [header_text(dict(original.headers), "ce_id")]},
            "$unset": {OFFSETS_FIELD: "", RECENT_FIELD: ""},
        },
    )
    assert upgraded.modified_count == 1

    run(
        produce(
            bootstrap, [(Topics.TRACKER_PROCESSED, key, dict(original.headers), original.value)]
        )
    )
    second = raise_tracker(tenant, learner_id, "change_of_contact_details", {"email": "u@x.org"})
    assert process(tenant, second["id"]).status_code == 200

    assert ilr_outcome(tenant, second["id"])["ilr_version"] == 3
    assert ilr_of(tenant, learner_id)["version"] == 3
