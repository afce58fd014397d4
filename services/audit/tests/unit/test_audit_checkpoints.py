"""Signed checkpoints: what is signed, the keys, and the re-hashed partition they catch."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from audit_fakes import FakeAuditLog, audit_ingest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ilrflow.audit.adapters.checkpoint_file import CheckpointFile, UnreadableCheckpointFileError
from ilrflow.audit.domain import AuditEntry, ChainTail, chain, verify_all
from ilrflow.audit.domain.checkpoint import (
    Checkpoint,
    CheckpointSigner,
    InvalidCheckpointKeyError,
    development_key,
    key_id_of,
    latest_per_chain,
    load_private_key,
    signature_holds,
)
from ilrflow.audit.domain.verify import in_offset_order, link_of
from ilrflow.audit.service.checkpoints import AuditCheckpoints, TrustedCheckpoints
from ilrflow.audit.service.ingest import RawRecord
from ilrflow.audit.service.queries import AuditQueries
from ilrflow.contracts.events import PLATFORM_TENANT, Envelope, EventType, to_wire

from .conftest import event_of, raised

ChainFactory = Callable[[int], list[AuditEntry]]
AT = datetime(2026, 12, 4, 23, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def rehash_whole_partition(entries: list[AuditEntry]) -> list[AuditEntry]:
    """What someone with write access to the database does after editing an entry: chain the
    partition again from genesis, so every link holds."""
    edited = entries[1].model_copy(update={"actor": "mallory"})
    return chain([entries[0], edited, *entries[2:]])


def checkpoint_of(entries: list[AuditEntry], signer: CheckpointSigner) -> Checkpoint:
    head = entries[-1]
    return signer.sign(head.topic, head.partition, head.offset, head.hash or "", AT)


def test_a_checkpoint_is_signed_by_its_key_and_by_no_other() -> None:
    checkpoint = CheckpointSigner(KEY).sign("tracker-raised", 3, 41, "ab" * 32, AT)

    assert signature_holds(checkpoint, KEY.public_key())
    assert checkpoint.key_id == key_id_of(KEY.public_key())
    assert not signature_holds(checkpoint, development_key().public_key())


@pytest.mark.parametrize(
    "edit",
    [
        {"offset": 42},
        {"head_hash": "cd" * 32},
        {"partition": 4},
        {"topic": "tracker-processed"},
        {"signed_at": datetime(2026, 12, 5, tzinfo=UTC)},
    ],
    ids=["offset", "hash", "partition", "topic", "time"],
)
def test_every_signed_field_is_covered(edit: dict[str, object]) -> None:
    checkpoint = CheckpointSigner(KEY).sign("tracker-raised", 3, 41, "ab" * 32, AT)

    assert not signature_holds(checkpoint.model_copy(update=edit), KEY.public_key())


def test_a_garbled_signature_does_not_hold() -> None:
    checkpoint = CheckpointSigner(KEY).sign("tracker-raised", 3, 41, "ab" * 32, AT)

    assert not signature_holds(checkpoint.model_copy(update={"signature": "%%"}), KEY.public_key())


def test_keys_load_from_a_base64_seed_or_pem() -> None:
    seed = base64.b64encode(bytes(range(32))).decode()
    pem = KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    expected = key_id_of(KEY.public_key())

    assert key_id_of(load_private_key(seed).public_key()) == expected
    assert key_id_of(load_private_key(f"\n{pem}\n").public_key()) == expected


@pytest.mark.parametrize(
    "text",
    ["not base64!", base64.b64encode(b"short").decode(), "-----BEGIN PRIVATE KEY-----\nxx\n"],
    ids=["garbage", "short-seed", "bad-pem"],
)
def test_a_key_that_is_not_an_ed25519_key_is_refused(text: str) -> None:
    with pytest.raises(InvalidCheckpointKeyError):
        load_private_key(text)


def test_the_latest_checkpoint_of_a_chain_is_its_highest_offset() -> None:
    signer = CheckpointSigner(KEY)
    old = signer.sign("t", 0, 5, "a" * 64, AT)
    new = signer.sign("t", 0, 9, "b" * 64, datetime(2026, 1, 1, tzinfo=UTC))
    other = signer.sign("t", 1, 2, "c" * 64, AT)

    assert latest_per_chain([new, old, other]) == {("t", 0): new, ("t", 1): other}


def test_a_re_hashed_partition_passes_the_chain_but_not_its_checkpoint(
    partition_chain: ChainFactory,
) -> None:
    entries = partition_chain(5)
    checkpoint = checkpoint_of(entries, CheckpointSigner(KEY))
    tampered = rehash_whole_partition(entries)
    key = (entries[0].topic, 0)
    tail = {key: ChainTail(tampered[-1].offset, tampered[-1].hash or "")}

    without = verify_all({key: tampered}, recorded_tails=tail)
    found = verify_all(
        {key: tampered},
        recorded_tails=tail,
        checkpoints={key: checkpoint},
        public_key=KEY.public_key(),
    )

    assert without.ok  # what the checkpoints are for
    [report] = found.reports
    assert report.problem is not None
    assert (report.problem.kind, report.problem.offset) == ("checkpoint_mismatch", 4)
    assert "re-hashed" in report.problem.detail
    assert (found.failed_partitions, found.checkpointed_partitions) == (1, 1)
    assert "TAMPERING DETECTED" in found.describe()


def test_an_untouched_partition_passes_its_checkpoint_while_it_grows(
    partition_chain: ChainFactory,
) -> None:
    entries = partition_chain(6)
    checkpoint = checkpoint_of(entries[:4], CheckpointSigner(KEY))
    key = (entries[0].topic, 0)

    result = verify_all({key: entries}, checkpoints={key: checkpoint}, public_key=KEY.public_key())

    assert result.ok
    assert result.checkpointed_partitions == 1


def test_a_partition_deleted_with_its_tail_is_caught_by_its_checkpoint(
    partition_chain: ChainFactory,
) -> None:
    entries = partition_chain(3)
    key = (entries[0].topic, 0)
    checkpoint = checkpoint_of(entries, CheckpointSigner(KEY))

    result = verify_all({}, checkpoints={key: checkpoint}, public_key=KEY.public_key())

    [report] = result.reports
    assert report.problem is not None
    assert report.problem.kind == "checkpoint_mismatch"
    assert "no entry there" in report.problem.detail


def test_a_checkpoint_signed_by_another_key_is_reported(partition_chain: ChainFactory) -> None:
    entries = partition_chain(3)
    key = (entries[0].topic, 0)
    forged = checkpoint_of(entries, CheckpointSigner(development_key()))

    result = verify_all({key: entries}, checkpoints={key: forged}, public_key=KEY.public_key())

    [report] = result.reports
    assert report.problem is not None
    assert report.problem.kind == "bad_checkpoint"


def test_the_chain_s_own_break_is_reported_before_the_checkpoint(
    partition_chain: ChainFactory,
) -> None:
    entries = partition_chain(4)
    key = (entries[0].topic, 0)
    checkpoint = checkpoint_of(entries, CheckpointSigner(KEY))
    del entries[1]

    result = verify_all({key: entries}, checkpoints={key: checkpoint}, public_key=KEY.public_key())

    [report] = result.reports
    assert report.problem is not None
    assert report.problem.kind == "gap"


def test_checkpoints_need_a_public_key(partition_chain: ChainFactory) -> None:
    entries = partition_chain(2)
    key = (entries[0].topic, 0)
    with pytest.raises(ValueError, match="public key"):
        verify_all({key: entries}, checkpoints={key: checkpoint_of(entries, CheckpointSigner(KEY))})


# --- signing the heads, and verifying against them ------------------------------------------


async def stored_log(topics: list[str]) -> FakeAuditLog:
    log = FakeAuditLog()
    ingest = audit_ingest(log)
    for topic in topics:
        records = [RawRecord(i, *to_wire(event_of(raised(f"T{i}"))), None) for i in range(3)]
        await ingest.store_batch(topic, 0, records)
    return log


def checkpoints_over(
    log: FakeAuditLog, path: Path, key: Ed25519PrivateKey = KEY
) -> AuditCheckpoints:
    signer = CheckpointSigner(key)
    trusted = TrustedCheckpoints(CheckpointFile(path), signer.public_key)
    return AuditCheckpoints(log, trusted, signer, lambda: None, clock=lambda: AT)


async def test_moved_heads_are_signed_to_the_file_and_the_outbox(tmp_path: Path) -> None:
    log = await stored_log(["tracker-raised", "lane-acme.audit-checkpoints"])
    file = tmp_path / "checkpoints.jsonl"
    checkpoints = checkpoints_over(log, file)

    first = await checkpoints.sign_heads()
    again = await checkpoints.sign_heads()

    # The checkpoints' own topic is audited but not checkpointed: each round would move it.
    [signed] = first.signed
    assert (signed.topic, signed.partition, signed.offset) == ("tracker-raised", 0, 2)
    assert signature_holds(signed, KEY.public_key())
    assert (again.signed, again.unchanged) == ([], 1)
    assert CheckpointFile(file).read_all() == [signed]
    [event] = log.checkpoint_events
    assert (event.type, event.tenant) == (EventType.AUDIT_CHECKPOINT_SIGNED, PLATFORM_TENANT)
    assert event.subject == "tracker-raised:0"
    assert event.data.model_dump() == signed.model_dump()


async def test_after_a_key_rotation_every_chain_is_signed_again(tmp_path: Path) -> None:
    log = await stored_log(["tracker-raised"])
    file = tmp_path / "checkpoints.jsonl"
    await checkpoints_over(log, file, development_key()).sign_heads()

    rotated = await checkpoints_over(log, file).sign_heads()

    [signed] = rotated.signed
    assert signed.key_id == key_id_of(KEY.public_key())
    queries = AuditQueries(
        log, lambda: None, TrustedCheckpoints(CheckpointFile(file), KEY.public_key())
    )
    assert (await queries.verify_log()).ok


async def test_verification_reads_the_latest_checkpoints_from_the_file(tmp_path: Path) -> None:
    log = await stored_log(["tracker-raised"])
    file = tmp_path / "checkpoints.jsonl"
    await checkpoints_over(log, file).sign_heads()
    queries = AuditQueries(
        log, lambda: None, TrustedCheckpoints(CheckpointFile(file), KEY.public_key())
    )
    assert (await queries.verify_log()).ok

    stored = in_offset_order([link_of(e) for e in log.entries.values()])
    entries = [log.entries[link.id] for link in stored]
    tampered = rehash_whole_partition(entries)
    for entry in tampered:
        log.entries[entry.id] = entry
    head = tampered[-1]
    await log.record_tail(head.topic, 0, ChainTail(head.offset, head.hash or ""))
    result = await queries.verify_log()

    assert [r.problem.kind for r in result.reports if r.problem] == ["checkpoint_mismatch"]


def test_an_unreadable_checkpoint_file_is_an_error(tmp_path: Path) -> None:
    file = tmp_path / "checkpoints.jsonl"
    file.write_text('{"topic": "t"}\n')

    with pytest.raises(UnreadableCheckpointFileError, match=r"checkpoints\.jsonl:1"):
        CheckpointFile(file).read_all()


class FailingOnce(FakeAuditLog):
    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def record_checkpoints(self, events: Sequence[Envelope[Any]]) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("database away")
        await super().record_checkpoints(events)


async def test_the_periodic_round_signs_and_survives_a_failed_round(tmp_path: Path) -> None:
    log = FailingOnce()
    records = [RawRecord(i, *to_wire(event_of(raised(f"T{i}"))), None) for i in range(2)]
    await audit_ingest(log).store_batch("tracker-raised", 0, records)
    checkpoints = checkpoints_over(log, tmp_path / "checkpoints.jsonl")

    task = asyncio.create_task(checkpoints.run_forever(0.01))
    try:
        for _ in range(200):
            if log.checkpoint_events:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()

    assert log.failed
    [event] = log.checkpoint_events
    assert event.subject == "tracker-raised:0"


async def test_a_chain_rewritten_since_its_checkpoint_is_not_signed_again(tmp_path: Path) -> None:
    log = await stored_log(["tracker-raised"])
    file = tmp_path / "checkpoints.jsonl"
    [first] = (await checkpoints_over(log, file).sign_heads()).signed
    entries = sorted(log.entries.values(), key=lambda e: e.offset)
    tampered = rehash_whole_partition(entries)
    for entry in tampered:
        log.entries[entry.id] = entry
    more = [RawRecord(3, *to_wire(event_of(raised("T3"))), None)]
    await audit_ingest(log).store_batch("tracker-raised", 0, more)

    heads = await checkpoints_over(log, file).sign_heads()

    assert (heads.signed, heads.refused) == ([], [first])
    assert CheckpointFile(file).read_all() == [first]
