"""learner_from_enrolment: the first enrolment builds the record, later ones add programmes."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable
from datetime import date

from ilrflow.contracts.events import Address, EmployerRef, Employment, Enrolment, LearnerSnapshot
from ilrflow.ilr_engine import IlrLearner, learner_from_enrolment

Snapshot = Callable[..., LearnerSnapshot]
MakeEnrolment = Callable[..., Enrolment]


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


def test_first_enrolment_records_equality_and_prior_attainment(enrolled: IlrLearner) -> None:
    assert (enrolled["Sex"], enrolled["Ethnicity"], enrolled["LLDDHealthProb"]) == ("F", 31, 2)
    assert enrolled["PriorAttain"] == [{"PriorLevel": 3, "DateLevelApp": "2024-09-02"}]
    assert "LLDDandHealthProblem" not in enrolled
    assert "NINumber" not in enrolled


def test_lldd_categories_become_records_with_one_primary(
    make_snapshot: Snapshot, make_enrolment: MakeEnrolment
) -> None:
    snapshot = make_snapshot(
        lldd_health_problem=1, lldd_categories=[4, 12], primary_lldd=12, ni_number="AB123456C"
    )

    record = learner_from_enrolment(snapshot, make_enrolment(), None)

    assert record["LLDDHealthProb"] == 1
    assert record["LLDDandHealthProblem"] == [{"LLDDCat": 4}, {"LLDDCat": 12, "PrimaryLLDD": 1}]
    assert record["NINumber"] == "AB123456C"


def test_first_enrolment_records_employment_before_the_first_day(enrolled: IlrLearner) -> None:
    assert enrolled["LearnerEmploymentStatus"] == [
        {
            "EmpStat": 10,
            "DateEmpStatApp": "2024-09-01",
            "EmpId": 123456789,
            "EmploymentStatusMonitoring": [
                {"ESMType": "EII", "ESMCode": 8},
                {"ESMType": "LOE", "ESMCode": 4},
            ],
        }
    ]


def test_employment_is_dated_as_given_and_a_small_employer_gets_sem(
    make_snapshot: Snapshot, make_enrolment: MakeEnrolment
) -> None:
    employment = Employment(date_from=date(2023, 3, 1), length_of_employment=3, small_employer=True)

    record = learner_from_enrolment(make_snapshot(), make_enrolment(employment=employment), None)

    (status,) = record["LearnerEmploymentStatus"]
    assert status["DateEmpStatApp"] == "2023-03-01"
    assert status["EmploymentStatusMonitoring"] == [
        {"ESMType": "EII", "ESMCode": 8},
        {"ESMType": "LOE", "ESMCode": 3},
        {"ESMType": "SEM", "ESMCode": 1},
    ]


def test_the_price_is_recorded_as_tnp1_and_tnp2_from_the_start(enrolled: IlrLearner) -> None:
    (aim,) = enrolled["LearningDelivery"]
    assert aim["AppFinRecord"] == [
        {"AFinType": "TNP", "AFinCode": 1, "AFinDate": "2024-09-02", "AFinAmount": 8000},
        {"AFinType": "TNP", "AFinCode": 2, "AFinDate": "2024-09-02", "AFinAmount": 1000},
    ]


def test_agreement_id_and_delivery_postcode_go_on_the_programme_aim(
    make_snapshot: Snapshot, make_enrolment: MakeEnrolment
) -> None:
    enrolment = make_enrolment(agreement_id="A1B2C3", delivery_postcode="bd1 1aa")

    (aim,) = learner_from_enrolment(make_snapshot(), enrolment, None)["LearningDelivery"]

    assert (aim["ConRefNumber"], aim["DelLocPostCode"]) == ("A1B2C3", "BD1 1AA")


def test_without_a_delivery_postcode_the_location_is_unknown(enrolled: IlrLearner) -> None:
    (aim,) = enrolled["LearningDelivery"]
    assert aim["DelLocPostCode"] == "ZZ99 9ZZ"
    assert "ConRefNumber" not in aim


def test_the_programme_aim_id_is_a_guid_stable_per_enrolment(
    enrolled: IlrLearner, make_snapshot: Snapshot, make_enrolment: MakeEnrolment
) -> None:
    again = learner_from_enrolment(make_snapshot(), make_enrolment(), None)
    other = learner_from_enrolment(make_snapshot(), make_enrolment(id="enrolment-0002"), None)

    aim_id = enrolled["LearningDelivery"][0]["SWSupAimId"]
    assert str(uuid.UUID(aim_id)) == aim_id
    assert again["LearningDelivery"][0]["SWSupAimId"] == aim_id
    assert other["LearningDelivery"][0]["SWSupAimId"] != aim_id


def test_an_enrolment_stored_with_its_id_as_aim_id_is_recognised(
    enrolled: IlrLearner, make_snapshot: Snapshot, make_enrolment: MakeEnrolment
) -> None:
    stored_earlier = copy.deepcopy(enrolled)
    stored_earlier["LearningDelivery"][0]["SWSupAimId"] = "enrolment-0001"

    redelivered = learner_from_enrolment(make_snapshot(), make_enrolment(), stored_earlier)

    assert redelivered == stored_earlier


def test_an_enrolment_from_before_the_whole_record_was_captured(
    make_snapshot: Snapshot, make_enrolment: MakeEnrolment
) -> None:
    old_snapshot = make_snapshot(
        sex=None, ethnicity=None, lldd_health_problem=None, prior_attainment=None
    )

    record = learner_from_enrolment(old_snapshot, make_enrolment(price=None, employment=None), None)

    assert not {"Sex", "Ethnicity", "LLDDHealthProb", "PriorAttain"} & set(record)
    assert "AppFinRecord" not in record["LearningDelivery"][0]
    (status,) = record["LearnerEmploymentStatus"]
    assert status["DateEmpStatApp"] == "2024-09-01"  # still before the start (EmpStat_09)
    assert status["EmploymentStatusMonitoring"] == [{"ESMType": "EII", "ESMCode": 8}]


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
    assert len(record["LearnerEmploymentStatus"]) == 1  # same employer, band and LOE still apply
    assert len(record["PriorAttain"]) == 1  # the same level still applies


def test_a_new_prior_level_is_dated_from_the_new_programme(
    enrolled: IlrLearner, make_snapshot: Snapshot, make_enrolment: MakeEnrolment
) -> None:
    second = make_enrolment(
        id="enrolment-0002", start_date=date(2025, 10, 1), planned_end_date=date(2026, 10, 30)
    )

    record = learner_from_enrolment(make_snapshot(prior_attainment=10), second, enrolled)

    assert record["PriorAttain"] == [
        {"PriorLevel": 3, "DateLevelApp": "2024-09-02"},
        {"PriorLevel": 10, "DateLevelApp": "2025-10-01"},
    ]


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
        employment=Employment(date_from=date(2025, 9, 1), length_of_employment=1),
    )

    record = learner_from_enrolment(make_snapshot(), second, enrolled)

    latest = record["LearnerEmploymentStatus"][-1]
    assert (latest["DateEmpStatApp"], latest["EmpId"]) == ("2025-09-01", 987654321)
    assert latest["EmploymentStatusMonitoring"] == [
        {"ESMType": "EII", "ESMCode": 6},
        {"ESMType": "LOE", "ESMCode": 1},
    ]


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
