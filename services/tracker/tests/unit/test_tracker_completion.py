"""Completion, EPA result and restart after a withdrawal through the use cases: their dates checked
against the learner's current ILR when raised, and a day still to come refused at processing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from tracker_fakes import FakeProjections, FakeTrackerStore, tracker_service

from ilrflow.contracts.events import EmployerRef, Enrolment, LearnerSnapshot, Price
from ilrflow.contracts.identity import Principal
from ilrflow.ilr_engine import IlrLearner, TrackerApplication, apply_tracker, learner_from_enrolment
from ilrflow.tracker.adapters.projections import IlrView, LearnerView, ProgrammeView
from ilrflow.tracker.domain.policy import TenantTrackerSettings, TypeSettings
from ilrflow.tracker.service.use_cases import TrackerService

RefusalOf = Callable[[Awaitable[object]], Awaitable[Any]]  # the fixture in services/conftest.py
TENANT = "acme"
ADMIN = Principal(sub="admin-1", tenant=TENANT, roles=["admin"], groups=["group-a"])
START = date(2025, 9, 1)
TYPES = ("completion", "epa_result", "restart_after_withdrawal")
COMPLETION = {"practical_period_end": "2026-10-30", "otj_actual_hours": 410}
EPA = {"achievement_date": "2026-11-20", "result": "pass"}
WITHDRAWAL = {"last_day_of_learning": "2026-01-30", "reason": "44", "withdraw_reason_code": 44}
RESTART = {
    "restart_date": "2026-03-02",
    "planned_end_date": "2027-03-31",
    "planned_otj_hours": 380,
    "price": {"training": 7500, "assessment": 1000},
}


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)


def ilr_after(*steps: tuple[str, dict[str, Any]]) -> IlrLearner:
    learner = LearnerSnapshot(
        id="L1", given_names="Ann", family_name="Smith", uln="9276308686", sex="F"
    )
    enrolment = Enrolment(
        id="E1",
        standard_code=91,
        start_date=START,
        planned_end_date=date(2027, 3, 1),
        employer=EmployerRef(ern="123456789", name="Acme Ltd"),
        weekly_hours=37.5,
        planned_otj_hours=400,
        price=Price(training=9000, assessment=1000),
    )
    record = learner_from_enrolment(learner, enrolment, None)
    for number, (tracker_type, changes) in enumerate(steps):
        application = TrackerApplication(
            f"T{number}", tracker_type, changes, ("admin",), False, today=date(2026, 12, 4)
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
    enrolled = ProgrammeView("E1", 91, START, "Acme Ltd", 37.5)
    views.learners[(TENANT, "L1")] = LearnerView("L1", "Ann Smith", "group-a", None, [enrolled])
    return views


def with_ilr(projections: FakeProjections, record: IlrLearner) -> None:
    projections.ilrs[(TENANT, "L1")] = IlrView(version=1, qa_verified=False, learner=record)


async def raise_one(service: TrackerService, tracker_type: str, changes: dict[str, Any]) -> str:
    result = await service.raise_tracker(ADMIN, tracker_type, "L1", changes, None)
    return result.tracker.id


async def test_a_completion_is_processed_from_the_end_of_the_practical_period(
    trackers: FakeTrackerStore, projections: FakeProjections, refusal_of: RefusalOf
) -> None:
    with_ilr(projections, ilr_after())
    early = tracker_service(trackers, projections, clock_at=at("2026-10-29"))
    tracker_id = await raise_one(early, "completion", COMPLETION)

    refusal = await refusal_of(early.process(ADMIN, tracker_id, expected_version=None))
    on_the_day = tracker_service(trackers, projections, clock_at=at("2026-10-30"))
    processed = await on_the_day.process(ADMIN, tracker_id, expected_version=None)

    assert refusal.code == "last_day_not_reached"
    assert refusal.error.problems == [
        {
            "field": "changes.practical_period_end",
            "reason": "LearnActEndDate_04: the end of the practical period 2026-10-30 is after "
            "today (2026-10-29); process the tracker on or after that day",
        }
    ]
    assert processed.status == "processed"


async def test_the_completion_preview_shows_the_ilr_change_and_the_minimums(
    trackers: FakeTrackerStore, projections: FakeProjections
) -> None:
    with_ilr(projections, ilr_after())
    service = tracker_service(trackers, projections, clock_at=at("2026-12-04"))

    tracker_id = await raise_one(service, "completion", COMPLETION)

    stored = await trackers.get(TENANT, tracker_id)
    assert stored is not None
    assert stored.preview is not None
    assert stored.preview["ilr_outcome"]["status"] == "applied"
    assert stored.preview["ilr_validation"]["new_errors"] == []
    assert stored.preview["days_in_learning"]["value"] == 424
    assert stored.preview["otj_actual_meets_planned"]["value"] is True


async def test_an_epa_result_for_a_learner_still_in_learning_is_refused(
    trackers: FakeTrackerStore, projections: FakeProjections, refusal_of: RefusalOf
) -> None:
    with_ilr(projections, ilr_after())
    service = tracker_service(trackers, projections, clock_at=at("2026-12-04"))

    refusal = await refusal_of(raise_one(service, "epa_result", EPA))

    assert [p["field"] for p in refusal.error.problems] == ["changes.achievement_date"]
    assert "not awaiting an end-point assessment" in refusal.error.problems[0]["reason"]


async def test_an_epa_result_is_processed_from_the_achievement_date(
    trackers: FakeTrackerStore, projections: FakeProjections, refusal_of: RefusalOf
) -> None:
    with_ilr(projections, ilr_after(("completion", COMPLETION)))
    early = tracker_service(trackers, projections, clock_at=at("2026-11-19"))
    tracker_id = await raise_one(early, "epa_result", EPA)

    refusal = await refusal_of(early.process(ADMIN, tracker_id, expected_version=None))
    on_the_day = tracker_service(trackers, projections, clock_at=at("2026-11-20"))
    processed = await on_the_day.process(ADMIN, tracker_id, expected_version=None)

    assert refusal.code == "last_day_not_reached"
    assert refusal.error.problems[0]["field"] == "changes.achievement_date"
    assert processed.status == "processed"


async def test_an_epa_result_within_7_days_of_the_practical_period_is_refused(
    trackers: FakeTrackerStore, projections: FakeProjections, refusal_of: RefusalOf
) -> None:
    with_ilr(projections, ilr_after(("completion", COMPLETION)))
    service = tracker_service(trackers, projections, clock_at=at("2026-12-04"))

    refusal = await refusal_of(
        raise_one(service, "epa_result", {**EPA, "achievement_date": "2026-11-05"})
    )

    assert refusal.error.problems[0]["reason"].startswith("AchDate_11")


async def test_a_restart_needs_the_ilr_to_show_a_withdrawal(
    trackers: FakeTrackerStore, projections: FakeProjections, refusal_of: RefusalOf
) -> None:
    with_ilr(projections, ilr_after())
    service = tracker_service(trackers, projections, clock_at=at("2026-12-04"))

    refusal = await refusal_of(raise_one(service, "restart_after_withdrawal", RESTART))

    assert refusal.error.problems == [
        {"field": "changes.restart_date", "reason": "the learner is not withdrawn from a programme"}
    ]


async def test_a_restart_of_a_withdrawn_learner_is_raised_with_its_preview(
    trackers: FakeTrackerStore, projections: FakeProjections
) -> None:
    with_ilr(projections, ilr_after(("withdrawal", WITHDRAWAL)))
    service = tracker_service(trackers, projections, clock_at=at("2026-12-04"))

    tracker_id = await raise_one(service, "restart_after_withdrawal", RESTART)
    processed = await service.process(ADMIN, tracker_id, expected_version=None)

    assert processed.status == "processed"
    assert processed.preview is not None
    assert processed.preview["ilr_outcome"]["status"] == "applied"
    assert processed.preview["minimum_duration_days"]["value"] == 242
