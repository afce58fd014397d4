"""Minimum duration and planned off-the-job hours (domain.md §3.8, §4.3, §4.6). Each rule checks
only the starts its year applies to; restarts (RES) are excluded, as ESFA excludes them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from ilrflow.ilr_engine.esfa_rules.registry import GUIDANCE, Breach, Context, rule
from ilrflow.ilr_engine.esfa_rules.scope import (
    STANDARD_PROG_TYPE,
    age_on,
    aims,
    is_funded_apprenticeship,
    is_programme_aim,
)
from ilrflow.ilr_engine.funding import (
    MINIMUM_DAYS_BEFORE_2025,
    MINIMUM_DAYS_FROM_2025,
    PHOURS_FLOOR_FROM_2025,
)
from ilrflow.ilr_engine.records import Aim, Learner

COMPLETED = 2
FM36_FROM = date(2017, 5, 1)
RULES_2025_FROM = date(2025, 8, 1)
FUNDING_RULES_2526 = (
    "https://www.gov.uk/government/publications/apprenticeship-funding-rules-2025-to-2026"
)


def _pre_2025_framework(aim: Aim) -> bool:
    """DateOfBirth_52/53's scope: FM36 programme aims from May 2017, standards excepted."""
    return (
        is_funded_apprenticeship(aim)
        and is_programme_aim(aim)
        and aim.ProgType != STANDARD_PROG_TYPE
        and aim.LearnStartDate >= FM36_FROM
        and not aim.is_restart
    )


def _standard_from_2025(learner: Learner, aim: Aim) -> bool:
    """DateOfBirth_57/58's scope: a standard's programme aim started from 1 Aug 2025 by a
    learner aged 16 or over, not a restart."""
    born = learner.DateOfBirth
    return (
        aim.ProgType == STANDARD_PROG_TYPE
        and is_programme_aim(aim)
        and aim.LearnStartDate >= RULES_2025_FROM
        and born is not None
        and age_on(born, aim.LearnStartDate) >= 16
        and not aim.is_restart
    )


def _planned_days(aim: Aim) -> int:
    return (aim.LearnPlanEndDate - aim.LearnStartDate).days


def _actual_days(aim: Aim) -> int | None:
    if aim.CompStatus != COMPLETED or aim.LearnActEndDate is None:
        return None
    return (aim.LearnActEndDate - aim.LearnStartDate).days


@rule(
    "DateOfBirth_52",
    checks="an FM36 programme aim (not a standard, not a restart) is planned to last at least "
    "365 days",
    source="https://guidance.submit-learner-data.service.gov.uk/24-25/validation-rules/rule/DateOfBirth_52",
)
def date_of_birth_52(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        days = _planned_days(aim)
        if _pre_2025_framework(aim) and days < MINIMUM_DAYS_BEFORE_2025:
            yield f"{path}/LearnPlanEndDate", f"planned duration {days} days is under 365"


@rule(
    "DateOfBirth_53",
    checks="a completed FM36 programme aim (not a standard, not a restart) lasted at least 365 days",
    source="https://guidance.submit-learner-data.service.gov.uk/24-25/validation-rules/rule/DateOfBirth_53",
)
def date_of_birth_53(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        days = _actual_days(aim)
        if _pre_2025_framework(aim) and days is not None and days < MINIMUM_DAYS_BEFORE_2025:
            yield f"{path}/LearnActEndDate", f"actual duration {days} days is under 365"


@rule(
    "DateOfBirth_57",
    checks="a standard's programme aim started from 1 Aug 2025 (learner 16+, not a restart) is "
    "planned to last at least 242 days",
    source=f"{GUIDANCE}DateOfBirth_57",
)
def date_of_birth_57(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        days = _planned_days(aim)
        if _standard_from_2025(learner, aim) and days < MINIMUM_DAYS_FROM_2025:
            yield f"{path}/LearnPlanEndDate", f"planned duration {days} days is under 242"


@rule(
    "DateOfBirth_58",
    checks="a completed standard's programme aim started from 1 Aug 2025 (learner 16+, not a "
    "restart) lasted at least 242 days",
    source=f"{GUIDANCE}DateOfBirth_58",
)
def date_of_birth_58(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        days = _actual_days(aim)
        if _standard_from_2025(learner, aim) and days is not None and days < MINIMUM_DAYS_FROM_2025:
            yield f"{path}/LearnActEndDate", f"actual duration {days} days is under 242"


def _planned_hours_scope(aim: Aim) -> bool:
    """FM36 programme aims started from 1 Aug 2025, restarts excepted."""
    return (
        is_funded_apprenticeship(aim)
        and is_programme_aim(aim)
        and aim.LearnStartDate >= RULES_2025_FROM
        and not aim.is_restart
    )


@rule(
    "PHours_08",
    checks="an FM36 programme aim started from 1 Aug 2025 (not a restart) plans at least 187 "
    "off-the-job hours",
    source=f"{GUIDANCE}PHours_08",
)
def p_hours_08(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        if not _planned_hours_scope(aim):
            continue
        if aim.PHours is None or aim.PHours < PHOURS_FLOOR_FROM_2025:
            yield f"{path}/PHours", f"PHours {aim.PHours} is under {PHOURS_FLOOR_FROM_2025}"


@rule(
    "OTJ_minimum_2526",
    severity="warning",
    checks="ilrflow's own check, not an ESFA rule id: PHours on an FM36 programme aim started "
    "from 1 Aug 2025 reaches the standard's published minimum OTJ hours, when the table is loaded",
    source=FUNDING_RULES_2526,
)
def otj_minimum_2526(learner: Learner, context: Context) -> Iterator[Breach]:
    table = context.otj_minimums or {}
    for path, aim in aims(learner):
        minimum = table.get(aim.StdCode) if aim.StdCode is not None else None
        if minimum is None or not _planned_hours_scope(aim):
            continue
        if aim.PHours is None or aim.PHours < minimum:
            yield (
                f"{path}/PHours",
                f"PHours {aim.PHours} is under the published minimum of {minimum} h for "
                f"standard {aim.StdCode}",
            )
