"""LearnerEmploymentStatus rules: a status before the start, its employer and its length of
employment (domain.md §3.4), and ilrflow's own 12-week check of time without an employer (§4.7)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from ilrflow.ilr_engine.esfa_rules.registry import ESFA_CODE, GUIDANCE, Breach, Context, rule
from ilrflow.ilr_engine.esfa_rules.scope import aims, is_apprenticeship, is_programme_aim, statuses
from ilrflow.ilr_engine.records import Learner
from ilrflow.ilr_engine.unemployment import TWELVE_WEEKS, funded_to_completion, unemployment_on

IN_PAID_EMPLOYMENT = 10
REDUNDANCY_SUPPORT = (
    "https://help.apprenticeships.education.gov.uk/hc/en-gb/articles/360013970179-Funding-"
    "support-for-apprentices-who-have-been-made-redundant"
)
CHANGES_OF_CIRCUMSTANCES = (
    "https://www.gov.uk/guidance/apprenticeship-funding-rules-for-training-providers/"
    "changes-in-circumstances"
)
EMP_STAT_09_FROM = date(2014, 8, 1)  # programme starts before this are not checked
ESM_TYPE_09_FROM = date(2013, 8, 1)


@rule(
    "EmpStat_09",
    checks="an apprenticeship programme aim has an employment status dated strictly before its "
    "LearnStartDate (a status dated on the start day does not count)",
    source=f"{GUIDANCE}EmpStat_09 ; {ESFA_CODE}EmploymentStatus/EmpStat/EmpStat_09Rule.cs",
)
def emp_stat_09(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if not (is_apprenticeship(aim) and is_programme_aim(aim)):
            continue
        start = aim.LearnStartDate
        before = any(s.DateEmpStatApp < start for s in learner.LearnerEmploymentStatus)
        if start >= EMP_STAT_09_FROM and not before:
            yield path, f"no employment status is dated before the start {start}"


@rule(
    "ESMType_09",
    checks="every in-paid-employment status dated up to the latest apprenticeship programme "
    "start (so the one applying at the start too) has a length of employment (LOE) monitoring",
    source=f"{GUIDANCE}ESMType_09 ; {ESFA_CODE}EmploymentStatus/ESMType/ESMType_09Rule.cs",
)
def esm_type_09(learner: Learner, _: Context) -> Iterator[Breach]:
    starts = [
        aim.LearnStartDate
        for _, aim in aims(learner)
        if is_apprenticeship(aim)
        and is_programme_aim(aim)
        and aim.LearnStartDate >= ESM_TYPE_09_FROM
    ]
    if not starts:
        return
    latest = max(starts)
    for path, status in statuses(learner):
        in_window = ESM_TYPE_09_FROM <= status.DateEmpStatApp <= latest
        employed = status.EmpStat == IN_PAID_EMPLOYMENT
        if in_window and employed and status.esm_code("LOE") is None:
            yield path, f"the status from {status.DateEmpStatApp} has no LOE monitoring"


@rule(
    "EmpId_10",
    checks="the in-paid-employment status applying on an apprenticeship programme's start "
    "names the employer (EmpId)",
    source=f"{GUIDANCE}EmpId_10 ; {ESFA_CODE}EmploymentStatus/EmpId/EmpId_10Rule.cs",
)
def emp_id_10(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if not (is_apprenticeship(aim) and is_programme_aim(aim)):
            continue
        status = learner.status_on(aim.LearnStartDate)
        if status is not None and status.EmpStat == IN_PAID_EMPLOYMENT and status.EmpId is None:
            yield path, f"the status applying on {aim.LearnStartDate} has no EmpId"


@rule(
    "NoEmployer_12_weeks",
    severity="warning",
    checks="ilrflow's own check, not an ESFA rule id: an apprentice still in learning has been "
    "without an employer (EmpStat 11/12) for more than 12 weeks on the day of the check, so a "
    "break in learning or a withdrawal is needed (not after a redundancy in the last 6 months "
    "of training or with 75% done, which is funded to completion)",
    source=f"{REDUNDANCY_SUPPORT} ; {CHANGES_OF_CIRCUMSTANCES}",
)
def no_employer_12_weeks(learner: Learner, context: Context) -> Iterator[Breach]:
    today = context.today
    unemployment = unemployment_on(learner, today)
    if unemployment is None or today - unemployment.since <= TWELVE_WEEKS:
        return
    in_learning = [
        aim
        for _, aim in aims(learner)
        if aim.is_open and is_apprenticeship(aim) and is_programme_aim(aim)
    ]
    if not in_learning or funded_to_completion(learner, in_learning[0], unemployment).value:
        return
    path = next(path for path, s in statuses(learner) if s.DateEmpStatApp == unemployment.since)
    yield (
        path,
        f"no employer since {unemployment.since} ({unemployment.days_on(today)} days, more than "
        f"12 weeks from {unemployment.deadline}) while aim {in_learning[0].AimSeqNumber} is in "
        "learning: record a break in learning or a withdrawal (or the new employer)",
    )
