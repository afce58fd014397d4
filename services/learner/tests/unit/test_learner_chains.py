"""A learner's records of a consumer batch taken as a chain: processed trackers applied one after
the other in memory and stored with one read and one write carrying every event's position; ILR
states stored once, the newest; the result is what handling them one by one gives."""

from __future__ import annotations

from typing import Any

import pytest
from learner_fakes import FakeLearnerStore, learner_service
from test_learner_status import _ended, _enrolled, _state, _status, _view, _withdrawn
from test_learner_use_cases import NEW_ADDRESS, NEW_LEARNER, TENANT, _create, _processed

from ilrflow.contracts.errors import PermanentError
from ilrflow.learner.service.use_cases import LearnerService
from ilrflow.platform.idempotency import Delivered, RecordPosition

OTHER_ADDRESS = {"address": {"lines": ["3 Mill Lane", "York"], "postcode": "YO1 7HH"}}


def _chain_of(*events: Any, first_offset: int = 20) -> list[Delivered[Any]]:
    return [
        Delivered(event, RecordPosition("tracker-processed", 1, first_offset + n))
        for n, event in enumerate(events)
    ]


def _trackers(learner_id: str) -> list[Any]:
    return [
        _processed(learner_id, NEW_ADDRESS),
        _processed(learner_id, {"address": NEW_ADDRESS["address"]}),  # changes nothing more
        _processed(learner_id, OTHER_ADDRESS),
    ]


async def test_a_chain_is_one_read_and_one_write_and_equals_one_by_one() -> None:
    chained, alone = FakeLearnerStore(), FakeLearnerStore()
    service, one_by_one = learner_service(chained), learner_service(alone)
    learner_id = await _create(service)
    await alone.add_learner(TENANT, *await _snapshot(chained, learner_id))
    trackers = _trackers(learner_id)
    reads, writes = chained.reads, chained.writes

    await service.on_tracker_processed_chain(_chain_of(*trackers))
    for tracker in trackers:
        await one_by_one.on_tracker_processed(tracker)

    assert (chained.reads, chained.writes) == (reads + 1, writes + 1)
    assert await chained.get_learner(TENANT, learner_id) == (
        await alone.get_learner(TENANT, learner_id)
    )
    changed = [(e.data.changed_fields, e.causation_id) for e in chained.outbox[1:]]
    assert changed == [(e.data.changed_fields, e.causation_id) for e in alone.outbox]
    assert changed == [(["address"], trackers[0].id), (["address"], trackers[2].id)]
    assert all(chained.has_applied(TENANT, learner_id, t.id) for t in trackers)


async def test_a_redelivered_chain_writes_nothing_and_its_new_records_are_applied() -> None:
    store = FakeLearnerStore()
    service = learner_service(store)
    learner_id = await _create(service)
    first, second, third = _trackers(learner_id)
    await service.on_tracker_processed_chain(_chain_of(first, second))
    writes, published = store.writes, len(store.outbox)

    await service.on_tracker_processed_chain(_chain_of(first, second))
    assert (store.writes, len(store.outbox)) == (writes, published)

    await service.on_tracker_processed_chain(_chain_of(first, second, third))
    assert store.writes == writes + 1
    assert [e.causation_id for e in store.outbox[published:]] == [third.id]


async def test_the_newest_ilr_state_of_a_chain_is_stored_once() -> None:
    store = FakeLearnerStore()
    service = learner_service(store)
    learner_id, record = await _enrolled(service)
    withdrawn = _withdrawn(record, "2025-10-01")

    await service.on_ilr_state_chain(
        _chain_of(_state(learner_id, 1, record), _state(learner_id, 2, withdrawn))
    )

    assert _status(await _view(service, learner_id))[0] == "withdrawn"


async def test_an_unreadable_ilr_state_fails_the_chain_to_be_taken_one_by_one() -> None:
    service: LearnerService = learner_service(FakeLearnerStore())
    learner_id, record = await _enrolled(service)
    with pytest.raises(PermanentError):
        await service.on_ilr_state_chain(
            _chain_of(
                _state(learner_id, 1, record),
                _state(learner_id, 2, _ended(record, 4, "2025-10-01")),
            )
        )


async def _snapshot(store: FakeLearnerStore, learner_id: str) -> tuple[Any, list[Any]]:
    found = await store.get_learner(TENANT, learner_id)
    assert found is not None
    assert found[0].given_names == NEW_LEARNER["given_names"]
    return found[0], []
