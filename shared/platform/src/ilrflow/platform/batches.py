"""Applying a batch of Kafka records concurrently by key, and the offsets that may then be committed.

Every record key is ``<tenant>:<learner>`` (``ilrflow.contracts.events.partition_key``) and every
aggregate a handler marks with an offset (``ilrflow.platform.idempotency``) belongs to one
learner. So the records of one key must be applied in order, but records of different keys touch
different documents and may be applied at the same time: a batch is split into *chains*, one per
(topic, partition, key), each run in order, the chains concurrently. Order across partitions was
never guaranteed (two replicas already split them).

A chain stops at a record that must be read again (``RETRY``): its later records wait for that one.
Offsets are committed per partition only up to the first record that is not finished
(``PartitionProgress``), so a crash or a re-read never skips a record.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol, TypeVar

# The outcome of a record that is not finished: it is to be read again from its offset.
RETRY = "retry"


class Positioned(Protocol):
    """What a chain needs of a record (an aiokafka ``ConsumerRecord`` has it)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...


R = TypeVar("R", bound=Positioned)


def chains(records: Iterable[R]) -> list[list[R]]:
    """The records grouped by (topic, partition, key), each group in offset order, the groups in
    the order of their first record."""
    grouped: dict[tuple[str, int, bytes | None], list[R]] = {}
    for record in records:
        grouped.setdefault((record.topic, record.partition, record.key), []).append(record)
    return [sorted(chain, key=lambda r: r.offset) for chain in grouped.values()]


def one_by_one(apply: Callable[[R], Awaitable[str]]) -> Callable[[Sequence[R]], Awaitable[None]]:
    """A chain applier running the chain's records in order through ``apply``, stopping at the
    first record whose outcome is ``RETRY``."""

    async def apply_chain(chain: Sequence[R]) -> None:
        for record in chain:
            if await apply(record) == RETRY:
                return

    return apply_chain


async def run_chains(
    chains: Sequence[Sequence[R]], apply: Callable[[R], Awaitable[str]], concurrency: int
) -> None:
    """Run each chain's records in order through ``apply``, at most ``concurrency`` chains at
    once. A chain stops at the first record whose outcome is ``RETRY``. An exception from
    ``apply`` cancels the other chains and is raised (``ExceptionGroup`` unwrapped when it is
    the only one)."""
    await run_whole_chains(chains, one_by_one(apply), concurrency)


async def run_whole_chains(
    chains: Sequence[Sequence[R]],
    apply_chain: Callable[[Sequence[R]], Awaitable[None]],
    concurrency: int,
) -> None:
    """Run each chain through ``apply_chain`` (a consumer that may apply a chain in one write),
    at most ``concurrency`` chains at once; raised as ``run_chains``."""
    waiting = iter(chains)

    async def worker() -> None:
        # One shared iterator: each chain is taken by exactly one worker.
        for chain in waiting:
            await apply_chain(chain)

    try:
        async with asyncio.TaskGroup() as workers:
            for _ in range(min(max(concurrency, 1), len(chains))):
                workers.create_task(worker())
    except ExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


class PartitionProgress:
    """Which offsets of one partition's records in a batch may be committed.

    The committed offset is the next record to read; it may pass a record only once that record
    and every earlier one of the batch is finished (applied, skipped or dead-lettered), whatever
    order the chains finish them in.
    """

    def __init__(self, offsets: Iterable[int]) -> None:
        self._offsets = sorted(offsets)
        self._finished = [False] * len(self._offsets)
        self._committable = 0  # how many of the offsets, from the first, are finished
        self._retried: list[int] = []

    def finish(self, offset: int) -> int | None:
        """Note ``offset`` finished. Return the offset of the last record that is now finished
        with every record of the batch before it, if that moved (its successor is the offset to
        commit); else None."""
        self._finished[bisect_left(self._offsets, offset)] = True
        before = self._committable
        while self._committable < len(self._offsets) and self._finished[self._committable]:
            self._committable += 1
        if self._committable == before:
            return None
        return self._offsets[self._committable - 1]

    def retry(self, offset: int) -> None:
        """Note that the record at ``offset`` is to be read again."""
        self._retried.append(offset)

    def rewind_to(self) -> int | None:
        """Where the partition is to be read again from: its lowest record to retry, if any."""
        return min(self._retried, default=None)


def progress_by_partition(records: Iterable[R]) -> dict[tuple[str, int], PartitionProgress]:
    offsets: dict[tuple[str, int], list[int]] = {}
    for record in records:
        offsets.setdefault((record.topic, record.partition), []).append(record.offset)
    return {tp: PartitionProgress(found) for tp, found in offsets.items()}
