"""Learner-led types: change of name, address and contact details (ILR learner fields)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ilrflow.contracts.trackers.base import TrackerChanges
from ilrflow.contracts.trackers.fields import AddressLine, Email, IlrName, Postcode, TelNo


class ChangeOfName(TrackerChanges):
    """New GivenNames and FamilyName, exactly as they should appear on the certificate."""

    given_names: IlrName
    family_name: IlrName
    legal_change: bool = Field(
        default=True, description="A legal change of name (evidence expected), as Aptem asks."
    )


class NewAddress(BaseModel):
    """AddLine1-4 and Postcode. PostcodePrior is never changed by a move (ILR rule)."""

    model_config = ConfigDict(extra="forbid")

    lines: list[AddressLine] = Field(description="1-4 lines; blank lines are dropped.")
    postcode: Postcode

    @field_validator("lines", mode="after")
    @classmethod
    def _one_to_four_lines(cls, lines: list[str]) -> list[str]:
        # Forms send empty 'Address 2'/'County' boxes; they are not lines of the address.
        kept = [line for line in lines if line]
        if not 1 <= len(kept) <= 4:
            raise ValueError(f"must have 1 to 4 non-blank lines, not {len(kept)}")
        return kept


class ChangeOfAddress(TrackerChanges):
    address: NewAddress


class ChangeOfContactDetails(TrackerChanges):
    """Email (required by the ILR for this change) and TelNo (optional, digits only)."""

    email: Email
    phone: TelNo | None = None
