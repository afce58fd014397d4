"""Bulk raise and process through in-memory repositories: each item's own result, idempotent
requests, and a job that resumes after a crash without doing an item twice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from tracker_fakes import T0, FakeBulkJobStore, FakeProjections, FakeTrackerStore

from ilrflow.contracts.events import EventType
from ilrflow.contracts.identity import Principal
from ilrflow.tracker.adapters.projections import LearnerView
from ilrflow.tracker.adapters.repository import TrackerFilter
from ilrflow.tracker.domain.bulk import BULK_LIMIT
from ilrflow.tracker.domain.policy import TenantTrackerSettings, TypeSettings
from ilrflow.tracker.service.bulk import LEASE_SECONDS, BulkService
from ilrflow.tracker.service.use_cases import TrackerService

RefusalOf = Callable[[Awaitable[object]], Awaitable[Any]]  # the fixture in services/conftest.py
TENANT = "acme"
ADMIN = Principal(sub="admin-1", tenant=TENANT, roles=["admin"], groups=["group-a"])
OTHER_ADMIN = Principal(sub="admin-2", tenant=TENANT, roles=["admin"], groups=["group-a"])
TUTOR = Principal(sub="tutor-1", tenant=TENANT, roles=["tutor"], groups=["group-a"])
LEARNERS = [f"L{n}" for n in range(1, 6)]


def address(n: int) -> dict[str, Any]:
    return {"address": {"lines": [f"{n} High Street", "Leeds"], "postcode": "LS1 1AA"}}


INVALID = {"address": {"lines": [], "postcode": "not a postcode"}}


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    trackers: FakeTrackerStore
    projections: FakeProjections
    jobs: FakeBulkJobStore
    clock: Clock
    stored: list[tuple[str, str]]

    def bulk(self) -> BulkService:
        """A service as a (re)started process builds it, over the same stores."""
        service = TrackerService(
            self.trackers, self.projections, events_written=lambda: None, clock=self.clock
        )
        return BulkService(
            self.jobs,
            service,
            job_stored=lambda tenant, job_id: self.stored.append((tenant, job_id)),
            clock=self.clock,
            batch_size=2,
        )

    def raised(self) -> list[Any]:
        return self.trackers.events_of_type(EventType.TRACKER_RAISED)

    def processed(self) -> list[Any]:
        return self.trackers.events_of_type(EventType.TRACKER_PROCESSED)


@pytest.fixture
def world() -> World:
    trackers = FakeTrackerStore()
    trackers.seed_settings(
        TENANT, TenantTrackerSettings(types={"change_of_address": TypeSettings(enabled=True)})
    )
    projections = FakeProjections()
    for learner_id in LEARNERS:
        projections.learners[(TENANT, learner_id)] = LearnerView(
            learner_id, learner_id, "group-a", None
        )
    projections.learners[(TENANT, "L9")] = LearnerView("L9", "L9", "group-b", None)
    return World(trackers, projections, FakeBulkJobStore(), Clock(), [])


def raise_items(*learners: str) -> list[dict[str, Any]]:
    return [
        {"learner_id": learner, "changes": address(n), "note": None}
        for n, learner in enumerate(learners, start=1)
    ]


async def raise_job(world: World, items: list[dict[str, Any]], key: str | None = None) -> str:
    requested = await world.bulk().request_raise(ADMIN, "change_of_address", items, key)
    return requested.job.id


# --- asking ------------------------------------------------------------------------------------


async def test_a_bulk_request_is_stored_queued_and_handed_to_the_worker(world: World) -> None:
    requested = await world.bulk().request_raise(
        ADMIN, "change_of_address", raise_items(*LEARNERS), None
    )

    job = await world.bulk().job(ADMIN, requested.job.id)
    assert (job.status, job.kind, job.requested_by.sub) == ("queued", "raise", "admin-1")
    assert job.counts() == {"pending": 5, "raised": 0, "processed": 0, "refused": 0}
    assert world.stored == [(TENANT, job.id)]
    assert world.raised() == []  # nothing is done before the worker works it


async def test_a_disabled_type_refuses_the_whole_request(
    world: World, refusal_of: RefusalOf
) -> None:
    refusal = await refusal_of(
        world.bulk().request_raise(ADMIN, "change_of_name", raise_items("L1"), None)
    )

    assert refusal.code == "type_disabled"
    assert world.stored == []


async def test_a_role_that_may_not_raise_the_type_is_refused_for_the_whole_request(
    world: World, refusal_of: RefusalOf
) -> None:
    world.trackers.seed_settings(
        TENANT,
        TenantTrackerSettings(
            types={"change_of_address": TypeSettings(enabled=True, raise_roles=["tutor"])}
        ),
    )

    refusal = await refusal_of(
        world.bulk().request_raise(ADMIN, "change_of_address", raise_items("L1"), None)
    )

    assert refusal.code == "forbidden"


async def test_more_items_than_the_limit_are_refused(world: World, refusal_of: RefusalOf) -> None:
    too_many = [f"T{n}" for n in range(BULK_LIMIT + 1)]

    refusal = await refusal_of(world.bulk().request_process(ADMIN, too_many, None))

    assert refusal.code == "validation_failed"
    assert refusal.error.problems[0]["field"] == "items"


async def test_a_tracker_named_twice_in_one_bulk_process_is_refused(
    world: World, refusal_of: RefusalOf
) -> None:
    refusal = await refusal_of(world.bulk().request_process(ADMIN, ["T1", "T2", "T1"], None))

    assert refusal.code == "validation_failed"
    assert "T1" in refusal.message


async def test_the_same_key_and_body_give_the_same_job(world: World) -> None:
    first = await world.bulk().request_raise(
        ADMIN, "change_of_address", raise_items("L1", "L2"), "cohort-1"
    )
    again = await world.bulk().request_raise(
        ADMIN, "change_of_address", raise_items("L1", "L2"), "cohort-1"
    )

    assert (again.job.id, again.replayed) == (first.job.id, True)
    assert world.stored == [(TENANT, first.job.id)]


async def test_the_same_key_with_another_body_is_a_conflict(
    world: World, refusal_of: RefusalOf
) -> None:
    await world.bulk().request_raise(ADMIN, "change_of_address", raise_items("L1"), "cohort-1")

    refusal = await refusal_of(
        world.bulk().request_raise(ADMIN, "change_of_address", raise_items("L2"), "cohort-1")
    )

    assert refusal.code == "idempotency_key_reused"
    assert len(world.stored) == 1


async def test_keys_are_scoped_to_the_requester(world: World) -> None:
    mine = await world.bulk().request_raise(ADMIN, "change_of_address", raise_items("L1"), "k")
    theirs = await world.bulk().request_raise(
        OTHER_ADMIN, "change_of_address", raise_items("L1"), "k"
    )

    assert mine.job.id != theirs.job.id
    assert theirs.replayed is False


async def test_only_the_requester_reads_a_job(world: World, refusal_of: RefusalOf) -> None:
    job_id = await raise_job(world, raise_items("L1"))

    refusal = await refusal_of(world.bulk().job(OTHER_ADMIN, job_id))

    assert refusal.code == "not_found"


# --- working -----------------------------------------------------------------------------------


async def test_every_item_gets_its_own_result(world: World) -> None:
    world.trackers.seed_settings(
        TENANT,
        TenantTrackerSettings(
            types={"change_of_address": TypeSettings(enabled=True)}, admins_see_all_groups=False
        ),
    )
    items = raise_items("L1", "L2", "L3")
    items[1]["changes"] = INVALID
    items.append({"learner_id": "nobody", "changes": address(4), "note": None})
    items.append({"learner_id": "L9", "changes": address(5), "note": None})  # not in my groups
    job_id = await raise_job(world, items)

    assert await world.bulk().work(TENANT, job_id, "w1") is True

    job = await world.bulk().job(ADMIN, job_id)
    assert job.status == "finished"
    assert job.finished_at == T0
    assert job.counts() == {"pending": 0, "raised": 2, "processed": 0, "refused": 3}
    statuses = [(i.status, i.code) for i in job.items]
    assert statuses == [
        ("raised", None),
        ("refused", "validation_failed"),
        ("raised", None),
        ("refused", "not_found"),
        ("refused", "not_found"),
    ]
    assert "postcode" in (job.items[1].reason or "")
    raised_ids = {e.correlation_id for e in world.raised()}
    assert raised_ids == {job.items[0].tracker_id, job.items[2].tracker_id}
    assert all(e.actor == "admin-1" for e in world.raised())


async def test_a_job_resumes_after_a_crash_without_raising_an_item_twice(world: World) -> None:
    job_id = await raise_job(world, raise_items(*LEARNERS))
    # Batches of two: the first is stored, the second raised but its results never stored.
    world.jobs.crash_after_saves = 1

    with pytest.raises(ConnectionError):
        await world.bulk().work(TENANT, job_id, "w1")
    world.jobs.crash_after_saves = None
    # Another process, once the first one's lease ran out.
    assert await world.bulk().work(TENANT, job_id, "w2") is False
    world.clock.advance(LEASE_SECONDS + 1)
    assert await world.bulk().work(TENANT, job_id, "w2") is True

    job = await world.bulk().job(ADMIN, job_id)
    assert job.counts()["raised"] == 5
    assert len(world.raised()) == 5
    assert len({i.tracker_id for i in job.items}) == 5
    assert len(await world.trackers.find(TENANT, TrackerFilter(), None, 100)) == 5


async def test_a_worker_whose_lease_was_taken_over_stops(world: World) -> None:
    job_id = await raise_job(world, raise_items("L1", "L2"))
    job = await world.jobs.claim(TENANT, job_id, "w1", T0.timestamp(), LEASE_SECONDS)
    assert job is not None
    world.clock.advance(LEASE_SECONDS + 1)
    taken = await world.jobs.claim(TENANT, job_id, "w2", world.clock().timestamp(), LEASE_SECONDS)
    assert taken is not None

    job.record_raised(0, "T-ghost", world.clock())
    assert await world.jobs.save_progress(job, [0], "w1", 0.0) is False
    assert world.jobs.lease_of(TENANT, job_id)[0] == "w2"


async def test_a_finished_job_is_not_worked_again(world: World) -> None:
    job_id = await raise_job(world, raise_items("L1"))
    await world.bulk().work(TENANT, job_id, "w1")

    assert await world.bulk().work(TENANT, job_id, "w1") is False
    assert len(world.raised()) == 1


# --- bulk process ------------------------------------------------------------------------------


async def _raised_trackers(world: World, count: int, by: Principal = TUTOR) -> list[str]:
    service = world.bulk().trackers
    ids = []
    for n, learner in enumerate(LEARNERS[:count], start=1):
        raised = await service.raise_tracker(by, "change_of_address", learner, address(n), None)
        ids.append(raised.tracker.id)
    return ids


async def test_bulk_process_applies_each_rule_per_item(world: World) -> None:
    world.trackers.seed_settings(
        TENANT,
        TenantTrackerSettings(
            types={"change_of_address": TypeSettings(enabled=True)}, two_person_control=True
        ),
    )
    mine = await _raised_trackers(world, 1, by=ADMIN)
    theirs = await _raised_trackers(world, 3)
    ids = [*mine, *theirs[1:], "T-unknown"]
    requested = await world.bulk().request_process(ADMIN, ids, None)

    await world.bulk().work(TENANT, requested.job.id, "w1")

    job = await world.bulk().job(ADMIN, requested.job.id)
    assert [(i.status, i.code) for i in job.items] == [
        ("refused", "two_person_control"),
        ("processed", None),
        ("processed", None),
        ("refused", "not_found"),
    ]
    assert {e.correlation_id for e in world.processed()} == set(theirs[1:])


async def test_a_processed_tracker_of_a_started_item_counts_as_done_after_a_crash(
    world: World,
) -> None:
    ids = await _raised_trackers(world, 3)
    requested = await world.bulk().request_process(ADMIN, ids, None)
    # Saves (batches of two): items 0 and 1 started, then done; item 2 started, processed, and
    # the crash comes before its result is stored.
    world.jobs.crash_after_saves = 3

    with pytest.raises(ConnectionError):
        await world.bulk().work(TENANT, requested.job.id, "w1")
    world.jobs.crash_after_saves = None
    await world.bulk().work(TENANT, requested.job.id, "w1")

    job = await world.bulk().job(ADMIN, requested.job.id)
    assert job.counts()["processed"] == 3
    assert len(world.processed()) == 3


async def test_a_tracker_processed_by_someone_else_before_its_turn_is_refused(
    world: World,
) -> None:
    ids = await _raised_trackers(world, 2)
    requested = await world.bulk().request_process(ADMIN, ids, None)
    await world.bulk().trackers.process(OTHER_ADMIN, ids[1], None)

    await world.bulk().work(TENANT, requested.job.id, "w1")

    job = await world.bulk().job(ADMIN, requested.job.id)
    assert [(i.status, i.code) for i in job.items] == [
        ("processed", None),
        ("refused", "illegal_transition"),
    ]
