"""HTTP errors as ``{"error": {"code", "message", "details"}}``, the same in every service.

This is the one place that knows which HTTP status each kind of refusal gets: use cases and rules
raise the domain errors of ``ilrflow.contracts.errors`` and :data:`DOMAIN_STATUS` maps them.
:class:`ApiError` is for what only HTTP knows about (a missing bearer token, a header or cursor
that does not parse), raised by the platform's auth and by entrypoints, never by a use case.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ilrflow.contracts.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from ilrflow.platform.logging import get_logger

log = get_logger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


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


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _validation_details(error: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ()) if part != "body"]
        details.append({"field": ".".join(location), "reason": item.get("msg", "invalid")})
    return details


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error_body(error.code, error.message, error.details), error.status)

    @app.exception_handler(DomainError)
    async def _refused(_: Request, error: DomainError) -> JSONResponse:
        return JSONResponse(error_body(error.code, error.detail, error.details), status_of(error))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        details = _validation_details(error)
        summary = "; ".join(f"{d['field'] or 'body'}: {d['reason']}" for d in details)
        return JSONResponse(
            error_body("validation_failed", f"The request is not valid: {summary}", details), 422
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error", error_class=type(error).__name__)
        return JSONResponse(
            error_body("internal_error", "Something went wrong on our side; it has been logged."),
            500,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if error.status_code == 404 else f"http_{error.status_code}"
        return JSONResponse(error_body(code, str(error.detail)), error.status_code)
