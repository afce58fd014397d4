"""The tracker catalogue: one pydantic model per tracker type for ``changes``, with the ILR's
checks, and :func:`parse_changes` to validate a request into its canonical form.

>>> parse_changes("change_of_address", {"address": {"lines": ["1 High St"], "postcode": "sw1a1aa"}})
ChangeOfAddress(address=NewAddress(lines=['1 High St'], postcode='SW1A 1AA'))
"""

from ilrflow.shared.trackers.base import TrackerChanges
from ilrflow.shared.trackers.catalogue import (
    CUSTOM_CHANGES_SCHEMA,
    CUSTOM_PREFIX,
    ROLE_NAMES,
    TRACKER_TYPES,
    ChangesModel,
    TrackerTypeInfo,
    changes_schema,
    custom_type_info,
    custom_type_name,
    parse_changes,
    type_info,
)
from ilrflow.shared.trackers.custom import (
    CustomChanges,
    CustomFieldDefinition,
    CustomFieldType,
    CustomTypeDefinition,
)
from ilrflow.shared.trackers.employment import (
    ChangeOfEmployer,
    ChangeOfWorkingHours,
    EmployerDetails,
)
from ilrflow.shared.trackers.learning import (
    BreakInLearning,
    ChangeOfProgramme,
    ReturnToLearning,
    Withdrawal,
)
from ilrflow.shared.trackers.personal import (
    ChangeOfAddress,
    ChangeOfContactDetails,
    ChangeOfName,
    NewAddress,
)
from ilrflow.shared.trackers.problems import ChangesInvalid, FieldProblem
from ilrflow.shared.trackers.programme import check_against_programme
from ilrflow.shared.trackers.withdrawal_reasons import ESFA_WITHDRAW_REASONS

__all__ = [
    "CUSTOM_CHANGES_SCHEMA",
    "CUSTOM_PREFIX",
    "ESFA_WITHDRAW_REASONS",
    "ROLE_NAMES",
    "TRACKER_TYPES",
    "BreakInLearning",
    "ChangeOfAddress",
    "ChangeOfContactDetails",
    "ChangeOfEmployer",
    "ChangeOfName",
    "ChangeOfProgramme",
    "ChangeOfWorkingHours",
    "ChangesInvalid",
    "ChangesModel",
    "CustomChanges",
    "CustomFieldDefinition",
    "CustomFieldType",
    "CustomTypeDefinition",
    "EmployerDetails",
    "FieldProblem",
    "NewAddress",
    "ReturnToLearning",
    "TrackerChanges",
    "TrackerTypeInfo",
    "Withdrawal",
    "changes_schema",
    "check_against_programme",
    "custom_type_info",
    "custom_type_name",
    "parse_changes",
    "type_info",
]
