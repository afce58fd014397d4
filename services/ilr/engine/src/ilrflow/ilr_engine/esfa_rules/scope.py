"""Which parts of a record a rule looks at, and the JSON pointer of each (the published form
keeps the model's list order, so an index here is the index a reader of the record sees)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from ilrflow.ilr_engine.records import PROGRAMME_AIM_TYPE, Aim, EmploymentStatus, Learner

APPRENTICESHIPS_FUND_MODEL = 36
STANDARD_PROG_TYPE = 25
# ESFA's DerivedData_07: the programme types that are apprenticeships (frameworks and standards).
APPRENTICESHIP_PROG_TYPES = frozenset({2, 3, 20, 21, 22, 23, 25})


def aims(learner: Learner) -> Iterator[tuple[str, Aim]]:
    for index, aim in enumerate(learner.LearningDelivery):
        yield f"/LearningDelivery/{index}", aim


def statuses(learner: Learner) -> Iterator[tuple[str, EmploymentStatus]]:
    for index, status in enumerate(learner.LearnerEmploymentStatus):
        yield f"/LearnerEmploymentStatus/{index}", status


def is_programme_aim(aim: Aim) -> bool:
    return aim.AimType == PROGRAMME_AIM_TYPE


def is_apprenticeship(aim: Aim) -> bool:
    return aim.ProgType in APPRENTICESHIP_PROG_TYPES


def is_funded_apprenticeship(aim: Aim) -> bool:
    return aim.FundModel == APPRENTICESHIPS_FUND_MODEL


def is_apprenticeship_standard(aim: Aim) -> bool:
    """FM36 with ProgType 25: the standards many rules exclude or single out."""
    return is_funded_apprenticeship(aim) and aim.ProgType == STANDARD_PROG_TYPE


def has_fam(aim: Aim, fam_type: str, code: str) -> bool:
    return any(f.LearnDelFAMCode == code for f in aim.fams(fam_type))


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
