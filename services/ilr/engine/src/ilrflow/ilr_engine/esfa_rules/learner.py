"""Learner entity rules: ULN, sex, ethnicity, LLDD and health problems, prior attainment,
postcode (domain.md §3.1-§3.3)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

from ilrflow.contracts.trackers.fields import uln_is_valid
from ilrflow.ilr_engine.esfa_rules.registry import ESFA_CODE, GUIDANCE, Breach, Context, rule
from ilrflow.ilr_engine.esfa_rules.scope import (
    age_on,
    aims,
    has_fam,
    is_apprenticeship,
    is_programme_aim,
)
from ilrflow.ilr_engine.normalise import TEMPORARY_ULN
from ilrflow.ilr_engine.records import Aim, Learner

SEX_CODES = frozenset({"F", "M"})
# 31-47 the ethnic groups, 98 any other ethnic group, 99 not provided.
ETHNICITY_CODES = frozenset({*range(31, 48), 98, 99})
# 1 has an LLDD or health problem, 2 has none, 9 no information provided.
LLDD_HEALTH_PROB_CODES = frozenset({1, 2, 9})
# ULN_07: the funding models for which a temporary ULN is an error once its leniency has passed.
ULN_07_FUND_MODELS = frozenset({25, 35, 36, 70, 81, 82})
TEMPORARY_ULN_LENIENCY_DAYS = 60
# Postcode_15: ESFA's postcode pattern, which also admits the "unknown" postcode ZZ99 9ZZ.
_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}")
# DateOfBirth_48: programmes started before this are out of its scope.
SCHOOL_LEAVING_RULE_FROM = date(2016, 8, 1)
FRIDAY = 4


@rule(
    "ULN_04",
    checks="a ULN other than the temporary 9999999999 passes ESFA's check digit",
    source=f"{GUIDANCE}ULN_04 ; {ESFA_CODE}Derived/DerivedData_01Rule.cs",
)
def uln_04(learner: Learner, _: Context) -> Iterator[Breach]:
    if learner.ULN != TEMPORARY_ULN and not uln_is_valid(str(learner.ULN)):
        yield "/ULN", f"ULN {learner.ULN} fails the check digit"


@rule(
    "ULN_07",
    checks="the temporary ULN 9999999999 is not used more than 60 days after a start, from "
    "1 January of the collection year (aims funded through the employer's levy, ACT 1, excepted)",
    source=f"{GUIDANCE}ULN_07 ; {ESFA_CODE}Learner/ULN/ULN_07Rule.cs",
)
def uln_07(learner: Learner, context: Context) -> Iterator[Breach]:
    if learner.ULN != TEMPORARY_ULN or context.today < _first_january_of_year(context.today):
        return
    if any(has_fam(a, "ACT", "1") or has_fam(a, "LDM", "034") for a in learner.LearningDelivery):
        return
    for _, aim in aims(learner):
        leniency_over = (context.today - aim.LearnStartDate).days > TEMPORARY_ULN_LENIENCY_DAYS
        if aim.FundModel in ULN_07_FUND_MODELS and leniency_over and _lasts_five_days(aim):
            yield "/ULN", f"temporary ULN still used {aim.LearnStartDate} + 60 days has passed"
            return


def _first_january_of_year(today: date) -> date:
    """1 January inside the collection year (1 August - 31 July) that ``today`` falls in."""
    return date(today.year if today.month < 8 else today.year + 1, 1, 1)


def _lasts_five_days(aim: Aim) -> bool:
    start, ended = aim.LearnStartDate, aim.LearnActEndDate
    return (aim.LearnPlanEndDate - start).days >= 5 or (
        ended is not None and (ended - start).days >= 5
    )


@rule(
    "Sex_01",
    checks="Sex is a valid code (F or M); it is required, so a missing value fails too",
    source=f"{GUIDANCE}Sex_01 ; {ESFA_CODE}Learner/Sex/Sex_01Rule.cs",
)
def sex_01(learner: Learner, _: Context) -> Iterator[Breach]:
    if learner.Sex not in SEX_CODES:
        yield "/Sex", f"Sex {learner.Sex!r} is not F or M"


@rule(
    "Ethnicity_01",
    checks="Ethnicity is a valid code (31-47, 98, 99); it is required",
    source=f"{GUIDANCE}Ethnicity_01 ; {ESFA_CODE}Learner/Ethnicity/Ethnicity_01Rule.cs",
)
def ethnicity_01(learner: Learner, _: Context) -> Iterator[Breach]:
    if learner.Ethnicity not in ETHNICITY_CODES:
        yield "/Ethnicity", f"Ethnicity {learner.Ethnicity!r} is not a valid code"


@rule(
    "LLDDHealthProb_01",
    checks="LLDDHealthProb is a valid code (1, 2, 9); it is required",
    source=f"{GUIDANCE}LLDDHealthProb_01 ; {ESFA_CODE}Learner/LLDDHealthProb/LLDDHealthProb_01Rule.cs",
)
def lldd_health_prob_01(learner: Learner, _: Context) -> Iterator[Breach]:
    if learner.LLDDHealthProb not in LLDD_HEALTH_PROB_CODES:
        yield "/LLDDHealthProb", f"LLDDHealthProb {learner.LLDDHealthProb!r} is not 1, 2 or 9"


@rule(
    "LLDDHealthProb_06",
    checks="a learner with an LLDD or health problem (LLDDHealthProb 1) has LLDDandHealthProblem "
    "records, unless aged 25 or over at their first start (or funded by FM10)",
    source=f"{GUIDANCE}LLDDHealthProb_06 ; {ESFA_CODE}Learner/LLDDHealthProb/LLDDHealthProb_06Rule.cs",
)
def lldd_health_prob_06(learner: Learner, _: Context) -> Iterator[Breach]:
    if learner.LLDDHealthProb != 1 or learner.LLDDandHealthProblem:
        return
    if any(aim.FundModel == 10 for aim in learner.LearningDelivery):
        return
    first_start = min((a.LearnStartDate for a in learner.LearningDelivery), default=None)
    born = learner.DateOfBirth
    if born is not None and first_start is not None and age_on(born, first_start) >= 25:
        return
    yield "/LLDDandHealthProblem", "LLDDHealthProb is 1 but no LLDDandHealthProblem is recorded"


@rule(
    "PriorAttain_01",
    checks="a learner on an apprenticeship (FM36) aim has a prior attainment record",
    source=f"{GUIDANCE}PriorAttain_01",
)
def prior_attain_01(learner: Learner, _: Context) -> Iterator[Breach]:
    funded = any(aim.FundModel == 36 for aim in learner.LearningDelivery)
    if funded and not learner.PriorAttain:
        yield "/PriorAttain", "no prior attainment is recorded for an apprenticeship learner"


@rule(
    "Postcode_15",
    checks="Postcode has a valid postcode format (ZZ99 9ZZ for unknown)",
    source=f"{GUIDANCE}Postcode_15 ; {ESFA_CODE}Learner/Postcode/Postcode_15Rule.cs",
)
def postcode_15(learner: Learner, _: Context) -> Iterator[Breach]:
    if not _POSTCODE.fullmatch(learner.Postcode):
        yield "/Postcode", f"Postcode {learner.Postcode!r} is not in postcode format"


@rule(
    "DateOfBirth_48",
    checks="an apprenticeship programme (from 1 Aug 2016) starts after the last Friday in June "
    "of the school year (September to August) in which the learner turns 16",
    source=f"{GUIDANCE}DateOfBirth_48 ; {ESFA_CODE}Learner/DateOfBirth/DateOfBirth_48Rule.cs",
)
def date_of_birth_48(learner: Learner, _: Context) -> Iterator[Breach]:
    born = learner.DateOfBirth
    if born is None:
        return
    school_leaving = last_friday_in_june_of_school_year(sixteenth_birthday(born))
    for path, aim in aims(learner):
        started = _programme_start(learner, aim)
        if started is None or not SCHOOL_LEAVING_RULE_FROM <= started <= school_leaving:
            continue
        yield (
            f"{path}/LearnStartDate",
            (
                f"the programme starts {started}, on or before {school_leaving}, the school leaving "
                f"date of a learner born {born}"
            ),
        )


def _programme_start(learner: Learner, aim: Aim) -> date | None:
    """ESFA's DerivedData_04: the earliest start of the apprenticeship's programme aims (same
    ProgType) for an aim of an apprenticeship; None for other aims."""
    if not is_apprenticeship(aim):
        return None
    return min(
        (
            other.LearnStartDate
            for other in learner.LearningDelivery
            if is_programme_aim(other) and other.ProgType == aim.ProgType
        ),
        default=None,
    )


def sixteenth_birthday(born: date) -> date:
    """Born on 29 February: the 28th in a year without one (as .NET's AddYears, ESFA's code)."""
    year = born.year + 16
    try:
        return born.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def last_friday_in_june_of_school_year(day: date) -> date:
    """The last Friday in June of the school year (1 September - 31 August) ``day`` falls in."""
    year = day.year + 1 if day.month > 8 else day.year
    june_30 = date(year, 6, 30)
    return june_30 - timedelta(days=(june_30.weekday() - FRIDAY) % 7)
