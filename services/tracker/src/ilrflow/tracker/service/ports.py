"""What the tracker use cases need of storage, as protocols: the MongoDB adapters satisfy them
(mypy checks it where bootstrap wires them in) and the unit tests' in-memory fakes do too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from ilrflow.contracts.events import Envelope
from ilrflow.tracker.adapters.projections import IlrView, LearnerView, StaffView
from ilrflow.tracker.adapters.repository import TrackerFilter
from ilrflow.tracker.domain.bulk import BulkJob
from ilrflow.tracker.domain.policy import TenantTrackerSettings
from ilrflow.tracker.domain.tracker import Tracker


class TrackerStore(Protocol):
    """Trackers with their outbox, and each tenant's tracker settings, both versioned."""

    async def add(
        self, tracker: Tracker, events: Sequence[Envelope[Any]], fingerprint: str | None = None
    ) -> bool:
        """Insert a new tracker with its events; False if its id is taken."""
        ...

    async def get_with_fingerprint(
        self, tenant: str, tracker_id: str
    ) -> tuple[Tracker, str] | None: ...

    async def get(self, tenant: str, tracker_id: str) -> Tracker | None: ...

    async def save(
        self,
        tracker: Tracker,
        loaded_version: int,
        events: Sequence[Envelope[Any]],
        applied_event_id: str | None = None,
    ) -> bool:
        """Store the tracker and its events if it is still at ``loaded_version`` (and the event
        ``applied_event_id`` was not applied before); False otherwise, storing nothing."""
        ...

    async def find(
        self, tenant: str, where: TrackerFilter, after: tuple[datetime, str] | None, limit: int
    ) -> list[Tracker]:
        """Newest first by (raised_at, id); ``after`` is the keyset cursor."""
        ...

    async def move_learner(self, tenant: str, learner_id: str, group: str | None) -> None:
        """Give every tracker of the learner the learner's new group. The group is the
        learner's, not part of a tracker's state: its version stays, and ``save`` never
        writes the group back."""
        ...

    async def get_settings(self, tenant: str) -> tuple[TenantTrackerSettings, int]:
        """The tenant's settings and their version (defaults at version 0), as last heard: a
        change made by another replica arrives with its event."""
        ...

    async def get_current_settings(self, tenant: str) -> tuple[TenantTrackerSettings, int]:
        """The same, read from the database: for a change, which checks the version."""
        ...

    async def save_settings(
        self,
        tenant: str,
        settings: TenantTrackerSettings,
        loaded_version: int,
        events: Sequence[Envelope[Any]],
    ) -> bool:
        """Store the settings with their events if still at ``loaded_version``."""
        ...


class TrackerProjections(Protocol):
    """The read-only copies of learners, staff and ILRs the tracker service keeps."""

    async def ilr_of(self, tenant: str, learner_id: str) -> IlrView | None: ...

    async def learner(self, tenant: str, learner_id: str) -> LearnerView | None: ...

    async def staff_member(self, tenant: str, staff_id: str) -> StaffView | None: ...

    async def staff_of_tenant(self, tenant: str) -> list[StaffView]: ...

    async def otj_minimums(self) -> Mapping[int, int] | None:
        """The platform's loaded 2025/26 minimum OTJ hours per standard; None until loaded."""
        ...


class BulkJobStore(Protocol):
    """Bulk jobs with the fingerprint of the request that made each, and a lease: the one worker
    that may write a job's progress until the lease runs out (times in epoch seconds)."""

    async def add(self, job: BulkJob, fingerprint: str) -> bool:
        """Insert a new job, unleased; False if its id is taken."""
        ...

    async def get_with_fingerprint(
        self, tenant: str, job_id: str
    ) -> tuple[BulkJob, str] | None: ...

    async def claim(
        self, tenant: str, job_id: str, worker: str, now: float, lease_seconds: float
    ) -> BulkJob | None:
        """The job, leased to ``worker``, if it is unfinished and no other worker's lease is
        live; None otherwise."""
        ...

    async def save_progress(
        self, job: BulkJob, indexes: Sequence[int], worker: str, lease_until: float
    ) -> bool:
        """Store the job's status and times and its items at ``indexes``, renewing the lease,
        if ``worker`` still holds it; False (storing nothing) if another worker took it over."""
        ...

    async def open_jobs(self) -> list[tuple[str, str]]:
        """(tenant, job id) of every unfinished job."""
        ...
