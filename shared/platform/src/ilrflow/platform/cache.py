"""Slow-changing reads kept in the process for a bounded time, so a record's handling does not
read them again (each database command costs the database's CPU, the pipeline's bottleneck).

An entry is used for ``seconds`` after the read that filled it began: a change another replica
makes is seen here within that bound. A change this process makes ``forget``s the entry, so its
own changes are seen by its next read; a read in flight when it forgets is not kept.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class FreshFor(Generic[K, V]):
    """Values by key, each used for ``seconds`` after it was read."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._entries: dict[K, tuple[V, float]] = {}  # key -> (value, used until)
        self._forgotten: dict[K, int] = {}  # key -> how many times forgotten

    async def get(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        """The value kept for ``key`` while fresh, else ``read()``'s (and kept)."""
        entry = self._entries.get(key)
        asked_at = self._clock()
        if entry is not None and asked_at < entry[1]:
            return entry[0]
        forgotten = self._forgotten.get(key, 0)
        value = await read()
        if self._forgotten.get(key, 0) == forgotten:
            self._entries[key] = (value, asked_at + self.seconds)
        return value

    def forget(self, key: K) -> None:
        """This process changed what ``key`` reads: read it again next time."""
        self._entries.pop(key, None)
        self._forgotten[key] = self._forgotten.get(key, 0) + 1
