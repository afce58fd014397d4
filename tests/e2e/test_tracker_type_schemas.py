"""Each tracker type's ``changes`` contract, served: ``GET /v1/tracker-types`` gives the JSON
Schema of every type's changes (generated from the model that validates them), and the tracker's
OpenAPI document describes ``POST /v1/trackers`` as a union discriminated by ``type``."""

from __future__ import annotations

from typing import Any

import pytest

from ilrflow.contracts.trackers import TRACKER_TYPES
from tests.conftest import Stack
from tests.e2e.helpers import known_learner
from tests.e2e.test_tracker_steps import problems, tracker_tenant

pytestmark = pytest.mark.e2e

CUSTOM = "custom:laptop_request"  # defined by tracker_tenant


def test_every_type_lists_the_json_schema_of_its_changes(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    with tenant.admin("tracker") as admin:
        served = {t["type"]: t for t in admin.get("/v1/tracker-types").json()["items"]}
    for name, info in TRACKER_TYPES.items():
        assert info.changes_model is not None
        assert served[name]["changes_schema"] == info.changes_model.model_json_schema(), name
        assert served[name]["fields"] is None
    assert served[CUSTOM]["changes_schema"]["type"] == "object"
    assert [f["name"] for f in served[CUSTOM]["fields"]] == ["model", "needed_by", "notes"]


def test_the_schema_says_what_the_api_refuses(stack: Stack) -> None:
    """For every built-in type, empty changes are refused naming exactly the schema's required
    fields, and a field the schema does not list is refused by name."""
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    with tenant.admin("tracker") as admin:
        served = {
            t["type"]: t["changes_schema"] for t in admin.get("/v1/tracker-types").json()["items"]
        }
        for name in TRACKER_TYPES:
            schema = served[name]
            assert schema["additionalProperties"] is False, name
            empty = admin.post(
                "/v1/trackers", json={"type": name, "learner_id": learner_id, "changes": {}}
            )
            required = {f"changes.{field}" for field in schema.get("required", [])}
            assert set(problems(empty)) == required, name
            unlisted = admin.post(
                "/v1/trackers",
                json={"type": name, "learner_id": learner_id, "changes": {"not_a_field": 1}},
            )
            assert "changes.not_a_field" in problems(unlisted), name


def test_the_openapi_document_raises_by_a_union_discriminated_by_type(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    with tenant.admin("tracker") as admin:
        served = {
            t["type"]: t["changes_schema"] for t in admin.get("/v1/tracker-types").json()["items"]
        }
    with stack.anonymous("tracker") as http:
        document = http.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    body = document["paths"]["/v1/trackers"]["post"]["requestBody"]["content"]
    union = body["application/json"]["schema"]
    assert union["discriminator"]["propertyName"] == "type"
    mapping = union["discriminator"]["mapping"]
    assert set(mapping) == set(TRACKER_TYPES)
    assert {v["$ref"] for v in union["oneOf"]} == {*mapping.values(), _ref("RaiseCustomTracker")}
    for name, ref in mapping.items():
        variant = schemas[ref.removeprefix("#/components/schemas/")]
        assert variant["properties"]["type"]["const"] == name
        assert set(variant["required"]) == {"type", "learner_id", "changes"}
        documented = _resolved(variant["properties"]["changes"], schemas)
        assert documented == _resolved(served[name], served[name].get("$defs", {})), name
    custom = schemas["RaiseCustomTracker"]
    assert custom["properties"]["changes"]["type"] == "object"
    assert CUSTOM.startswith(custom["properties"]["type"]["pattern"][1:8])


def _ref(component: str) -> str:
    return f"#/components/schemas/{component}"


def _resolved(schema: Any, definitions: dict[str, Any]) -> Any:
    """``schema`` with every ``$ref`` replaced by its definition (by its last path segment) and
    ``$defs`` dropped: the same contract, wherever its nested models live."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _resolved(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions)
        return {k: _resolved(v, definitions) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_resolved(item, definitions) for item in schema]
    return schema
