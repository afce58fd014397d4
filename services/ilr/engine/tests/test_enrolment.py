"""learner_from_enrolment: the first enrolment builds the record, later ones add programmes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from ilrflow.contracts.events import Address, EmployerRef, Enrolment, LearnerSnapshot
from ilrflow.ilr_engine import IlrLearner, learner_from_enrolment


def test_first_enrolment_builds_learner_fields(enrolled: IlrLearner) -> None:
    assert re.fullmatch(r"[A-Za-z0-9]{1,12}", enrolled["LearnRefNumber"])
    assert "learner" not in enrolled["LearnRefNumber"].lower()
    assert enrolled["ULN"] == 9276308686
    assert (enrolled["GivenNames"], enrolled["FamilyName"]) == ("Ann", "Smith")
    assert enrolled["DateOfBirth"] == "2000-01-31"
    assert enrolled["PostcodePrior"] == enrolled["Postcode"] == "LS1 4AP"
    assert (enrolled["AddLine1"], enrolled["AddLine2"]) == ("1 High Street", "Leeds")
    assert "AddLine3" not in enrolled
    assert enrolled["TelNo"] == "07700900123"


def test_first_enrolment_records_employment_on_the_first_day(enrolled: IlrLearner) -> None:
    assert enrolled["LearnerEmploymentStatus"] == [
        {
            "EmpStat": 10,
            "DateEmpStatApp": "2024-09-02",
            "EmpId": 123456789,
            "EmploymentStatusMonitoring": [{"ESMType": "EII", "ESMCode": 8}],
        }
    ]


def test_first_enrolment_adds_the_programme_aim(enrolled: IlrLearner) -> None:
    (aim,) = enrolled["LearningDelivery"]
    assert aim["LearnAimRef"] == "ZPROG001"
    assert (aim["AimType"], aim["AimSeqNumber"], aim["FundModel"], aim["ProgType"]) == (
        1,
        1,
        36,
        25,
    )
    assert (aim["StdCode"], aim["PHours"], aim["CompStatus"]) == (123, 300, 1)
    assert (aim["LearnStartDate"], aim["LearnPlanEndDate"]) == ("2024-09-02", "2025-09-30")
    assert aim["LearningDeliveryFAM"] == [
        {"LearnDelFAMType": "ACT", "LearnDelFAMCode": "1", "LearnDelFAMDateFrom": "2024-09-02"}
    ]


def test_learn_ref_number_is_stable_and_distinct(
    make_snapshot: Callable[..., LearnerSnapshot], make_enrolment: Callable[..., Enrolment]
) -> None:
    first = learner_from_enrolment(make_snapshot(), make_enrolment(), None)
    again = learner_from_enrolment(make_snapshot(), make_enrolment(), None)
    other = learner_from_enrolment(make_snapshot(id="learner-0002"), make_enrolment(), None)

    assert first["LearnRefNumber"] == again["LearnRefNumber"] != other["LearnRefNumber"]


def test_same_enrolment_twice_changes_nothing(
    enrolled: IlrLearner,
    make_snapshot: Callable[..., LearnerSnapshot],
    make_enrolment: Callable[..., Enrolment],
) -> None:
    assert learner_from_enrolment(make_snapshot(), make_enrolment(), enrolled) == enrolled


def test_second_enrolment_adds_a_programme_aim(
    enrolled: IlrLearner,
    make_snapshot: Callable[..., LearnerSnapshot],
    make_enrolment: Callable[..., Enrolment],
) -> None:
    second = make_enrolment(
        id="enrolment-0002",
        standard_code=244,
        start_date=date(2025, 10, 1),
        planned_end_date=date(2026, 10, 30),
    )

    record = learner_from_enrolment(make_snapshot(), second, enrolled)

    assert [a["AimSeqNumber"] for a in record["LearningDelivery"]] == [1, 2]
    assert record["LearningDelivery"][1]["StdCode"] == 244
    assert len(record["LearnerEmploymentStatus"]) == 1  # same employer and band still apply


def test_second_enrolment_with_another_employer_adds_a_status(
    enrolled: IlrLearner,
    make_snapshot: Callable[..., LearnerSnapshot],
    make_enrolment: Callable[..., Enrolment],
) -> None:
    second = make_enrolment(
        id="enrolment-0002",
        start_date=date(2025, 10, 1),
        employer=EmployerRef(ern="987654321", name="Other"),
        weekly_hours=16,
    )

    record = learner_from_enrolment(make_snapshot(), second, enrolled)

    latest = record["LearnerEmploymentStatus"][-1]
    assert (latest["DateEmpStatApp"], latest["EmpId"]) == ("2025-10-01", 987654321)
    assert latest["EmploymentStatusMonitoring"] == [{"ESMType": "EII", "ESMCode": 6}]


def test_postcode_prior_stays_while_a_programme_continues(
    enrolled: IlrLearner,
    make_snapshot: Callable[..., LearnerSnapshot],
    make_enrolment: Callable[..., Enrolment],
) -> None:
    moved = make_snapshot(address=Address(lines=["9 New Road"], postcode="M1 1AA"))

    record = learner_from_enrolment(moved, make_enrolment(id="enrolment-0002"), enrolled)

    assert (record["PostcodePrior"], record["Postcode"]) == ("LS1 4AP", "M1 1AA")


def test_missing_or_invalid_data_becomes_ilr_unknowns(
    make_snapshot: Callable[..., LearnerSnapshot], make_enrolment: Callable[..., Enrolment]
) -> None:
    snapshot = make_snapshot(uln=None, address=None, phone="call me", email=None)

    record = learner_from_enrolment(
        snapshot, make_enrolment(employer=EmployerRef(ern="E-1", name="X")), None
    )

    assert record["ULN"] == 9999999999
    assert record["Postcode"] == record["PostcodePrior"] == "ZZ99 9ZZ"
    assert "TelNo" not in record
    assert "Email" not in record
    assert record["LearnerEmploymentStatus"][0]["EmpId"] == 999999999
