"""AppFinRecord rules: the apprenticeship's price on its programme aim (domain.md §3.6)."""

from __future__ import annotations

from collections.abc import Iterator

from ilrflow.ilr_engine.esfa_rules.registry import ESFA_CODE, GUIDANCE, Breach, Context, rule
from ilrflow.ilr_engine.esfa_rules.scope import aims, is_funded_apprenticeship, is_programme_aim
from ilrflow.ilr_engine.records import Aim, Learner

# TNP1-4 total/residual training and assessment prices; PMR1-3 payments.
VALID_CODES = {"TNP": frozenset({1, 2, 3, 4}), "PMR": frozenset({1, 2, 3})}


def _priced_programmes(learner: Learner) -> Iterator[tuple[str, Aim]]:
    for path, aim in aims(learner):
        if is_funded_apprenticeship(aim) and is_programme_aim(aim):
            yield path, aim


@rule(
    "AFinType_01",
    checks="every AppFinRecord's AFinType and AFinCode are a valid pair (TNP 1-4, PMR 1-3)",
    source=f"{GUIDANCE}AFinType_01 ; {ESFA_CODE}LearningDelivery/AFinType/AFinType_01Rule.cs",
)
def a_fin_type_01(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        for index, record in enumerate(aim.AppFinRecord):
            if record.AFinCode not in VALID_CODES.get(record.AFinType, frozenset()):
                yield (
                    f"{path}/AppFinRecord/{index}",
                    f"{record.AFinType}{record.AFinCode} is not a valid financial record type",
                )


@rule(
    "AFinType_12",
    checks="an FM36 programme aim has a total negotiated price (a TNP AppFinRecord)",
    source=f"{GUIDANCE}AFinType_12 ; {ESFA_CODE}LearningDelivery/AFinType/AFinType_12Rule.cs",
)
def a_fin_type_12(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in _priced_programmes(learner):
        if not any(r.AFinType == "TNP" for r in aim.AppFinRecord):
            yield f"{path}/AppFinRecord", "the programme aim has no TNP price"


@rule(
    "AFinType_13",
    checks="an FM36 programme aim has a TNP dated on its LearnStartDate",
    source=f"{GUIDANCE}AFinType_13 ; {ESFA_CODE}LearningDelivery/AFinType/AFinType_13Rule.cs",
)
def a_fin_type_13(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in _priced_programmes(learner):
        prices = [r for r in aim.AppFinRecord if r.AFinType == "TNP"]
        if not any(r.AFinDate == aim.LearnStartDate for r in prices):
            yield f"{path}/AppFinRecord", f"no TNP is dated on the start {aim.LearnStartDate}"


@rule(
    "AFinType_14",
    checks="a programme aim with a training payment (PMR1) has a training price (TNP1 or TNP3)",
    source=f"{GUIDANCE}AFinType_14 ; {ESFA_CODE}LearningDelivery/AFinType/AFinType_14Rule.cs",
)
def a_fin_type_14(learner: Learner, _: Context) -> Iterator[Breach]:
    for path, aim in aims(learner):
        records = {(r.AFinType, r.AFinCode) for r in aim.AppFinRecord}
        priced = ("TNP", 1) in records or ("TNP", 3) in records
        if is_programme_aim(aim) and ("PMR", 1) in records and not priced:
            yield f"{path}/AppFinRecord", "a PMR1 payment without a TNP1 or TNP3 price"
