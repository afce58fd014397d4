"""The tracker catalogue: one pydantic model per tracker type for ``changes``, with the ILR's
checks, and :func:`parse_changes` to validate a request into its canonical form.

>>> parse_changes("change_of_address", {"address": {"lines": ["1 High St"], "postcode": "sw1a1aa"}})
ChangeOfAddress(address=NewAddress(lines=['1 High St'], postcode='SW1A 1AA'))
"""

from ilrflow.contracts.trackers.base import TrackerChanges
from ilrflow.contracts.trackers.catalogue import (
    CUSTOM_CHANGES_SCHEMA,
    CUSTOM_PREFIX,
    TRACKER_TYPES,
    ChangesModel,
    TrackerTypeInfo,
    changes_schema,
    custom_type_info,
    custom_type_name,
    parse_changes,
    read_changes,
    type_info,
)
from ilrflow.contracts.trackers.completion import (
    Completion,
    EpaResult,
    RestartAfterWithdrawal,
    RestartPrice,
)
from ilrflow.contracts.trackers.correction import Correction
from ilrflow.contracts.trackers.custom import (
    CustomChanges,
    CustomFieldDefinition,
    CustomFieldType,
    CustomTypeDefinition,
)
from ilrflow.contracts.trackers.employment import (
    ChangeOfEmployer,
    ChangeOfEmploymentStatus,
    ChangeOfWorkingHours,
    EmployerDetails,
    ResidualPrice,
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
    NewAddress,
)
from ilrflow.contracts.trackers.problems import ChangesInvalid, FieldProblem
from ilrflow.contracts.trackers.programme import ProgrammeDates, check_against_programme
from ilrflow.contracts.trackers.withdrawal_reasons import ESFA_WITHDRAW_REASONS

__all__ = [
    "CUSTOM_CHANGES_SCHEMA",
    "CUSTOM_PREFIX",
    "ESFA_WITHDRAW_REASONS",
    "TRACKER_TYPES",
    "BreakInLearning",
    "ChangeOfAddress",
    "ChangeOfContactDetails",
    "ChangeOfEmployer",
    "ChangeOfEmploymentStatus",
    "ChangeOfName",
    "ChangeOfProgramme",
    "ChangeOfWorkingHours",
    "ChangesInvalid",
    "ChangesModel",
    "Completion",
    "Correction",
    "CustomChanges",
    "CustomFieldDefinition",
    "CustomFieldType",
    "CustomTypeDefinition",
    "EmployerDetails",
    "EpaResult",
    "FieldProblem",
    "NewAddress",
    "ProgrammeDates",
    "ResidualPrice",
    "RestartAfterWithdrawal",
    "RestartPrice",
    "ReturnToLearning",
    "TrackerChanges",
    "TrackerTypeInfo",
    "Withdrawal",
    "changes_schema",
    "check_against_programme",
    "custom_type_info",
    "custom_type_name",
    "parse_changes",
    "read_changes",
    "type_info",
]
