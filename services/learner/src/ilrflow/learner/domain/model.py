"""Learners and staff as the learner service owns them; no I/O here."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from ilrflow.contracts.events import Address, EmployerRef, Enrolment, LearnerSnapshot
from ilrflow.contracts.identity import ROLES
from ilrflow.contracts.trackers import (
    ChangeOfAddress,
    ChangeOfContactDetails,
    ChangeOfEmployer,
    ChangeOfName,
    ChangeOfWorkingHours,
    TrackerChanges,
)
from ilrflow.contracts.trackers.fields import AddressLine, Email, Ern, IlrName, Postcode, TelNo
from ilrflow.ilr_engine import uln_is_valid


def new_learner_id() -> str:
    """12 upper-case alphanumerics: short enough to serve as the ILR LearnRefNumber as it is."""
    return "L" + secrets.token_hex(6)[:11].upper()


def new_enrolment_id() -> str:
    return "E" + secrets.token_hex(6)[:11].upper()


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
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


class LearnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    given_names: IlrName
    family_name: IlrName
    email: Email
    phone: TelNo | None = None
    date_of_birth: date
    uln: str = Field(pattern=r"^[1-9][0-9]{9}$")
    address: AddressIn
    group: str = Field(min_length=1, max_length=64)
    primary_tutor_id: str | None = None

    @field_validator("uln")
    @classmethod
    def _check_digit(cls, uln: str) -> str:
        if not uln_is_valid(uln):
            raise ValueError("ULN check digit is wrong (weighted sum mod 11 must leave 10)")
        return uln

    @field_validator("date_of_birth")
    @classmethod
    def _plausible_birth(cls, born: date) -> date:
        if born >= date.today() or born.year < 1900:
            raise ValueError("date of birth must be in the past")
        return born


class EmployerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ern: Ern = Field(description="Employer reference number (EmpId), 9 digits.")
    name: str = Field(min_length=1, max_length=200)


class EnrolmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    standard_code: int = Field(ge=1, le=9999)
    start_date: date
    planned_end_date: date
    employer: EmployerIn
    weekly_hours: float = Field(gt=0, le=80)
    planned_otj_hours: int = Field(ge=0, le=9999)

    @model_validator(mode="after")
    def _dates_in_order(self) -> EnrolmentIn:
        if self.planned_end_date <= self.start_date:
            raise ValueError("planned_end_date must be after start_date")
        return self

    def to_enrolment(self, enrolment_id: str) -> Enrolment:
        return Enrolment(
            id=enrolment_id,
            standard_code=self.standard_code,
            start_date=self.start_date,
            planned_end_date=self.planned_end_date,
            employer=EmployerRef(ern=self.employer.ern, name=self.employer.name),
            weekly_hours=self.weekly_hours,
            planned_otj_hours=self.planned_otj_hours,
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
