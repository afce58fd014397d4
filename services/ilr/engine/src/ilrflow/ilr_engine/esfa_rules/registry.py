"""What an ESFA rule is here: an id, a severity, what it checks, its source, and a check.

A check reads the loaded learner and yields ``(path, message)`` for every place that breaks the
rule; :func:`ilrflow.ilr_engine.esfa_rules.validate` turns those into :class:`Finding` values.
Every rule registers itself with :func:`rule`, so the registry is the one list of what is
checked (docs/ilr-validation-rules.md is tested against it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from ilrflow.ilr_engine.records import Learner

Severity = Literal["error", "warning"]
Breach = tuple[str, str]  # (JSON pointer into the published record, message)

GUIDANCE = "https://guidance.submit-learner-data.service.gov.uk/25-26/validation-rules/rule/"
ESFA_CODE = (
    "https://github.com/SkillsFundingAgency/DC-ILR-2021-ValidationService/blob/master/"
    "src/ESFA.DC.ILR.ValidationService.Rules/"
)


@dataclass(frozen=True)
class Context:
    """What a rule may need beyond the record.

    ``today``: the file preparation date (the day the record is checked or exported).
    ``otj_minimums``: the DfE's published minimum OTJ hours per StdCode (2025/26 funding rules);
    None when no table is loaded, in which case the minimum is unknown.
    """

    today: date
    otj_minimums: Mapping[int, int] | None = None


Check = Callable[[Learner, Context], Iterable[Breach]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    checks: str
    source: str
    check: Check


RULES: dict[str, Rule] = {}


def rule(
    rule_id: str, *, checks: str, source: str, severity: Severity = "error"
) -> Callable[[Check], Check]:
    """Register ``check`` as ESFA rule ``rule_id`` (``source``: where its logic was read)."""

    def register(check: Check) -> Check:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} is registered twice")
        RULES[rule_id] = Rule(rule_id, severity, checks, source, check)
        return check

    return register
