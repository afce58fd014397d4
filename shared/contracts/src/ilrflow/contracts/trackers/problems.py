"""How the catalogue reports what is wrong with a tracker's ``changes``: field path plus reason.

Every rejection names the field (a dotted path from the request body, e.g.
``changes.address.postcode``) and a sentence a person can act on. Pydantic's own error list is
translated into this form, so HTTP callers never see pydantic's wording or its location tuples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

from ilrflow.contracts.errors import FieldProblem, InvalidInput, problems_summary

CHANGES_ROOT = "changes"

__all__ = [
    "CHANGES_ROOT",
    "ChangesInvalid",
    "CrossFieldError",
    "FieldProblem",
    "dotted",
    "problem",
    "problems_from_validation_error",
    "raise_if_any",
]


class ChangesInvalid(InvalidInput, ValueError):  # noqa: N818 - the name services use
    """The ``changes`` of a tracker break the ILR's rules; ``problems`` lists every one."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        super().__init__(f"invalid changes: {problems_summary(problems)}", problems)


class CrossFieldError(ValueError):
    """Raised by a model validator that compares fields, so each problem keeps its own path.

    Pydantic would otherwise report a model-level failure at the model's own location, and the
    caller could not tell which of the compared fields to correct.
    """

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in self.problems))


def problem(field: str, reason: str) -> FieldProblem:
    return FieldProblem(field=field, reason=reason)


def dotted(*parts: str | int) -> str:
    return ".".join(str(part) for part in parts if part != "")


def problems_from_validation_error(
    error: ValidationError, root: str = CHANGES_ROOT
) -> list[FieldProblem]:
    """Translate pydantic's errors into field problems rooted at ``root``."""
    found: list[FieldProblem] = []
    for detail in error.errors():
        location = dotted(root, *detail["loc"])
        cross_field = detail.get("ctx", {}).get("error")
        if isinstance(cross_field, CrossFieldError):
            found.extend(problem(dotted(location, f), r) for f, r in cross_field.problems)
        else:
            found.append(problem(location, _reason(detail)))
    return found


def raise_if_any(problems: Iterable[FieldProblem]) -> None:
    listed = list(problems)
    if listed:
        raise ChangesInvalid(listed)


_PLAIN_REASONS = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this tracker type",
    "date_from_datetime_parsing": "must be a date in the form YYYY-MM-DD",
    "date_parsing": "must be a date in the form YYYY-MM-DD",
    "date_type": "must be a date in the form YYYY-MM-DD",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
}


def _reason(detail: Any) -> str:
    """Pydantic's message, reworded where it is unclear, without the 'Value error, ' prefix."""
    plain = _PLAIN_REASONS.get(detail["type"])
    if plain is not None:
        return plain
    message = str(detail["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
