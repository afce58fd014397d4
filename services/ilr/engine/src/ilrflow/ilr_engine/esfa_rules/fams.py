"""LearningDeliveryFAM date rules: the apprenticeship contract type (ACT) and other monitoring
such as RES or LSF (domain.md §3.6)."""

from __future__ import annotations

from collections.abc import Iterator

from ilrflow.ilr_engine.esfa_rules.registry import ESFA_CODE, GUIDANCE, Breach, Context, rule
from ilrflow.ilr_engine.esfa_rules.scope import aims
from ilrflow.ilr_engine.records import Learner

# LearnDelFAMDateTo_03 applies to these funding models (adult skills, apprenticeships, other
# adult, not funded by ESFA).
DATE_TO_03_FUND_MODELS = frozenset({35, 36, 81, 99})


@rule(
    "LearnDelFAMDateFrom_04",
    checks="an apprenticeship contract type (ACT) record has a LearnDelFAMDateFrom",
    source=f"{GUIDANCE}LearnDelFAMDateFrom_04",
)
def learn_del_fam_date_from_04(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        for index, fam in enumerate(aim.LearningDeliveryFAM):
            if fam.LearnDelFAMType == "ACT" and fam.LearnDelFAMDateFrom is None:
                yield f"{path}/LearningDeliveryFAM/{index}", "the ACT record has no DateFrom"


@rule(
    "LearnDelFAMDateTo_03",
    checks="a monitoring record other than ACT (e.g. RES, LSF) does not end after the aim's "
    "LearnActEndDate",
    source=f"{GUIDANCE}LearnDelFAMDateTo_03 ; "
    f"{ESFA_CODE}LearningDelivery/LearnDelFAMDateTo/LearnDelFAMDateTo_03Rule.cs",
)
def learn_del_fam_date_to_03(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        ended = aim.LearnActEndDate
        if aim.FundModel not in DATE_TO_03_FUND_MODELS or ended is None:
            continue
        for index, fam in enumerate(aim.LearningDeliveryFAM):
            date_to = fam.LearnDelFAMDateTo
            if fam.LearnDelFAMType != "ACT" and date_to is not None and date_to > ended:
                yield (
                    f"{path}/LearningDeliveryFAM/{index}",
                    f"{fam.LearnDelFAMType} DateTo {date_to} is after LearnActEndDate {ended}",
                )


@rule(
    "LearnDelFAMDateTo_05",
    checks="an FM36 aim's ACT record does not end after the aim's AchDate",
    source=f"{GUIDANCE}LearnDelFAMDateTo_05 ; "
    f"{ESFA_CODE}LearningDelivery/LearnDelFAMDateTo/LearnDelFAMDateTo_05Rule.cs",
)
def learn_del_fam_date_to_05(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        achieved = aim.AchDate
        if aim.FundModel != 36 or achieved is None:
            continue
        for index, fam in enumerate(aim.LearningDeliveryFAM):
            date_to = fam.LearnDelFAMDateTo
            if fam.LearnDelFAMType == "ACT" and date_to is not None and date_to > achieved:
                yield (
                    f"{path}/LearningDeliveryFAM/{index}",
                    f"ACT DateTo {date_to} is after AchDate {achieved}",
                )
