"""The OpenAPI document every service publishes: errors as RFC 9457 problems, the bearer scheme.

FastAPI describes a 422 as its own ``HTTPValidationError``, which no service sends, and knows
nothing of the bearer token. :func:`install_openapi` rewrites the generated document once: every
error response (a status of 400 or more) carries the ``Problem`` schema as
``application/problem+json``, every ``/v1`` operation requires the ``bearer`` scheme and may get a
401 (or a 503 while the identity provider's keys cannot be fetched), every operation with a body may get a 413, and the operations routes (``/healthz``, ``/readyz``, ``/metrics``) need no token.
Routers declare the errors only they know of with :func:`problem_responses`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from ilrflow.platform.http_errors import PROBLEM_JSON, FieldProblem, Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
BEARER = "bearer"
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a router or route: each status answered with a problem document."""
    return {status: _problem_response(HTTPStatus(status).phrase) for status in statuses}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


def install_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problems_and_bearer(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_problems_and_bearer(document: dict[str, Any]) -> dict[str, Any]:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(unused, None)
    ref_template = "#/components/schemas/{model}"
    schemas["FieldProblem"] = FieldProblem.model_json_schema(ref_template=ref_template)
    problem = Problem.model_json_schema(ref_template=ref_template)
    problem.pop("$defs", None)
    schemas["Problem"] = problem
    components.setdefault("securitySchemes", {})[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A token from the identity provider, carrying the tenant and roles.",
    }
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            _describe_errors(operation, secured=path.startswith("/v1/"))
    return document


def _describe_errors(operation: dict[str, Any], *, secured: bool) -> None:
    responses = operation.setdefault("responses", {})
    operation["security"] = [{BEARER: []}] if secured else []
    if secured:
        responses.setdefault("401", _problem_response("No, expired or bad bearer token"))
        responses.setdefault(
            "503", _problem_response("The identity provider's keys cannot be fetched now")
        )
    if "requestBody" in operation:
        responses.setdefault("413", _problem_response("The body is over the stated size"))
    for status, response in responses.items():
        if int(status) >= 400:
            response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
