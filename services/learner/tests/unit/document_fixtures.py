"""A learner enrolled on standard 91 and their ILR record, built by the ILR engine, and that
record after a break and a return: what the training plan tests work from."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from ilrflow.contracts.events import (
    Address,
    EmployerRef,
    Employment,
    Enrolment,
    LearnerSnapshot,
    Price,
)
from ilrflow.ilr_engine import TrackerApplication, apply_tracker, learner_from_enrolment

AT = datetime(2025, 9, 1, 9, tzinfo=UTC)
ENROLMENT = Enrolment(
    id="E1",
    standard_code=91,
    start_date=date(2025, 9, 1),
    planned_end_date=date(2027, 3, 31),
    employer=EmployerRef(ern="123456789", name="Acme Ltd"),
    weekly_hours=37.5,
    planned_otj_hours=400,
    price=Price(training=9000, assessment=1000),
    employment=Employment(date_from=date(2025, 8, 31), length_of_employment=4),
)
LEARNER = LearnerSnapshot(
    id="L1",
    given_names="Priya",
    family_name="Shah",
    uln="9276308686",
    date_of_birth=date(2005, 3, 14),
    address=Address(lines=["4 Mill Lane", "Leeds"], postcode="LS1 4AP"),
    group="cohort-a",
    sex="F",
    enrolments=[ENROLMENT],
)
RECORD = learner_from_enrolment(LEARNER, ENROLMENT, None)


def processed(record: dict[str, Any], tracker_type: str, changes: dict[str, Any]) -> Any:
    application = TrackerApplication(
        tracker_id="T",
        tracker_type=tracker_type,
        changes=changes,
        processor_roles=("admin",),
        qa_verified=False,
        today=date(2026, 6, 1),
    )
    result = apply_tracker(record, application)
    assert result.status == "applied", result.reason
    return result.record


def after_break_and_return() -> dict[str, Any]:
    on_break = processed(
        RECORD,
        "break_in_learning",
        {
            "last_day_of_learning": "2026-01-31",
            "expected_return_date": "2026-04-01",
            "reason": "Illness",
        },
    )
    return processed(on_break, "return_to_learning", {"return_date": "2026-04-01"})
