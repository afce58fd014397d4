"""The tenant's ILR settings and the platform's OTJ table, read through a cache of a bounded age.

Both change rarely (an admin's edit, a table loaded once a year) and the tracker-processed
consumer needs both for every chain. Only the ILR service writes them, through these objects:
this process's own write replaces its copy at once, and another replica's write reaches it when
its copy expires. So a copy is at most ``max_age`` seconds (``ILRFLOW_ILR_REFERENCE_CACHE_SECONDS``)
behind the database, however many replicas run: a copy's age is counted from before the read
that filled it, so a read racing a write is covered too. That is the staleness a tracker decided
just after a settings change may see; when a processed tracker is decided was never tied to
when the settings changed (it waits on Kafka for as long as the consumer's lag)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from ilrflow.contracts.events import Envelope, OtjMinimumsLoaded
from ilrflow.ilr.domain.settings import IlrSettings
from ilrflow.ilr.service.ports import IlrSettingsStore, ReferenceStore

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Expiring(Generic[K, V]):
    """Copies that are read again from their source once ``max_age`` seconds old."""

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age = max_age
        self._clock = clock
        self._copies: dict[K, tuple[float, V]] = {}

    async def get(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        copy = self._copies.get(key)
        if copy is not None and self._clock() - copy[0] < self._max_age:
            return copy[1]
        before = self._clock()
        value = await read()
        self._copies[key] = (before, value)
        return value

    def put(self, key: K, value: V) -> None:
        """This process wrote ``value``: its copy is current."""
        self._copies[key] = (self._clock(), value)


class CachedSettings:
    """``IlrSettingsStore`` through an ``Expiring`` copy per tenant."""

    def __init__(self, store: IlrSettingsStore, copies: Expiring[str, IlrSettings]) -> None:
        self._store = store
        self._copies = copies

    async def get(self, tenant: str) -> IlrSettings:
        return await self._copies.get(tenant, lambda: self._store.get(tenant))

    async def save(
        self, tenant: str, settings: IlrSettings, events: Sequence[Envelope[Any]]
    ) -> None:
        await self._store.save(tenant, settings, events)
        self._copies.put(tenant, settings)


class CachedReference:
    """``ReferenceStore`` through an ``Expiring`` copy of the OTJ table."""

    def __init__(
        self, store: ReferenceStore, copies: Expiring[str, OtjMinimumsLoaded | None]
    ) -> None:
        self._store = store
        self._copies = copies

    async def otj_minimums(self) -> OtjMinimumsLoaded | None:
        return await self._copies.get("otj_minimums", self._store.otj_minimums)

    async def save_otj_minimums(
        self, table: OtjMinimumsLoaded, events: Sequence[Envelope[Any]]
    ) -> None:
        await self._store.save_otj_minimums(table, events)
        self._copies.put("otj_minimums", table)
