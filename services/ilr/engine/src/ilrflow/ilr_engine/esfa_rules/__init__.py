"""A built-in check of the ESFA validation rules an apprenticeship ILR must pass.

One function per rule, named after ESFA's rule id and registered with its severity, what it
checks and where its logic was read (:mod:`.registry`). Pure: the caller passes the day of the
check (the file preparation date) and, if it has one, the DfE's minimum OTJ table. The rules
implemented and those knowingly not are listed in docs/ilr-validation-rules.md, which a test
keeps in step with :data:`RULES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from ilrflow.ilr_engine.esfa_rules import delivery, duration, employment, fams, finance, learner
from ilrflow.ilr_engine.esfa_rules.registry import RULES, Context, Rule
from ilrflow.ilr_engine.records import IlrLearner, Learner, load

# Importing the rule modules registers their rules; the names keep the imports explicit.
RULE_MODULES = (learner, employment, delivery, duration, fams, finance)


@dataclass(frozen=True)
class Finding:
    """One breach: the rule's id, what is wrong, and a JSON pointer into the published record."""

    rule: str
    message: str
    path: str

    def as_json(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message, "path": self.path}


@dataclass(frozen=True)
class Validation:
    """``valid`` when no error-severity rule is broken; warnings do not make a record invalid."""

    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def as_json(self) -> dict[str, object]:
        return {
            "valid": self.valid,
            "errors": [f.as_json() for f in self.errors],
            "warnings": [f.as_json() for f in self.warnings],
        }


def validate(
    record: IlrLearner, *, today: date, otj_minimums: Mapping[int, int] | None = None
) -> Validation:
    """Every registered rule on the published ``record``; raises ValueError if it is not one."""
    return validate_learner(load(record), today=today, otj_minimums=otj_minimums)


def validate_learner(
    learner_record: Learner, *, today: date, otj_minimums: Mapping[int, int] | None = None
) -> Validation:
    """:func:`validate` for a record already loaded (e.g. as it goes into a year's file)."""
    context = Context(today=today, otj_minimums=otj_minimums)
    errors: list[Finding] = []
    warnings: list[Finding] = []
    for checked in RULES.values():
        found = [
            Finding(checked.id, message, path)
            for path, message in checked.check(learner_record, context)
        ]
        (errors if checked.severity == "error" else warnings).extend(found)
    return Validation(errors, warnings)


__all__ = ["RULES", "Finding", "Rule", "Validation", "validate", "validate_learner"]
