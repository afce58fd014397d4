"""HTTP errors as RFC 9457 ``application/problem+json``, the same in every service.

A problem has the standard members ``type`` (``urn:ilrflow:problem:<code>``), ``title`` (the
status's reason phrase), ``status``, ``detail`` (the sentence for a person) and ``instance`` (the
request path), plus two extension members: ``code`` (the machine-readable reason, also the last
part of ``type``) and, on a 422, ``errors`` (``[{"field", "reason"}]``, one per field problem).
A refusal that carries facts as a mapping (a 409's ``current_version`` or ``current_state``) gives
them as further extension members.

This is the one place that knows which HTTP status each kind of refusal gets: use cases and rules
raise the domain errors of ``ilrflow.contracts.errors`` and :data:`DOMAIN_STATUS` maps them.
:class:`ApiError` is for what only HTTP knows about (a missing bearer token, a header or cursor
that does not parse), raised by the platform's auth and by entrypoints, never by a use case.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from ilrflow.contracts.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from ilrflow.platform.logging import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:ilrflow:problem:"
_STANDARD_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "code", "errors"})


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class BodyTooLarge(StarletteHTTPException):
    """An HTTP exception, so that FastAPI's body parsing lets it through instead of making it a
    400 "error parsing the body"."""

    code = "body_too_large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is over the limit of {max_bytes} bytes.")
        self.max_bytes = max_bytes


class FieldProblem(BaseModel):
    field: str
    reason: str


class Problem(BaseModel):
    """The body of every error response (RFC 9457). Extension members beyond ``code`` and
    ``errors`` (a 409's ``current_version`` or ``current_state``) are allowed."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str
    errors: list[FieldProblem] | None = None


DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    InvalidInput: 422,
    DomainError: 400,
}


def status_of(error: DomainError) -> int:
    """The status of the nearest kind in the error's class hierarchy (a subclass such as the
    tracker's ``VersionConflict`` gets its kind's status)."""
    for kind in type(error).__mro__:
        if kind in DOMAIN_STATUS:
            return DOMAIN_STATUS[kind]
    raise AssertionError("every DomainError is a DomainError")  # pragma: no cover


def problem_body(
    status: int, code: str, detail: str, instance: str, details: Any = None
) -> dict[str, Any]:
    """The problem document; ``details`` is a list of field problems (``errors``) or a mapping of
    extension members. A mapping key that would overwrite a standard member is dropped."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
    }
    if isinstance(details, list):
        body["errors"] = details
    elif isinstance(details, dict):
        body |= {key: value for key, value in details.items() if key not in _STANDARD_MEMBERS}
    return body


def problem_response_for_path(
    path: str,
    status: int,
    code: str,
    detail: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = problem_body(status, code, detail, path, details)
    return JSONResponse(body, status, headers=headers, media_type=PROBLEM_JSON)


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return problem_response_for_path(request.url.path, status, code, detail, details, headers)


def _validation_details(error: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ()) if part != "body"]
        details.append({"field": ".".join(location), "reason": item.get("msg", "invalid")})
    return details


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return problem_response(request, error.status, error.code, error.message, error.details)

    @app.exception_handler(DomainError)
    async def _refused(request: Request, error: DomainError) -> JSONResponse:
        return problem_response(request, status_of(error), error.code, error.detail, error.details)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        details = _validation_details(error)
        summary = "; ".join(f"{d['field'] or 'body'}: {d['reason']}" for d in details)
        return problem_response(
            request, 422, "validation_failed", f"The request is not valid: {summary}", details
        )

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, error: BodyTooLarge) -> JSONResponse:
        return problem_response(request, 413, error.code, error.detail)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error", error_class=type(error).__name__)
        return problem_response(
            request, 500, "internal_error", "Something went wrong on our side; it has been logged."
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if error.status_code == 404 else f"http_{error.status_code}"
        return problem_response(
            request, error.status_code, code, str(error.detail), headers=error.headers
        )
