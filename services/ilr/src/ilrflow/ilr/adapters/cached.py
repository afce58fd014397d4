"""The tenant's ILR settings and the platform's OTJ table, read through a cache of a bounded age.

Both change rarely (an admin's edit, a table loaded once a year) and the tracker-processed
consumer needs both for every chain. Only the ILR service writes them, through these objects:
this process's own write drops its copy, so its next read is of what it wrote, and another
replica's write reaches it when its copy expires. So a copy is at most ``max_age`` seconds
(``ILRFLOW_ILR_REFERENCE_CACHE_SECONDS``) behind the database, however many replicas run: a
copy's age is counted from before the read that filled it, and a read in flight when this
process writes is not kept (``ilrflow.platform.cache.FreshFor``). That is the staleness a
tracker decided just after a settings change may see; when a processed tracker is decided was
never tied to when the settings changed (it waits on Kafka for as long as the consumer's lag)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ilrflow.contracts.events import Envelope, OtjMinimumsLoaded
from ilrflow.ilr.domain.settings import IlrSettings
from ilrflow.ilr.service.ports import IlrSettingsStore, ReferenceStore
from ilrflow.platform.cache import FreshFor


class CachedSettings:
    """``IlrSettingsStore`` through a copy per tenant (``ilrflow.platform.cache.FreshFor``)."""

    def __init__(self, store: IlrSettingsStore, copies: FreshFor[str, IlrSettings]) -> None:
        self._store = store
        self._copies = copies

    async def get(self, tenant: str) -> IlrSettings:
        return await self._copies.get(tenant, lambda: self._store.get(tenant))

    async def save(
        self, tenant: str, settings: IlrSettings, events: Sequence[Envelope[Any]]
    ) -> None:
        await self._store.save(tenant, settings, events)
        self._copies.forget(tenant)  # the next read is of what this process wrote


class CachedReference:
    """``ReferenceStore`` through a copy of the OTJ table (``ilrflow.platform.cache.FreshFor``)."""

    def __init__(
        self, store: ReferenceStore, copies: FreshFor[str, OtjMinimumsLoaded | None]
    ) -> None:
        self._store = store
        self._copies = copies

    async def otj_minimums(self) -> OtjMinimumsLoaded | None:
        return await self._copies.get("otj_minimums", self._store.otj_minimums)

    async def save_otj_minimums(
        self, table: OtjMinimumsLoaded, events: Sequence[Envelope[Any]]
    ) -> None:
        await self._store.save_otj_minimums(table, events)
        self._copies.forget("otj_minimums")
