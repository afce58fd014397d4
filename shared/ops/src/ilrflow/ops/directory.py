"""Which tenants exist, and who their staff are, read from the services' own databases.

There is no tenant registry: a tenant exists once a service holds something for it, its tracker
settings (tracker service), its ILR settings (ILR service) or a staff member (learner service,
which owns the staff directory). The CLI reads those documents by ``_id`` where it can, as the
services do; listing every tenant scans the settings and staff collections (small ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ilrflow.platform.lanes import POOLED
from ilrflow.platform.mongo import Document, create_client
from ilrflow.platform.routing import RoutingStore
from ilrflow.platform.settings import Settings

TRACKER_SETTINGS = ("tracker", "tracker_settings")
ILR_SETTINGS = ("ilr", "ilr_settings")
STAFF = ("learner", "staff")


@dataclass
class TenantFacts:
    tenant: str
    staff: int = 0
    tracker_settings: bool = False
    ilr_settings: bool = False
    lane: str = POOLED
    paused: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "staff": self.staff,
            "tracker_settings": self.tracker_settings,
            "ilr_settings": self.ilr_settings,
            "lane": self.lane,
            "paused": self.paused,
        }


@dataclass
class StaffMember:
    id: str
    roles: list[str]


class Directory:
    """The tenants and staff the services hold, as the operator sees them."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client = create_client(settings)

    async def __aenter__(self) -> Directory:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.close()

    def _collection(self, where: tuple[str, str]) -> Any:
        service, collection = where
        return self._client[self._settings.database_name(service)][collection]

    async def exists(self, tenant: str) -> bool:
        for where in (TRACKER_SETTINGS, ILR_SETTINGS):
            if await self._collection(where).find_one({"_id": tenant}, {"_id": 1}):
                return True
        return await self._collection(STAFF).find_one({"tenant": tenant}, {"_id": 1}) is not None

    async def staff_member(self, tenant: str, staff_id: str) -> StaffMember | None:
        document = await self._collection(STAFF).find_one({"_id": f"{tenant}:{staff_id}"})
        return None if document is None else _staff(document)

    async def tenants(self) -> list[TenantFacts]:
        found: dict[str, TenantFacts] = {}

        def facts(tenant: str) -> TenantFacts:
            return found.setdefault(tenant, TenantFacts(tenant))

        async for document in self._collection(TRACKER_SETTINGS).find({}, {"_id": 1}):
            facts(str(document["_id"])).tracker_settings = True
        async for document in self._collection(ILR_SETTINGS).find({}, {"_id": 1}):
            facts(str(document["_id"])).ilr_settings = True
        async for document in self._collection(STAFF).find({}, {"tenant": 1}):
            facts(str(document["tenant"])).staff += 1
        table = await RoutingStore.of(self._client, self._settings).read()
        for tenant, item in found.items():
            item.lane = table.lane_of(tenant)
            item.paused = tenant in table.paused
        return sorted(found.values(), key=lambda item: item.tenant)


def _staff(document: Document) -> StaffMember:
    record = document.get("record") or {}
    return StaffMember(
        id=str(record.get("id", document.get("id"))), roles=list(record.get("roles", []))
    )
