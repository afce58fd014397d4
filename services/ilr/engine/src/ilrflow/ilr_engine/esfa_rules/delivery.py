"""LearningDelivery rules: dates, and how CompStatus, LearnActEndDate, Outcome, WithdrawReason
and AchDate fit together (domain.md §3.5, §3.7)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

from ilrflow.ilr_engine.esfa_rules.registry import ESFA_CODE, GUIDANCE, Breach, Context, rule
from ilrflow.ilr_engine.esfa_rules.scope import (
    aims,
    has_fam,
    is_apprenticeship_standard,
    is_programme_aim,
)
from ilrflow.ilr_engine.records import Learner

CONTINUING, COMPLETED, WITHDRAWN = 1, 2, 3
ACHIEVED = 1
WITHDRAWN_OLASS = 28  # OLASS learner withdrawn due to circumstances outside the provider's control
WITHDRAWN_INDUSTRY_PLACEMENT = 48
INDUSTRY_PLACEMENT_AIM = "ZWRKX002"
ACH_DATE_RULES_FROM = date(2015, 8, 1)
COMP_STATUS_07_FROM = date(2019, 8, 1)
ACH_DATE_11_DAYS = 7
# WithdrawReason codes (domain.md §3.5; contracts' ESFA_WITHDRAW_REASONS is the same list).
WITHDRAW_REASONS = frozenset({2, 3, 7, 28, 29, 40, 41, 42, 43, 44, 45, 46, 47, 48, 97, 98})
_GUID = re.compile(r"[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}")


@rule(
    "CompStatus_02",
    checks="an aim with a LearnActEndDate is not still continuing (CompStatus 1); "
    "apprenticeship standards (FM36, ProgType 25) are excluded",
    source=f"{GUIDANCE}CompStatus_02 ; {ESFA_CODE}LearningDelivery/CompStatus/CompStatus_02Rule.cs",
)
def comp_status_02(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if is_apprenticeship_standard(aim):
            continue
        if aim.LearnActEndDate is not None and aim.CompStatus == CONTINUING:
            yield f"{path}/CompStatus", "an aim with a LearnActEndDate cannot be continuing"


@rule(
    "CompStatus_03",
    checks="an aim without a LearnActEndDate is continuing (CompStatus 1)",
    source=f"{GUIDANCE}CompStatus_03 ; {ESFA_CODE}LearningDelivery/CompStatus/CompStatus_03Rule.cs",
)
def comp_status_03(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if aim.LearnActEndDate is None and aim.CompStatus != CONTINUING:
            yield f"{path}/CompStatus", f"CompStatus {aim.CompStatus} needs a LearnActEndDate"


@rule(
    "CompStatus_04",
    checks="a completed aim (CompStatus 2) has an Outcome",
    source=f"{GUIDANCE}CompStatus_04",
)
def comp_status_04(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if aim.CompStatus == COMPLETED and aim.Outcome is None:
            yield f"{path}/Outcome", "a completed aim needs an Outcome"


@rule(
    "CompStatus_05",
    checks="a continuing aim (CompStatus 1) has no Outcome; apprenticeship standards excluded",
    source=f"{GUIDANCE}CompStatus_05 ; {ESFA_CODE}LearningDelivery/CompStatus/CompStatus_05Rule.cs",
)
def comp_status_05(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if is_apprenticeship_standard(aim):
            continue
        if aim.Outcome is not None and aim.CompStatus == CONTINUING:
            yield f"{path}/Outcome", "a continuing aim cannot have an Outcome"


@rule(
    "CompStatus_07",
    checks="a standard's programme aim with an AchDate (ended from 1 Aug 2019) is completed "
    "(CompStatus 2)",
    source=f"{GUIDANCE}CompStatus_07 ; {ESFA_CODE}LearningDelivery/CompStatus/CompStatus_07Rule.cs",
)
def comp_status_07(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        ended = aim.LearnActEndDate
        if not (is_programme_aim(aim) and is_apprenticeship_standard(aim)) or ended is None:
            continue
        if ended >= COMP_STATUS_07_FROM and aim.AchDate and aim.CompStatus != COMPLETED:
            yield f"{path}/CompStatus", "an aim with an AchDate must be completed (CompStatus 2)"


@rule(
    "Outcome_01",
    checks="an aim with a LearnActEndDate has an Outcome",
    source=f"{GUIDANCE}Outcome_01 ; {ESFA_CODE}LearningDelivery/Outcome/Outcome_01Rule.cs",
)
def outcome_01(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if aim.LearnActEndDate is not None and aim.Outcome is None:
            yield f"{path}/Outcome", "an aim with a LearnActEndDate needs an Outcome"


@rule(
    "Outcome_04",
    checks="an aim with an AchDate has Outcome 1 (achieved); apprenticeship standards excluded",
    source=f"{GUIDANCE}Outcome_04 ; {ESFA_CODE}LearningDelivery/Outcome/Outcome_04Rule.cs",
)
def outcome_04(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if is_apprenticeship_standard(aim):
            continue
        if aim.AchDate is not None and aim.Outcome != ACHIEVED:
            yield f"{path}/Outcome", f"an aim with an AchDate needs Outcome 1, not {aim.Outcome}"


@rule(
    "WithdrawReason_02",
    checks="WithdrawReason, when returned, is a valid code",
    source=f"{GUIDANCE}WithdrawReason_02 ; "
    f"{ESFA_CODE}LearningDelivery/WithdrawReason/WithdrawReason_02Rule.cs",
)
def withdraw_reason_02(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if aim.WithdrawReason is not None and aim.WithdrawReason not in WITHDRAW_REASONS:
            yield f"{path}/WithdrawReason", f"WithdrawReason {aim.WithdrawReason} is not a code"


@rule(
    "WithdrawReason_03",
    checks="a withdrawn aim (CompStatus 3) has a WithdrawReason",
    source=f"{GUIDANCE}WithdrawReason_03 ; "
    f"{ESFA_CODE}LearningDelivery/WithdrawReason/WithdrawReason_03Rule.cs",
)
def withdraw_reason_03(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if aim.CompStatus == WITHDRAWN and aim.WithdrawReason is None:
            yield f"{path}/WithdrawReason", "a withdrawn aim needs a WithdrawReason"


@rule(
    "WithdrawReason_05",
    checks="WithdrawReason 28 (OLASS learner withdrawn) only on an OLASS aim (LDM 034)",
    source=f"{GUIDANCE}WithdrawReason_05 ; "
    f"{ESFA_CODE}LearningDelivery/WithdrawReason/WithdrawReason_05Rule.cs",
)
def withdraw_reason_05(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if aim.WithdrawReason == WITHDRAWN_OLASS and not has_fam(aim, "LDM", "034"):
            yield f"{path}/WithdrawReason", "WithdrawReason 28 is for OLASS (custody) aims only"


@rule(
    "WithdrawReason_06",
    checks="WithdrawReason 48 (industry placement learner withdrawn) only on the industry "
    "placement aim ZWRKX002",
    source=f"{GUIDANCE}WithdrawReason_06 ; "
    f"{ESFA_CODE}LearningDelivery/WithdrawReason/WithdrawReason_06Rule.cs",
)
def withdraw_reason_06(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        placement = aim.LearnAimRef.upper() == INDUSTRY_PLACEMENT_AIM
        withdrawn = aim.CompStatus == WITHDRAWN
        if withdrawn and aim.WithdrawReason == WITHDRAWN_INDUSTRY_PLACEMENT and not placement:
            yield f"{path}/WithdrawReason", "WithdrawReason 48 is for industry placements only"


@rule(
    "LearnActEndDate_01",
    checks="LearnActEndDate is not before LearnStartDate",
    source=f"{GUIDANCE}LearnActEndDate_01",
)
def learn_act_end_date_01(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        ended = aim.LearnActEndDate
        if ended is not None and ended < aim.LearnStartDate:
            yield f"{path}/LearnActEndDate", f"{ended} is before the start {aim.LearnStartDate}"


@rule(
    "LearnActEndDate_04",
    checks="LearnActEndDate is not after the file preparation date (the day of the check)",
    source=f"{GUIDANCE}LearnActEndDate_04",
)
def learn_act_end_date_04(learner: Learner, context: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        ended = aim.LearnActEndDate
        if ended is not None and ended > context.today:
            yield f"{path}/LearnActEndDate", f"{ended} is after today ({context.today})"


@rule(
    "LearnPlanEndDate_02",
    checks="LearnPlanEndDate is not before LearnStartDate",
    source=f"{GUIDANCE}LearnPlanEndDate_02",
)
def learn_plan_end_date_02(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if aim.LearnPlanEndDate < aim.LearnStartDate:
            yield f"{path}/LearnPlanEndDate", "the planned end is before the start"


@rule(
    "LearnPlanEndDate_03",
    checks="LearnPlanEndDate is less than 10 years after LearnStartDate",
    source=f"{GUIDANCE}LearnPlanEndDate_03",
)
def learn_plan_end_date_03(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        start = aim.LearnStartDate
        ten_years_on = _years_after(start, 10)
        if aim.LearnPlanEndDate >= ten_years_on:
            yield f"{path}/LearnPlanEndDate", f"the planned end is 10 or more years after {start}"


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@rule(
    "AchDate_09",
    checks="AchDate (for aims starting from 1 Aug 2015) is returned only on the programme aim of "
    "a standard or traineeship",
    source=f"{GUIDANCE}AchDate_09 ; {ESFA_CODE}LearningDelivery/AchDate/AchDate_09Rule.cs",
)
def ach_date_09(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if aim.AchDate is None or aim.LearnStartDate < ACH_DATE_RULES_FROM:
            continue
        standard = aim.ProgType == 25 and aim.FundModel in (36, 81)
        if not (is_programme_aim(aim) and (aim.ProgType == 24 or standard)):
            yield (
                f"{path}/AchDate",
                "AchDate is only for a standard's or traineeship's programme aim",
            )


@rule(
    "AchDate_11",
    checks="a standard's FM36 programme aim that ended in the current collection year is achieved "
    "(AchDate) at least 7 days after its LearnActEndDate",
    source=f"{GUIDANCE}AchDate_11 ; {ESFA_CODE}LearningDelivery/AchDate/AchDate_11Rule.cs",
)
def ach_date_11(learner: Learner, context: Context) -> Iterator[Breach]:
    year_start = _collection_year_start(context.today)
    for path, aim in aims(learner):
        ended, achieved = aim.LearnActEndDate, aim.AchDate
        if not (is_programme_aim(aim) and is_apprenticeship_standard(aim)):
            continue
        if ended is None or achieved is None or ended < year_start:
            continue
        if achieved < ended + timedelta(days=ACH_DATE_11_DAYS):
            yield (
                f"{path}/AchDate",
                f"AchDate {achieved} is less than {ACH_DATE_11_DAYS} days after the "
                f"LearnActEndDate {ended}",
            )


def _collection_year_start(today: date) -> date:
    """1 August of the collection year (1 August - 31 July) that ``today`` falls in."""
    return date(today.year if today.month >= 8 else today.year - 1, 8, 1)


@rule(
    "SWSupAimId_01",
    checks="SWSupAimId, when returned, is a GUID (36 characters, 8-4-4-4-12 hexadecimal)",
    source=f"{GUIDANCE}SWSupAimId_01",
)
def sw_sup_aim_id_01(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if aim.SWSupAimId is not None and not _GUID.fullmatch(aim.SWSupAimId):
            yield f"{path}/SWSupAimId", f"{aim.SWSupAimId!r} is not a GUID"
