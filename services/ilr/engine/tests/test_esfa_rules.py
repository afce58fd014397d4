"""Each ESFA rule against its published description: a record that breaks it (the rule reports
it, at the right place) and the nearest record that does not (the rule is silent).

The base record is a valid 2025/26 apprenticeship start (what the learner service will send once
it collects sex, ethnicity, LLDD, prior attainment, price and employment before the start); each
case changes only what its rule looks at.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from ilrflow.ilr_engine.esfa_rules import RULES, validate
from ilrflow.ilr_engine.esfa_rules.learner import (
    last_friday_in_june_of_school_year,
    sixteenth_birthday,
)
from ilrflow.ilr_engine.records import IlrLearner

TODAY = date(2026, 3, 2)
START = "2025-09-01"
GUID = "4f7c1a52-8d0e-4c1b-9a55-3d2a7e9b1c00"
Edit = Callable[[IlrLearner], None]


def valid_record() -> IlrLearner:
    return {
        "LearnRefNumber": "ABC123",
        "ULN": 9276308686,
        "FamilyName": "Smith",
        "GivenNames": "Ann",
        "DateOfBirth": "2000-01-31",
        "Ethnicity": 31,
        "Sex": "F",
        "LLDDHealthProb": 2,
        "PostcodePrior": "LS1 4AP",
        "Postcode": "LS1 4AP",
        "PriorAttain": [{"PriorLevel": 3, "DateLevelApp": START}],
        "LearnerEmploymentStatus": [
            {
                "EmpStat": 10,
                "DateEmpStatApp": "2025-08-31",
                "EmpId": 123456789,
                "EmploymentStatusMonitoring": [
                    {"ESMType": "EII", "ESMCode": 8},
                    {"ESMType": "LOE", "ESMCode": 4},
                    {"ESMType": "SEM", "ESMCode": 1},
                ],
            }
        ],
        "LearningDelivery": [
            {
                "LearnAimRef": "ZPROG001",
                "AimType": 1,
                "AimSeqNumber": 1,
                "LearnStartDate": START,
                "LearnPlanEndDate": "2026-08-31",
                "FundModel": 36,
                "PHours": 400,
                "ProgType": 25,
                "StdCode": 123,
                "DelLocPostCode": "LS1 4AP",
                "CompStatus": 1,
                "SWSupAimId": GUID,
                "LearningDeliveryFAM": [
                    {"LearnDelFAMType": "ACT", "LearnDelFAMCode": "1", "LearnDelFAMDateFrom": START}
                ],
                "AppFinRecord": [
                    {"AFinType": "TNP", "AFinCode": 1, "AFinDate": START, "AFinAmount": 9000},
                    {"AFinType": "TNP", "AFinCode": 2, "AFinDate": START, "AFinAmount": 1000},
                ],
            }
        ],
    }


def programme(record: IlrLearner) -> dict[str, Any]:
    aim: dict[str, Any] = record["LearningDelivery"][0]
    return aim


def status(record: IlrLearner) -> dict[str, Any]:
    found: dict[str, Any] = record["LearnerEmploymentStatus"][0]
    return found


def set_learner(**fields: Any) -> Edit:
    return lambda record: record.update(fields)


def set_aim(**fields: Any) -> Edit:
    return lambda record: programme(record).update(fields)


def drop_learner(*names: str) -> Edit:
    def edit(record: IlrLearner) -> None:
        for name in names:
            record.pop(name, None)

    return edit


def drop_aim(*names: str) -> Edit:
    def edit(record: IlrLearner) -> None:
        for name in names:
            programme(record).pop(name, None)

    return edit


def both(*edits: Edit) -> Edit:
    def edit(record: IlrLearner) -> None:
        for each in edits:
            each(record)

    return edit


def withdrawn(reason: int) -> Edit:
    return set_aim(CompStatus=3, LearnActEndDate="2026-01-30", Outcome=3, WithdrawReason=reason)


def completed(end: str, **more: Any) -> Edit:
    return set_aim(
        **{"CompStatus": 2, "LearnActEndDate": end, "Outcome": 1, "AchDate": end, **more}
    )


def out_of_work(since: str, *, redundant: bool = False) -> Edit:
    """A status out of paid employment (EmpStat 11) from ``since``, after the one at the start."""
    monitoring = [{"ESMType": "LOU", "ESMCode": 1}]
    if redundant:
        monitoring.append({"ESMType": "OET", "ESMCode": 1})
    added = {"EmpStat": 11, "DateEmpStatApp": since, "EmploymentStatusMonitoring": monitoring}
    return lambda record: record["LearnerEmploymentStatus"].append(added)


def framework(**fields: Any) -> Edit:
    """An FM36 framework programme (ProgType 3): the aims the pre-standard rules check."""
    return set_aim(ProgType=3, StdCode=None, LearnStartDate="2019-09-02", **fields)


def fam(fam_type: str, code: str, **dates: str) -> Edit:
    entry = {"LearnDelFAMType": fam_type, "LearnDelFAMCode": code, **dates}
    return lambda record: programme(record)["LearningDeliveryFAM"].append(entry)


def status_on_start(record: IlrLearner) -> None:
    status(record)["DateEmpStatApp"] = START


def without_esm(esm_type: str) -> Edit:
    def edit(record: IlrLearner) -> None:
        monitoring = status(record)["EmploymentStatusMonitoring"]
        status(record)["EmploymentStatusMonitoring"] = [
            m for m in monitoring if m["ESMType"] != esm_type
        ]

    return edit


def prices(*records: tuple[str, int, str]) -> Edit:
    rows = [
        {"AFinType": kind, "AFinCode": code, "AFinDate": day, "AFinAmount": 100}
        for kind, code, day in records
    ]
    return set_aim(AppFinRecord=rows)


ON_BREAK = set_aim(CompStatus=6, LearnActEndDate="2026-01-30", Outcome=3)
AIM = "/LearningDelivery/0"

# rule id -> (an edit that breaks it, the path it reports, the nearest edit that does not)
CASES: dict[str, tuple[Edit, str, Edit]] = {
    "ULN_04": (set_learner(ULN=1234567890), "/ULN", set_learner(ULN=9999999999)),
    "ULN_07": (
        both(set_learner(ULN=9999999999), set_aim(LearningDeliveryFAM=[])),
        "/ULN",
        set_learner(ULN=9999999999),  # levy-funded (ACT 1): excepted
    ),
    "Sex_01": (set_learner(Sex="U"), "/Sex", set_learner(Sex="M")),
    "Ethnicity_01": (drop_learner("Ethnicity"), "/Ethnicity", set_learner(Ethnicity=99)),
    "LLDDHealthProb_01": (set_learner(LLDDHealthProb=3), "/LLDDHealthProb", set_learner()),
    "LLDDHealthProb_06": (
        set_learner(LLDDHealthProb=1, DateOfBirth="2005-01-31"),
        "/LLDDandHealthProblem",
        set_learner(LLDDHealthProb=1, DateOfBirth="2000-01-31"),  # 25 at the start
    ),
    "PriorAttain_01": (set_learner(PriorAttain=[]), "/PriorAttain", set_learner()),
    "DateOfBirth_48": (
        set_learner(DateOfBirth="2009-09-01"),  # 16 in the 2025/26 school year: leaves 2026-06-26
        f"{AIM}/LearnStartDate",
        set_learner(DateOfBirth="2009-08-31"),  # 16 in the 2024/25 school year: left 2025-06-27
    ),
    "Postcode_15": (set_learner(Postcode="LS14AP"), "/Postcode", set_learner(Postcode="ZZ99 9ZZ")),
    "EmpStat_09": (status_on_start, AIM, set_aim(LearnStartDate="2025-09-01")),
    "ESMType_09": (without_esm("LOE"), "/LearnerEmploymentStatus/0", without_esm("SEM")),
    "EmpId_10": (
        lambda record: status(record).pop("EmpId"),
        AIM,
        lambda record: status(record).update(EmpStat=11, EmpId=None),
    ),
    "CompStatus_02": (
        framework(LearnActEndDate="2020-01-31", Outcome=3),
        f"{AIM}/CompStatus",
        set_aim(LearnActEndDate="2026-01-30", Outcome=8),  # a standard: excluded
    ),
    "CompStatus_03": (set_aim(CompStatus=3), f"{AIM}/CompStatus", set_aim(CompStatus=1)),
    "CompStatus_04": (
        set_aim(CompStatus=2, LearnActEndDate="2026-01-30"),
        f"{AIM}/Outcome",
        set_aim(CompStatus=2, LearnActEndDate="2026-01-30", Outcome=8),
    ),
    "CompStatus_05": (framework(Outcome=8), f"{AIM}/Outcome", set_aim(Outcome=8)),
    "CompStatus_07": (
        set_aim(
            CompStatus=3,
            LearnActEndDate="2026-01-30",
            Outcome=1,
            AchDate="2026-02-27",
            WithdrawReason=97,
        ),
        f"{AIM}/CompStatus",
        completed("2026-01-30"),
    ),
    "Outcome_01": (
        set_aim(CompStatus=3, LearnActEndDate="2026-01-30", WithdrawReason=97),
        f"{AIM}/Outcome",
        withdrawn(97),
    ),
    "Outcome_04": (
        framework(CompStatus=2, LearnActEndDate="2020-09-30", Outcome=3, AchDate="2020-10-30"),
        f"{AIM}/Outcome",
        framework(CompStatus=2, LearnActEndDate="2020-09-30", Outcome=1, AchDate="2020-10-30"),
    ),
    "WithdrawReason_02": (withdrawn(99), f"{AIM}/WithdrawReason", withdrawn(98)),
    "WithdrawReason_03": (
        set_aim(CompStatus=3, LearnActEndDate="2026-01-30", Outcome=3),
        f"{AIM}/WithdrawReason",
        withdrawn(44),
    ),
    "WithdrawReason_05": (
        withdrawn(28),
        f"{AIM}/WithdrawReason",
        both(withdrawn(28), fam("LDM", "034")),
    ),
    "WithdrawReason_06": (
        withdrawn(48),
        f"{AIM}/WithdrawReason",
        both(withdrawn(48), set_aim(LearnAimRef="ZWRKX002")),
    ),
    "LearnActEndDate_01": (
        set_aim(CompStatus=6, LearnActEndDate="2025-08-29", Outcome=3),
        f"{AIM}/LearnActEndDate",
        set_aim(CompStatus=6, LearnActEndDate=START, Outcome=3),
    ),
    "LearnActEndDate_04": (
        set_aim(CompStatus=6, LearnActEndDate="2026-03-03", Outcome=3),
        f"{AIM}/LearnActEndDate",
        set_aim(CompStatus=6, LearnActEndDate="2026-03-02", Outcome=3),
    ),
    "LearnPlanEndDate_02": (
        set_aim(LearnPlanEndDate="2025-08-31"),
        f"{AIM}/LearnPlanEndDate",
        both(set_aim(LearnPlanEndDate=START), fam("RES", "1")),
    ),
    "LearnPlanEndDate_03": (
        set_aim(LearnPlanEndDate="2035-09-01"),
        f"{AIM}/LearnPlanEndDate",
        set_aim(LearnPlanEndDate="2035-08-31"),
    ),
    "AchDate_09": (
        both(set_aim(AimType=3, LearnAimRef="60012345"), completed("2026-01-30")),
        f"{AIM}/AchDate",
        completed("2026-01-30"),
    ),
    "AchDate_11": (
        completed("2026-01-30", AchDate="2026-02-05"),  # 6 days after
        f"{AIM}/AchDate",
        completed("2026-01-30", AchDate="2026-02-06"),  # 7 days after
    ),
    "SWSupAimId_01": (
        set_aim(SWSupAimId="enrolment-0001"),
        f"{AIM}/SWSupAimId",
        set_aim(SWSupAimId=GUID.upper()),
    ),
    "DateOfBirth_52": (
        framework(LearnPlanEndDate="2020-08-31"),  # 364 days (2020 has 29 February)
        f"{AIM}/LearnPlanEndDate",
        framework(LearnPlanEndDate="2020-09-01"),  # 365 days
    ),
    "DateOfBirth_53": (
        framework(CompStatus=2, LearnActEndDate="2020-08-31", Outcome=1, AchDate="2020-09-30"),
        f"{AIM}/LearnActEndDate",
        framework(CompStatus=2, LearnActEndDate="2020-09-01", Outcome=1, AchDate="2020-09-30"),
    ),
    "DateOfBirth_57": (
        set_aim(LearnPlanEndDate="2026-04-30"),  # 241 days
        f"{AIM}/LearnPlanEndDate",
        set_aim(LearnPlanEndDate="2026-05-01"),  # 242 days
    ),
    "DateOfBirth_58": (
        completed("2026-01-30", LearnPlanEndDate="2026-05-01"),
        f"{AIM}/LearnActEndDate",
        both(completed("2026-01-30", LearnPlanEndDate="2026-05-01"), fam("RES", "1")),
    ),
    "PHours_08": (set_aim(PHours=186), f"{AIM}/PHours", set_aim(PHours=187)),
    "LearnDelFAMDateFrom_04": (
        set_aim(LearningDeliveryFAM=[{"LearnDelFAMType": "ACT", "LearnDelFAMCode": "1"}]),
        f"{AIM}/LearningDeliveryFAM/0",
        set_aim(),
    ),
    "LearnDelFAMDateTo_03": (
        both(ON_BREAK, fam("LSF", "1", LearnDelFAMDateFrom=START, LearnDelFAMDateTo="2026-01-31")),
        f"{AIM}/LearningDeliveryFAM/1",
        both(ON_BREAK, fam("LSF", "1", LearnDelFAMDateFrom=START, LearnDelFAMDateTo="2026-01-30")),
    ),
    "LearnDelFAMDateTo_05": (
        both(
            completed("2026-01-30"),
            set_aim(
                LearningDeliveryFAM=[
                    {
                        "LearnDelFAMType": "ACT",
                        "LearnDelFAMCode": "1",
                        "LearnDelFAMDateFrom": START,
                        "LearnDelFAMDateTo": "2026-01-31",
                    }
                ]
            ),
        ),
        f"{AIM}/LearningDeliveryFAM/0",
        both(
            completed("2026-01-30"),
            set_aim(
                LearningDeliveryFAM=[
                    {
                        "LearnDelFAMType": "ACT",
                        "LearnDelFAMCode": "1",
                        "LearnDelFAMDateFrom": START,
                        "LearnDelFAMDateTo": "2026-01-30",
                    }
                ]
            ),
        ),
    ),
    "AFinType_01": (
        prices(("TNP", 1, START), ("TNP", 5, START)),
        f"{AIM}/AppFinRecord/1",
        prices(("TNP", 1, START), ("PMR", 3, START)),
    ),
    "AFinType_12": (prices(), f"{AIM}/AppFinRecord", prices(("TNP", 2, START))),
    "AFinType_13": (
        prices(("TNP", 1, "2025-09-02")),
        f"{AIM}/AppFinRecord",
        prices(("TNP", 1, "2025-09-02"), ("TNP", 2, START)),
    ),
    "AFinType_14": (
        prices(("TNP", 2, START), ("PMR", 1, "2025-10-01")),
        f"{AIM}/AppFinRecord",
        prices(("TNP", 3, START), ("PMR", 1, "2025-10-01")),
    ),
    "OTJ_minimum_2526": (set_aim(PHours=277), f"{AIM}/PHours", set_aim(PHours=278)),
    # TODAY is 91 days after 2025-12-01 and 84 days (12 weeks, not more) after 2025-12-08.
    "NoEmployer_12_weeks": (
        out_of_work("2025-12-01"),
        "/LearnerEmploymentStatus/1",
        out_of_work("2025-12-08"),
    ),
}
OTJ_TABLE = {123: 278}


def findings(record: IlrLearner) -> dict[str, list[str]]:
    result = validate(record, today=TODAY, otj_minimums=OTJ_TABLE)
    found: dict[str, list[str]] = {}
    for finding in [*result.errors, *result.warnings]:
        found.setdefault(finding.rule, []).append(finding.path)
    return found


def edited(edit: Edit) -> IlrLearner:
    record = valid_record()
    edit(record)
    return record


def test_the_base_record_breaks_no_rule() -> None:
    result = validate(valid_record(), today=TODAY, otj_minimums=OTJ_TABLE)

    assert result.as_json() == {"valid": True, "errors": [], "warnings": []}


def test_every_registered_rule_has_a_case() -> None:
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_the_rule_reports_a_record_that_breaks_it(rule_id: str) -> None:
    breaking, path, _ = CASES[rule_id]

    assert path in findings(edited(breaking)).get(rule_id, []), findings(edited(breaking))


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_the_rule_is_silent_on_the_nearest_record_that_keeps_it(rule_id: str) -> None:
    _, _, keeping = CASES[rule_id]

    assert rule_id not in findings(edited(keeping))


def test_ach_date_11_leaves_out_aims_that_ended_before_the_collection_year() -> None:
    ended_last_year = completed("2025-07-31", AchDate="2025-08-01")

    assert "AchDate_11" not in findings(edited(ended_last_year))


def test_warnings_do_not_make_a_record_invalid() -> None:
    result = validate(edited(set_aim(PHours=200)), today=TODAY, otj_minimums=OTJ_TABLE)

    assert result.valid
    assert [w.rule for w in result.warnings] == ["OTJ_minimum_2526"]
    assert RULES["OTJ_minimum_2526"].severity == "warning"


def test_the_otj_minimum_is_not_checked_without_a_table() -> None:
    result = validate(edited(set_aim(PHours=200)), today=TODAY)

    assert result.warnings == []


def test_year_dependent_rules_leave_earlier_starts_alone() -> None:
    """A 2024/25 standard planned for 241 days with 100 OTJ hours breaks no 2025/26 rule."""
    earlier = both(
        set_aim(LearnStartDate="2024-09-02", LearnPlanEndDate="2025-05-01", PHours=100),
        prices(("TNP", 1, "2024-09-02")),
        lambda record: status(record).update(DateEmpStatApp="2024-09-01"),
    )

    found = findings(edited(earlier))

    assert not {"DateOfBirth_57", "PHours_08", "OTJ_minimum_2526"} & set(found), found


@pytest.mark.parametrize(
    ("day", "last_friday"),
    [
        # ESFA's own cases (AcademicYearQueryService tests)
        (date(2017, 1, 1), date(2017, 6, 30)),
        (date(2017, 8, 31), date(2017, 6, 30)),
        (date(2017, 9, 1), date(2018, 6, 29)),
        (date(2016, 6, 1), date(2016, 6, 24)),
    ],
)
def test_the_school_leaving_date_is_the_last_friday_in_june_of_the_school_year(
    day: date, last_friday: date
) -> None:
    assert last_friday_in_june_of_school_year(day) == last_friday


def test_a_leap_day_birthday_without_a_leap_day_16_years_on_falls_on_the_28th() -> None:
    assert sixteenth_birthday(date(2008, 2, 29)) == date(2024, 2, 29)
    assert sixteenth_birthday(date(2084, 2, 29)) == date(2100, 2, 28)  # 2100 is no leap year


def test_twelve_weeks_without_an_employer_count_from_the_first_status_out_of_work() -> None:
    """11 then 12 is one time without an employer: the warning points at where it began."""

    def looking_then_not(record: IlrLearner) -> None:
        out_of_work("2025-11-03")(record)
        record["LearnerEmploymentStatus"].append(
            {
                "EmpStat": 12,
                "DateEmpStatApp": "2026-01-05",
                "EmploymentStatusMonitoring": [{"ESMType": "LOU", "ESMCode": 1}],
            }
        )

    assert findings(edited(looking_then_not))["NoEmployer_12_weeks"] == [
        "/LearnerEmploymentStatus/1"
    ]


SHORT_PLAN = set_aim(LearnPlanEndDate="2026-05-29")  # its last 6 months start 2025-11-29
LONG_DONE = set_aim(LearnStartDate="2023-09-01")  # by 2025-12-01: 822 of 1095 days, 75%


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(both(out_of_work("2025-12-01"), withdrawn(29)), id="left learning"),
        pytest.param(
            both(SHORT_PLAN, out_of_work("2025-12-01", redundant=True)),
            id="redundant in the last 6 months",
        ),
        pytest.param(
            both(LONG_DONE, out_of_work("2025-12-01", redundant=True)), id="redundant, 75% done"
        ),
    ],
)
def test_no_twelve_week_warning_when_no_employer_is_needed(edit: Edit) -> None:
    assert "NoEmployer_12_weeks" not in findings(edited(edit))


@pytest.mark.parametrize("plan", [SHORT_PLAN, LONG_DONE], ids=["last 6 months", "75% done"])
def test_leaving_work_other_than_by_redundancy_is_not_funded_to_completion(plan: Edit) -> None:
    assert "NoEmployer_12_weeks" in findings(edited(both(plan, out_of_work("2025-12-01"))))
