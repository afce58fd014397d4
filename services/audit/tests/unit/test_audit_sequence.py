"""The ingest sequence: numbering a batch per tenant, and how far readers may serve."""

from __future__ import annotations

from ilrflow.audit.domain.sequence import (
    counts_by_tenant,
    numbered,
    oldest_first,
    visible_below,
    writer_of,
)

from .conftest import RecordFactory


def test_each_tenant_numbers_its_entries_in_the_order_given(record_entry: RecordFactory) -> None:
    acme = [record_entry(offset=n) for n in range(3)]
    other = record_entry(offset=3).model_copy(update={"tenant": "other"})
    bare = record_entry(offset=4).model_copy(update={"tenant": None})
    batch = [acme[0], other, acme[1], bare, acme[2]]

    assert counts_by_tenant(batch) == {"acme": 3, "other": 1}
    result = numbered(batch, {"acme": 7, "other": 0})

    assert [e.sequence for e in result] == [7, 0, 8, None, 9]


def test_readers_stop_below_the_lowest_batch_still_being_written() -> None:
    assert visible_below(None) == 0
    assert visible_below({"next": 12}) == 12
    assert visible_below({"next": 12, "pending": {}}) == 12
    assert visible_below({"next": 30, "pending": {"a:0": 20, "b:1": 14}}) == 14


def test_a_writer_name_is_a_safe_document_field() -> None:
    assert writer_of("ilrflow.tracker-raised", 2) == "ilrflow~tracker-raised:2"
    assert "." not in writer_of("a.b.c", 0)


def test_a_poll_is_stored_oldest_partition_batch_first() -> None:
    poll = {"processed:0": [30, 31], "raised:0": [10, 40], "ilr:1": [35], "empty:0": []}

    assert oldest_first(poll, lambda timestamp: timestamp, size=1000) == [
        ("raised:0", [10, 40]),
        ("processed:0", [30, 31]),
        ("ilr:1", [35]),
    ]


def test_a_partition_is_split_into_batches_of_at_most_the_size_in_offset_order() -> None:
    poll = {"raised:0": [10, 11, 12, 13, 14], "ilr:1": [12, 20]}

    assert oldest_first(poll, lambda timestamp: timestamp, size=2) == [
        ("raised:0", [10, 11]),
        ("raised:0", [12, 13]),
        ("ilr:1", [12, 20]),
        ("raised:0", [14]),
    ]


def test_a_batch_never_goes_before_an_earlier_one_of_its_partition() -> None:
    # Producer timestamps may run backwards within a partition; its offsets may not.
    poll = {"raised:0": [50, 51, 5, 6], "ilr:1": [20]}

    assert oldest_first(poll, lambda timestamp: timestamp, size=2) == [
        ("ilr:1", [20]),
        ("raised:0", [50, 51]),
        ("raised:0", [5, 6]),
    ]
