"""MongoDB persistence of bulk jobs (collection ``bulk_jobs``): the job's own form, plus the
fingerprint of the request that made it and the lease of the worker working it.

Claiming is a compare-and-set on the lease as it was read, and every progress write is
conditional on still holding the lease, so a worker whose lease another one took over stops at its
next write. That holds across replicas: the server applies a conditional update atomically (on
MongoDB, and on our patched FerretDB, which ``ilrflow.platform.ferretdb`` checks).
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.mongo import Document
from ilrflow.tracker.domain.bulk import BulkJob

FINGERPRINT = "request_fingerprint"
LEASE_OWNER = "lease_owner"
LEASE_UNTIL = "lease_until"


def doc_id(tenant: str, job_id: str) -> str:
    return f"{tenant}:{job_id}"


class BulkJobRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.jobs: AsyncCollection[Document] = serialised_writes(db["bulk_jobs"])

    async def add(self, job: BulkJob, fingerprint: str) -> bool:
        document = job.to_document() | {
            "_id": doc_id(job.tenant, job.id),
            FINGERPRINT: fingerprint,
            LEASE_OWNER: None,
            LEASE_UNTIL: 0.0,
        }
        try:
            await self.jobs.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def get_with_fingerprint(self, tenant: str, job_id: str) -> tuple[BulkJob, str] | None:
        document = await self.jobs.find_one({"_id": doc_id(tenant, job_id)})
        if document is None:
            return None
        return BulkJob.from_document(document), str(document[FINGERPRINT])

    async def claim(
        self, tenant: str, job_id: str, worker: str, now: float, lease_seconds: float
    ) -> BulkJob | None:
        key = doc_id(tenant, job_id)
        document = await self.jobs.find_one({"_id": key})
        if document is None or document["status"] == "finished":
            return None
        owner, until = document[LEASE_OWNER], document[LEASE_UNTIL]
        if owner not in (None, worker) and until > now:
            return None
        claimed = await self.jobs.update_one(
            {"_id": key, LEASE_OWNER: owner, LEASE_UNTIL: until},
            {"$set": {LEASE_OWNER: worker, LEASE_UNTIL: now + lease_seconds}},
        )
        return BulkJob.from_document(document) if claimed.matched_count == 1 else None

    async def save_progress(
        self, job: BulkJob, indexes: Sequence[int], worker: str, lease_until: float
    ) -> bool:
        document = job.to_document()
        changes: Document = {
            field: document[field] for field in ("status", "started_at", "finished_at")
        }
        # One item's path, not the whole list: a job of 1,000 items is written 1,000 times.
        changes |= {f"items.{i}": document["items"][i] for i in indexes}
        changes[LEASE_UNTIL] = lease_until
        stored = await self.jobs.update_one(
            {"_id": doc_id(job.tenant, job.id), LEASE_OWNER: worker}, {"$set": changes}
        )
        return stored.matched_count == 1

    async def open_jobs(self) -> list[tuple[str, str]]:
        cursor = self.jobs.find({"status": {"$ne": "finished"}}, {"tenant": 1, "id": 1})
        return [(d["tenant"], d["id"]) async for d in cursor]
