"""Support queries over the audit log, always within the caller's tenant."""

from __future__ import annotations

from ilrflow.audit.adapters.repository import AuditRepository
from ilrflow.audit.domain.query import AuditPage, AuditQuery, build_find, paginate
from ilrflow.audit.domain.records import AuditEntry
from ilrflow.audit.domain.verify import AuditVerification, verify_all
from ilrflow.shared.auth import Principal
from ilrflow.shared.http_errors import not_found

AUDIT_READER_ROLES = ("support", "admin", "operator")


class AuditQueries:
    def __init__(self, repository: AuditRepository) -> None:
        self.repository = repository

    async def search(self, principal: Principal, query: AuditQuery) -> AuditPage:
        find = build_find(query, principal.tenant)
        fetched = await self.repository.find(find.filter, find.sort, find.limit)
        return paginate(fetched, query)

    async def get(self, principal: Principal, entry_id: str) -> AuditEntry:
        entry = await self.repository.get(principal.tenant, entry_id)
        if entry is None:
            raise not_found("audit entry", entry_id)
        return entry

    async def verify(self) -> AuditVerification:
        """Recompute every partition's chain (the whole log: chains span tenants)."""
        partitions = {
            (topic, partition): await self.repository.partition_entries(topic, partition)
            for topic, partition in await self.repository.partitions()
        }
        return verify_all(partitions)
