"""Typed models of the ILR learner record (domain.md §3.1-§3.6), field names = XSD element names.

Fields are declared in XSD sequence order, so the XML export can walk them as they are. Only the
elements ilrflow reads or writes are modelled; ``extra="forbid"`` makes anything else fail loudly
instead of vanishing from an export. The services exchange the JSON form (:data:`IlrLearner`):
dates as ISO strings, absent optional fields omitted.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ilrflow.ilr_engine.patch import JsonPatch, json_patch

# AimType 1: the programme aim, which carries the apprenticeship's dates, price and outcome.
PROGRAMME_AIM_TYPE = 1

IlrLearner = dict[str, Any]

APPLIED_TRACKERS_KEY = "_applied_trackers"
"""A key only records stored by earlier versions carry (the ids of the trackers applied to them).

Duplicates are now told by the event id alone (the ILR service's ``applied_events``), so the key
is no longer written or read for any decision: :func:`load` drops it, :func:`published` hides it
on a record not written since, and the next version is stored without it."""


class IlrModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PriorAttainment(IlrModel):
    """PriorAttain: the learner's prior attainment level, dated when it applies (domain.md §3.1)."""

    PriorLevel: int
    DateLevelApp: date


class LlddProblem(IlrModel):
    """LLDDandHealthProblem: a category, one of them marked primary (PrimaryLLDD 1)."""

    LLDDCat: int
    PrimaryLLDD: int | None = None


class Esm(IlrModel):
    ESMType: str
    ESMCode: int


class EmploymentStatus(IlrModel):
    EmpStat: int
    DateEmpStatApp: date
    EmpId: int | None = None
    EmploymentStatusMonitoring: list[Esm] = Field(default_factory=list)

    def esm_code(self, esm_type: str) -> int | None:
        return next(
            (m.ESMCode for m in self.EmploymentStatusMonitoring if m.ESMType == esm_type), None
        )


class Fam(IlrModel):
    LearnDelFAMType: str
    LearnDelFAMCode: str
    LearnDelFAMDateFrom: date | None = None
    LearnDelFAMDateTo: date | None = None


class FinRecord(IlrModel):
    AFinType: str
    AFinCode: int
    AFinDate: date
    AFinAmount: int


class Aim(IlrModel):
    LearnAimRef: str
    AimType: int
    AimSeqNumber: int
    LearnStartDate: date
    OrigLearnStartDate: date | None = None
    LearnPlanEndDate: date
    FundModel: int
    PHours: int | None = None
    OTJActHours: int | None = None
    ProgType: int | None = None
    StdCode: int | None = None
    DelLocPostCode: str
    PriorLearnFundAdj: int | None = None
    ConRefNumber: str | None = None
    EPAOrgID: str | None = None
    CompStatus: int
    LearnActEndDate: date | None = None
    WithdrawReason: int | None = None
    Outcome: int | None = None
    AchDate: date | None = None
    OutGrade: str | None = None
    SWSupAimId: str | None = None
    LearningDeliveryFAM: list[Fam] = Field(default_factory=list)
    AppFinRecord: list[FinRecord] = Field(default_factory=list)

    @property
    def original_start(self) -> date:
        """The start that decides the funding rules: OrigLearnStartDate for restarts (§4.5)."""
        return self.OrigLearnStartDate or self.LearnStartDate

    @property
    def is_open(self) -> bool:
        return self.CompStatus == 1 and self.LearnActEndDate is None

    @property
    def is_restart(self) -> bool:
        return any(f.LearnDelFAMType == "RES" for f in self.LearningDeliveryFAM)

    def fams(self, fam_type: str) -> list[Fam]:
        return [f for f in self.LearningDeliveryFAM if f.LearnDelFAMType == fam_type]


class Learner(IlrModel):
    LearnRefNumber: str
    ULN: int
    FamilyName: str | None = None
    GivenNames: str | None = None
    DateOfBirth: date | None = None
    Ethnicity: int | None = None
    Sex: str | None = None
    LLDDHealthProb: int | None = None
    NINumber: str | None = None
    PostcodePrior: str
    Postcode: str
    AddLine1: str | None = None
    AddLine2: str | None = None
    AddLine3: str | None = None
    AddLine4: str | None = None
    TelNo: str | None = None
    Email: str | None = None
    PriorAttain: list[PriorAttainment] = Field(default_factory=list)
    LLDDandHealthProblem: list[LlddProblem] = Field(default_factory=list)
    LearnerEmploymentStatus: list[EmploymentStatus] = Field(default_factory=list)
    LearningDelivery: list[Aim] = Field(default_factory=list)

    def next_aim_seq_number(self) -> int:
        return max((aim.AimSeqNumber for aim in self.LearningDelivery), default=0) + 1

    def open_aims(self) -> list[Aim]:
        return [aim for aim in self.LearningDelivery if aim.is_open]

    def aims_on_break(self) -> list[Aim]:
        """Aims with CompStatus 6 that no later restart (RES) aim has taken over yet."""
        return [
            aim for aim in self.LearningDelivery if aim.CompStatus == 6 and not self._restarted(aim)
        ]

    def _restarted(self, aim: Aim) -> bool:
        return any(
            later.AimSeqNumber > aim.AimSeqNumber
            and later.is_restart
            and later.LearnAimRef == aim.LearnAimRef
            and later.original_start == aim.original_start
            for later in self.LearningDelivery
        )

    def aim_history(self, aim: Aim) -> list[Aim]:
        """``aim`` and every earlier aim it restarts after a break (the same LearnAimRef and
        original start), oldest first: the spells of learning on that aim."""
        return sorted(
            (
                earlier
                for earlier in self.LearningDelivery
                if earlier.AimSeqNumber <= aim.AimSeqNumber
                and earlier.LearnAimRef == aim.LearnAimRef
                and earlier.original_start == aim.original_start
            ),
            key=lambda earlier: earlier.AimSeqNumber,
        )

    def status_on(self, day: date) -> EmploymentStatus | None:
        """The employment status record that applies on ``day`` (the latest dated on or before)."""
        applying = [s for s in self.LearnerEmploymentStatus if s.DateEmpStatApp <= day]
        return max(applying, key=lambda s: s.DateEmpStatApp, default=None)

    def latest_status(self) -> EmploymentStatus | None:
        return max(self.LearnerEmploymentStatus, key=lambda s: s.DateEmpStatApp, default=None)

    def programme_aim(self, aims: list[Aim]) -> Aim | None:
        return next(
            (aim for aim in aims if aim.AimType == PROGRAMME_AIM_TYPE), aims[0] if aims else None
        )


def load(record: IlrLearner) -> Learner:
    """Parse the JSON form; raises pydantic.ValidationError (a ValueError) if it is not one.

    An old record's ``_applied_trackers`` is dropped here, so the learner never holds it."""
    return Learner.model_validate(published(record))


def dump(learner: Learner) -> IlrLearner:
    """The JSON form: ISO dates, no None values, no empty lists."""
    document: IlrLearner = _without_empties(
        learner.model_dump(mode="json", by_alias=True, exclude_none=True)
    )
    return document


def published(record: IlrLearner) -> IlrLearner:
    """The record as anyone outside the ILR service sees it: without an old record's
    ``_applied_trackers``.

    The one place that strips it; the HTTP view, ``ilr-state`` and :func:`published_patch` all
    go through here, so a patch always applies to the published record.
    """
    return {key: value for key, value in record.items() if key != APPLIED_TRACKERS_KEY}


def published_patch(old: IlrLearner | None, new: IlrLearner) -> JsonPatch:
    """The RFC 6902 patch from the published ``old`` record (None: no record yet) to ``new``.

    The one computation of an outcome's patch: :func:`ilrflow.ilr_engine.apply_tracker` returns
    it (the ILR service publishes it on ``ilr-updated``, keeps it in the history, and the tracker
    shows it as its ``ilr_outcome``), the enrolment's version uses it, and the tracker preview's
    dry run gets it from the same code path, so the previewed patch is the applied one."""
    return json_patch(published(old or {}), published(new))


def _without_empties(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_empties(v) for k, v in value.items() if v != []}
    if isinstance(value, list):
        return [_without_empties(item) for item in value]
    return value
