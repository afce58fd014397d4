"""The tracker OpenAPI document's body of ``POST /v1/trackers``: a union discriminated by
``type``, one variant per built-in type whose ``changes`` schema is generated from the model that
validates it (``ilrflow.contracts.trackers``), and one for custom types (a generic object).

The endpoint itself still reads a generic body and validates ``changes`` with
``parse_changes``, which reports every problem as ``changes.<field>`` with the tenant's
context (withdrawal reasons, custom forms); only the document is more precise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from ilrflow.contracts.trackers import CUSTOM_PREFIX, TRACKER_TYPES, TrackerTypeInfo, changes_schema

RAISE_PATH = "/v1/trackers"
COMPONENTS = "#/components/schemas/"
CUSTOM_VARIANT = "RaiseCustomTracker"


def document_raise_variants(app: FastAPI) -> None:
    """Wrap ``app.openapi`` so that the raise body is the discriminated union."""
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = original()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        base = schemas.pop("RaiseTrackerIn")  # replaced by the variants below
        union = raise_union(base, schemas)
        body = document["paths"][RAISE_PATH]["post"]["requestBody"]
        body["content"]["application/json"]["schema"] = union
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def raise_union(base: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """Add one component per variant to ``schemas``; return the union that refers to them."""
    mapping: dict[str, str] = {}
    for name, info in TRACKER_TYPES.items():
        component = f"Raise{info.changes_model.__name__ if info.changes_model else name}"
        _add(schemas, component, _variant(base, info, schemas))
        mapping[name] = COMPONENTS + component
    _add(schemas, CUSTOM_VARIANT, _custom_variant(base))
    return {
        "oneOf": [{"$ref": ref} for ref in [*mapping.values(), COMPONENTS + CUSTOM_VARIANT]],
        "discriminator": {"propertyName": "type", "mapping": mapping},
        "description": "By `type`: each built-in type's `changes` has its own schema (also in "
        f"GET /v1/tracker-types, `changes_schema`); any `{CUSTOM_PREFIX}<name>` type is "
        f"{CUSTOM_VARIANT}, its `changes` checked against the type's form.",
    }


def _variant(
    base: dict[str, Any], info: TrackerTypeInfo, schemas: dict[str, Any]
) -> dict[str, Any]:
    changes = changes_schema(info, ref_template=COMPONENTS + "{model}")
    for nested, schema in changes.pop("$defs", {}).items():
        _add(schemas, nested, schema)
    properties = {
        **base["properties"],
        "type": {"type": "string", "const": info.name, "title": "Type"},
        "changes": changes,
    }
    return {**base, "title": f"Raise: {info.title}", "properties": properties}


def _custom_variant(base: dict[str, Any]) -> dict[str, Any]:
    properties = {
        **base["properties"],
        "type": {
            "type": "string",
            "pattern": f"^{CUSTOM_PREFIX}[a-z][a-z0-9_]{{0,39}}$",
            "title": "Type",
        },
        "changes": changes_schema(_CUSTOM_INFO),
    }
    return {**base, "title": "Raise: a custom type", "properties": properties}


def _add(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    if schemas.setdefault(name, schema) != schema:
        raise RuntimeError(f"two different schemas named {name} in the tracker OpenAPI document")


_CUSTOM_INFO = TrackerTypeInfo(
    name=CUSTOM_PREFIX + "<name>",
    title="Custom",
    description="",
    learner_led=False,
    programme_changing=False,
    changes_model=None,
    custom=True,
)
