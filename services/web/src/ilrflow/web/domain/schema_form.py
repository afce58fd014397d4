"""A form built from a tracker type's JSON Schema (``changes_schema`` of ``GET /v1/tracker-types``;
a custom type's schema is a generic object, so its form comes from its ``fields``): one input per
leaf property, nested objects flattened into dotted paths, and
the posted values turned back into the ``changes`` object the API validates. The API stays the
judge of the values: what cannot be read as a number is sent as typed, for the API to refuse."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ilrflow.web.domain.forms import FormField


@dataclass(frozen=True)
class SchemaField:
    path: tuple[str, ...]
    label: str
    kind: str  # text, date, number, integer, boolean, lines, choice
    required: bool
    hint: str = ""
    options: tuple[str, ...] = ()

    @property
    def field_id(self) -> str:
        return "changes-" + "-".join(self.path)

    @property
    def name(self) -> str:
        return ".".join(self.path)


def schema_fields(schema: Mapping[str, Any]) -> list[SchemaField]:
    definitions = schema.get("$defs") or {}
    return _object_fields(schema, definitions, ())


def custom_fields(fields: list[Mapping[str, Any]]) -> list[SchemaField]:
    """The form of a custom type, from its field definitions."""
    kinds = {"string": "text", "text": "text", "date": "date", "number": "number"}
    kinds |= {"boolean": "boolean", "choice": "choice"}
    return [
        SchemaField(
            path=(str(f["name"]),),
            label=str(f.get("label") or str(f["name"]).replace("_", " ").capitalize()),
            kind=kinds[str(f["type"])],
            required=bool(f.get("required")),
            options=tuple(f.get("choices") or ()),
        )
        for f in fields
    ]


def _resolve(node: Mapping[str, Any], definitions: Mapping[str, Any]) -> Mapping[str, Any]:
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/$defs/"):
        return {**definitions[reference.removeprefix("#/$defs/")], **node}
    return node


def _object_fields(
    node: Mapping[str, Any], definitions: Mapping[str, Any], prefix: tuple[str, ...]
) -> list[SchemaField]:
    required = set(node.get("required") or ())
    found: list[SchemaField] = []
    for name, raw in (node.get("properties") or {}).items():
        found.extend(_fields(name, raw, name in required, definitions, prefix))
    return found


def _fields(
    name: str,
    raw: Mapping[str, Any],
    required: bool,
    definitions: Mapping[str, Any],
    prefix: tuple[str, ...],
) -> list[SchemaField]:
    node = _resolve(raw, definitions)
    choices = [c for c in node.get("anyOf") or () if c.get("type") != "null"]
    if choices:  # Optional[X]: the non-null choice, described by the outer node
        node = {**_resolve(choices[0], definitions), **{k: node[k] for k in node if k != "anyOf"}}
    path = (*prefix, name)
    if node.get("type") == "object" and node.get("properties"):
        return _object_fields(node, definitions, path)
    label = str(node.get("title") or name.replace("_", " ").capitalize())
    hint = str(node.get("description") or "")
    return [SchemaField(path, label, _kind(node), required, hint, tuple(node.get("enum") or ()))]


def _kind(node: Mapping[str, Any]) -> str:
    if node.get("enum"):
        return "choice"
    kind = node.get("type")
    if kind == "string" and node.get("format") == "date":
        return "date"
    if kind == "array":
        return "lines"
    if kind in ("number", "integer", "boolean"):
        return str(kind)
    return "text"


def changes_from(fields: list[SchemaField], form: Mapping[str, Any]) -> dict[str, Any]:
    """The ``changes`` object of the posted inputs; blank optional inputs are left out."""
    changes: dict[str, Any] = {}
    for field in fields:
        value = _value(field, form.get(field.name))
        if value is None:
            continue
        target = changes
        for part in field.path[:-1]:
            target = target.setdefault(part, {})
        target[field.path[-1]] = value
    return changes


def _value(field: SchemaField, posted: Any) -> Any:
    if field.kind == "boolean":
        return posted == "on"
    text = str(posted or "").strip()
    if field.kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()] or None
    if not text:
        return "" if field.required else None
    if field.kind in ("number", "integer"):
        try:
            return int(text) if field.kind == "integer" else float(text)
        except ValueError:
            return text  # the API's error names the field
    return text


def schema_form(fields: list[SchemaField]) -> dict[str, FormField]:
    """The API's field paths (``changes.<path>``) → the input each belongs to."""
    return {f"changes.{f.name}": FormField(f.field_id, f.label) for f in fields}


def form_values(fields: list[SchemaField], changes: Mapping[str, Any]) -> dict[str, str]:
    """The inputs' values for ``changes`` (an edit form filled with what a tracker proposes):
    the inverse of :func:`changes_from`."""
    values: dict[str, str] = {}
    for field in fields:
        value: Any = changes
        for part in field.path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None:
            continue
        if field.kind == "boolean":
            values[field.name] = "on" if value else ""
        elif field.kind == "lines":
            values[field.name] = "\n".join(str(line) for line in value)
        else:
            values[field.name] = str(value)
    return values
