"""A redelivered event id is stored and flagged; a re-read of the same record is not stored."""

from __future__ import annotations

from ilrflow.audit.domain import RecordCoordinates, decide_delivery, with_delivery

from .conftest import RecordFactory


def test_first_delivery_is_new(record_entry: RecordFactory) -> None:
    decision = decide_delivery(record_entry(offset=3), [])

    assert (decision.kind, decision.should_store) == ("new", True)


def test_same_event_at_a_new_offset_is_a_duplicate_of_the_earliest(
    record_entry: RecordFactory,
) -> None:
    entry = record_entry(offset=9)
    earlier = [RecordCoordinates("tracker-raised", 0, 7), RecordCoordinates("tracker-raised", 0, 3)]

    decision = decide_delivery(entry, earlier)

    assert decision.kind == "duplicate"
    assert decision.should_store
    assert decision.duplicate_of == "tracker-raised:0:3"
    assert with_delivery(entry, decision).is_duplicate


def test_the_same_coordinates_again_is_a_re_read_and_not_stored(
    record_entry: RecordFactory,
) -> None:
    entry = record_entry(offset=9)

    decision = decide_delivery(entry, [entry.coordinates])

    assert (decision.kind, decision.should_store) == ("already_stored", False)


def test_a_dead_letter_is_not_a_duplicate_of_its_original(record_entry: RecordFactory) -> None:
    dead_letter = record_entry(topic="tracker-raised.dlt", offset=0)

    decision = decide_delivery(dead_letter, [RecordCoordinates("tracker-raised", 0, 5)])

    assert decision.kind == "new"


def test_a_record_without_an_event_id_is_never_a_duplicate(record_entry: RecordFactory) -> None:
    entry = record_entry(offset=2).model_copy(update={"event_id": None})

    assert decide_delivery(entry, [RecordCoordinates("tracker-raised", 0, 1)]).kind == "new"
