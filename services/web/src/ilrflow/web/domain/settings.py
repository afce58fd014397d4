"""The tenant settings page's forms: one tracker type's switch and roles, the tenant-wide
two-person control and withdrawal-reason mapping (one ``reason = ESFA code`` a line), and one
allocation rule (a learner group's trackers to an admin, for some types or every type)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ilrflow.contracts.identity import ROLES
from ilrflow.web.domain.forms import FieldError

VERBS = ("raise", "edit", "process")
REASONS_FIELD = "withdrawal-reasons"
TWO_PERSON_FIELD = "two-person-control"


@dataclass(frozen=True)
class TypeForm:
    """One type's settings as the form posts them: unticked boxes are simply absent."""

    enabled: bool
    roles: dict[str, list[str]]

    @classmethod
    def posted(cls, form: Mapping[str, Any]) -> TypeForm:
        def ticked(verb: str) -> list[str]:
            return [role for role in ROLES if role in (form.get(f"{verb}_roles") or [])]

        return cls(enabled=form.get("enabled") == "on", roles={v: ticked(v) for v in VERBS})

    def body(self) -> dict[str, Any]:
        """The ``TypeSettings`` of ``PUT /v1/tracker-types/{type}``."""
        return {"enabled": self.enabled, **{f"{v}_roles": self.roles[v] for v in VERBS}}


@dataclass
class TenantForm:
    two_person_control: bool
    reasons: str  # as typed: one "reason = code" a line
    errors: list[FieldError] = field(default_factory=list)

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> TenantForm:
        mapping = settings.get("withdrawal_reason_map") or {}
        lines = (f"{reason} = {code}" for reason, code in mapping.items())
        return cls(bool(settings.get("two_person_control")), "\n".join(lines))

    def reason_map(self) -> dict[str, int]:
        """The typed lines as a mapping; a line that is not ``reason = number`` is an error on
        the field (what a reason or a code may be is the API's to say)."""
        mapping: dict[str, int] = {}
        for number, line in enumerate(self.reasons.splitlines(), start=1):
            if not line.strip():
                continue
            reason, _, code = line.rpartition("=")
            if not reason.strip() or not code.strip().isdigit():
                self.errors.append(
                    FieldError(
                        REASONS_FIELD,
                        f"Withdrawal reasons line {number} must be a reason, '=' and an ESFA "
                        "code number, like 'Moved away = 41'",
                    )
                )
                continue
            mapping[reason.strip()] = int(code)
        return mapping


def settings_errors(problems: Iterable[tuple[str, str]]) -> list[FieldError]:
    """The API's field problems on the tenant form's inputs, in its words."""
    errors = []
    for name, reason in problems:
        if "withdrawal_reason_map" in name:
            errors.append(FieldError(REASONS_FIELD, f"Withdrawal reasons: {reason}"))
        else:
            errors.append(FieldError(TWO_PERSON_FIELD, f"{name}: {reason}"))
    return errors


RULE_GROUP_FIELD = "rule-group"
RULE_INPUTS = {"learner_group": RULE_GROUP_FIELD, "admin_id": "rule-admin"}
RULE_LABELS = {"learner_group": "Learner group", "admin_id": "Admin"}


@dataclass(frozen=True)
class RuleForm:
    """One allocation rule as the add or remove form posts it (no type ticked: every type)."""

    learner_group: str = ""
    admin_id: str = ""
    tracker_types: tuple[str, ...] = ()

    @classmethod
    def posted(cls, form: Mapping[str, Any]) -> RuleForm:
        return cls(
            learner_group=str(form.get("learner_group") or "").strip(),
            admin_id=str(form.get("admin_id") or "").strip(),
            tracker_types=tuple(str(t) for t in form.get("tracker_types") or ()),
        )

    def body(self) -> dict[str, Any]:
        """An ``AllocationRule`` of ``PUT /v1/tracker-settings``."""
        return {
            "learner_group": self.learner_group,
            "admin_id": self.admin_id,
            "tracker_types": list(self.tracker_types),
        }

    def matches(self, rule: Mapping[str, Any]) -> bool:
        return self.body() == {**rule, "tracker_types": list(rule.get("tracker_types") or [])}


def rule_errors(problems: Iterable[tuple[str, str]]) -> list[FieldError]:
    """The API's problems with the rules (``allocation_rules.<n>.<field>``) on the add form's
    inputs, in its words; one it does not name goes on the group's input."""
    errors = []
    for name, reason in problems:
        key = name.rsplit(".", 1)[-1]
        if key in RULE_INPUTS:
            errors.append(FieldError(RULE_INPUTS[key], f"{RULE_LABELS[key]} {reason}"))
        else:
            errors.append(FieldError(RULE_GROUP_FIELD, f"Allocation rule: {reason}"))
    return errors
