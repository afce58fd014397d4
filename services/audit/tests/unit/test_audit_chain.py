"""The canonical encoding and the hash chain: stable, complete, and strict about order."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from ilrflow.audit.domain import GENESIS_HASH, AuditEntry, canonical_bytes, chain, entry_hash
from ilrflow.audit.domain.chain import UNCHAINED_FIELDS, stored_hash_holds
from ilrflow.audit.domain.records import StoredBytes, StoredHeader

from .conftest import RecordFactory


def fixed_entry() -> AuditEntry:
    return AuditEntry(
        id="tracker-raised:0:7",
        topic="tracker-raised",
        partition=0,
        offset=7,
        key=StoredBytes.of(b"acme:L1"),
        headers=[StoredHeader(name="ce_id", value=StoredBytes.of(b"E1"))],
        value=StoredBytes.of('{"name":"Zoë"}'.encode()),
        recorded_at=datetime(2026, 1, 5, 10, 0, 0, 123456, tzinfo=UTC),
        time=datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
        event_id="E1",
        tenant="acme",
    )


EXPECTED_CANONICAL = (
    '{"actor":null,"causation_id":null,"correlation_id":null,"dead_letter":null,'
    '"duplicate_of":null,"event_id":"E1","event_time":null,"event_type":null,'
    '"headers":[{"name":"ce_id","value":{"data":"E1","encoding":"utf-8"}}],'
    '"id":"tracker-raised:0:7","key":{"data":"acme:L1","encoding":"utf-8"},"learner_id":null,'
    '"offset":7,"partition":0,"problems":[],"recorded_at":"2026-01-05T10:00:00.123Z",'
    '"schema_version":1,"source":null,"subject":null,"tenant":"acme",'
    '"time":"2026-01-05T10:00:00.000Z","topic":"tracker-raised","tracker_id":null,'
    '"value":{"data":"{\\"name\\":\\"Zoë\\"}","encoding":"utf-8"}}'
)


def test_canonical_encoding_is_pinned() -> None:
    """Changing this breaks every stored chain: bump schema_version and keep the old encoder."""
    assert canonical_bytes(fixed_entry()) == EXPECTED_CANONICAL.encode("utf-8")


def test_hash_is_sha256_of_prev_hash_then_canonical_bytes() -> None:
    expected = hashlib.sha256(GENESIS_HASH.encode() + EXPECTED_CANONICAL.encode()).hexdigest()

    assert entry_hash(fixed_entry(), GENESIS_HASH) == expected
    assert expected == "6f71754c4f9b69d8f647d2a8a1f48e91a75b8e2e649ed5d9ea0fd784256c2d21"


def test_canonical_covers_every_stored_field_but_the_hashes_and_the_sequence() -> None:
    document = json.loads(canonical_bytes(fixed_entry()))

    assert set(document) == set(AuditEntry.model_fields) - UNCHAINED_FIELDS
    assert {"prev_hash", "hash", "sequence"} == UNCHAINED_FIELDS
    numbered = fixed_entry().model_copy(update={"sequence": 41})
    assert canonical_bytes(numbered) == canonical_bytes(fixed_entry())  # old hashes still hold


def test_an_entry_read_back_from_the_database_hashes_the_same() -> None:
    """BSON keeps milliseconds and PyMongo returns naive UTC datetimes; neither may matter."""
    original = chain([fixed_entry()])[0]
    stored = original.model_dump()
    for field in ("recorded_at", "time"):
        stored[field] = stored[field].replace(tzinfo=None)

    reloaded = AuditEntry.model_validate(stored)

    assert entry_hash(reloaded, GENESIS_HASH) == original.hash


def test_chain_links_each_entry_to_its_predecessor(
    partition_chain: Callable[[int], list[AuditEntry]],
) -> None:
    entries = partition_chain(3)

    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert all(e.hash == entry_hash(e, e.prev_hash or "") for e in entries)


def test_chain_continues_from_a_given_tail(
    partition_chain: Callable[[int], list[AuditEntry]],
) -> None:
    whole = partition_chain(4)
    unchained = [e.model_copy(update={"prev_hash": None, "hash": None}) for e in whole]

    continued = chain(unchained[2:], prev_hash=whole[1].hash or "")

    assert continued == whole[2:]


def test_chain_refuses_entries_out_of_offset_order(record_entry: RecordFactory) -> None:
    with pytest.raises(ValueError, match="offsets must increase"):
        chain([record_entry(offset=2), record_entry(offset=1)])


def test_chain_refuses_to_mix_partitions(record_entry: RecordFactory) -> None:
    with pytest.raises(ValueError, match="different partitions"):
        chain([record_entry(partition=0, offset=1), record_entry(partition=1, offset=2)])


def _stored(entry: AuditEntry) -> dict[str, Any]:
    """The document as the repository stores it and PyMongo reads it back: naive UTC times."""
    document: dict[str, Any] = {"_id": entry.id, **entry.model_dump(mode="python")}
    for field in ("recorded_at", "time", "event_time"):
        if document[field] is not None:
            document[field] = document[field].replace(tzinfo=None)
    return document


def test_a_stored_document_is_checked_without_the_model_exactly_like_its_entry() -> None:
    linked = chain([fixed_entry()])[0].model_copy(update={"sequence": 3})

    assert stored_hash_holds(_stored(linked))
    assert not stored_hash_holds({**_stored(linked), "actor": "someone-else"})
    assert not stored_hash_holds({**_stored(linked), "prev_hash": None})
    assert not stored_hash_holds({**_stored(linked), "key": b"bytes the model never stores"})
    assert stored_hash_holds({**_stored(linked), "sequence": 99})  # not covered by the hash
