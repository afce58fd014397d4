"""A learner's processed trackers taken as a chain (one consumer batch's records of one key):
the engine applies them one after the other, the record is written once with every event's
position, and the result is what applying them one by one gives."""

from __future__ import annotations

from typing import Any

from ilr_fakes import FakeIlrSettingsStore, FakeIlrStore, FakeReferenceStore, ilr_service
from test_ilr_use_cases import ADMIN, BREAK, LEARNER_ID, NEW_ADDRESS, TENANT, _enrolled, _processed

from ilrflow.contracts.events import EventType
from ilrflow.ilr.service.use_cases import IlrService
from ilrflow.platform.idempotency import OFFSETS_FIELD, RECENT_FIELD, Delivered, RecordPosition

OTHER_ADDRESS = {"address": {"lines": ["3 Mill Lane", "York"], "postcode": "YO1 7HH"}}


def _chain_of(*events: Any, first_offset: int = 10) -> list[Delivered[Any]]:
    return [
        Delivered(event, RecordPosition("tracker-processed", 2, first_offset + n))
        for n, event in enumerate(events)
    ]


def _trackers() -> list[Any]:
    return [
        _processed("change_of_address", NEW_ADDRESS, tracker_id="T1"),
        _processed("change_of_programme", {}, tracker_id="T2"),  # no change: still published
        _processed("change_of_address", OTHER_ADDRESS, tracker_id="T3"),
        _processed("break_in_learning", BREAK, tracker_id="T4"),
    ]


async def _enrolled_service() -> tuple[IlrService, FakeIlrStore, FakeIlrSettingsStore, Any]:
    records, settings, reference = FakeIlrStore(), FakeIlrSettingsStore(), FakeReferenceStore()
    service = ilr_service(records, settings, reference)
    await service.on_learner_updated(_enrolled())
    return service, records, settings, reference


def _published(records: FakeIlrStore) -> list[tuple[str, Any, Any, Any]]:
    return [
        (e.type, e.data.version, getattr(e.data, "outcome", None), e.data.tracker_id)
        for e in records.outbox
    ]


async def test_a_chain_is_one_write_with_every_position_and_equals_one_by_one() -> None:
    service, records, settings, reference = await _enrolled_service()
    one_by_one, alone, _, _ = await _enrolled_service()
    trackers = _trackers()
    writes, settings_reads, table_reads = records.writes, settings.reads, reference.reads

    await service.on_tracker_processed_chain(_chain_of(*trackers))
    for tracker in trackers:
        await one_by_one.on_tracker_processed(tracker)

    assert records.writes == writes + 1
    assert (settings.reads, reference.reads) == (settings_reads + 1, table_reads + 1)
    chained, single = await service.get(ADMIN, LEARNER_ID), await one_by_one.get(ADMIN, LEARNER_ID)
    assert chained.learner == single.learner
    assert chained.version == single.version == 4  # enrolment, T1, T3, T4: T2 changes nothing
    assert _published(records) == _published(alone)
    history = await service.history(ADMIN, LEARNER_ID)
    assert history == await one_by_one.history(ADMIN, LEARNER_ID)
    assert [(h["version"], h["tracker_id"]) for h in history] == [
        (1, None),
        (2, "T1"),
        (3, "T3"),
        (4, "T4"),
    ]
    stored = await records.get(TENANT, LEARNER_ID)
    assert stored is not None
    assert stored.applied[OFFSETS_FIELD] == {"tracker-processed:2": 13}
    assert stored.applied[RECENT_FIELD][-4:] == [t.id for t in trackers]


async def test_a_redelivered_chain_changes_nothing_and_a_longer_one_applies_only_its_new_records() -> (
    None
):
    service, records, _, _ = await _enrolled_service()
    first, second, third, fourth = _trackers()
    await service.on_tracker_processed_chain(_chain_of(first, second))
    published, writes = len(records.outbox), records.writes

    await service.on_tracker_processed_chain(_chain_of(first, second))
    assert (len(records.outbox), records.writes) == (published, writes)

    await service.on_tracker_processed_chain(_chain_of(first, second, third, fourth))
    updates = [e.data for e in records.outbox[published:] if e.type == EventType.ILR_UPDATED]
    assert [u.tracker_id for u in updates] == ["T3", "T4"]
    assert records.writes == writes + 1


async def test_the_relays_copy_in_the_same_chain_is_applied_once() -> None:
    service, records, _, _ = await _enrolled_service()
    first = _trackers()[0]

    await service.on_tracker_processed_chain(_chain_of(first, first))

    updates = [e.data for e in records.outbox if e.type == EventType.ILR_UPDATED]
    assert [u.tracker_id for u in updates] == [None, "T1"]
    assert (await service.get(ADMIN, LEARNER_ID)).version == 2
