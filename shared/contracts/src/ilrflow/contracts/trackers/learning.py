"""Staff-led types that change the learner's programme: break, return, change of programme,
withdrawal. The checks here need only the request; checks against the learner's enrolment
(programme window, current break) are in :mod:`ilrflow.contracts.trackers.programme`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from ilrflow.contracts.trackers.base import (
    WITHDRAWAL_REASONS_CONTEXT,
    TrackerChanges,
    context_mapping,
)
from ilrflow.contracts.trackers.fields import FreeText
from ilrflow.contracts.trackers.problems import CrossFieldError
from ilrflow.contracts.trackers.withdrawal_reasons import (
    ESFA_WITHDRAW_REASONS,
    esfa_code_of,
    find_tenant_reason,
    unknown_reason_message,
)

OtjHours = Annotated[
    int,
    Field(
        ge=0,
        le=9999,
        description=(
            "Actual off-the-job hours of the whole apprenticeship so far (every spell before "
            "and after breaks), written as OTJActHours on the programme aim (ILR 0-9999)."
        ),
    ),
]
StandardCode = Annotated[int, Field(ge=1, le=99999, description="LARS StdCode of the standard.")]


class BreakInLearning(TrackerChanges):
    """Agreed break: open aims close with CompStatus 6 and LearnActEndDate = last day.

    ``otj_actual_hours`` is optional: the funding rules ask for actual hours at the end of the
    practical period or when a non-completer leaves, and a break is neither; recorded here, they
    let a tenant restart with the ``remaining`` planned hours.
    """

    last_day_of_learning: date
    expected_return_date: date
    reason: FreeText
    otj_actual_hours: OtjHours | None = None

    @model_validator(mode="after")
    def _return_after_break(self) -> Self:
        if self.expected_return_date <= self.last_day_of_learning:
            raise CrossFieldError([("expected_return_date", "must be after last_day_of_learning")])
        return self


class ReturnToLearning(TrackerChanges):
    """Return from an agreed break: new aims (RES=1) starting on ``return_date``.

    ``planned_end_date`` overrides the recalculated planned end date; the ILR rules need to know
    why, so ``override_reason`` comes with it.
    """

    return_date: date
    planned_end_date: date | None = None
    override_reason: FreeText | None = None

    @model_validator(mode="after")
    def _override_is_explained(self) -> Self:
        problems: list[tuple[str, str]] = []
        if self.planned_end_date is not None:
            if self.planned_end_date <= self.return_date:
                problems.append(("planned_end_date", "must be after return_date"))
            if self.override_reason is None:
                problems.append(
                    (
                        "override_reason",
                        "is required when planned_end_date overrides the "
                        "recalculated planned end date",
                    )
                )
        elif self.override_reason is not None:
            problems.append(("override_reason", "is only for overriding planned_end_date"))
        if problems:
            raise CrossFieldError(problems)
        return self


class ChangeOfProgramme(TrackerChanges):
    """Old aims withdrawn with WithdrawReason 40; the new standard is suggested, enrolment is
    left to staff (planned OTJ hours and duration need checking)."""

    last_day_of_learning: date
    new_standard_code: StandardCode
    otj_actual_hours: OtjHours | None = None


def _reason_as_text(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Withdrawal(TrackerChanges):
    """CompStatus 3, WithdrawReason, Outcome 3, LearnActEndDate = last day of learning.

    ``reason`` is the tenant's own wording or an ESFA code; ``withdraw_reason_code`` is the ESFA
    code it maps to, worked out here so readers of the payload do not need the tenant's mapping.
    """

    last_day_of_learning: date
    reason: Annotated[FreeText, BeforeValidator(_reason_as_text)]
    withdraw_reason_code: int | None = None
    otj_actual_hours: OtjHours | None = None

    @field_validator("withdraw_reason_code")
    @classmethod
    def _is_esfa_code(cls, code: int | None) -> int | None:
        if code is not None and code not in ESFA_WITHDRAW_REASONS:
            raise ValueError(unknown_reason_message(None))
        return code

    @field_validator("reason")
    @classmethod
    def _known_reason(cls, reason: str, info: ValidationInfo) -> str:
        mapping = context_mapping(info, WITHDRAWAL_REASONS_CONTEXT)
        if mapping is None or esfa_code_of(reason) is not None:
            return reason
        found = find_tenant_reason(reason, mapping)
        if found is None:
            raise ValueError(unknown_reason_message(mapping))
        return found[0]

    @model_validator(mode="after")
    def _code_matches_reason(self, info: ValidationInfo) -> Self:
        code = _code_for(self.reason, context_mapping(info, WITHDRAWAL_REASONS_CONTEXT))
        if code is None and self.withdraw_reason_code is None:
            # Without the tenant's mapping only a stored payload (which carries the code) is valid.
            raise CrossFieldError([("reason", unknown_reason_message(None))])
        if code is not None and self.withdraw_reason_code not in (None, code):
            raise CrossFieldError(
                [("withdraw_reason_code", f"does not match reason {self.reason!r} (code {code})")]
            )
        if code is not None:
            self.withdraw_reason_code = code
        return self


def _code_for(reason: str, mapping: Mapping[str, Any] | None) -> int | None:
    code = esfa_code_of(reason)
    if code is None and mapping:
        found = find_tenant_reason(reason, mapping)
        code = found[1] if found else None
    return code
