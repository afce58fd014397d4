"""The OpenAPI document every service publishes: each operation's real errors as RFC 9457
problems, and the bearer scheme.

FastAPI describes a 422 as its own ``HTTPValidationError``, which no service sends, declares it on
every operation with a parameter, and knows nothing of the bearer token. :func:`install_openapi`
rewrites the generated document once. The errors an operation's shape implies are declared from
the document itself (:func:`implied_errors`): 401 on every ``/v1`` operation (they require the
``bearer`` scheme) and 503 (the identity provider's keys cannot be fetched), 404 where an id (an unconstrained path parameter) is in the path, 400 (cannot be parsed) and 413 (too large)
where there is a body, and 422 where a query, header, constrained path parameter or body can be
invalid. A route declares the errors
only it knows of with :func:`problem_responses`: 403 where a role is required or a policy decides,
404 for an id that is not in the path, 409 where a version or state can conflict, 428. Every
error response carries the ``Problem`` schema as ``application/problem+json``; the operations
routes (``/healthz``, ``/readyz``, ``/metrics``) need no token.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from ilrflow.platform.http_errors import PROBLEM_JSON, FieldProblem, Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
BEARER = "bearer"
SECURED_PREFIX = "/v1/"
UNSECURED_PATHS = frozenset({"/v1/oauth/token"})
"""``/v1`` operations called without a bearer token: the OAuth2 token endpoint, whose errors are
OAuth2's own (RFC 6749 §5.2), declared by the route."""
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_DESCRIPTIONS = {
    400: "The body cannot be parsed (not UTF-8 JSON)",
    401: "No, expired or bad bearer token",
    403: "The caller's roles or the tenant's policy do not allow it",
    404: "Not found, or not visible to the caller",
    413: "The body is over the stated size",
    422: "A parameter or the body is not valid",
    503: "The identity provider's keys cannot be fetched now",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status answered with a problem document."""
    return {status: _problem_response(status) for status in statuses}


def _problem_response(status: int) -> dict[str, Any]:
    description = _DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


def install_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problems_and_bearer(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def implied_errors(operation: dict[str, Any], *, secured: bool) -> list[int]:
    """The errors an operation can answer by its shape alone (see the module's docstring)."""
    parameters = operation.get("parameters", [])
    ids = [p for p in parameters if p["in"] == "path" and not _constrained(p["schema"])]
    checked = [p for p in parameters if p not in ids]
    has_body = "requestBody" in operation
    implied = {
        400: has_body,
        401: secured,
        404: bool(ids),
        413: has_body,
        422: bool(checked) or has_body,
        503: secured,  # no key of the identity provider cached and none can be fetched
    }
    return [status for status, applies in implied.items() if applies]


def _constrained(schema: dict[str, Any]) -> bool:
    """Whether a path parameter's value can be refused (a name with a pattern: 422), or it is an
    id that anything may be (``/v1/learners/{learner_id}``), which may be unseen (404)."""
    return schema.get("type") != "string" or bool(set(schema) & {"pattern", "maxLength", "enum"})


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
            secured = path.startswith(SECURED_PREFIX) and path not in UNSECURED_PATHS
            _describe_errors(operation, secured=secured)
    return document


def _describe_errors(operation: dict[str, Any], *, secured: bool) -> None:
    responses = operation.setdefault("responses", {})
    operation["security"] = [{BEARER: []}] if secured else []
    if not responses.get("422", {}).get("content", {}).get(PROBLEM_JSON):
        responses.pop("422", None)  # FastAPI's, on any parameter; implied below when it can be
    for status in implied_errors(operation, secured=secured):
        responses.setdefault(str(status), _problem_response(status))
    for status, response in responses.items():
        if int(status) >= 400 and not _oauth_error(response):
            response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}


def _oauth_error(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/OAuthError"))
