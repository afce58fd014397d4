"""Builders for ILR tests: the §3.9 learner (start 2024-09-02, PED 2025-09-30, 300 h, std 123),
with the whole record a new learner and enrolment carry (sex, ethnicity, LLDD, price, employment)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from ilrflow.contracts.events import (
    Address,
    EmployerRef,
    Employment,
    Enrolment,
    LearnerSnapshot,
    Price,
)
from ilrflow.ilr_engine import (
    ApplyResult,
    IlrLearner,
    IlrPolicy,
    TrackerApplication,
    apply_tracker,
    learner_from_enrolment,
)

Apply = Callable[..., ApplyResult]


def snapshot(**overrides: Any) -> LearnerSnapshot:
    fields: dict[str, Any] = {
        "id": "learner-0001",
        "given_names": "Ann",
        "family_name": "Smith",
        "email": "ann@example.org",
        "phone": "07700 900123",
        "date_of_birth": date(2000, 1, 31),
        "uln": "9276308686",
        "address": Address(lines=["1 High Street", "Leeds"], postcode="ls1 4ap"),
        "sex": "F",
        "ethnicity": 31,
        "lldd_health_problem": 2,
        "prior_attainment": 3,
    }
    return LearnerSnapshot(**{**fields, **overrides})


def enrolment(**overrides: Any) -> Enrolment:
    fields: dict[str, Any] = {
        "id": "enrolment-0001",
        "standard_code": 123,
        "start_date": date(2024, 9, 2),
        "planned_end_date": date(2025, 9, 30),
        "employer": EmployerRef(ern="123456789", name="Acme Ltd"),
        "weekly_hours": 37.5,
        "planned_otj_hours": 300,
        "price": Price(training=8000, assessment=1000),
        "employment": Employment(date_from=date(2024, 9, 1), length_of_employment=4),
    }
    return Enrolment(**{**fields, **overrides})


@pytest.fixture(name="make_snapshot")
def make_snapshot_fixture() -> Callable[..., LearnerSnapshot]:
    return snapshot


@pytest.fixture(name="make_enrolment")
def make_enrolment_fixture() -> Callable[..., Enrolment]:
    return enrolment


@pytest.fixture
def enrolled() -> IlrLearner:
    return learner_from_enrolment(snapshot(), enrolment(), None)


@pytest.fixture
def apply() -> Apply:
    """apply(record, tracker_type, changes, tracker_id=..., qa_verified=..., roles=..., policy=...)."""

    def run(
        record: IlrLearner,
        tracker_type: str,
        changes: dict[str, Any],
        *,
        tracker_id: str | None = None,
        qa_verified: bool = False,
        roles: tuple[str, ...] = ("admin",),
        policy: IlrPolicy | None = None,
    ) -> ApplyResult:
        application = TrackerApplication(
            tracker_id=tracker_id or f"tracker-{uuid.uuid4()}",
            tracker_type=tracker_type,
            changes=changes,
            processor_roles=roles,
            qa_verified=qa_verified,
            policy=policy or IlrPolicy(),
        )
        return apply_tracker(record, application)

    return run
