"""Staff-led types that change the learner's employment: new employer, new working hours, out of
paid employment (redundancy or unemployment)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ilrflow.contracts.trackers.base import TrackerChanges
from ilrflow.contracts.trackers.fields import Ern, ShortText, WeeklyHours
from ilrflow.contracts.trackers.problems import CrossFieldError

EmpStat = Literal[10, 11, 12, 98]
"""ILR EmpStat: 10 paid employment, 11/12 not in paid employment, 98 not known."""
NotInPaidEmployment = Literal[11, 12]
"""ILR EmpStat 11 (looking for work and available) or 12 (not looking and/or not available)."""
ContractType = Literal[1, 2]
"""ILR ACT: 1 funded through the employer's apprenticeship service account (levy), 2 through a
contract with the ESFA (non-levy)."""
IN_PAID_EMPLOYMENT = 10

PriceAmount = Annotated[int, Field(ge=1, le=999999, description="Whole pounds (AFinAmount).")]


class EmployerDetails(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ern: Ern = Field(description="EmpId, 9 digits; 999999999 when not on the EDS.")
    name: ShortText


def _code_from_text(value: object) -> object:
    # JSON forms often send codes as strings ("10").
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


class ResidualPrice(BaseModel):
    """The price agreed with the new employer for what is left to deliver (TNP3 training, TNP4
    assessment, domain.md §3.6)."""

    model_config = ConfigDict(extra="forbid")

    training: PriceAmount
    assessment: PriceAmount


class ChangeOfEmployer(TrackerChanges):
    """A new LearnerEmploymentStatus from ``effective_date`` (the old one is kept), OET 3.

    ``price``: the residual price agreed with the new employer (TNP3/TNP4 from the date);
    ``contract_type``: the ACT under the new employer, when it changes. Anything other than
    EmpStat 10 is recorded but changes no ILR data (the ILR service reports that as
    ``no_ilr_change`` with the reason), so it carries no price or contract type.
    """

    effective_date: date
    employer: EmployerDetails
    weekly_hours: WeeklyHours
    employment_status: Annotated[EmpStat, BeforeValidator(_code_from_text)] = 10
    price: ResidualPrice | None = None
    contract_type: Annotated[ContractType, BeforeValidator(_code_from_text)] | None = None

    @model_validator(mode="after")
    def _price_only_in_paid_employment(self) -> Self:
        if self.employment_status == IN_PAID_EMPLOYMENT:
            return self
        given = [name for name in ("price", "contract_type") if getattr(self, name) is not None]
        reason = "only with employment_status 10 (a new employer the learner works for)"
        if given:
            raise CrossFieldError([(name, reason) for name in given])
        return self


class ChangeOfEmploymentStatus(TrackerChanges):
    """Out of paid employment from ``effective_date``: a new LearnerEmploymentStatus with EmpStat
    11 or 12, no employer, its length of unemployment (LOU) and, after a redundancy, OET 1. The
    aims stay open: the funding rules allow 12 weeks to find a new employer."""

    effective_date: date
    employment_status: Annotated[NotInPaidEmployment, BeforeValidator(_code_from_text)]
    made_redundant: bool = False


class ChangeOfWorkingHours(TrackerChanges):
    """Dated hours; the ILR engine checks material impact against the tenant's threshold."""

    effective_date: date
    weekly_hours: WeeklyHours
