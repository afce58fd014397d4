"""Staff-led types that change the learner's employment: new employer, new working hours."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ilrflow.contracts.trackers.base import TrackerChanges
from ilrflow.contracts.trackers.fields import Ern, ShortText, WeeklyHours

EmpStat = Literal[10, 11, 12, 98]
"""ILR EmpStat: 10 paid employment, 11/12 not in paid employment, 98 not known."""


class EmployerDetails(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ern: Ern = Field(description="EmpId, 9 digits; 999999999 when not on the EDS.")
    name: ShortText


def _code_from_text(value: object) -> object:
    # JSON forms often send codes as strings ("10").
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


class ChangeOfEmployer(TrackerChanges):
    """A new LearnerEmploymentStatus from ``effective_date`` (the old one is kept), OET 3.

    Anything other than EmpStat 10 is recorded but changes no ILR data (the ILR service reports
    that as ``no_ilr_change`` with the reason).
    """

    effective_date: date
    employer: EmployerDetails
    weekly_hours: WeeklyHours
    employment_status: Annotated[EmpStat, BeforeValidator(_code_from_text)] = 10


class ChangeOfWorkingHours(TrackerChanges):
    """Dated hours; the ILR engine checks material impact against the tenant's threshold."""

    effective_date: date
    weekly_hours: WeeklyHours
