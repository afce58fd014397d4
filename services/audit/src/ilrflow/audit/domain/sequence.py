"""The ingest sequence: the order in which a tenant's entries became part of the log.

Searches and exports page on it (not on event time), so that a client following ``next_cursor``
from the start sees every entry exactly once while entries are still arriving: an entry stored
later always gets a higher number, wherever its event time falls.

Per tenant, one counter document holds ``next`` (the next number to hand out) and ``pending``:
per writer (a topic partition), a number at or below the first one it has reserved and not yet
finished writing (entries, then lookups). A reader serves only numbers below ``visible_below``:
the lowest pending number, else ``next``. So a page never runs ahead of a batch still being
written, by this consumer or another, and a number the cursor has passed is never filled in later.

A writer that crashes leaves its pending mark: its records were not committed, so they are
delivered again to whichever consumer takes the partition, which completes them and clears the
mark (numbers reserved and never used are simply skipped). Until then the tenant's newer entries
wait, which is the price of never serving a page that a late batch could still change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from ilrflow.audit.domain.records import AuditEntry

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


def oldest_first(
    batches: Mapping[K, Sequence[R]], timestamp: Callable[[R], int], size: int
) -> list[tuple[K, Sequence[R]]]:
    """The records of one poll as partition batches of at most ``size`` (each partition's in
    offset order) in the order to store them: by their first record's timestamp (ties in the
    order given), so that the sequence follows event order across partitions as far as whole
    batches allow, at no extra writes. A batch never goes before an earlier one of its own
    partition, even if its timestamps run backwards: the ingest skips a record at or below its
    partition's stored head."""
    keyed: list[tuple[int, K, Sequence[R]]] = []
    for key, records in batches.items():
        latest: int | None = None
        for start in range(0, len(records), size):
            chunk = records[start : start + size]
            first = timestamp(chunk[0])
            latest = first if latest is None else max(latest, first)
            keyed.append((latest, key, chunk))
    keyed.sort(key=lambda item: item[0])
    return [(key, chunk) for _, key, chunk in keyed]


def writer_of(topic: str, partition: int) -> str:
    """The writer's name as a document field: Kafka topic names may hold '.', never '~'."""
    return f"{topic.replace('.', '~')}:{partition}"


def counts_by_tenant(entries: Iterable[AuditEntry]) -> dict[str, int]:
    """How many numbers each tenant needs. Entries without a tenant get none: no query can
    select them."""
    return dict(Counter(entry.tenant for entry in entries if entry.tenant))


def numbered(entries: Sequence[AuditEntry], starts: Mapping[str, int]) -> list[AuditEntry]:
    """Each tenant's entries numbered from its reserved start, in the order given (offsets)."""
    following = dict(starts)
    result = []
    for entry in entries:
        if entry.tenant:
            result.append(entry.model_copy(update={"sequence": following[entry.tenant]}))
            following[entry.tenant] += 1
        else:
            result.append(entry)
    return result


def next_of(counter: Mapping[str, Any] | None) -> int:
    return int((counter or {}).get("next", 0))


def visible_below(counter: Mapping[str, Any] | None) -> int:
    """Numbers below this are complete: stored with their lookups, or never to be used."""
    pending = [int(first) for first in (counter or {}).get("pending", {}).values()]
    return min([next_of(counter), *pending])
