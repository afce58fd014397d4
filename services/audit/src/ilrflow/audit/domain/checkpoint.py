"""Signed checkpoints: a chain head (topic, partition, offset, hash) signed with Ed25519.

The hash chain detects an edited or deleted entry, but whoever can write the audit database can
re-hash a whole partition after a change (and rewrite its recorded tail), and the chain holds
again. A checkpoint is signed with a key the database does not hold and kept outside it (a file
and a compacted topic), so a re-hashed partition no longer holds the hash signed at that offset.

What is signed, exactly: ``signed_bytes``, the JSON (sorted keys, no whitespace) of
``{"format": FORMAT, "topic", "partition", "offset", "head_hash", "signed_at", "key_id"}``,
``signed_at`` written ``YYYY-MM-DDTHH:MM:SS.mmmZ``. ``key_id`` is the first 16 hex digits of the
SHA-256 of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict

from ilrflow.audit.domain.records import normalise_time

FORMAT = "ilrflow.audit.checkpoint.v1"
DEVELOPMENT_SEED = hashlib.sha256(b"ilrflow-development-audit-checkpoint-key").digest()
"""The development key's seed: public, so a checkpoint it signs proves nothing."""

PartitionKey = tuple[str, int]


class Checkpoint(BaseModel):
    """A chain's head as it was when signed: the entry at ``offset`` carried ``head_hash``."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int
    head_hash: str
    signed_at: datetime
    key_id: str
    signature: str  # base64 of the Ed25519 signature over ``signed_bytes``

    @property
    def chain(self) -> PartitionKey:
        return (self.topic, self.partition)


class InvalidCheckpointKeyError(ValueError):
    """The configured signing key is neither a PEM Ed25519 private key nor a base64 seed."""


def signed_bytes(
    topic: str, partition: int, offset: int, head_hash: str, signed_at: datetime, key_id: str
) -> bytes:
    document = {
        "format": FORMAT,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "head_hash": head_hash,
        "signed_at": _time_text(signed_at),
        "key_id": key_id,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode("ascii")


def load_private_key(text: str) -> Ed25519PrivateKey:
    """A PEM (PKCS#8) Ed25519 private key, or the base64 of its raw 32-byte seed."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError) as error:
            raise InvalidCheckpointKeyError(f"not a readable PEM private key: {error}") from error
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidCheckpointKeyError(f"not an Ed25519 key: {type(key).__name__}")
        return key
    try:
        seed = base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise InvalidCheckpointKeyError("neither PEM nor base64") from error
    if len(seed) != 32:
        raise InvalidCheckpointKeyError(f"a raw Ed25519 seed is 32 bytes, not {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def development_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(DEVELOPMENT_SEED)


class CheckpointSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id_of(self.public_key)

    def sign(
        self, topic: str, partition: int, offset: int, head_hash: str, at: datetime
    ) -> Checkpoint:
        at = normalise_time(at)
        message = signed_bytes(topic, partition, offset, head_hash, at, self.key_id)
        signature = base64.b64encode(self._private_key.sign(message)).decode("ascii")
        return Checkpoint(
            topic=topic,
            partition=partition,
            offset=offset,
            head_hash=head_hash,
            signed_at=at,
            key_id=self.key_id,
            signature=signature,
        )


def signature_holds(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    """Whether ``checkpoint`` was signed, as it reads, by the key ``public_key`` belongs to."""
    if checkpoint.key_id != key_id_of(public_key):
        return False
    message = signed_bytes(
        checkpoint.topic,
        checkpoint.partition,
        checkpoint.offset,
        checkpoint.head_hash,
        checkpoint.signed_at,
        checkpoint.key_id,
    )
    try:
        public_key.verify(base64.b64decode(checkpoint.signature), message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def latest_per_chain(checkpoints: Iterable[Checkpoint]) -> dict[PartitionKey, Checkpoint]:
    """Each chain's checkpoint of the highest offset; of several at one offset, the last signed
    (and of those, the last given: the file's newest line)."""
    latest: dict[PartitionKey, Checkpoint] = {}
    for checkpoint in checkpoints:
        known = latest.get(checkpoint.chain)
        if known is None or (checkpoint.offset, checkpoint.signed_at) >= (
            known.offset,
            known.signed_at,
        ):
            latest[checkpoint.chain] = checkpoint
    return latest


def _time_text(value: datetime) -> str:
    return normalise_time(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")
