"""The ILR XML export, validated against the ESFA schemas for 2024/25 and 2025/26."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from ilrflow.contracts.events import Employment, Enrolment, LearnerSnapshot
from ilrflow.ilr_engine import (
    ApplyResult,
    IlrLearner,
    IlrPolicy,
    export_message,
    learner_from_enrolment,
)

# The ESFA schemas ship beside the engine, so these tests run (and never skip) on a fresh clone.
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
SCHEMAS = {"2425": "ILR-2024-25.xsd", "2526": "ILR-2025-26.xsd"}
PREPARED = datetime(2025, 10, 6, 9, 30, 0)
POLICY = IlrPolicy(withdrawal_reason_map={"moved away": 44})


@pytest.fixture(scope="module")
def schemas() -> dict[str, xmlschema.XMLSchema]:
    return {year: xmlschema.XMLSchema(SCHEMA_DIR / name) for year, name in SCHEMAS.items()}


@pytest.fixture
def every_tracker_type(
    enrolled: IlrLearner,
    apply: Callable[..., ApplyResult],
    make_snapshot: Callable[..., LearnerSnapshot],
    make_enrolment: Callable[..., Enrolment],
) -> list[IlrLearner]:
    """One learner taken through every tracker type, one withdrawn on a break, one new start."""
    steps = [
        ("change_of_name", {"given_names": "Zoë", "family_name": "O'Brien", "legal_change": True}),
        (
            "change_of_address",
            {"address": {"lines": ["Flat 2", "10 Park Lane"], "postcode": "m1 1aa"}},
        ),
        ("change_of_contact_details", {"email": "zoe@example.org", "phone": "+44 113 496 0000"}),
        ("change_of_working_hours", {"effective_date": "2024-11-01", "weekly_hours": 25}),
        (
            "change_of_employer",
            {
                "effective_date": "2024-12-02",
                "weekly_hours": 37,
                "employer": {"ern": "987654321", "name": "Beta Ltd"},
            },
        ),
        (
            "break_in_learning",
            {
                "last_day_of_learning": "2025-01-31",
                "expected_return_date": "2025-04-01",
                "reason": "illness",
            },
        ),
        ("return_to_learning", {"return_date": "2025-04-01"}),
        ("custom:welfare_check", {"note": "called the learner"}),
        ("change_of_programme", {"last_day_of_learning": "2025-08-29", "new_standard_code": 244}),
    ]
    record = enrolled
    for tracker_type, changes in steps:
        result = apply(record, tracker_type, changes, policy=POLICY)
        assert result.status != "rejected", (tracker_type, result.reason)
        record = result.record

    withdrawn = _withdrawn_from_a_break(enrolled, apply)
    new_start = _new_start(make_snapshot, make_enrolment)
    return [record, withdrawn, new_start, _stored_before_capture(make_snapshot, make_enrolment)]


def _withdrawn_from_a_break(enrolled: IlrLearner, apply: Callable[..., ApplyResult]) -> IlrLearner:
    """On a break from 31 Mar 2025, then withdrawn (6 -> 3, the last day kept)."""
    on_break = apply(
        enrolled,
        "break_in_learning",
        {"last_day_of_learning": "2025-03-31", "expected_return_date": "2025-06-02", "reason": "x"},
    ).record
    return apply(
        on_break,
        "withdrawal",
        {"last_day_of_learning": "2025-03-31", "reason": "moved away"},
        policy=POLICY,
    ).record


def _new_start(
    make_snapshot: Callable[..., LearnerSnapshot], make_enrolment: Callable[..., Enrolment]
) -> IlrLearner:
    """A 2025/26 start with every optional part of the whole record captured."""
    return learner_from_enrolment(
        make_snapshot(
            id="learner-0003",
            uln=None,
            sex="M",
            ethnicity=99,
            lldd_health_problem=1,
            lldd_categories=[4, 12, 98],
            primary_lldd=12,
            ni_number="AB123456C",
        ),
        make_enrolment(
            id="enrolment-0003",
            start_date=datetime(2025, 9, 1).date(),
            planned_end_date=datetime(2026, 6, 30).date(),
            standard_code=91,
            employment=Employment(
                date_from=datetime(2024, 1, 8).date(), length_of_employment=4, small_employer=True
            ),
            agreement_id="A1B2C3",
            delivery_postcode="M1 1AA",
        ),
        None,
    )


def _stored_before_capture(
    make_snapshot: Callable[..., LearnerSnapshot], make_enrolment: Callable[..., Enrolment]
) -> IlrLearner:
    """A 2025/26 learner stored before the learner service captured sex, ethnicity and LLDD."""
    return learner_from_enrolment(
        make_snapshot(
            id="learner-0004",
            sex=None,
            ethnicity=None,
            lldd_health_problem=None,
            prior_attainment=None,
        ),
        make_enrolment(
            id="enrolment-0004",
            start_date=datetime(2025, 8, 4).date(),
            planned_end_date=datetime(2026, 8, 28).date(),
            price=None,
            employment=None,
        ),
        None,
    )


@pytest.mark.parametrize("year", ["2425", "2526"])
def test_export_is_valid_against_the_esfa_schema(
    year: str, every_tracker_type: list[IlrLearner], schemas: dict[str, xmlschema.XMLSchema]
) -> None:
    document = export_message(every_tracker_type, ukprn=10012345, year=year, prepared=PREPARED)

    schemas[year].validate(document)
    lxml_schema = etree.XMLSchema(etree.parse(str(SCHEMA_DIR / SCHEMAS[year])))
    assert lxml_schema.validate(etree.fromstring(document)), lxml_schema.error_log


def test_export_header_and_namespace(every_tracker_type: list[IlrLearner]) -> None:
    root = etree.fromstring(
        export_message(every_tracker_type, ukprn=10012345, year="2526", prepared=PREPARED)
    )
    ns = {"ilr": "ESFA/ILR/2025-26"}

    assert root.tag == "{ESFA/ILR/2025-26}Message"
    assert root.findtext("ilr:Header/ilr:CollectionDetails/ilr:Year", namespaces=ns) == "2526"
    assert root.findtext("ilr:LearningProvider/ilr:UKPRN", namespaces=ns) == "10012345"


def test_learners_are_in_the_years_they_learn_in(every_tracker_type: list[IlrLearner]) -> None:
    def learner_count(year: str) -> int:
        root = etree.fromstring(
            export_message(every_tracker_type, ukprn=10012345, year=year, prepared=PREPARED)
        )
        return len(root.findall("{*}Learner"))

    # 2024/25: the two learners who started in 2024; 2025/26: the one still learning and the two
    # new starts.
    assert (learner_count("2425"), learner_count("2526")) == (2, 3)


def test_captured_values_are_exported_and_placeholders_fill_only_old_records(
    every_tracker_type: list[IlrLearner],
) -> None:
    document = export_message(every_tracker_type, ukprn=10012345, year="2526", prepared=PREPARED)
    _, _, new_start, stored_before = every_tracker_type

    learners = list(etree.fromstring(document).findall("{*}Learner"))
    by_ref = {learner.findtext("{*}LearnRefNumber"): learner for learner in learners}
    captured = by_ref[new_start["LearnRefNumber"]]
    old = by_ref[stored_before["LearnRefNumber"]]
    assert [captured.findtext(f"{{*}}{tag}") for tag in ("Sex", "Ethnicity", "LLDDHealthProb")] == [
        "M",
        "99",
        "1",
    ]
    assert captured.findtext("{*}NINumber") == "AB123456C"
    assert captured.findtext("{*}LearningDelivery/{*}ConRefNumber") == "A1B2C3"
    assert [old.findtext(f"{{*}}{tag}") for tag in ("Sex", "Ethnicity", "LLDDHealthProb")] == [
        "U",
        "99",
        "9",
    ]


def test_the_agreement_id_is_returned_from_2025_26_only(enrolled: IlrLearner) -> None:
    record = copy.deepcopy(enrolled)
    record["LearningDelivery"][0]["ConRefNumber"] = "A1B2C3"

    def conref(year: str) -> str | None:
        root = etree.fromstring(
            export_message([record], ukprn=10012345, year=year, prepared=PREPARED)
        )
        return root.findtext("{*}Learner/{*}LearningDelivery/{*}ConRefNumber")

    assert (conref("2425"), conref("2526")) == (None, "A1B2C3")


def test_bookkeeping_is_not_exported(every_tracker_type: list[IlrLearner]) -> None:
    document = export_message(every_tracker_type, ukprn=10012345, year="2425", prepared=PREPARED)

    assert b"applied_trackers" not in document
    assert b"tracker-" not in document


def test_unknown_year_is_refused(enrolled: IlrLearner) -> None:
    with pytest.raises(ValueError, match="2324"):
        export_message([enrolled], ukprn=10012345, year="2324", prepared=PREPARED)


@pytest.fixture
def new_start_2526(
    make_snapshot: Callable[..., LearnerSnapshot], make_enrolment: Callable[..., Enrolment]
) -> IlrLearner:
    """A learner in every 2025/26 file (which must hold one), beside the learner under test."""
    return learner_from_enrolment(
        make_snapshot(id="learner-0009"),
        make_enrolment(
            id="enrolment-0009",
            start_date=datetime(2025, 9, 1).date(),
            planned_end_date=datetime(2026, 6, 30).date(),
        ),
        None,
    )


def _learners_in(records: list[IlrLearner], year: str) -> int:
    root = etree.fromstring(export_message(records, ukprn=10012345, year=year, prepared=PREPARED))
    return len(root.findall("{*}Learner"))


def test_a_learner_on_a_break_across_31_july_stays_in_the_file(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult]
) -> None:
    """Reported until they return or are withdrawn [D33], even with no aim open in the year."""
    on_break = apply(
        enrolled,
        "break_in_learning",
        {"last_day_of_learning": "2025-06-30", "expected_return_date": "2025-10-01", "reason": "x"},
    ).record

    assert _learners_in([on_break], "2526") == 1


def test_a_past_years_file_keeps_a_learner_who_was_on_a_break_all_year(
    make_snapshot: Callable[..., LearnerSnapshot],
    make_enrolment: Callable[..., Enrolment],
    apply: Callable[..., ApplyResult],
) -> None:
    """On a break through 2024/25 and back in 2025/26: the 2024/25 file still returns them."""
    started_2023 = learner_from_enrolment(
        make_snapshot(),
        make_enrolment(
            start_date=datetime(2023, 9, 4).date(), planned_end_date=datetime(2024, 12, 20).date()
        ),
        None,
    )
    on_break = apply(
        started_2023,
        "break_in_learning",
        {"last_day_of_learning": "2024-06-28", "expected_return_date": "2025-09-01", "reason": "x"},
    ).record
    returned = apply(on_break, "return_to_learning", {"return_date": "2025-09-01"}).record

    assert _learners_in([returned], "2425") == 1


def test_a_learner_withdrawn_from_a_break_before_the_year_is_left_out(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult], new_start_2526: IlrLearner
) -> None:
    withdrawn = _withdrawn_from_a_break(enrolled, apply)

    assert _learners_in([withdrawn, new_start_2526], "2526") == 1


@pytest.mark.parametrize(
    ("comp_status", "outcome", "ach_date"),
    [
        (2, 8, None),  # practical period complete, end-point assessment awaited [D20][D21]
        (1, 8, None),  # the same as some MIS record it (CompStatus 1, Outcome 8)
        (2, 1, "2025-09-15"),  # the EPA result, recorded in the year it came [D35]
    ],
)
def test_a_learner_whose_outcome_is_pending_or_recorded_in_the_year_is_in_the_file(
    enrolled: IlrLearner,
    schemas: dict[str, xmlschema.XMLSchema],
    comp_status: int,
    outcome: int,
    ach_date: str | None,
) -> None:
    awaiting_epa = copy.deepcopy(enrolled)
    programme = awaiting_epa["LearningDelivery"][0]
    programme.update(CompStatus=comp_status, LearnActEndDate="2025-07-18", Outcome=outcome)
    if ach_date is not None:
        programme["AchDate"] = ach_date

    assert _learners_in([awaiting_epa], "2526") == 1
    schemas["2526"].validate(
        export_message([awaiting_epa], ukprn=10012345, year="2526", prepared=PREPARED)
    )


def test_a_learner_whose_outcome_was_final_before_the_year_is_left_out(
    enrolled: IlrLearner, new_start_2526: IlrLearner
) -> None:
    achieved = copy.deepcopy(enrolled)
    achieved["LearningDelivery"][0].update(
        CompStatus=2, LearnActEndDate="2025-05-30", Outcome=1, AchDate="2025-07-10"
    )

    assert _learners_in([achieved, new_start_2526], "2526") == 1
