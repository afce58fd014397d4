"""A bulk job: one tracker type raised for many learners, or many trackers processed, item by
item, each item with its own result.

States::

    queued ──start──► running ──(every item done)──► finished

An item is ``pending`` until worked; a process item is marked ``started`` (and stored so) before
its tracker is processed, so that after a crash a processed tracker is known to be this job's
doing; then
``raised`` (with the tracker id), ``processed`` or ``refused`` (with the refusal's code and
reason). The job acts as the person who asked for it, with the roles and groups they had then.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from ilrflow.contracts.errors import DomainError
from ilrflow.contracts.identity import Principal
from ilrflow.tracker.domain.tracker import UtcDatetime

BULK_LIMIT = 1000
"""The most items one bulk request may carry."""

BulkKind = Literal["raise", "process"]
JobStatus = Literal["queued", "running", "finished"]
ItemStatus = Literal["pending", "started", "raised", "processed", "refused"]
DONE: frozenset[str] = frozenset({"raised", "processed", "refused"})


class BulkItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0)
    learner_id: str | None = Field(default=None, description="A raise item's learner.")
    changes: dict[str, Any] | None = Field(default=None, description="A raise item's changes.")
    note: str | None = None
    tracker_id: str | None = Field(
        default=None, description="The tracker to process, or the one the raise made."
    )
    status: ItemStatus = "pending"
    code: str | None = Field(default=None, description="Why it was refused (a program's word).")
    reason: str | None = Field(default=None, description="Why it was refused (a person's words).")
    details: Any = None
    done_at: UtcDatetime | None = None

    @property
    def done(self) -> bool:
        return self.status in DONE

    @property
    def progress(self) -> str:
        """The status as progress reports it: a started item is still pending."""
        return "pending" if self.status == "started" else self.status


class BulkJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    tenant: str
    kind: BulkKind
    tracker_type: str | None = Field(default=None, description="The type a bulk raise raises.")
    requested_by: Principal
    status: JobStatus = "queued"
    created_at: UtcDatetime
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    items: list[BulkItem]

    @classmethod
    def to_raise(
        cls,
        job_id: str,
        requested_by: Principal,
        tracker_type: str,
        items: list[dict[str, Any]],
        now: datetime,
    ) -> Self:
        """``items``: ``{"learner_id", "changes", "note"}`` each."""
        return cls(
            id=job_id,
            tenant=requested_by.tenant,
            kind="raise",
            tracker_type=tracker_type,
            requested_by=requested_by,
            created_at=now,
            items=[BulkItem(index=i, **item) for i, item in enumerate(items)],
        )

    @classmethod
    def to_process(
        cls, job_id: str, requested_by: Principal, tracker_ids: list[str], now: datetime
    ) -> Self:
        return cls(
            id=job_id,
            tenant=requested_by.tenant,
            kind="process",
            requested_by=requested_by,
            created_at=now,
            items=[BulkItem(index=i, tracker_id=t) for i, t in enumerate(tracker_ids)],
        )

    # --- progress ------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many items are ``pending`` (started ones included), raised, processed, refused."""
        seen = Counter(item.progress for item in self.items)
        return {status: seen[status] for status in ("pending", "raised", "processed", "refused")}

    def items_to_do(self) -> list[BulkItem]:
        return [item for item in self.items if not item.done]

    def start(self, now: datetime) -> None:
        if self.status == "queued":
            self.status = "running"
            self.started_at = now

    def mark_started(self, index: int) -> BulkItem:
        item = self.items[index].model_copy(update={"status": "started"})
        self.items[index] = item
        return item

    def record_raised(self, index: int, tracker_id: str, now: datetime) -> BulkItem:
        return self._done(index, "raised", now, tracker_id=tracker_id)

    def record_processed(self, index: int, now: datetime) -> BulkItem:
        return self._done(index, "processed", now)

    def record_refused(self, index: int, refusal: DomainError, now: datetime) -> BulkItem:
        return self._done(
            index,
            "refused",
            now,
            code=refusal.code,
            reason=refusal.detail,
            details=refusal.details,
        )

    def finish(self, now: datetime) -> None:
        if self.items_to_do():
            raise ValueError(f"bulk job {self.id} still has items to do")
        self.status = "finished"
        self.finished_at = now

    def _done(self, index: int, status: ItemStatus, now: datetime, **result: Any) -> BulkItem:
        item = self.items[index].model_copy(update={"status": status, "done_at": now, **result})
        self.items[index] = item
        return item

    # --- storage -------------------------------------------------------------------------------

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Self:
        return cls.model_validate({k: v for k, v in document.items() if k in cls.model_fields})
