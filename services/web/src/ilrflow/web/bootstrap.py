"""The one place that reads settings and builds the web console's objects."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ilrflow.platform import metrics
from ilrflow.platform.logging import bound_context, get_logger
from ilrflow.platform.settings import Settings, get_settings
from ilrflow.web.adapters.api import HttpApis
from ilrflow.web.adapters.development_sign_in import DevelopmentSignIn
from ilrflow.web.adapters.oidc_sign_in import OidcSignIn
from ilrflow.web.adapters.session import SessionCodec
from ilrflow.web.entrypoints.pages import install_page_errors, router
from ilrflow.web.service.console import Console

SERVICE = "web"
HERE = Path(__file__).resolve().parent
# Installed by deploy/local/bootstrap.sh (npm ci in services/web/assets); no build step.
GOVUK_FRONTEND = HERE.parents[2] / "assets" / "node_modules" / "govuk-frontend" / "dist" / "govuk"
log = get_logger(__name__)
access_log = get_logger("ilrflow.access")


def create_app(
    settings: Settings | None = None, apis: Any = None, oidc: OidcSignIn | None = None
) -> FastAPI:
    """The console; ``apis`` replaces the HTTP client of the five services and ``oidc`` the
    single sign-on the settings configure (unit tests)."""
    settings = settings or get_settings()
    http_apis = apis or HttpApis(settings.web_service_urls)
    single_sign_on = oidc or _single_sign_on(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if isinstance(http_apis, HttpApis):
            await http_apis.close()
        if single_sign_on is not None:
            await single_sign_on.close()

    app = FastAPI(
        title="ilrflow console", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.console = Console(http_apis)
    app.state.session_codec = SessionCodec(settings.web_session_secret or secrets.token_hex(32))
    app.state.sign_in = DevelopmentSignIn(settings, http_apis) if settings.web_dev_sign_in else None
    app.state.single_sign_on = single_sign_on
    app.state.default_tenant = settings.web_dev_tenant
    app.state.templates = Jinja2Templates(directory=HERE / "templates")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    if GOVUK_FRONTEND.is_dir():
        app.state.govuk_frontend = True
        app.mount("/govuk", StaticFiles(directory=GOVUK_FRONTEND), name="govuk")
    else:
        app.state.govuk_frontend = False
        log.warning(
            "govuk-frontend is not installed: pages use the console's own CSS only",
            looked_in=str(GOVUK_FRONTEND),
        )
    app.state.templates.env.globals["govuk_frontend"] = app.state.govuk_frontend
    app.include_router(router)
    install_page_errors(app)
    _install_access_log(app)
    _install_operations_routes(app)
    return app


def _single_sign_on(settings: Settings) -> OidcSignIn | None:
    """OpenID Connect sign-in when the console has a client id at the platform's issuer."""
    if not (settings.web_oidc_client_id and settings.oidc_issuer):
        return None
    return OidcSignIn(settings)


def _install_access_log(app: FastAPI) -> None:
    @app.middleware("http")
    async def access(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        with bound_context(
            correlation_id=request.headers.get("x-correlation-id"), path=request.url.path
        ):
            response: Response = await call_next(request)
            seconds = time.perf_counter() - started
            access_log.info(
                "http request",
                method=request.method,
                path=request.url.path,
                status=response.status_code,
                duration_ms=round(seconds * 1000, 2),
            )
        route = request.scope.get("route")
        metrics.HTTP_SECONDS.labels(
            method=request.method,
            route=getattr(route, "path", "unmatched"),
            status=str(response.status_code),
        ).observe(seconds)
        return response


def _install_operations_routes(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        # The console holds no connection of its own; a service that is down shows on the page.
        return JSONResponse({"ready": True, "checks": {}})

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
