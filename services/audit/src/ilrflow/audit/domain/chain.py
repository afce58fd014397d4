"""Tamper evidence: a SHA-256 hash chain per (topic, partition), in offset order.

What is covered, exactly:

- ``canonical_bytes(entry)`` is the entry's stored fields **except** ``prev_hash``, ``hash`` and
  ``sequence`` (``schema_version`` and ``id`` included), as JSON with sorted keys, no whitespace, non-ASCII
  kept as UTF-8, every datetime written ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC, milliseconds).
  Datetimes are formatted here rather than by pydantic so that a library upgrade cannot change
  what old hashes covered.
- ``hash = sha256(prev_hash as UTF-8 || canonical_bytes(entry))`` as lowercase hex, so
  ``prev_hash`` is covered too, as the prefix.
- The first entry of a chain has ``prev_hash = GENESIS_HASH``.

``sequence`` is left out because it is not the record's: it is the order in which ingest stored
the entry for its tenant's searches, numbered after the chain is linked (and entries stored
before it existed have none).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ilrflow.audit.domain.records import AuditEntry, normalise_time

GENESIS_HASH = "0" * 64
UNCHAINED_FIELDS = frozenset({"prev_hash", "hash", "sequence"})


def canonical_bytes(entry: AuditEntry) -> bytes:
    document = entry.model_dump(mode="python", exclude=set(UNCHAINED_FIELDS))
    try:
        # The C encoder with a hook for datetimes, as ``stored_hash_holds`` does: the same text
        # as ``_plain`` then ``dumps`` for what a model holds (string keys: parsed JSON and
        # headers), without walking the document in Python first.
        text = _canonical_text(document, default=_datetime_text)
    except (TypeError, ValueError):
        text = _canonical_text(_plain(document))
    # surrogatepass: a tampered document must yield a mismatch, not crash verification
    return text.encode("utf-8", errors="surrogatepass")


def stored_hash_holds(document: dict[str, Any]) -> bool:
    """Whether a stored entry document (as ``to_document`` wrote it, read back raw) still hashes
    to its own ``hash`` after its own ``prev_hash``. The same bytes as ``canonical_bytes`` for
    an entry stored whole, computed without building the model: verification reads the whole
    log, and a model per entry costs more than the hash. False is not yet a verdict: a document
    stored before a field was added to the model hashes correctly only through the model."""
    prev_hash, digest = document.get("prev_hash"), document.get("hash")
    if not isinstance(prev_hash, str) or not isinstance(digest, str):
        return False
    content = {k: v for k, v in document.items() if k != "_id" and k not in UNCHAINED_FIELDS}
    try:
        # The C encoder with a hook for datetimes: the same text as ``_plain`` then ``dumps``.
        text = _canonical_text(content, default=_datetime_text)
    except (TypeError, ValueError):
        return False  # something the model never stores: let the model judge it
    body = text.encode("utf-8", errors="surrogatepass")
    prefix = prev_hash.encode("utf-8", errors="surrogatepass")
    return hashlib.sha256(prefix + body).hexdigest() == digest


def entry_hash(entry: AuditEntry, prev_hash: str) -> str:
    """The hash ``entry`` should carry when it follows an entry whose hash is ``prev_hash``."""
    prefix = prev_hash.encode("utf-8", errors="surrogatepass")
    return hashlib.sha256(prefix + canonical_bytes(entry)).hexdigest()


def chain(entries: Iterable[AuditEntry], prev_hash: str = GENESIS_HASH) -> list[AuditEntry]:
    """Link entries of one partition, given in offset order, after the entry hashed ``prev_hash``.

    Raises ValueError when the entries mix partitions or are not in increasing offset order:
    that is a bug in the caller, and chaining it would bake the bug into the log.
    """
    chained: list[AuditEntry] = []
    link = prev_hash
    for entry in entries:
        if chained:
            _require_successor(chained[-1], entry)
        digest = entry_hash(entry, link)
        chained.append(entry.model_copy(update={"prev_hash": link, "hash": digest}))
        link = digest
    return chained


def _require_successor(previous: AuditEntry, entry: AuditEntry) -> None:
    if (entry.topic, entry.partition) != (previous.topic, previous.partition):
        raise ValueError(f"cannot chain {entry.id} after {previous.id}: different partitions")
    if entry.offset <= previous.offset:
        raise ValueError(f"cannot chain {entry.id} after {previous.id}: offsets must increase")


def _canonical_text(document: Any, **hook: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, **hook)


def _datetime_text(value: Any) -> str:
    if isinstance(value, datetime):
        return normalise_time(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    raise TypeError(f"{type(value).__name__} is not stored in an audit entry")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _datetime_text(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
