"""Tenant-defined ("custom") tracker types: a form of typed fields that changes no ILR data.

An admin defines the form (field name, type, required, choices); a request is checked against
that definition. Values are kept in a flat object keyed by field name, so definitions restrict
field names to lower-case identifiers, which are also safe MongoDB keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from ilrflow.contracts.trackers.fields import FREE_TEXT_MAX_LENGTH
from ilrflow.contracts.trackers.problems import FieldProblem, dotted, problem

CustomFieldType = Literal["string", "text", "date", "number", "boolean", "choice"]
CustomValue = str | float | int | bool | date | None

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
STRING_MAX_LENGTH = 200


class CustomFieldDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN, description="Key in ``changes``: a-z, 0-9, _.")
    label: str | None = Field(default=None, max_length=200)
    type: CustomFieldType
    required: bool = False
    choices: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _choices_only_for_choice(self) -> Self:
        if self.type == "choice" and not self.choices:
            raise ValueError("a choice field needs at least one choice")
        if self.type != "choice" and self.choices:
            raise ValueError("only a choice field has choices")
        return self


class CustomTypeDefinition(BaseModel):
    """An admin-defined tracker type; processing it changes workflow state only, never the ILR."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    fields: tuple[CustomFieldDefinition, ...] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _unique_field_names(self) -> Self:
        names = [field.name for field in self.fields]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"field names must be unique: {', '.join(duplicates)}")
        return self


class CustomChanges(RootModel[dict[str, CustomValue]]):
    """The values of a custom form; ``model_dump(mode="json")`` gives the flat JSON object."""


def parse_custom(definition: CustomTypeDefinition, changes: Mapping[str, Any]) -> CustomChanges:
    """The typed values of a form that :func:`custom_problems` found no fault with."""
    values = {
        field.name: _coerce(field, changes[field.name])
        for field in definition.fields
        if changes.get(field.name) is not None
    }
    return CustomChanges(values)


def custom_problems(
    definition: CustomTypeDefinition, changes: Mapping[str, Any], root: str
) -> list[FieldProblem]:
    known = {field.name for field in definition.fields}
    found = [
        problem(dotted(root, name), f"is not a field of {definition.name}")
        for name in changes
        if name not in known
    ]
    for field in definition.fields:
        found.extend(_field_problems(field, changes.get(field.name), dotted(root, field.name)))
    return found


def _field_problems(field: CustomFieldDefinition, value: Any, path: str) -> list[FieldProblem]:
    if value is None or value == "":
        return [problem(path, "is required")] if field.required else []
    try:
        _coerce(field, value)
    except ValueError as error:
        return [problem(path, str(error))]
    return []


def _coerce(field: CustomFieldDefinition, value: Any) -> CustomValue:
    return _COERCERS[field.type](field, value)


Coercer = Callable[[CustomFieldDefinition, Any], CustomValue]


def _text(limit: int) -> Coercer:
    def coerce(field: CustomFieldDefinition, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        return value

    return coerce


def _date(field: CustomFieldDefinition, value: Any) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be a date in the form YYYY-MM-DD")


def _number(field: CustomFieldDefinition, value: Any) -> float | int:
    # bool is an int in Python, but true is not a number in a form.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("must be a finite number")
    return value


def _boolean(field: CustomFieldDefinition, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _choice(field: CustomFieldDefinition, value: Any) -> str:
    if value not in field.choices:
        raise ValueError(f"must be one of {', '.join(repr(c) for c in field.choices)}")
    return str(value)


_COERCERS: dict[str, Coercer] = {
    "string": _text(STRING_MAX_LENGTH),
    "text": _text(FREE_TEXT_MAX_LENGTH),
    "date": _date,
    "number": _number,
    "boolean": _boolean,
    "choice": _choice,
}
