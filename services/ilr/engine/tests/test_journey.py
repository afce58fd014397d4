"""Issue #13's "done when", in the engine: a learner created and enrolled with the whole record,
then taken through break, return, change of employer, change of hours and withdrawal, is valid
by ESFA's rules at every version, and the year's file holding them is XSD-valid and rule-clean.
(tests/e2e/test_ilr_journey.py walks the same journey through the services.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from ilrflow.contracts.events import Employment, Enrolment, LearnerSnapshot
from ilrflow.ilr_engine import (
    IlrLearner,
    TrackerApplication,
    apply_tracker,
    export_message,
    learner_from_enrolment,
)
from ilrflow.ilr_engine.esfa_rules import validate, validate_learner
from ilrflow.ilr_engine.export import learners_for_year

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
TODAY = date(2026, 12, 4)

# (tracker type, changes) for a programme starting on 1 Sep 2025 (2025/26 funding rules).
JOURNEY: list[tuple[str, dict[str, Any]]] = [
    (
        "break_in_learning",
        {
            "last_day_of_learning": "2025-12-19",
            "expected_return_date": "2026-02-02",
            "reason": "illness",
        },
    ),
    ("return_to_learning", {"return_date": "2026-02-02"}),
    (
        "change_of_employer",
        {
            "effective_date": "2026-03-02",
            "weekly_hours": 37,
            "employer": {"ern": "987654321", "name": "Beta Ltd"},
        },
    ),
    ("change_of_working_hours", {"effective_date": "2026-04-06", "weekly_hours": 16}),
    ("withdrawal", {"last_day_of_learning": "2026-06-30", "reason": 44}),
]


@pytest.fixture
def enrolled_2025(
    make_snapshot: Callable[..., LearnerSnapshot], make_enrolment: Callable[..., Enrolment]
) -> IlrLearner:
    programme = make_enrolment(
        standard_code=91,
        start_date=date(2025, 9, 1),
        planned_end_date=date(2027, 3, 1),
        planned_otj_hours=400,
        employment=Employment(date_from=date(2024, 6, 3), length_of_employment=4),
    )
    return learner_from_enrolment(make_snapshot(), programme, None)


def _versions(record: IlrLearner) -> list[tuple[str, IlrLearner]]:
    versions = [("enrolment", record)]
    for number, (tracker_type, changes) in enumerate(JOURNEY):
        application = TrackerApplication(
            f"t-{number}", tracker_type, changes, ("admin",), False, today=TODAY
        )
        result = apply_tracker(record, application)
        assert result.status == "applied", (tracker_type, result.reason)
        record = result.record
        versions.append((tracker_type, record))
    return versions


@pytest.mark.parametrize("step", range(len(JOURNEY) + 1))
def test_every_version_of_the_journey_is_valid(enrolled_2025: IlrLearner, step: int) -> None:
    cause, record = _versions(enrolled_2025)[step]

    validation = validate(record, today=TODAY)

    assert validation.errors == [], cause
    assert validation.valid


def test_the_years_file_is_xsd_valid_and_rule_clean(enrolled_2025: IlrLearner) -> None:
    _, final = _versions(enrolled_2025)[-1]

    document = export_message(
        [final], ukprn=10000001, year="2526", prepared=datetime(2026, 7, 31, 12, 0)
    )

    xmlschema.XMLSchema(SCHEMA_DIR / "ILR-2025-26.xsd").validate(document)
    [in_file] = learners_for_year([final], "2526")
    assert validate_learner(in_file, today=TODAY).errors == []


def test_a_break_processed_before_its_last_day_is_refused_and_the_record_stays_valid(
    enrolled_2025: IlrLearner,
) -> None:
    record = enrolled_2025
    tracker_type, changes = JOURNEY[0]
    application = TrackerApplication("t-early", tracker_type, changes, ("admin",), False)

    early = apply_tracker(record, replace(application, today=date(2025, 12, 18)))

    assert early.status == "rejected"
    assert early.reason.startswith("LearnActEndDate_04")
    assert validate(early.record, today=TODAY).valid
