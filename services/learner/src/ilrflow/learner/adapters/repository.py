"""MongoDB persistence of learners and staff; every write carries its outbox events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ilrflow.contracts.events import Envelope, LearnerSnapshot, StaffUpdated
from ilrflow.ilr_engine.status import ProgrammeStatus, Status, WithdrawalKind
from ilrflow.learner.domain.listing import LearnerFilter, LearnerView, matches_text
from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.idempotency import (
    Delivered,
    RecordPosition,
    applied_marks,
    chain_copy_offset,
    chain_filter,
    chain_update,
)
from ilrflow.platform.mongo import Document
from ilrflow.platform.outbox import merge_updates, new_document_outbox, outbox_update


def doc_id(tenant: str, ident: str) -> str:
    return f"{tenant}:{ident}"


class StaffAlreadyExistsError(Exception):
    pass


class LearnerRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.learners: AsyncCollection[Document] = serialised_writes(db["learners"])
        self.staff: AsyncCollection[Document] = serialised_writes(db["staff"])

    @property
    def outbox_collections(self) -> list[AsyncCollection[Document]]:
        return [self.learners, self.staff]

    async def ensure_indexes(self) -> None:
        await self.learners.create_index([("tenant", 1), ("record.group", 1)])
        await self.learners.create_index([("tenant", 1), ("programme.status", 1)])
        await self.staff.create_index([("tenant", 1)])

    # --- learners -------------------------------------------------------------------------

    async def add_learner(
        self, tenant: str, learner: LearnerSnapshot, events: Sequence[Envelope[Any]]
    ) -> None:
        document = {
            "_id": doc_id(tenant, learner.id),
            "tenant": tenant,
            "id": learner.id,
            "record": learner.model_dump(mode="json"),
            "version": 1,
            **new_document_outbox(events),
        }
        await self.learners.insert_one(document)

    async def get_learner(self, tenant: str, learner_id: str) -> tuple[LearnerSnapshot, int] | None:
        document = await self.learners.find_one({"_id": doc_id(tenant, learner_id)})
        if document is None:
            return None
        return LearnerSnapshot.model_validate(document["record"]), int(document["version"])

    async def save_learner(
        self,
        tenant: str,
        learner: LearnerSnapshot,
        expected_version: int,
        events: Sequence[Envelope[Any]],
    ) -> bool:
        """Store the new record if nobody changed it since ``expected_version``. False when the
        write did not match."""
        query: Document = {"_id": doc_id(tenant, learner.id), "version": expected_version}
        update = merge_updates(
            {"$set": {"record": learner.model_dump(mode="json")}, "$inc": {"version": 1}},
            outbox_update(events),
        )
        result = await self.learners.update_one(query, update)
        return result.matched_count == 1

    async def get_learner_marked(
        self, tenant: str, learner_id: str
    ) -> tuple[LearnerSnapshot, int, Document] | None:
        """The record, its version and what it applied (``ilrflow.platform.idempotency``), in
        one read."""
        document = await self.learners.find_one({"_id": doc_id(tenant, learner_id)})
        if document is None:
            return None
        record = LearnerSnapshot.model_validate(document["record"])
        return record, int(document["version"]), applied_marks(document)

    async def save_learner_chain(
        self,
        tenant: str,
        learner_id: str,
        learner: LearnerSnapshot | None,
        expected_version: int,
        events: Sequence[Envelope[Any]],
        *,
        applying: Sequence[Delivered[Any]],
        last: RecordPosition | None,
    ) -> bool:
        """Store a chain of consumed events in one write: the new record (None: they changed
        nothing) and its events, one version per event (per change, as one write each would),
        every one of them as applied and ``last`` as the partition's offset, if the record is
        still at ``expected_version`` and none of them was applied. False when the write did
        not match."""
        query: Document = {
            "_id": doc_id(tenant, learner_id),
            "version": expected_version,
            **chain_filter(applying),
        }
        update: Document = {}
        if learner is not None:
            update = {
                "$set": {"record": learner.model_dump(mode="json")},
                "$inc": {"version": len(events)},
            }
        update = merge_updates(update, outbox_update(events))
        update = merge_updates(update, chain_update(applying, last))
        result = await self.learners.update_one(query, update)
        return result.matched_count == 1

    async def record_copies(
        self, tenant: str, learner_id: str, marks: Document, chain: Sequence[Delivered[Any]]
    ) -> None:
        """For a chain whose events are all applied: record its last offset if an event id,
        not an offset, told it (``ilrflow.platform.idempotency.chain_copy_offset``)."""
        copy = chain_copy_offset(marks, chain)
        if copy is not None:
            conditions, update = copy
            await self.learners.update_one(
                {"_id": doc_id(tenant, learner_id), **conditions}, update
            )

    async def get_learner_view(self, tenant: str, learner_id: str) -> LearnerView | None:
        document = await self.learners.find_one({"_id": doc_id(tenant, learner_id)})
        return None if document is None else _view(document)

    async def list_learners(
        self, tenant: str, where: LearnerFilter, after: str | None, limit: int
    ) -> list[LearnerView]:
        """Up to ``limit`` learners by id after the learner ``after``. The text search runs here,
        not in the database (FerretDB pushes no pattern down), so the scan goes on until the
        page is full or the tenant's learners run out: never a silent cap."""
        query: Document = {"tenant": tenant}
        if after is not None:
            query["_id"] = {"$gt": doc_id(tenant, after)}
        if where.learner_id is not None:
            query["id"] = where.learner_id
        if where.groups is not None:
            query["record.group"] = {"$in": where.groups}
        if where.statuses:
            query["programme.status"] = {"$in": sorted(status.value for status in where.statuses)}
        if where.withdrawal_kind is not None:
            query["programme.withdrawal_kind"] = where.withdrawal_kind.value
        found = self.learners.find(query).sort("_id", 1)
        if where.text is None:
            found = found.limit(limit)
        learners: list[LearnerView] = []
        async for document in found:
            learner = _view(document)
            if where.text is None or matches_text(learner, where.text):
                learners.append(learner)
            if len(learners) >= limit:
                break
        return learners

    async def save_programme_status(
        self, tenant: str, learner_id: str, status: ProgrammeStatus | None, ilr_version: int
    ) -> bool:
        """Store the status read off ILR version ``ilr_version`` unless one from a newer version
        is stored; False when it is, or when the learner is unknown. The same version again
        writes the same status: a redelivery changes nothing."""
        stored = {**_programme_document(status), "ilr_version": ilr_version}
        result = await self.learners.update_one(
            {
                "_id": doc_id(tenant, learner_id),
                "$or": [
                    {"programme": {"$exists": False}},
                    {"programme.ilr_version": {"$lte": ilr_version}},
                ],
            },
            {"$set": {"programme": stored}},
        )
        return result.matched_count == 1

    async def groups(self, tenant: str) -> list[str]:
        learner_groups = await self.learners.distinct("record.group", {"tenant": tenant})
        staff_groups = await self.staff.distinct("groups", {"tenant": tenant})
        return sorted({g for g in [*learner_groups, *staff_groups] if g})

    # --- staff ----------------------------------------------------------------------------

    async def add_staff(
        self, tenant: str, staff: StaffUpdated, events: Sequence[Envelope[Any]]
    ) -> None:
        document = {
            "_id": doc_id(tenant, staff.id),
            "tenant": tenant,
            "id": staff.id,
            "record": staff.model_dump(mode="json"),
            **new_document_outbox(events),
        }
        try:
            await self.staff.insert_one(document)
        except DuplicateKeyError as error:
            raise StaffAlreadyExistsError(staff.id) from error

    async def list_staff(self, tenant: str) -> list[StaffUpdated]:
        """The tenant's staff directory, by id (a tenant has tens of staff, not thousands)."""
        cursor = self.staff.find({"tenant": tenant}).sort("_id", 1)
        return [StaffUpdated.model_validate(document["record"]) async for document in cursor]

    async def get_staff(self, tenant: str, staff_id: str) -> StaffUpdated | None:
        document = await self.staff.find_one({"_id": doc_id(tenant, staff_id)})
        return None if document is None else StaffUpdated.model_validate(document["record"])


def _programme_document(status: ProgrammeStatus | None) -> Document:
    if status is None:
        return {"status": None, "withdrawal_kind": None, "since": None}
    return {
        "status": status.status.value,
        "withdrawal_kind": status.withdrawal_kind.value if status.withdrawal_kind else None,
        "since": status.since.isoformat() if status.since else None,
    }


def _view(document: Document) -> LearnerView:
    learner = LearnerSnapshot.model_validate(document["record"])
    programme = document.get("programme") or {}
    if programme.get("status") is None:
        return LearnerView.of(learner, None)
    kind, since = programme.get("withdrawal_kind"), programme.get("since")
    status = ProgrammeStatus(
        Status(programme["status"]),
        date.fromisoformat(since) if since else None,
        WithdrawalKind(kind) if kind else None,
    )
    return LearnerView.of(learner, status)
