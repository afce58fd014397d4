"""In-memory stand-ins for the tracker service's MongoDB adapters, with the same semantics:
a tracker is stored in its document form beside its outbox, a save matches only the version the
use case loaded (and, for a consumer, an event id not applied yet), settings are versioned.

A test reads the outcome from here: what is stored, and every event written to the outbox."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ilrflow.contracts.events import Envelope
from ilrflow.tracker.adapters.projections import IlrView, LearnerView, StaffView
from ilrflow.tracker.adapters.repository import TrackerFilter
from ilrflow.tracker.domain.bulk import BulkJob
from ilrflow.tracker.domain.policy import TenantTrackerSettings
from ilrflow.tracker.domain.tracker import Tracker
from ilrflow.tracker.service.use_cases import TrackerService

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class _Stored:
    document: dict[str, Any]
    fingerprint: str
    applied_events: list[str] = field(default_factory=list)


class FakeTrackerStore:
    def __init__(self) -> None:
        self._trackers: dict[tuple[str, str], _Stored] = {}
        self._settings: dict[str, tuple[dict[str, Any], int]] = {}
        self.outbox: list[Envelope[Any]] = []
        self._racing: tuple[str, str] | None = None

    async def add(
        self, tracker: Tracker, events: Sequence[Envelope[Any]], fingerprint: str | None = None
    ) -> bool:
        key = (tracker.tenant, tracker.id)
        if key in self._trackers:
            return False
        self._trackers[key] = _Stored(tracker.to_document(), fingerprint or "")
        self.outbox.extend(events)
        return True

    async def get_with_fingerprint(
        self, tenant: str, tracker_id: str
    ) -> tuple[Tracker, str] | None:
        stored = self._trackers.get((tenant, tracker_id))
        return None if stored is None else (_tracker(stored), stored.fingerprint)

    async def get(self, tenant: str, tracker_id: str) -> Tracker | None:
        stored = self._trackers.get((tenant, tracker_id))
        return None if stored is None else _tracker(stored)

    async def save(
        self,
        tracker: Tracker,
        loaded_version: int,
        events: Sequence[Envelope[Any]],
        applied_event_id: str | None = None,
    ) -> bool:
        if self._racing is not None:
            self.move_on(*self._racing)
            self._racing = None
        stored = self._trackers.get((tracker.tenant, tracker.id))
        if stored is None or stored.document["version"] != loaded_version:
            return False
        if applied_event_id is not None:
            if applied_event_id in stored.applied_events:
                return False
            stored.applied_events.append(applied_event_id)
        group = stored.document["learner_group"]  # move_learner's to write, as in MongoDB
        stored.document = tracker.to_document() | {"learner_group": group}
        self.outbox.extend(events)
        return True

    async def move_learner(self, tenant: str, learner_id: str, group: str | None) -> None:
        for (t, _), stored in self._trackers.items():
            if t == tenant and stored.document["learner_id"] == learner_id:
                stored.document["learner_group"] = group

    async def find(
        self, tenant: str, where: TrackerFilter, after: tuple[datetime, str] | None, limit: int
    ) -> list[Tracker]:
        found = [
            _tracker(s)
            for (t, _), s in self._trackers.items()
            if t == tenant and _matches(_tracker(s), where)
        ]
        found.sort(key=lambda t: (t.raised_at, t.id), reverse=True)
        if after is not None:
            found = [t for t in found if (t.raised_at, t.id) < after]
        return found[:limit]

    async def get_settings(self, tenant: str) -> tuple[TenantTrackerSettings, int]:
        if tenant not in self._settings:
            return TenantTrackerSettings(), 0
        body, version = self._settings[tenant]
        return TenantTrackerSettings.model_validate(copy.deepcopy(body)), version

    async def get_current_settings(self, tenant: str) -> tuple[TenantTrackerSettings, int]:
        return await self.get_settings(tenant)

    async def save_settings(
        self,
        tenant: str,
        settings: TenantTrackerSettings,
        loaded_version: int,
        events: Sequence[Envelope[Any]],
    ) -> bool:
        current = self._settings.get(tenant, (None, 0))[1]
        if current != loaded_version:
            return False
        self._settings[tenant] = (settings.model_dump(mode="json"), loaded_version + 1)
        self.outbox.extend(events)
        return True

    # --- for the tests ------------------------------------------------------------------------

    def events_of_type(self, event_type: str) -> list[Envelope[Any]]:
        return [e for e in self.outbox if e.type == event_type]

    def move_on(self, tenant: str, tracker_id: str) -> None:
        """Someone else saved the tracker meanwhile: its stored version goes up by one."""
        self._trackers[(tenant, tracker_id)].document["version"] += 1

    def race_next_save(self, tenant: str, tracker_id: str) -> None:
        """Another writer saves the tracker between the use case's load and its save."""
        self._racing = (tenant, tracker_id)

    def seed_settings(self, tenant: str, settings: TenantTrackerSettings) -> None:
        self._settings[tenant] = (settings.model_dump(mode="json"), 1)


class FakeProjections:
    def __init__(self) -> None:
        self.learners: dict[tuple[str, str], LearnerView] = {}
        self.staff: dict[tuple[str, str], StaffView] = {}
        self.ilrs: dict[tuple[str, str], IlrView] = {}
        self.otj_minimum_table: dict[int, int] | None = None

    async def ilr_of(self, tenant: str, learner_id: str) -> IlrView | None:
        return self.ilrs.get((tenant, learner_id))

    async def learner(self, tenant: str, learner_id: str) -> LearnerView | None:
        return self.learners.get((tenant, learner_id))

    async def staff_member(self, tenant: str, staff_id: str) -> StaffView | None:
        return self.staff.get((tenant, staff_id))

    async def staff_of_tenant(self, tenant: str) -> list[StaffView]:
        return [s for (t, _), s in self.staff.items() if t == tenant]

    async def otj_minimums(self) -> Mapping[int, int] | None:
        return self.otj_minimum_table


@dataclass
class _StoredJob:
    document: dict[str, Any]
    fingerprint: str
    lease_owner: str | None = None
    lease_until: float = 0.0


class FakeBulkJobStore:
    """Bulk jobs as the MongoDB adapter keeps them: a lease, and progress written only by the
    worker holding it. ``crash_after_saves`` makes a later write fail as a lost database would."""

    def __init__(self) -> None:
        self._jobs: dict[tuple[str, str], _StoredJob] = {}
        self.crash_after_saves: int | None = None

    async def add(self, job: BulkJob, fingerprint: str) -> bool:
        key = (job.tenant, job.id)
        if key in self._jobs:
            return False
        self._jobs[key] = _StoredJob(job.to_document(), fingerprint)
        return True

    async def get_with_fingerprint(self, tenant: str, job_id: str) -> tuple[BulkJob, str] | None:
        stored = self._jobs.get((tenant, job_id))
        return None if stored is None else (_job(stored), stored.fingerprint)

    async def claim(
        self, tenant: str, job_id: str, worker: str, now: float, lease_seconds: float
    ) -> BulkJob | None:
        stored = self._jobs.get((tenant, job_id))
        if stored is None or stored.document["status"] == "finished":
            return None
        if stored.lease_owner not in (None, worker) and stored.lease_until > now:
            return None
        stored.lease_owner, stored.lease_until = worker, now + lease_seconds
        return _job(stored)

    async def save_progress(
        self, job: BulkJob, indexes: Sequence[int], worker: str, lease_until: float
    ) -> bool:
        if self.crash_after_saves is not None:
            if self.crash_after_saves == 0:
                raise ConnectionError("the database went away")
            self.crash_after_saves -= 1
        stored = self._jobs[(job.tenant, job.id)]
        if stored.lease_owner != worker:
            return False
        document = job.to_document()
        for field_name in ("status", "started_at", "finished_at"):
            stored.document[field_name] = document[field_name]
        for index in indexes:
            stored.document["items"][index] = document["items"][index]
        stored.lease_until = lease_until
        return True

    async def open_jobs(self) -> list[tuple[str, str]]:
        return [key for key, s in self._jobs.items() if s.document["status"] != "finished"]

    def lease_of(self, tenant: str, job_id: str) -> tuple[str | None, float]:
        stored = self._jobs[(tenant, job_id)]
        return stored.lease_owner, stored.lease_until


def _job(stored: _StoredJob) -> BulkJob:
    return BulkJob.from_document(copy.deepcopy(stored.document))


def tracker_service(
    trackers: FakeTrackerStore, projections: FakeProjections, clock_at: datetime = T0
) -> TrackerService:
    """The service over the fakes (typed, so mypy checks the fakes fit the protocols)."""
    return TrackerService(
        trackers, projections, events_written=lambda: None, clock=lambda: clock_at
    )


def _tracker(stored: _Stored) -> Tracker:
    return Tracker.from_document(copy.deepcopy(stored.document))


def _matches(tracker: Tracker, where: TrackerFilter) -> bool:
    equalities = {
        "status": where.status,
        "tracker_type": where.tracker_type,
        "allocated_to": where.allocated_to,
        "learner_id": where.learner_id,
    }
    if any(v is not None and getattr(tracker, k) != v for k, v in equalities.items()):
        return False
    groups = where.visible_groups
    if where.group is not None:
        groups = [where.group] if groups is None or where.group in groups else []
    if groups is not None and tracker.learner_group not in groups:
        return False
    learner = where.visible_to_learner
    if learner is not None and learner not in (tracker.learner_id, tracker.raised_by):
        return False
    if where.raised_from is not None and tracker.raised_at < where.raised_from:
        return False
    return where.raised_to is None or tracker.raised_at < where.raised_to
