"""Verify hash chains and say where the first break is and what it most likely was.

Kafka offsets may legitimately skip (transaction markers, compaction), so the hash link is the
authority and offsets only help to name a broken link:

- ``hash_mismatch``: the entry's content no longer matches its own hash (a flipped byte or field).
- ``out_of_order``: offsets go backwards, or the entry was chained to one stored *after* it
  (a reorder or swap).
- ``gap``: the link is broken and offsets jump: entries in between were deleted.
- ``forged``: the link is broken between adjacent offsets although each entry hashes correctly
  on its own: one of the two was rewritten and re-hashed.
- ``bad_start``: the first entry does not follow the anchor (deleted head, or a forged first).
- ``foreign_entry``: an entry of another topic or partition is mixed in.
- ``truncated``: the chain ends before the tail hash the caller knows (deleted tail). Without a
  recorded tail hash, deleting the newest entries cannot be told from not having them yet.
  A ``ChainTail`` (offset and hash recorded when a batch was stored) may lag the chain, which
  grows after it is written; it only has to be found, unchanged, at its offset.
- ``checkpoint_mismatch``: the chain holds, but not the head a signed checkpoint (kept outside
  the database, ``domain.checkpoint``) recorded: the entry at the checkpoint's offset is missing
  or carries another hash. The partition was rewritten and re-hashed, or its newest entries
  deleted together with their recorded tail.
- ``bad_checkpoint``: the latest checkpoint of a chain is not signed by the configured key (or
  was edited): the checkpoints themselves cannot be trusted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

from ilrflow.audit.domain.chain import GENESIS_HASH, entry_hash
from ilrflow.audit.domain.checkpoint import Checkpoint, signature_holds
from ilrflow.audit.domain.records import AuditEntry

ProblemKind = Literal[
    "hash_mismatch",
    "out_of_order",
    "gap",
    "forged",
    "bad_start",
    "foreign_entry",
    "truncated",
    "checkpoint_mismatch",
    "bad_checkpoint",
]
PartitionKey = tuple[str, int]


class ChainLink(NamedTuple):
    """What verification needs of an entry: where it sits, its two hashes, and whether its
    content still matches its own hash (checked once, when it is read)."""

    id: str
    topic: str
    partition: int
    offset: int
    prev_hash: str | None
    hash: str | None
    intact: bool


def link_of(entry: AuditEntry) -> ChainLink:
    intact = entry.prev_hash is not None and entry.hash == entry_hash(entry, entry.prev_hash)
    return ChainLink(
        entry.id, entry.topic, entry.partition, entry.offset, entry.prev_hash, entry.hash, intact
    )


def in_offset_order(links: list[ChainLink]) -> list[ChainLink]:
    """A partition's links in the order verification reads them (stable: equal offsets, which
    only tampering makes, keep the order they were read in)."""
    return sorted(links, key=lambda link: link.offset)


Verifiable = AuditEntry | ChainLink


class ChainTail(NamedTuple):
    """The newest entry of a partition as recorded when it was stored."""

    offset: int
    hash: str


class ChainProblem(BaseModel):
    """The first break found, located by its position in the list given and its entry id."""

    model_config = ConfigDict(frozen=True)

    kind: ProblemKind
    position: int
    entry_id: str
    offset: int
    previous_entry_id: str | None = None
    previous_offset: int | None = None
    detail: str


class VerifyReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    topic: str | None
    partition: int | None
    entries: int
    verified: int
    problem: ChainProblem | None = None
    last_hash: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class AuditVerification(BaseModel):
    """Every partition's report, with the totals an operator looks at first."""

    model_config = ConfigDict(frozen=True)

    partitions: int
    failed_partitions: int
    entries: int
    verified_entries: int
    checkpointed_partitions: int = Field(
        default=0, description="Partitions checked against a signed checkpoint."
    )
    reports: list[VerifyReport]

    @property
    def ok(self) -> bool:
        return self.failed_partitions == 0

    def describe(self) -> str:
        """The report as an operator reads it (``ilrflow-audit verify``, ``ilrflow audit
        verify``): the totals, the first break of each broken partition, the verdict."""
        lines = [
            f"{self.partitions} partitions, {self.entries} entries, "
            f"{self.verified_entries} verified, {self.failed_partitions} broken, "
            f"{self.checkpointed_partitions} checked against signed checkpoints"
        ]
        for report in self.reports:
            if report.problem is not None:
                problem = report.problem
                lines.append(
                    f"BROKEN {report.topic}[{report.partition}] at {problem.entry_id} "
                    f"(offset {problem.offset}): {problem.kind}: {problem.detail}"
                )
        lines.append("OK" if self.ok else "TAMPERING DETECTED")
        return "\n".join(lines)


def verify_chain(
    chained: Sequence[Verifiable],
    anchor: str = GENESIS_HASH,
    expected_last_hash: str | None = None,
) -> VerifyReport:
    """Check one partition's entries (or their links), in stored order, starting from
    ``anchor``.

    Pass ``expected_last_hash`` (a tail hash recorded elsewhere) to also detect a deleted tail.
    """
    entries = [e if isinstance(e, ChainLink) else link_of(e) for e in chained]
    first = entries[0] if entries else None
    report = VerifyReport(
        topic=first.topic if first else None,
        partition=first.partition if first else None,
        entries=len(entries),
        verified=0,
    )
    positions = {entry.hash: i for i, entry in enumerate(entries) if entry.hash}
    link = anchor
    for position, entry in enumerate(entries):
        previous = entries[position - 1] if position else None
        problem = _first_problem(position, entry, previous, first, link, positions)
        if problem:
            return report.model_copy(update={"verified": position, "problem": problem})
        link = entry.hash or ""
    if expected_last_hash is not None and link != expected_last_hash:
        truncated = _truncated(entries, link)
        return report.model_copy(update={"verified": len(entries), "problem": truncated})
    return report.model_copy(update={"verified": len(entries), "last_hash": link})


def verify_all(
    partitions: Mapping[PartitionKey, Sequence[Verifiable]],
    anchors: Mapping[PartitionKey, str] | None = None,
    tails: Mapping[PartitionKey, str] | None = None,
    recorded_tails: Mapping[PartitionKey, ChainTail] | None = None,
    checkpoints: Mapping[PartitionKey, Checkpoint] | None = None,
    public_key: Ed25519PublicKey | None = None,
) -> AuditVerification:
    """Verify every partition's chain; ``anchors``/``tails`` default to genesis / unknown.

    ``recorded_tails`` must each still be in their chain; a partition that has a recorded tail
    but no entries at all is reported too (everything deleted). ``checkpoints`` (each chain's
    latest) must be signed by ``public_key`` and their head found, unchanged, at its offset.
    """
    recorded = recorded_tails or {}
    signed = checkpoints or {}
    if signed and public_key is None:
        raise ValueError("checkpoints are verified with a public key")
    keys = sorted(set(partitions) | set(recorded) | set(signed))
    reports = []
    for key in keys:
        entries = partitions.get(key, [])
        report = _verify_partition(key, entries, (anchors or {}).get(key), (tails or {}).get(key))
        report = _with_recorded_tail(report, entries, recorded.get(key))
        if key in signed and public_key is not None:
            report = _with_checkpoint(report, entries, signed[key], public_key)
        reports.append(report)
    return AuditVerification(
        partitions=len(reports),
        failed_partitions=sum(not report.ok for report in reports),
        entries=sum(report.entries for report in reports),
        verified_entries=sum(report.verified for report in reports),
        checkpointed_partitions=sum(key in signed for key in keys),
        reports=reports,
    )


def _verify_partition(
    key: PartitionKey, entries: Sequence[Verifiable], anchor: str | None, tail: str | None
) -> VerifyReport:
    report = verify_chain(entries, anchor or GENESIS_HASH, tail)
    topic, partition = key
    return report.model_copy(update={"topic": topic, "partition": partition})


def _with_recorded_tail(
    report: VerifyReport, entries: Sequence[Verifiable], tail: ChainTail | None
) -> VerifyReport:
    """An intact chain must still hold the recorded tail, unchanged, at its offset."""
    if not report.ok or tail is None:
        return report
    if any(e.offset == tail.offset and e.hash == tail.hash for e in entries):
        return report
    problem = _truncated(entries, report.last_hash or "")
    detail = (
        f"the entry recorded as the tail (offset {tail.offset}, hash {tail.hash[:12]}…) is "
        f"missing or rewritten: newest entries deleted or re-hashed"
    )
    update = {"problem": problem.model_copy(update={"detail": detail}), "last_hash": None}
    return report.model_copy(update=update)


def _with_checkpoint(
    report: VerifyReport,
    entries: Sequence[Verifiable],
    checkpoint: Checkpoint,
    public_key: Ed25519PublicKey,
) -> VerifyReport:
    """An intact chain must hold the signed head, unchanged, at its offset."""
    if not report.ok:
        return report
    at = _checkpoint_problem_site(entries, checkpoint.offset)
    signed = f"signed {checkpoint.signed_at:%Y-%m-%d %H:%M:%S}Z"
    if not signature_holds(checkpoint, public_key):
        kind: ProblemKind = "bad_checkpoint"
        detail = (
            f"the checkpoint at offset {checkpoint.offset} ({signed}, key {checkpoint.key_id}) "
            f"is not signed by the configured key: checkpoints forged or edited, or the key changed"
        )
    elif any(e.offset == checkpoint.offset and e.hash == checkpoint.head_hash for e in entries):
        return report
    else:
        kind = "checkpoint_mismatch"
        detail = (
            f"the signed checkpoint ({signed}) has hash {checkpoint.head_hash[:12]}… at offset "
            f"{checkpoint.offset}, the log has "
            f"{_hash_at(entries, checkpoint.offset)}: the partition was rewritten and re-hashed "
            f"(or its newest entries deleted)"
        )
    position, entry = at
    problem = ChainProblem(
        kind=kind,
        position=position,
        entry_id=entry.id if entry else "",
        offset=entry.offset if entry else checkpoint.offset,
        detail=detail,
    )
    return report.model_copy(update={"problem": problem, "last_hash": None})


def _checkpoint_problem_site(
    entries: Sequence[Verifiable], offset: int
) -> tuple[int, Verifiable | None]:
    """The entry at the checkpoint's offset, else the newest before it, else none."""
    site: tuple[int, Verifiable | None] = (0, None)
    for position, entry in enumerate(entries):
        if entry.offset > offset:
            break
        site = (position, entry)
    return site


def _hash_at(entries: Sequence[Verifiable], offset: int) -> str:
    found = [e.hash for e in entries if e.offset == offset]
    return f"hash {(found[0] or '')[:12]}…" if found else "no entry there"


def _first_problem(
    position: int,
    entry: ChainLink,
    previous: ChainLink | None,
    first: ChainLink | None,
    link: str,
    positions: dict[str, int],
) -> ChainProblem | None:
    def problem(kind: ProblemKind, detail: str) -> ChainProblem:
        return ChainProblem(
            kind=kind,
            position=position,
            entry_id=entry.id,
            offset=entry.offset,
            previous_entry_id=previous.id if previous else None,
            previous_offset=previous.offset if previous else None,
            detail=detail,
        )

    if first and (entry.topic, entry.partition) != (first.topic, first.partition):
        return problem("foreign_entry", f"{entry.id} belongs to another partition than {first.id}")
    if previous and entry.offset <= previous.offset:
        return problem("out_of_order", f"offset {entry.offset} follows {previous.offset}")
    if not entry.intact:
        if positions.get(entry.prev_hash or "", -1) > position:
            # Relabelled offsets break the entry's own hash, but its link still points at the
            # entry that really came before it, now stored after it: that is a reorder.
            return problem("out_of_order", f"{entry.id} was chained after an entry stored later")
        return problem("hash_mismatch", f"{entry.id} no longer matches its own hash")
    if entry.prev_hash == link:
        return None
    kind, detail = _broken_link(position, entry, previous, positions)
    return problem(kind, detail)


def _broken_link(
    position: int, entry: ChainLink, previous: ChainLink | None, positions: dict[str, int]
) -> tuple[ProblemKind, str]:
    """Name a broken link; the entry itself hashes correctly, so the break is between entries."""
    if previous is None:
        return "bad_start", f"{entry.id} does not follow the anchor: head deleted or entry forged"
    if positions.get(entry.prev_hash or "", -1) > position:
        return "out_of_order", f"{entry.id} was chained after an entry stored later: reordered"
    if entry.offset > previous.offset + 1:
        missing = f"{previous.offset + 1}..{entry.offset - 1}"
        return "gap", f"link broken across offsets {missing}: entries deleted"
    return "forged", (
        f"{previous.id} and {entry.id} each hash correctly but do not link: "
        f"one of them was rewritten and re-hashed"
    )


def _truncated(entries: Sequence[Verifiable], link: str) -> ChainProblem:
    last = entries[-1] if entries else None
    return ChainProblem(
        kind="truncated",
        position=max(len(entries) - 1, 0),
        entry_id=last.id if last else "",
        offset=last.offset if last else -1,
        detail=f"chain ends at hash {link[:12]}…, not at the recorded tail: newest entries deleted",
    )
