"""Signed audit checkpoints: each hash chain's head, signed and kept outside the audit database.

``sign_heads`` signs the recorded tail (offset and hash of the newest entry) of every chain whose
head moved since its latest checkpoint (or whose latest checkpoint another key signed) and
whose latest checkpoint still holds (else signing would bless a rewritten chain), appends the checkpoints to the checkpoint file and puts
one ``AuditCheckpointSigned`` event per chain in the outbox, for the compacted
``audit-checkpoints`` topic (key: the chain). The audit log stores those events like any other,
but their own chains are not checkpointed: each checkpoint would move them, and the service would
sign for ever.

The events go to the outbox first, the file last: what a round has not written to the file it
signs again next round (the head is unsigned there), so a failed round is repaired by the next,
at the cost of a repeated event (the topic is compacted). The other order would leave a head in
the file whose event was lost, never to be sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ilrflow.audit.domain.checkpoint import (
    Checkpoint,
    CheckpointSigner,
    latest_per_chain,
)
from ilrflow.audit.domain.records import entry_id
from ilrflow.audit.service.ports import CheckpointLog, CheckpointOutbox
from ilrflow.contracts.events import (
    PLATFORM_TENANT,
    AuditCheckpointSigned,
    Envelope,
    Topics,
    new_event,
)
from ilrflow.platform.lanes import base_topic

log = logging.getLogger(__name__)
SIGNER = "audit-checkpoints"  # the events' actor: the service itself, or an operator's command


@dataclass(frozen=True)
class TrustedCheckpoints:
    """What verification checks the chains against: the file, and the key that signs it."""

    log: CheckpointLog
    public_key: Ed25519PublicKey

    def latest(self) -> dict[tuple[str, int], Checkpoint]:
        return latest_per_chain(self.log.read_all())


@dataclass(frozen=True)
class SignedHeads:
    signed: list[Checkpoint]
    unchanged: int  # chains whose head is the one their latest checkpoint signed
    refused: list[Checkpoint] = field(default_factory=list)
    """Latest checkpoints whose entry no longer carries the signed hash: those chains were
    rewritten, and their new head is not signed (that would bless the rewrite)."""


class AuditCheckpoints:
    def __init__(
        self,
        outbox: CheckpointOutbox,
        trusted: TrustedCheckpoints,
        signer: CheckpointSigner,
        events_written: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._outbox = outbox
        self._trusted = trusted
        self._signer = signer
        self._events_written = events_written
        self._clock = clock

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._signer.public_key

    @property
    def key_id(self) -> str:
        return self._signer.key_id

    async def sign_heads(self, actor: str = SIGNER) -> SignedHeads:
        """Sign each chain's recorded head that no checkpoint signed yet with this key (after a
        key rotation, every chain is signed again)."""
        tails = await self._outbox.all_recorded_tails()
        latest = await asyncio.to_thread(self._trusted.latest)
        now = self._clock()
        signed: list[Checkpoint] = []
        refused: list[Checkpoint] = []
        unchanged = 0
        for (topic, partition), tail in sorted(tails.items()):
            if _is_checkpoint_topic(topic):
                continue
            known = latest.get((topic, partition))
            signed_now = (tail.offset, tail.hash, self._signer.key_id)
            if known is not None and (known.offset, known.head_hash, known.key_id) == signed_now:
                unchanged += 1
                continue
            if known is not None and not await self._still_holds(known):
                log.error(
                    "audit chain %s[%d] no longer holds its checkpoint at offset %d: not signed; "
                    "run ilrflow audit verify",
                    topic,
                    partition,
                    known.offset,
                )
                refused.append(known)
                continue
            signed.append(self._signer.sign(topic, partition, tail.offset, tail.hash, now))
        if signed:
            await self._outbox.record_checkpoints([_event_of(c, actor) for c in signed])
            await asyncio.to_thread(self._trusted.log.append, signed)
            self._events_written()
        return SignedHeads(signed, unchanged, refused)

    async def _still_holds(self, checkpoint: Checkpoint) -> bool:
        """Whether the entry the checkpoint signed still carries its hash (one ``_id`` read):
        a new head is signed only as a continuation of the last one signed."""
        stored = await self._outbox.get(
            None, entry_id(checkpoint.topic, checkpoint.partition, checkpoint.offset)
        )
        return stored is not None and stored.hash == checkpoint.head_hash

    async def run_forever(self, every_seconds: float) -> None:
        """Sign the moved heads every ``every_seconds``; a failed round is logged and retried."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                heads = await self.sign_heads()
            except Exception:
                log.exception("audit checkpoint failed; retrying in %s s", every_seconds)
                continue
            if heads.signed:
                log.info("audit checkpoint: %d chains signed", len(heads.signed))


def _is_checkpoint_topic(topic: str) -> bool:
    """Of any lane, dead letters included (the log stores topics without the deployment's
    prefix)."""
    return base_topic(topic).removesuffix(".dlt") == Topics.AUDIT_CHECKPOINTS


def _event_of(checkpoint: Checkpoint, actor: str) -> Envelope[AuditCheckpointSigned]:
    return new_event(
        AuditCheckpointSigned(**checkpoint.model_dump()),
        tenant=PLATFORM_TENANT,
        subject=f"{checkpoint.topic}:{checkpoint.partition}",
        actor=actor,
    )
