"""Tampering of every kind is detected, classified and located at the first break."""

from __future__ import annotations

import io
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ilrflow.audit.domain import (
    GENESIS_HASH,
    AuditEntry,
    ChainTail,
    chain,
    entry_hash,
    verify_all,
    verify_chain,
)
from ilrflow.audit.domain.records import StoredBytes
from ilrflow.audit.domain.verify import in_offset_order, link_of
from ilrflow.audit.entrypoints.progress import VerifyProgress

from .conftest import RecordFactory, raised

ChainFactory = Callable[[int], list[AuditEntry]]


def flip_a_byte(entry: AuditEntry) -> AuditEntry:
    assert entry.value is not None
    raw = bytearray(entry.value.to_bytes())
    raw[5] ^= 0x01
    return entry.model_copy(update={"value": StoredBytes.of(bytes(raw))})


def rehash(entry: AuditEntry, prev_hash: str) -> AuditEntry:
    """What a forger with write access does: recompute the entry's own hash."""
    return entry.model_copy(update={"prev_hash": prev_hash, "hash": entry_hash(entry, prev_hash)})


def test_an_untouched_chain_verifies(partition_chain: ChainFactory) -> None:
    entries = partition_chain(5)

    report = verify_chain(entries, expected_last_hash=entries[-1].hash)

    assert report.ok
    assert (report.entries, report.verified, report.last_hash) == (5, 5, entries[-1].hash)


def test_an_empty_chain_verifies() -> None:
    assert verify_chain([]).ok


def test_a_flipped_byte_is_a_hash_mismatch_at_that_entry(partition_chain: ChainFactory) -> None:
    entries = partition_chain(5)
    entries[2] = flip_a_byte(entries[2])

    report = verify_chain(entries)

    assert report.problem is not None
    assert (report.problem.kind, report.problem.entry_id) == ("hash_mismatch", entries[2].id)
    assert report.verified == 2


def test_a_changed_field_is_a_hash_mismatch(partition_chain: ChainFactory) -> None:
    entries = partition_chain(3)
    entries[1] = entries[1].model_copy(update={"actor": "someone-else"})

    problem = verify_chain(entries).problem

    assert problem is not None
    assert (problem.kind, problem.position) == ("hash_mismatch", 1)


def test_a_deleted_entry_is_a_gap_located_between_its_neighbours(
    partition_chain: ChainFactory,
) -> None:
    entries = partition_chain(5)
    deleted = entries.pop(2)

    problem = verify_chain(entries).problem

    assert problem is not None
    assert problem.kind == "gap"
    assert (problem.previous_offset, problem.offset) == (deleted.offset - 1, deleted.offset + 1)
    assert "offsets 2..2" in problem.detail


def test_a_deleted_first_entry_is_a_bad_start(partition_chain: ChainFactory) -> None:
    entries = partition_chain(3)[1:]

    problem = verify_chain(entries).problem

    assert problem is not None
    assert (problem.kind, problem.position) == ("bad_start", 0)


def test_a_deleted_tail_is_found_only_against_a_recorded_tail_hash(
    partition_chain: ChainFactory,
) -> None:
    entries = partition_chain(4)
    tail = entries[-1].hash

    assert verify_chain(entries[:-1]).ok  # indistinguishable from "not written yet"
    problem = verify_chain(entries[:-1], expected_last_hash=tail).problem
    assert problem is not None
    assert problem.kind == "truncated"


def test_swapped_entries_are_out_of_order_at_the_swap(partition_chain: ChainFactory) -> None:
    entries = partition_chain(5)
    entries[1], entries[3] = entries[3], entries[1]

    problem = verify_chain(entries).problem

    assert problem is not None
    assert (problem.kind, problem.position, problem.entry_id) == (
        "out_of_order",
        1,
        entries[1].id,
    )


def test_a_forged_entry_with_a_valid_own_hash_is_located_at_the_broken_link(
    partition_chain: ChainFactory,
) -> None:
    entries = partition_chain(5)
    forged = entries[2].model_copy(update={"actor": "mallory"})
    entries[2] = rehash(forged, entries[1].hash or "")

    problem = verify_chain(entries).problem

    assert problem is not None
    assert problem.kind == "forged"
    assert (problem.previous_entry_id, problem.entry_id) == (entries[2].id, entries[3].id)


def test_a_forged_entry_with_an_invented_predecessor_is_flagged_at_itself(
    partition_chain: ChainFactory,
) -> None:
    entries = partition_chain(5)
    entries[2] = rehash(entries[2].model_copy(update={"actor": "mallory"}), "f" * 64)

    problem = verify_chain(entries).problem

    assert problem is not None
    assert (problem.kind, problem.entry_id) == ("forged", entries[2].id)


def test_legitimate_offset_gaps_verify(record_entry: RecordFactory) -> None:
    """Transaction markers and compaction leave holes in offsets; the hash link decides."""
    entries = chain([record_entry(raised(f"T{o}"), offset=o) for o in (0, 1, 5, 9)])

    assert verify_chain(entries).ok


def test_an_entry_from_another_partition_is_foreign(
    partition_chain: ChainFactory, record_entry: RecordFactory
) -> None:
    entries = partition_chain(2)
    stranger = chain([record_entry(partition=1, offset=5)])[0]

    problem = verify_chain([*entries, stranger]).problem

    assert problem is not None
    assert problem.kind == "foreign_entry"


def test_verify_all_counts_across_partitions(
    partition_chain: ChainFactory, record_entry: RecordFactory
) -> None:
    good = partition_chain(3)
    bad = chain([record_entry(partition=1, offset=o) for o in range(4)])
    bad[3] = flip_a_byte(bad[3])

    result = verify_all({("tracker-raised", 0): good, ("tracker-raised", 1): bad})

    assert not result.ok
    assert (result.partitions, result.failed_partitions) == (2, 1)
    assert (result.entries, result.verified_entries) == (7, 6)
    assert [r.partition for r in result.reports] == [0, 1]


def test_verify_all_uses_anchors_for_partitions_whose_head_was_archived(
    partition_chain: ChainFactory,
) -> None:
    entries = partition_chain(4)
    key = ("tracker-raised", 0)

    result = verify_all({key: entries[2:]}, anchors={key: entries[1].hash or ""})

    assert result.ok


# --- properties --------------------------------------------------------------------------------

MUTABLE_FIELDS = ["actor", "tenant", "event_type", "learner_id", "tracker_id", "duplicate_of"]


def mutate(entries: list[AuditEntry], data: st.DataObject) -> list[AuditEntry]:
    """Apply one tampering of a kind chosen by Hypothesis; return the tampered copy."""
    tampered = list(entries)
    kind = data.draw(st.sampled_from(["field", "byte", "hash", "delete", "swap", "forge", "dup"]))
    i = data.draw(st.integers(0, len(entries) - 1))
    if kind == "field":
        field = data.draw(st.sampled_from(MUTABLE_FIELDS))
        tampered[i] = tampered[i].model_copy(update={field: "tampered"})
    elif kind == "byte":
        tampered[i] = flip_a_byte(tampered[i])
    elif kind == "hash":
        tampered[i] = tampered[i].model_copy(update={"hash": "0" * 64})
    elif kind == "delete":
        del tampered[i]
    elif kind == "swap":
        j = data.draw(st.integers(0, len(entries) - 1).filter(lambda j: j != i))
        tampered[i], tampered[j] = tampered[j], tampered[i]
    elif kind == "forge":
        tampered[i] = rehash(tampered[i].model_copy(update={"actor": "mallory"}), GENESIS_HASH)
    else:
        tampered.insert(i, tampered[i])
    return tampered


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 6))
def test_property_untouched_chains_verify(partition_chain: ChainFactory, n: int) -> None:
    entries = partition_chain(n)

    assert verify_chain(entries, expected_last_hash=entries[-1].hash).ok


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(2, 6), data=st.data())
def test_property_any_single_mutation_is_detected(
    partition_chain: ChainFactory, n: int, data: st.DataObject
) -> None:
    entries = partition_chain(n)

    tampered = mutate(entries, data)

    report = verify_chain(tampered, expected_last_hash=entries[-1].hash)
    assert not report.ok, f"undetected tampering of {[e.id for e in tampered]}"


# --- recorded tails and relabelled offsets -----------------------------------------------------


def test_a_recorded_tail_may_lag_a_chain_that_grew_after_it(partition_chain: ChainFactory) -> None:
    entries = partition_chain(4)
    key = ("tracker-raised", 0)
    tail = ChainTail(entries[1].offset, entries[1].hash or "")

    assert verify_all({key: entries}, recorded_tails={key: tail}).ok


def test_a_deleted_newest_entry_is_truncated_against_the_recorded_tail(
    partition_chain: ChainFactory,
) -> None:
    entries = partition_chain(4)
    key = ("tracker-raised", 0)
    tail = ChainTail(entries[-1].offset, entries[-1].hash or "")

    result = verify_all({key: entries[:-1]}, recorded_tails={key: tail})

    problem = result.reports[0].problem
    assert problem is not None
    assert (problem.kind, problem.entry_id) == ("truncated", entries[-2].id)


def test_a_partition_emptied_entirely_is_reported_from_its_recorded_tail(
    partition_chain: ChainFactory,
) -> None:
    entries = partition_chain(2)
    key = ("tracker-raised", 0)

    result = verify_all({}, recorded_tails={key: ChainTail(1, entries[1].hash or "")})

    assert (result.partitions, result.failed_partitions) == (1, 1)


def test_swapped_offsets_read_in_offset_order_are_a_reorder(partition_chain: ChainFactory) -> None:
    entries = partition_chain(5)
    relabelled = [
        entries[3].model_copy(update={"offset": 2, "id": entries[2].id}),
        entries[2].model_copy(update={"offset": 3, "id": entries[3].id}),
    ]

    problem = verify_chain([*entries[:2], *relabelled, entries[4]]).problem

    assert problem is not None
    assert (problem.kind, problem.offset) == ("out_of_order", 2)


def test_progress_goes_to_its_stream_then_the_rate() -> None:
    stream = io.StringIO()
    progress = VerifyProgress(stream, every_seconds=0)

    progress(1_000, 3_000)
    progress(3_000, 3_000)
    progress.done()

    lines = stream.getvalue().splitlines()
    assert lines[0] == "verify: 1,000 of about 3,000 entries read and hashed"
    assert lines[-1].startswith("verify: 3,000 entries in ")
    assert lines[-1].endswith(" entries/s)")


def test_links_read_in_any_order_are_verified_in_offset_order(
    partition_chain: Callable[[int], list[AuditEntry]],
) -> None:
    links = [link_of(entry) for entry in partition_chain(5)]
    shuffled = [links[3], links[0], links[4], links[2], links[1]]

    assert verify_chain(in_offset_order(shuffled)).ok
    assert not verify_chain(shuffled).ok
