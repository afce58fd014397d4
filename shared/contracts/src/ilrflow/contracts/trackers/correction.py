"""Correction: learner details recorded wrongly, put right by staff, each with the reason.

The ILR-bearing ones (ULN, date of birth, sex, ethnicity) change the ILR's Learner entity and are
QA-locked like programme changes; the group and the primary tutor live in the master record only
and move who sees the learner and who is told of their trackers.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from ilrflow.contracts.trackers.base import TrackerChanges
from ilrflow.contracts.trackers.fields import (
    DateOfBirth,
    Ethnicity,
    FreeText,
    GroupName,
    Sex,
    StaffId,
    Uln,
)

ILR_CORRECTION_FIELDS = ("uln", "date_of_birth", "sex", "ethnicity")
"""The corrections that change the ILR (ULN, DateOfBirth, Sex, Ethnicity)."""
CORRECTION_FIELDS = (*ILR_CORRECTION_FIELDS, "group", "primary_tutor_id")


class Correction(TrackerChanges):
    """One or more corrected details; what is left out stays as it is."""

    uln: Uln | None = Field(default=None, description="ILR ULN: 10 digits, ESFA check digit.")
    date_of_birth: DateOfBirth | None = Field(default=None, description="ILR DateOfBirth.")
    sex: Sex | None = Field(default=None, description="ILR Sex: F or M.")
    ethnicity: Ethnicity | None = Field(default=None, description="ILR Ethnicity code.")
    group: GroupName | None = Field(
        default=None, description="The learner's group: who sees the learner."
    )
    primary_tutor_id: StaffId | None = Field(
        default=None, description="A tutor of the tenant: who is told of the learner's trackers."
    )
    reason: FreeText = Field(description="Why the recorded value was wrong (kept in the audit).")

    @model_validator(mode="after")
    def _corrects_something(self) -> Correction:
        if all(getattr(self, name) is None for name in CORRECTION_FIELDS):
            raise ValueError(f"give at least one of {', '.join(CORRECTION_FIELDS)}")
        return self

    def corrected(self) -> dict[str, object]:
        """The fields this correction sets, by name."""
        values = {name: getattr(self, name) for name in CORRECTION_FIELDS}
        return {name: value for name, value in values.items() if value is not None}
