"""Staff-led types for the end of a programme and a fresh start after leaving: completion of the
practical period, the end-point assessment's result, a restart after a withdrawal. The checks here
need only the request; checks against the learner's programme (awaiting the EPA, withdrawn) are in
:mod:`ilrflow.contracts.trackers.programme`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ilrflow.contracts.trackers.base import TrackerChanges
from ilrflow.contracts.trackers.learning import OtjHours, StandardCode
from ilrflow.contracts.trackers.problems import CrossFieldError

PriceAmount = Annotated[int, Field(ge=0, le=999999, description="Whole pounds (AFinAmount).")]


class Completion(TrackerChanges):
    """The end of the practical period (gateway): the programme aim is returned with CompStatus 2,
    Outcome 8 (learning complete, outcome not yet known) and LearnActEndDate
    ``practical_period_end``, before the end-point assessment. The funding rules want the actual
    off-the-job hours at the end of the practical period (P49), so they are required here."""

    practical_period_end: date
    otj_actual_hours: OtjHours


class EpaResult(TrackerChanges):
    """The end-point assessment's result for a learner awaiting it (CompStatus 2, Outcome 8):
    a pass gives Outcome 1 and AchDate ``achievement_date``, a fail Outcome 3."""

    achievement_date: date = Field(description="The day the end-point assessment was completed.")
    result: Literal["pass", "fail"]


class RestartPrice(BaseModel):
    """The price agreed for the restarted programme (TNP1 training, TNP2 assessment)."""

    model_config = ConfigDict(extra="forbid")

    training: PriceAmount
    assessment: PriceAmount


class RestartAfterWithdrawal(TrackerChanges):
    """A learner who was withdrawn starts again without an agreed break: a new programme aim with
    RES=1 and no OrigLearnStartDate (so duration and minimums count from ``restart_date``), a new
    price, and ``standard_code`` (the withdrawn programme's standard when left out)."""

    restart_date: date
    planned_end_date: date
    planned_otj_hours: Annotated[
        int, Field(ge=0, le=9999, description="PHours of the restarted programme aim.")
    ]
    price: RestartPrice
    standard_code: StandardCode | None = None

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Self:
        if self.planned_end_date <= self.restart_date:
            raise CrossFieldError([("planned_end_date", "must be after restart_date")])
        return self
