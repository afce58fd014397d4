"""A tracker's dates through the use cases: checked against the learner's current ILR (not the
enrolment's planned end date, which a return moves and a late completer passes), and a last day
of learning still to come refused at processing (LearnActEndDate_04)."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from tracker_fakes import FakeProjections, FakeTrackerStore, tracker_service

from ilrflow.contracts.events import EmployerRef, Enrolment, EventType, LearnerSnapshot
from ilrflow.contracts.identity import Principal
from ilrflow.ilr_engine import (
    IlrLearner,
    IlrPolicy,
    TrackerApplication,
    apply_tracker,
    learner_from_enrolment,
)
from ilrflow.tracker.adapters.projections import IlrView, LearnerView, ProgrammeView
from ilrflow.tracker.domain.policy import TenantTrackerSettings, TypeSettings
from ilrflow.tracker.service.use_cases import TrackerService

RefusalOf = Callable[[Awaitable[object]], Awaitable[Any]]  # the fixture in services/conftest.py
TENANT = "acme"
ADMIN = Principal(sub="admin-1", tenant=TENANT, roles=["admin"], groups=["group-a"])
START = date(2024, 9, 2)
ENROLLED_END = date(2025, 9, 30)
TYPES = ("break_in_learning", "withdrawal", "change_of_employer")
BREAK = {"last_day_of_learning": "2025-01-31", "expected_return_date": "2025-04-01", "reason": "r"}
RETURN = {"return_date": "2025-04-01"}  # the ILR's new planned end date: 2025-11-29


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)


_TRACKER_IDS = itertools.count(1)


def ilr_after(*steps: tuple[str, dict[str, Any]]) -> IlrLearner:
    """The learner's ILR: enrolled like the learner projection says, then the trackers applied."""
    learner = LearnerSnapshot(id="L1", given_names="Ann", family_name="Smith", uln="9276308686")
    enrolment = Enrolment(
        id="E1",
        standard_code=123,
        start_date=START,
        planned_end_date=ENROLLED_END,
        employer=EmployerRef(ern="123456789", name="Acme Ltd"),
        weekly_hours=37.5,
        planned_otj_hours=300,
    )
    record = learner_from_enrolment(learner, enrolment, None)
    for tracker_type, changes in steps:
        application = TrackerApplication(
            tracker_id=f"T{next(_TRACKER_IDS)}",
            tracker_type=tracker_type,
            changes=changes,
            processor_roles=("admin",),
            qa_verified=False,
            policy=IlrPolicy(),
        )
        result = apply_tracker(record, application)
        assert result.status == "applied", result.reason
        record = result.record
    return record


@pytest.fixture
def trackers() -> FakeTrackerStore:
    store = FakeTrackerStore()
    settings = TenantTrackerSettings(types={t: TypeSettings(enabled=True) for t in TYPES})
    store.seed_settings(TENANT, settings)
    return store


@pytest.fixture
def projections() -> FakeProjections:
    views = FakeProjections()
    enrolled = ProgrammeView("E1", 123, START, "Acme Ltd", 37.5)
    views.learners[(TENANT, "L1")] = LearnerView("L1", "Ann Smith", "group-a", None, [enrolled])
    return views


def with_ilr(projections: FakeProjections, record: IlrLearner) -> None:
    projections.ilrs[(TENANT, "L1")] = IlrView(version=1, qa_verified=False, learner=record)


async def raise_one(service: TrackerService, tracker_type: str, changes: dict[str, Any]) -> str:
    result = await service.raise_tracker(ADMIN, tracker_type, "L1", changes, None)
    return result.tracker.id


# --- item 10: the window is the ILR's programme, with no upper bound at a planned end date ------


async def test_a_withdrawal_after_the_planned_end_date_that_a_return_moved_is_accepted(
    trackers: FakeTrackerStore, projections: FakeProjections
) -> None:
    with_ilr(projections, ilr_after(("break_in_learning", BREAK), ("return_to_learning", RETURN)))
    service = tracker_service(trackers, projections, clock_at=at("2025-11-03"))

    tracker_id = await raise_one(
        service, "withdrawal", {"last_day_of_learning": "2025-10-31", "reason": "44"}
    )

    processed = await service.process(ADMIN, tracker_id, expected_version=None)
    assert processed.changes["last_day_of_learning"] == "2025-10-31"


@pytest.mark.parametrize(
    ("tracker_type", "changes"),
    [
        (
            "break_in_learning",
            {**BREAK, "last_day_of_learning": "2025-12-19", "expected_return_date": "2026-02-02"},
        ),
        ("withdrawal", {"last_day_of_learning": "2025-12-19", "reason": "44"}),
        (
            "change_of_employer",
            {
                "effective_date": "2025-12-22",
                "employer": {"ern": "987654321", "name": "New Ltd"},
                "weekly_hours": 37.5,
            },
        ),
    ],
)
async def test_a_late_completer_still_in_learning_after_the_planned_end_date_can_change(
    trackers: FakeTrackerStore,
    projections: FakeProjections,
    tracker_type: str,
    changes: dict[str, Any],
) -> None:
    with_ilr(projections, ilr_after())
    service = tracker_service(trackers, projections, clock_at=at("2026-01-05"))

    tracker_id = await raise_one(service, tracker_type, changes)

    assert (await trackers.get(TENANT, tracker_id)) is not None


async def test_after_a_return_learning_cannot_end_before_the_return(
    trackers: FakeTrackerStore, projections: FakeProjections, refusal_of: RefusalOf
) -> None:
    with_ilr(projections, ilr_after(("break_in_learning", BREAK), ("return_to_learning", RETURN)))
    service = tracker_service(trackers, projections, clock_at=at("2025-06-02"))

    refusal = await refusal_of(
        raise_one(service, "withdrawal", {"last_day_of_learning": "2025-03-14", "reason": "44"})
    )

    assert refusal.error.problems == [
        {
            "field": "changes.last_day_of_learning",
            "reason": "is before the learner returned (2025-04-01)",
        }
    ]
    assert trackers.outbox == []


async def test_without_an_ilr_the_enrolment_dates_the_programme(
    trackers: FakeTrackerStore, projections: FakeProjections, refusal_of: RefusalOf
) -> None:
    service = tracker_service(trackers, projections, clock_at=at("2025-11-03"))

    refusal = await refusal_of(
        raise_one(service, "break_in_learning", {**BREAK, "last_day_of_learning": "2024-08-30"})
    )
    late = await raise_one(
        service, "withdrawal", {"last_day_of_learning": "2025-10-31", "reason": "44"}
    )

    assert refusal.error.problems[0]["reason"] == "is before the programme started (2024-09-02)"
    assert (await trackers.get(TENANT, late)) is not None


# --- item 11: a last day of learning still to come is refused at processing --------------------


async def test_a_break_agreed_in_advance_is_processed_from_its_last_day(
    trackers: FakeTrackerStore, projections: FakeProjections, refusal_of: RefusalOf
) -> None:
    with_ilr(projections, ilr_after())
    planned = {**BREAK, "last_day_of_learning": "2025-03-07"}
    early = tracker_service(trackers, projections, clock_at=at("2025-03-01"))
    tracker_id = await raise_one(early, "break_in_learning", planned)

    refusal = await refusal_of(early.process(ADMIN, tracker_id, expected_version=None))
    on_the_day = tracker_service(trackers, projections, clock_at=at("2025-03-07"))
    processed = await on_the_day.process(ADMIN, tracker_id, expected_version=None)

    assert refusal.code == "last_day_not_reached"
    assert refusal.error.problems == [
        {
            "field": "changes.last_day_of_learning",
            "reason": "LearnActEndDate_04: the last day of learning 2025-03-07 is after today "
            "(2025-03-01); process the tracker on or after that day",
        }
    ]
    assert processed.status == "processed"
    assert len(trackers.events_of_type(EventType.TRACKER_PROCESSED)) == 1


async def test_the_preview_of_a_break_in_advance_shows_the_ilr_would_refuse_it_today(
    trackers: FakeTrackerStore, projections: FakeProjections
) -> None:
    with_ilr(projections, ilr_after())
    service = tracker_service(trackers, projections, clock_at=at("2025-03-01"))

    tracker_id = await raise_one(
        service, "break_in_learning", {**BREAK, "last_day_of_learning": "2025-03-07"}
    )

    stored = await trackers.get(TENANT, tracker_id)
    assert stored is not None
    assert stored.preview is not None
    assert stored.preview["ilr_outcome"]["status"] == "rejected"
    assert "LearnActEndDate_04" in stored.preview["ilr_outcome"]["reason"]
