"""The tracker service's OpenAPI document lists every endpoint with its request and response
schemas, so integrations can be generated from it."""

from __future__ import annotations

from typing import Any

import pytest

from ilrflow.platform.settings import Settings
from ilrflow.tracker.bootstrap import create_app

ENDPOINTS = {
    ("get", "/v1/tracker-types"),
    ("put", "/v1/tracker-types/{tracker_type}"),
    ("put", "/v1/tracker-types/custom:{name}"),
    ("get", "/v1/tracker-settings"),
    ("put", "/v1/tracker-settings"),
    ("post", "/v1/trackers"),
    ("get", "/v1/trackers"),
    ("get", "/v1/trackers/export.xlsx"),
    ("get", "/v1/trackers/{tracker_id}"),
    ("get", "/v1/trackers/{tracker_id}/actions"),
    ("patch", "/v1/trackers/{tracker_id}"),
    ("post", "/v1/trackers/{tracker_id}/allocate"),
    ("post", "/v1/trackers/{tracker_id}/process"),
    ("post", "/v1/trackers/{tracker_id}/reject"),
    ("post", "/v1/trackers/{tracker_id}/cancel"),
    ("post", "/v1/trackers/bulk"),
    ("post", "/v1/trackers/bulk-process"),
    ("get", "/v1/trackers/bulk-jobs/{job_id}"),
}
WITH_BODY = {method_path for method_path in ENDPOINTS if method_path[0] in ("post", "put", "patch")}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    # Building the app connects to nothing: clients connect when the lifespan starts.
    settings = Settings(kafka_bootstrap="127.0.0.1:1", mongo_url="mongodb://127.0.0.1:1/")
    spec: dict[str, Any] = create_app(settings).openapi()
    return spec


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        if path.startswith("/v1/")
        for method, operation in item.items()
    }


def test_every_endpoint_is_listed(document: dict[str, Any]) -> None:
    assert set(_operations(document)) == ENDPOINTS


@pytest.mark.parametrize("endpoint", sorted(WITH_BODY))
def test_requests_with_a_body_have_a_schema(
    document: dict[str, Any], endpoint: tuple[str, str]
) -> None:
    body = _operations(document)[endpoint]["requestBody"]
    assert body["content"]["application/json"]["schema"]


# Each operation's real errors: 401 (token) everywhere; 403 where a role or the tenant's policy
# decides; 404 for an id in the path (or the learner in a raise); 409 on a stale version or
# state; 400/413/422 for a body; 422 for a query; 428 for an edit without its version.
BODY = {"400", "413", "422"}
ERRORS = {
    ("get", "/v1/tracker-types"): {"422"},
    ("put", "/v1/tracker-types/{tracker_type}"): {"403", "404", "409", *BODY},
    ("put", "/v1/tracker-types/custom:{name}"): {"403", "409", *BODY},
    ("get", "/v1/tracker-settings"): {"403"},
    ("put", "/v1/tracker-settings"): {"403", "409", *BODY},
    ("post", "/v1/trackers"): {"403", "404", "409", *BODY},
    ("get", "/v1/trackers"): {"422"},
    ("get", "/v1/trackers/export.xlsx"): {"403", "422"},
    ("get", "/v1/trackers/{tracker_id}"): {"404"},
    ("get", "/v1/trackers/{tracker_id}/actions"): {"404"},
    ("patch", "/v1/trackers/{tracker_id}"): {"403", "404", "409", "428", *BODY},
    ("post", "/v1/trackers/{tracker_id}/allocate"): {"403", "404", "409", *BODY},
    ("post", "/v1/trackers/{tracker_id}/process"): {"403", "404", "409", *BODY},
    ("post", "/v1/trackers/{tracker_id}/reject"): {"403", "404", "409", *BODY},
    ("post", "/v1/trackers/{tracker_id}/cancel"): {"403", "404", "409", *BODY},
    ("post", "/v1/trackers/bulk"): {"403", "409", *BODY},
    ("post", "/v1/trackers/bulk-process"): {"403", "409", *BODY},
    ("get", "/v1/trackers/bulk-jobs/{job_id}"): {"404", "422"},
}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_success_and_error_responses_have_schemas(
    document: dict[str, Any], endpoint: tuple[str, str]
) -> None:
    responses = _operations(document)[endpoint]["responses"]
    success = responses.get("200") or responses.get("201") or responses["202"]
    assert any(media.get("schema") for media in success["content"].values())
    errors = {status for status in responses if int(status) >= 400}
    assert errors == {"401", "503", *ERRORS[endpoint]}
    for status in errors:
        schema = responses[status]["content"]["application/problem+json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Problem"}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_every_endpoint_needs_the_bearer_token(
    document: dict[str, Any], endpoint: tuple[str, str]
) -> None:
    assert _operations(document)[endpoint]["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_the_tracker_schema_carries_history_preview_and_ilr_outcome(
    document: dict[str, Any],
) -> None:
    tracker = document["components"]["schemas"]["Tracker"]["properties"]
    assert {"history", "preview", "ilr_outcome", "version", "status"} <= set(tracker)


def test_the_export_is_a_spreadsheet(document: dict[str, Any]) -> None:
    content = _operations(document)[("get", "/v1/trackers/export.xlsx")]["responses"]["200"]
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert content["content"][xlsx]["schema"] == {"type": "string", "format": "binary"}


def test_a_raise_is_a_union_discriminated_by_type(document: dict[str, Any]) -> None:
    from ilrflow.contracts.trackers import TRACKER_TYPES

    schemas = document["components"]["schemas"]
    union = _operations(document)[("post", "/v1/trackers")]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    mapping = union["discriminator"]["mapping"]
    assert set(mapping) == set(TRACKER_TYPES)
    address = schemas[mapping["change_of_address"].rsplit("/", 1)[-1]]
    assert address["properties"]["type"]["const"] == "change_of_address"
    changes = address["properties"]["changes"]
    assert changes["required"] == ["address"]
    assert changes["properties"]["address"] == {"$ref": "#/components/schemas/NewAddress"}
    assert "NewAddress" in schemas
    assert "RaiseTrackerIn" not in schemas  # replaced by the variants, not left beside them
    assert schemas["RaiseCustomTracker"]["properties"]["changes"]["type"] == "object"


@pytest.mark.parametrize("path", ["/v1/trackers/bulk", "/v1/trackers/bulk-process"])
def test_a_bulk_request_is_accepted_with_the_job_s_location(
    document: dict[str, Any], path: str
) -> None:
    accepted = _operations(document)[("post", path)]["responses"]["202"]
    assert "Location" in accepted["headers"]
    schema = accepted["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/BulkJobSummary"}
