"""The tracker catalogue: every built-in type, its metadata, and :func:`parse_changes`.

The tracker service validates ``POST /v1/trackers`` with :func:`parse_changes`; other services
read a stored or published ``changes`` object with the same models, so one piece of code says
what a valid change is.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import ValidationError

from ilrflow.contracts.trackers.base import WITHDRAWAL_REASONS_CONTEXT, TrackerChanges
from ilrflow.contracts.trackers.completion import Completion, EpaResult, RestartAfterWithdrawal
from ilrflow.contracts.trackers.correction import ILR_CORRECTION_FIELDS, Correction
from ilrflow.contracts.trackers.custom import (
    CustomChanges,
    CustomTypeDefinition,
    custom_problems,
    parse_custom,
)
from ilrflow.contracts.trackers.employment import (
    ChangeOfEmployer,
    ChangeOfEmploymentStatus,
    ChangeOfWorkingHours,
)
from ilrflow.contracts.trackers.learning import (
    BreakInLearning,
    ChangeOfProgramme,
    ReturnToLearning,
    Withdrawal,
)
from ilrflow.contracts.trackers.personal import (
    ChangeOfAddress,
    ChangeOfContactDetails,
    ChangeOfName,
)
from ilrflow.contracts.trackers.problems import (
    CHANGES_ROOT,
    ChangesInvalid,
    problem,
    problems_from_validation_error,
    raise_if_any,
)

ChangesModel = TrackerChanges | CustomChanges


# A tenant's own types are named "custom:<name>" wherever a type name travels (requests, events,
# the ILR engine's CUSTOM_PREFIX), so they can never be mistaken for a built-in type.
CUSTOM_PREFIX = "custom:"

LEARNER_AND_STAFF = frozenset({"learner", "tutor", "admin"})
TUTORS_AND_ADMINS = frozenset({"tutor", "admin"})
ADMINS = frozenset({"admin"})


@dataclass(frozen=True)
class TrackerTypeInfo:
    """What the catalogue knows about a type, before any tenant configuration."""

    name: str
    title: str
    description: str
    learner_led: bool
    programme_changing: bool
    changes_model: type[TrackerChanges] | None
    default_raise_roles: frozenset[str] = TUTORS_AND_ADMINS
    default_edit_roles: frozenset[str] = ADMINS
    default_process_roles: frozenset[str] = ADMINS
    changes_ilr: bool = True
    custom: bool = False
    qa_locked_fields: frozenset[str] = frozenset()

    def qa_locked(self, changes: Mapping[str, Any]) -> bool:
        """Once the ILR is QA-verified, does processing a tracker of this type with these
        ``changes`` need the ilr_qa role? Programme changes always do; other types when they
        set one of their ``qa_locked_fields`` (the ILR fields a correction changes)."""
        return self.programme_changing or any(
            changes.get(name) is not None for name in self.qa_locked_fields
        )


def _learner_led(
    name: str, title: str, description: str, model: type[TrackerChanges]
) -> TrackerTypeInfo:
    return TrackerTypeInfo(
        name,
        title,
        description,
        learner_led=True,
        programme_changing=False,
        changes_model=model,
        default_raise_roles=LEARNER_AND_STAFF,
    )


def _staff_led(
    name: str, title: str, description: str, model: type[TrackerChanges], *, programme: bool
) -> TrackerTypeInfo:
    return TrackerTypeInfo(
        name,
        title,
        description,
        learner_led=False,
        programme_changing=programme,
        changes_model=model,
    )


# programme_changing marks the types that change learning aims, programme status or the prices
# on the programme aim: once the ILR is QA-verified they need a processor with the ilr_qa role.
TRACKER_TYPES: dict[str, TrackerTypeInfo] = {
    info.name: info
    for info in (
        _learner_led(
            "change_of_name",
            "Change of name",
            "New given names and family name (ILR GivenNames, FamilyName).",
            ChangeOfName,
        ),
        _learner_led(
            "change_of_address",
            "Change of address",
            "New address lines and postcode (ILR AddLine1-4, Postcode; never PostcodePrior).",
            ChangeOfAddress,
        ),
        _learner_led(
            "change_of_contact_details",
            "Change of contact details",
            "New email (required) and telephone number (ILR Email, TelNo).",
            ChangeOfContactDetails,
        ),
        _staff_led(
            "break_in_learning",
            "Break in learning",
            "Agreed break: open aims close with CompStatus 6 at the last day of learning.",
            BreakInLearning,
            programme=True,
        ),
        _staff_led(
            "return_to_learning",
            "Return to learning",
            "Return from a break: new aims with RES=1, OrigLearnStartDate and a "
            "recalculated planned end date (overridable with a reason).",
            ReturnToLearning,
            programme=True,
        ),
        _staff_led(
            "change_of_employer",
            "Change of employer",
            "New employment status from the change date (EmpId, EII, OET 3), the residual "
            "price (TNP3/TNP4) and contract type (ACT) when given; on a break, the learner "
            "returns with the new employer. Minimum OTJ recomputed over both periods.",
            ChangeOfEmployer,
            programme=True,
        ),
        _staff_led(
            "change_of_employment_status",
            "Change of employment status",
            "Out of paid employment (EmpStat 11/12, LOU, OET 1 after a redundancy) from a date; "
            "the aims stay open, and after 12 weeks without an employer a break or withdrawal "
            "is needed.",
            ChangeOfEmploymentStatus,
            programme=False,
        ),
        _staff_led(
            "change_of_working_hours",
            "Change of working hours",
            "Dated weekly hours, checked for material impact against the tenant's "
            "threshold; PHours never changes.",
            ChangeOfWorkingHours,
            programme=False,
        ),
        _staff_led(
            "change_of_programme",
            "Change of programme",
            "Old aims withdrawn with WithdrawReason 40; the new standard is suggested "
            "and staff enrol the learner.",
            ChangeOfProgramme,
            programme=True,
        ),
        _staff_led(
            "withdrawal",
            "Withdrawal",
            "CompStatus 3, WithdrawReason (tenant reason mapped to the ESFA code), "
            "Outcome 3, LearnActEndDate.",
            Withdrawal,
            programme=True,
        ),
        TrackerTypeInfo(
            "correction",
            "Correction",
            "Corrects ULN, date of birth, sex or ethnicity (ILR Learner; QA-locked), the group "
            "or the primary tutor, with the reason.",
            learner_led=False,
            programme_changing=False,
            changes_model=Correction,
            default_raise_roles=ADMINS,
            qa_locked_fields=frozenset(ILR_CORRECTION_FIELDS),
        ),
        _staff_led(
            "completion",
            "Completion of the practical period",
            "End of the practical period: the programme aim gets CompStatus 2, Outcome 8 "
            "(awaiting the end-point assessment), LearnActEndDate and OTJActHours.",
            Completion,
            programme=True,
        ),
        _staff_led(
            "epa_result",
            "End-point assessment result",
            "For a learner awaiting the EPA: a pass gives Outcome 1 and AchDate, a fail Outcome 3.",
            EpaResult,
            programme=True,
        ),
        _staff_led(
            "restart_after_withdrawal",
            "Restart after a withdrawal",
            "A withdrawn learner starts again: a new programme aim with RES=1, no "
            "OrigLearnStartDate, a new planned end date, planned OTJ hours and price.",
            RestartAfterWithdrawal,
            programme=True,
        ),
    )
}


def custom_type_name(definition: CustomTypeDefinition) -> str:
    """The tracker type name of a custom type: ``custom:<name>``."""
    return CUSTOM_PREFIX + definition.name


def custom_definition(
    tracker_type: str, custom_types: Mapping[str, CustomTypeDefinition] | None
) -> CustomTypeDefinition | None:
    """The definition behind ``custom:<name>``, or None (also for a bare ``<name>``)."""
    if not tracker_type.startswith(CUSTOM_PREFIX):
        return None
    return (custom_types or {}).get(tracker_type.removeprefix(CUSTOM_PREFIX))


def custom_type_info(definition: CustomTypeDefinition) -> TrackerTypeInfo:
    return TrackerTypeInfo(
        name=custom_type_name(definition),
        title=definition.title,
        description=definition.description,
        learner_led=False,
        programme_changing=False,
        changes_model=None,
        changes_ilr=False,
        custom=True,
    )


def type_info(
    tracker_type: str, custom_types: Mapping[str, CustomTypeDefinition] | None = None
) -> TrackerTypeInfo | None:
    """The built-in type of that name, else the tenant's ``custom:<name>`` type, else None."""
    built_in = TRACKER_TYPES.get(tracker_type)
    if built_in is not None:
        return built_in
    definition = custom_definition(tracker_type, custom_types)
    return custom_type_info(definition) if definition is not None else None


CUSTOM_CHANGES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A custom type's changes: one key per field of its form (the type's "
    "`fields`), each checked against that field's definition.",
}


def changes_schema(info: TrackerTypeInfo, ref_template: str | None = None) -> dict[str, Any]:
    """The JSON Schema of this type's ``changes``, generated from the very model that
    :func:`parse_changes` validates with (a custom type's: a generic object). Nested models are
    in ``$defs``, or referred to by ``ref_template`` (e.g. ``#/components/schemas/{model}``)."""
    if info.changes_model is None:
        return copy.deepcopy(CUSTOM_CHANGES_SCHEMA)
    return copy.deepcopy(_model_schema(info.changes_model, ref_template))


@cache
def _model_schema(model: type[TrackerChanges], ref_template: str | None) -> dict[str, Any]:
    if ref_template is None:
        return model.model_json_schema()
    return model.model_json_schema(ref_template=ref_template)


def parse_changes(
    tracker_type: str,
    changes: Any,
    custom_types: Mapping[str, CustomTypeDefinition] | None = None,
    *,
    withdrawal_reasons: Mapping[str, int] | None = None,
) -> ChangesModel:
    """Validate and normalise a tracker's ``changes``; raise :class:`ChangesInvalid` listing
    every problem (``{"field": "changes.address.postcode", "reason": ...}``).

    ``withdrawal_reasons`` is the tenant's ``{local reason: ESFA code}`` mapping; pass it (even
    empty) when validating a request, so a withdrawal's reason must be an ESFA code or one of the
    tenant's reasons. Leave it out when reading a stored or published payload: the reason is then
    trusted as long as the payload carries its ``withdraw_reason_code``.
    """
    custom = custom_types or {}
    built_in = TRACKER_TYPES.get(tracker_type)
    definition = custom_definition(tracker_type, custom)
    if built_in is None and definition is None:
        raise ChangesInvalid([problem("tracker_type", _unknown_type_reason(tracker_type, custom))])
    if not isinstance(changes, Mapping):
        raise ChangesInvalid([problem(CHANGES_ROOT, "must be an object")])
    if definition is not None:
        return _parse_custom_changes(definition, changes)
    assert built_in is not None
    assert built_in.changes_model is not None
    context = (
        {} if withdrawal_reasons is None else {WITHDRAWAL_REASONS_CONTEXT: dict(withdrawal_reasons)}
    )
    try:
        return built_in.changes_model.model_validate(dict(changes), context=context)
    except ValidationError as error:
        raise ChangesInvalid(problems_from_validation_error(error)) from error


def read_changes(
    tracker_type: str, changes: Any, *, withdrawal_reasons: Mapping[str, int] | None = None
) -> TrackerChanges | None:
    """A published tracker's ``changes`` loaded with the model the tracker service validated them
    with; None for a tenant's own (custom) type, whose form only the tracker service knows.
    Raises :class:`ChangesInvalid` when the payload breaks its contract. ``withdrawal_reasons``
    as for :func:`parse_changes`."""
    if tracker_type not in TRACKER_TYPES:
        return None
    parsed = parse_changes(tracker_type, changes, withdrawal_reasons=withdrawal_reasons)
    assert isinstance(parsed, TrackerChanges)  # a built-in type has a built-in model
    return parsed


def _parse_custom_changes(
    definition: CustomTypeDefinition, changes: Mapping[str, Any]
) -> CustomChanges:
    raise_if_any(custom_problems(definition, changes, CHANGES_ROOT))
    return parse_custom(definition, changes)


def _unknown_type_reason(tracker_type: str, custom: Mapping[str, CustomTypeDefinition]) -> str:
    known = ", ".join([*TRACKER_TYPES, *(CUSTOM_PREFIX + name for name in custom)])
    return f"unknown tracker type {tracker_type!r}; known types: {known}"
