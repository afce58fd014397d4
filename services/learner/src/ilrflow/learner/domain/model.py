"""Learners and staff as the learner service owns them; no I/O here."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ilrflow.contracts.events import (
    Address,
    EmployerRef,
    Employment,
    Enrolment,
    LearnerSnapshot,
    Price,
    employment_date_before,
)
from ilrflow.contracts.identity import ROLES
from ilrflow.contracts.trackers import (
    ChangeOfAddress,
    ChangeOfContactDetails,
    ChangeOfEmployer,
    ChangeOfName,
    ChangeOfWorkingHours,
    Correction,
    TrackerChanges,
)
from ilrflow.contracts.trackers.fields import (
    ETHNICITY_NOT_PROVIDED,
    HAS_LLDD_HEALTH_PROBLEM,
    LLDD_HEALTH_PROBLEM_NOT_PROVIDED,
    LLDD_MAX_RECORDS,
    AddressLine,
    AgreementId,
    DateOfBirth,
    Email,
    Ern,
    Ethnicity,
    GroupName,
    IlrName,
    LengthOfEmployment,
    LlddCategory,
    LlddHealthProblem,
    NiNumber,
    Postcode,
    PriceAmount,
    PriorLevel,
    Sex,
    StaffId,
    TelNo,
    Uln,
)


def new_learner_id() -> str:
    """12 upper-case alphanumerics: short enough to serve as the ILR LearnRefNumber as it is."""
    return "L" + secrets.token_hex(6)[:11].upper()


def new_enrolment_id() -> str:
    return "E" + secrets.token_hex(6)[:11].upper()


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: StaffId
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    roles: list[str] = Field(min_length=1)
    groups: list[str] = Field(default_factory=list)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        unknown = [r for r in roles if r not in ROLES or r == "learner"]
        if unknown:
            raise ValueError(
                f"unknown staff role(s) {unknown}; use {[r for r in ROLES if r != 'learner']}"
            )
        return roles


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[AddressLine] = Field(min_length=1, max_length=4)
    postcode: Postcode


def broken_ilr_rule(rule: str, message: str) -> PydanticCustomError:
    """A refusal that names the ESFA validation rule the input would break."""
    return PydanticCustomError("ilr_rule", f"{rule}: {message}")


class LearnerIn(BaseModel):
    """A new learner. Sex has no default: the ILR has no "not known" code for it. Ethnicity and
    LLDD default to the ILR's own "not provided" codes (99 and 9)."""

    model_config = ConfigDict(extra="forbid")

    given_names: IlrName
    family_name: IlrName
    email: Email
    phone: TelNo | None = None
    date_of_birth: DateOfBirth
    uln: Uln
    address: AddressIn
    group: GroupName
    primary_tutor_id: StaffId | None = None
    sex: Sex = Field(description="ILR Sex: F or M. Required: the ILR has no 'not known' code.")
    ethnicity: Ethnicity = Field(
        default=ETHNICITY_NOT_PROVIDED, description="ILR Ethnicity code; 99 (not provided)."
    )
    lldd_health_problem: LlddHealthProblem = Field(
        default=LLDD_HEALTH_PROBLEM_NOT_PROVIDED,
        description="ILR LLDDHealthProb: 1 yes, 2 no, 9 (default) not provided.",
    )
    lldd_categories: list[LlddCategory] = Field(
        default_factory=list,
        validate_default=True,
        max_length=LLDD_MAX_RECORDS,
        description="ILR LLDDCat codes; required when lldd_health_problem is 1, else empty.",
    )
    primary_lldd: LlddCategory | None = Field(
        default=None,
        validate_default=True,
        description="The primary category: one of lldd_categories (required with them).",
    )
    ni_number: NiNumber | None = None
    prior_attainment: PriorLevel | None = Field(
        default=None, description="ILR PriorLevel code (98: not known)."
    )

    @field_validator("lldd_categories")
    @classmethod
    def _categories_match_lldd(cls, categories: list[int], info: ValidationInfo) -> list[int]:
        has_problem = info.data.get("lldd_health_problem") == HAS_LLDD_HEALTH_PROBLEM
        if has_problem and not categories:
            raise broken_ilr_rule(
                "LLDDHealthProb_06", "give at least one category when lldd_health_problem is 1"
            )
        if categories and not has_problem:
            raise ValueError("categories are only taken when lldd_health_problem is 1")
        if len(set(categories)) != len(categories):
            raise ValueError("each category may be given once")
        return categories

    @field_validator("primary_lldd")
    @classmethod
    def _primary_is_one_of_them(cls, primary: int | None, info: ValidationInfo) -> int | None:
        categories = info.data.get("lldd_categories")
        if categories is None:
            return primary  # the categories were refused already
        if categories and primary is None:
            raise broken_ilr_rule("PrimaryLLDD_01", "name the primary one of lldd_categories")
        if primary is not None and primary not in categories:
            raise ValueError("must be one of lldd_categories")
        return primary


class EmployerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ern: Ern = Field(description="Employer reference number (EmpId), 9 digits.")
    name: str = Field(min_length=1, max_length=200)


class PriceIn(BaseModel):
    """The total negotiated price (ILR TNP1 and TNP2), in whole pounds."""

    model_config = ConfigDict(extra="forbid")

    training: PriceAmount
    assessment: PriceAmount


class EmploymentIn(BaseModel):
    """The employment status that applies when the apprenticeship starts."""

    model_config = ConfigDict(extra="forbid")

    date_from: date | None = Field(
        default=None,
        description="When this employment status applies from; before start_date (EmpStat_09). "
        "Not given: the day before start_date.",
    )
    length_of_employment: LengthOfEmployment
    small_employer: bool = Field(default=False, description="ESM SEM 1 when true.")


class EnrolmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    standard_code: int = Field(ge=1, le=9999)
    start_date: date
    planned_end_date: date
    employer: EmployerIn
    weekly_hours: float = Field(gt=0, le=80)
    planned_otj_hours: int = Field(ge=0, le=9999)
    price: PriceIn = Field(description="Required: AFinType_12 refuses a programme aim without TNP.")
    employment: EmploymentIn
    agreement_id: AgreementId | None = Field(
        default=None, description="Employer Agreement ID from the apprenticeship service."
    )
    delivery_postcode: Postcode | None = Field(
        default=None,
        description="Where the learning is delivered; ZZ99 9ZZ (unknown) if not given.",
    )

    @field_validator("employment")
    @classmethod
    def _employed_before_the_start(
        cls, employment: EmploymentIn, info: ValidationInfo
    ) -> EmploymentIn:
        start = info.data.get("start_date")
        if start is not None and employment.date_from is not None and employment.date_from >= start:
            raise broken_ilr_rule("EmpStat_09", "employment.date_from must be before start_date")
        return employment

    @model_validator(mode="after")
    def _dates_in_order(self) -> EnrolmentIn:
        if self.planned_end_date <= self.start_date:
            raise ValueError("planned_end_date must be after start_date")
        return self

    def to_enrolment(self, enrolment_id: str) -> Enrolment:
        employment = self.employment
        return Enrolment(
            id=enrolment_id,
            standard_code=self.standard_code,
            start_date=self.start_date,
            planned_end_date=self.planned_end_date,
            employer=EmployerRef(ern=self.employer.ern, name=self.employer.name),
            weekly_hours=self.weekly_hours,
            planned_otj_hours=self.planned_otj_hours,
            price=Price(training=self.price.training, assessment=self.price.assessment),
            employment=Employment(
                date_from=employment.date_from or employment_date_before(self.start_date),
                length_of_employment=employment.length_of_employment,
                small_employer=employment.small_employer,
            ),
            agreement_id=self.agreement_id,
            delivery_postcode=self.delivery_postcode,
        )


def snapshot_from_input(learner_id: str, data: LearnerIn) -> LearnerSnapshot:
    return LearnerSnapshot(
        id=learner_id,
        given_names=data.given_names,
        family_name=data.family_name,
        email=str(data.email),
        phone=data.phone,
        date_of_birth=data.date_of_birth,
        uln=data.uln,
        address=Address(lines=data.address.lines, postcode=data.address.postcode),
        group=data.group,
        primary_tutor_id=data.primary_tutor_id,
        sex=data.sex,
        ethnicity=data.ethnicity,
        lldd_health_problem=data.lldd_health_problem,
        lldd_categories=data.lldd_categories,
        primary_lldd=data.primary_lldd,
        ni_number=data.ni_number,
        prior_attainment=data.prior_attainment,
    )


def apply_processed_tracker(
    learner: LearnerSnapshot, changes: TrackerChanges | None
) -> tuple[LearnerSnapshot, list[str]]:
    """The master-record change a processed tracker makes (its ``changes`` loaded with the
    catalogue's model; None for a custom type); returns the new record and the fields it changed.
    Programme-level types change only the enrolment's employer and hours here; their ILR effect
    is the ILR service's business."""
    updates: dict[str, Any] = {}
    match changes:
        case ChangeOfName(given_names=given, family_name=family):
            updates = {"given_names": given, "family_name": family}
        case ChangeOfAddress(address=address):
            updates = {"address": Address(lines=address.lines, postcode=address.postcode)}
        case ChangeOfContactDetails(email=email, phone=phone):
            updates = {"email": str(email)} | ({"phone": phone} if phone is not None else {})
        case ChangeOfEmployer(employer=employer, weekly_hours=hours):
            ref = EmployerRef(ern=employer.ern, name=employer.name)
            return _with_current_enrolment_changed(
                learner, {"employer": ref, "weekly_hours": hours}
            )
        case ChangeOfWorkingHours(weekly_hours=hours):
            return _with_current_enrolment_changed(learner, {"weekly_hours": hours})
        case Correction():
            # The ULN, date of birth, sex and ethnicity go to the ILR from here too: a later
            # enrolment refreshes the ILR's personal fields from this record.
            updates = changes.corrected()
    changed = [k for k, v in updates.items() if getattr(learner, k) != v]
    return learner.model_copy(update=updates), changed


def _with_current_enrolment_changed(
    learner: LearnerSnapshot, updates: dict[str, Any]
) -> tuple[LearnerSnapshot, list[str]]:
    if not learner.enrolments:
        return learner, []
    current = learner.enrolments[-1]
    updated = current.model_copy(update=updates)
    if updated == current:
        return learner, []
    enrolments = [*learner.enrolments[:-1], updated]
    return learner.model_copy(update={"enrolments": enrolments}), ["enrolments"]
