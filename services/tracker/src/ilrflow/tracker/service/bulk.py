"""Bulk use cases: ask for a bulk raise or process (stored as a job, worked later), read a job's
progress, and work a job's items through the single raise and process use cases, so every
permission, date check, QA lock and two-person rule applies to each item as it would alone."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from ilrflow.contracts.errors import Conflict, DomainError, FieldProblem, InvalidInput, NotFound
from ilrflow.contracts.identity import Principal
from ilrflow.tracker.domain.actors import Actor
from ilrflow.tracker.domain.bulk import BULK_LIMIT, BulkItem, BulkJob
from ilrflow.tracker.domain.permissions import may_raise_type, refusal
from ilrflow.tracker.service.ports import BulkJobStore
from ilrflow.tracker.service.use_cases import TrackerService

LEASE_SECONDS = 120.0
"""How long a worker holds a job without writing to it before another worker may take it over;
every batch's results renew it."""
BATCH_SIZE = 20
"""Items worked between two writes of the job. Each write rewrites the job's document on
FerretDB (about 0.2 s for 200 items, more for 1,000), so one per item would cost more than the
items; a crash redoes at most one batch, which is safe (see ``BulkService.work``)."""


def new_job_id() -> str:
    return "B" + secrets.token_hex(6).upper()


def idempotent_job_id(tenant: str, requested_by: str, idempotency_key: str) -> str:
    """The id a bulk request with this ``Idempotency-Key`` gets: the same for every retry, so
    a retry meets the first job (keys are scoped to the tenant and the requester)."""
    digest = hashlib.sha256(f"bulk\x1f{tenant}\x1f{requested_by}\x1f{idempotency_key}".encode())
    return "B" + digest.hexdigest()[:12].upper()


def item_idempotency_key(job_id: str, index: int) -> str:
    """The key a bulk raise item's tracker is raised with: a resumed job raises it only once."""
    return f"bulk:{job_id}:{index}"


def bulk_fingerprint(kind: str, tracker_type: str | None, items: list[Any]) -> str:
    request = {"kind": kind, "type": tracker_type, "items": items}
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class BulkRequested(NamedTuple):
    job: BulkJob
    replayed: bool


class BulkKeyReusedError(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was used for a different bulk request; use a new key.",
            code="idempotency_key_reused",
        )


class BulkService:
    def __init__(
        self,
        jobs: BulkJobStore,
        trackers: TrackerService,
        job_stored: Callable[[str, str], None],
        clock: Callable[[], datetime],
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.jobs = jobs
        self.trackers = trackers
        self._job_stored = job_stored
        self._clock = clock
        self.batch_size = batch_size

    # --- asking ---------------------------------------------------------------------------

    async def request_raise(
        self,
        principal: Principal,
        tracker_type: str,
        items: list[dict[str, Any]],
        idempotency_key: str | None,
    ) -> BulkRequested:
        """Store a job raising ``tracker_type`` for each item (``learner_id``, ``changes``,
        ``note``). The type must be on and the requester allowed to raise it; everything about
        one item (the learner, its changes) is that item's result, not a refusal of the job."""

        async def check() -> None:
            _check_size(items)
            settings = await self.trackers.settings(principal)
            decision = may_raise_type(settings, Actor.of(principal), tracker_type)
            if not decision:
                raise refusal(decision)

        def build(job_id: str) -> BulkJob:
            return BulkJob.to_raise(job_id, principal, tracker_type, items, self._clock())

        fingerprint = bulk_fingerprint("raise", tracker_type, items)
        return await self._request(principal, idempotency_key, fingerprint, check, build)

    async def request_process(
        self, principal: Principal, tracker_ids: list[str], idempotency_key: str | None
    ) -> BulkRequested:
        """Store a job processing each tracker; a tracker that cannot be processed (unknown,
        not visible, processed already, refused by a rule) is that item's result."""

        async def check() -> None:
            _check_size(tracker_ids)
            repeated = sorted({t for t in tracker_ids if tracker_ids.count(t) > 1})
            if repeated:
                reason = f"each tracker once; repeated: {', '.join(repeated)}"
                raise InvalidInput(f"ids: {reason}", [FieldProblem(field="ids", reason=reason)])

        def build(job_id: str) -> BulkJob:
            return BulkJob.to_process(job_id, principal, tracker_ids, self._clock())

        fingerprint = bulk_fingerprint("process", None, tracker_ids)
        return await self._request(principal, idempotency_key, fingerprint, check, build)

    async def job(self, principal: Principal, job_id: str) -> BulkJob:
        """A job, for the person who asked for it (anyone else: not found)."""
        found = await self.jobs.get_with_fingerprint(principal.tenant, job_id)
        if found is None or found[0].requested_by.sub != principal.sub:
            raise NotFound.of("bulk job", job_id)
        return found[0]

    async def _request(
        self,
        principal: Principal,
        idempotency_key: str | None,
        fingerprint: str,
        check: Callable[[], Any],
        build: Callable[[str], BulkJob],
    ) -> BulkRequested:
        job_id = new_job_id()
        if idempotency_key is not None:
            job_id = idempotent_job_id(principal.tenant, principal.sub, idempotency_key)
            earlier = await self._earlier(principal.tenant, job_id, fingerprint)
            if earlier is not None:
                return BulkRequested(earlier, replayed=True)
        await check()
        job = build(job_id)
        if not await self.jobs.add(job, fingerprint):
            earlier = await self._earlier(principal.tenant, job_id, fingerprint)
            if earlier is None:
                raise Conflict(f"bulk job {job_id} neither stored nor found; try again")
            return BulkRequested(earlier, replayed=True)
        self._job_stored(job.tenant, job.id)
        return BulkRequested(job, replayed=False)

    async def _earlier(self, tenant: str, job_id: str, fingerprint: str) -> BulkJob | None:
        found = await self.jobs.get_with_fingerprint(tenant, job_id)
        if found is None:
            return None
        if found[1] != fingerprint:
            raise BulkKeyReusedError()
        return found[0]

    # --- working --------------------------------------------------------------------------

    async def work(self, tenant: str, job_id: str, worker: str) -> bool:
        """Work the job's remaining items, a batch at a time, each batch's results stored when
        it is done. Returns False if the job was not ours to work (finished, or leased to a live
        worker) or was taken over midway. An error other than a refusal (the database away)
        propagates with the batch's results unstored: working the job again redoes that batch,
        and nothing is done twice (a raise item's tracker has an id of its own; a process item
        whose tracker this job processed counts as done)."""
        job = await self.jobs.claim(tenant, job_id, worker, self._now(), LEASE_SECONDS)
        if job is None:
            return False
        job.start(self._clock())
        to_do = [item.index for item in job.items_to_do()]
        for start in range(0, len(to_do), self.batch_size):
            if not await self._work_batch(job, to_do[start : start + self.batch_size], worker):
                return False
        job.finish(self._clock())
        return await self._save(job, [], worker)

    async def _work_batch(self, job: BulkJob, indexes: list[int], worker: str) -> bool:
        if job.kind == "process":
            # Marked before processing: after a crash, a processed tracker of a started item
            # is this job's doing, and one of a pending item is somebody else's.
            pending = [i for i in indexes if job.items[i].status == "pending"]
            for index in pending:
                job.mark_started(index)
            if pending and not await self._save(job, pending, worker):
                return False
        for index in indexes:
            try:
                await self._do(job, job.items[index])
            except DomainError as refused:
                job.record_refused(index, refused, self._clock())
            await asyncio.sleep(0)  # let the HTTP requests waiting meanwhile in
        return await self._save(job, indexes, worker)

    async def _do(self, job: BulkJob, item: BulkItem) -> None:
        if job.kind == "raise":
            await self._raise_item(job, item)
        else:
            await self._process_item(job, item)

    async def _raise_item(self, job: BulkJob, item: BulkItem) -> None:
        assert job.tracker_type is not None
        assert item.learner_id is not None
        raised = await self.trackers.raise_tracker(
            job.requested_by,
            job.tracker_type,
            item.learner_id,
            item.changes or {},
            item.note,
            item_idempotency_key(job.id, item.index),
        )
        job.record_raised(item.index, raised.tracker.id, self._clock())

    async def _process_item(self, job: BulkJob, item: BulkItem) -> None:
        assert item.tracker_id is not None
        if item.status != "started" or not await self._processed_by_requester(job, item.tracker_id):
            await self.trackers.process(job.requested_by, item.tracker_id, None)
        job.record_processed(item.index, self._clock())

    async def _processed_by_requester(self, job: BulkJob, tracker_id: str) -> bool:
        tracker = await self.trackers.trackers.get(job.tenant, tracker_id)
        return (
            tracker is not None
            and tracker.status == "processed"
            and tracker.decided_by == job.requested_by.sub
        )

    async def _save(self, job: BulkJob, indexes: list[int], worker: str) -> bool:
        return await self.jobs.save_progress(job, indexes, worker, self._now() + LEASE_SECONDS)

    def _now(self) -> float:
        return self._clock().timestamp()


def _check_size(items: list[Any]) -> None:
    if not 1 <= len(items) <= BULK_LIMIT:
        reason = f"between 1 and {BULK_LIMIT} items, not {len(items)}"
        raise InvalidInput(f"items: {reason}", [FieldProblem(field="items", reason=reason)])
