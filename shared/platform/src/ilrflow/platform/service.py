"""What every service process runs: a FastAPI app whose lifespan owns the database client, the
Kafka broker with this service's consumers, and the outbox relay; plus /healthz, /readyz, /metrics.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from functools import partial
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo.asynchronous.collection import AsyncCollection

from ilrflow.contracts.events import Envelope
from ilrflow.platform import metrics
from ilrflow.platform.auth import TokenVerifier, sign_in_problems, verify_once
from ilrflow.platform.body_limit import BodyLimit
from ilrflow.platform.http_errors import install_error_handlers
from ilrflow.platform.kafka import (
    ChainHandler,
    ConsumerGroup,
    Handler,
    all_topics,
    consumer_group_id,
    create_broker,
    ensure_topics,
    publish_event,
    send_event,
)
from ilrflow.platform.lanes import POOLED, lane_topic
from ilrflow.platform.logging import bound_context, configure_logging, get_logger
from ilrflow.platform.mongo import Document, create_client, ping, service_database
from ilrflow.platform.openapi import install_openapi
from ilrflow.platform.outbox import OutboxRelay, ensure_outbox_index
from ilrflow.platform.routing import ProcessRoutes, RoutingStore
from ilrflow.platform.settings import Settings, unknown_variables
from ilrflow.platform.tracing import configure_tracing

log = get_logger(__name__)
access_log = get_logger("ilrflow.access")
OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class ServiceRuntime:
    """The I/O resources of one service process, started and stopped together."""

    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        self.settings = settings
        self.client = create_client(settings)
        self.db = service_database(self.client, settings, name)
        self.broker = create_broker(settings, client_id=f"ilrflow-{name}")
        self.relay: OutboxRelay | None = None
        self.consumer_groups: list[ConsumerGroup] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._startup_hooks: list[Callable[[], Awaitable[None]]] = []
        self._background: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self.metric_hooks: list[Callable[[], Awaitable[None]]] = []
        self.started = False

    def group_id(self, topic: str) -> str:
        return consumer_group_id(self.settings, self.name, topic)

    def consume(
        self,
        topic: str,
        handlers: Mapping[str, Handler],
        chain_handlers: Mapping[str, ChainHandler] | None = None,
    ) -> None:
        """Register this service's handlers for the event types it needs from one topic, on
        every lane this process serves (``ILRFLOW_LANES``): one consumer group per lane. A type
        with a chain handler too has a key's records of a batch applied in one call
        (``ConsumerGroup.apply_chain``)."""
        for lane in self.settings.served_lanes:
            on_lane = lane_topic(lane, topic)
            group = ConsumerGroup(
                topic=on_lane,
                group_id=self.group_id(on_lane),
                handlers=handlers,
                settings=self.settings,
                broker=self.broker,
                chain_handlers=chain_handlers or {},
            )
            self.consumer_groups.append(group)
            if self.settings.run_consumers:
                group.subscribe()

    def use_outbox(self, collections: Sequence[AsyncCollection[Document]]) -> OutboxRelay:
        routes = ProcessRoutes(
            RoutingStore.of(self.client, self.settings),
            self.name,
            self.settings.served_lanes,
            self.settings.routes_refresh_seconds,
            self.settings.relay_heartbeat_seconds,
        )
        self.relay = OutboxRelay(
            collections, self.send, self.settings.relay_poll_seconds, routes=routes
        )
        self._startup_hooks.extend(partial(ensure_outbox_index, c) for c in collections)
        return self.relay

    def on_startup(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._startup_hooks.append(hook)

    def on_metrics(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Refresh gauges of this service's own (e.g. a batch consumer's lag) on every scrape."""
        self.metric_hooks.append(hook)

    def run_in_background(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` (a long-lived loop, e.g. a batch consumer) while the service runs.

        These loops are deployment-wide (audit ingest reads every lane, email delivery serves
        every tenant), so they run only in processes that serve the pooled lane: a dedicated
        lane's processes never duplicate them.
        """
        self._background.append((name, work))

    async def publish(self, event: Envelope[Any], topic: str) -> None:
        """Publish to ``topic`` (logical, as routed: ``ilrflow.platform.lanes.route``)."""
        await publish_event(self.broker, event, self.settings.topic_prefix, topic=topic)

    async def send(self, event: Envelope[Any], topic: str) -> Awaitable[None]:
        """Hand to the producer; returns the delivery confirmation (``kafka.send_event``)."""
        return await send_event(self.broker, event, self.settings.topic_prefix, topic=topic)

    def events_written(self) -> None:
        """Tell the relay that new outbox events are waiting."""
        if self.relay is not None:
            self.relay.wake()

    async def start(self) -> None:
        await ensure_topics(
            self.settings.kafka_bootstrap,
            self.settings.topic_partitions,
            all_topics(self.settings.topic_prefix, self.settings.served_lanes),
            prefix=self.settings.topic_prefix,
        )
        for hook in self._startup_hooks:
            await hook()
        await self.broker.start()
        if self.relay is not None and self.settings.run_relay:
            self._tasks.append(asyncio.create_task(self.relay.run_forever(), name="outbox-relay"))
        if self.settings.run_consumers and POOLED in self.settings.served_lanes:
            for name, work in self._background:
                self._tasks.append(asyncio.create_task(_logged(name, work), name=name))
        self.started = True
        log.info(
            "service started",
            lanes=list(self.settings.served_lanes),
            consumers=[g.topic for g in self.consumer_groups],
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        for group in self.consumer_groups:
            await group.commits.flush()
        # Waits (graceful_timeout) for the handlers in flight; their offsets are committed as
        # they finish, while the consumers are still open.
        await self.broker.stop()
        for group in self.consumer_groups:
            await group.commits.close()
        await self.client.close()
        self.started = False

    async def readiness(self) -> dict[str, bool]:
        return {"started": self.started, "database": await ping(self.client)}


async def _logged(name: str, work: Callable[[], Awaitable[None]]) -> None:
    try:
        await work()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task died", task=name)
        raise


def create_service_app(
    runtime: ServiceRuntime,
    routers: Sequence[APIRouter],
    *,
    title: str,
    description: str,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_body_bytes)
    _install_request_context(app, runtime.settings)
    for router in routers:
        app.include_router(router)
    _install_operations_routes(app, runtime)
    return app


def _install_request_context(app: FastAPI, settings: Settings) -> None:
    verifier = TokenVerifier(settings)
    app.state.token_verifier = verifier

    @app.middleware("http")
    async def request_context(request: Request, call_next: Any) -> Response:
        correlation_id = request.headers.get("x-correlation-id")
        principal = await verify_once(request, verifier)
        tenant = principal.tenant if principal is not None else None
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises past its error handlers
        with bound_context(correlation_id=correlation_id, tenant=tenant, path=request.url.path):
            try:
                response: Response = await call_next(request)
                status = response.status_code
            finally:
                seconds = time.perf_counter() - started
                _log_access(request, status, seconds)
        route = request.scope.get("route")
        metrics.HTTP_SECONDS.labels(
            method=request.method,
            route=getattr(route, "path", "unmatched"),
            status=str(status),
        ).observe(seconds)
        return response


def _log_access(request: Request, status: int, seconds: float) -> None:
    """One access line per request (uvicorn's own is off: it is not JSON and has no tenant)."""
    # Probes and scrapes come every few seconds from every orchestrator: debug, not info.
    level = logging.DEBUG if request.url.path in OPERATIONS_PATHS else logging.INFO
    access_log.log(
        level,
        "http request",
        method=request.method,
        path=request.url.path,
        status=status,
        duration_ms=round(seconds * 1000, 2),
    )


def _install_operations_routes(app: FastAPI, runtime: ServiceRuntime) -> None:
    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers.")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Readiness: database and broker are up.")
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, 200 if ready else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics.")
    async def metrics_endpoint() -> Response:
        if runtime.relay is not None:
            metrics.OUTBOX_DEPTH.set(await runtime.relay.depth())
            metrics.OUTBOX_OLDEST_SECONDS.set(await runtime.relay.oldest_age_seconds())
        for group in runtime.consumer_groups:
            for partition, lag in (await group.lag()).items():
                metrics.CONSUMER_LAG.labels(
                    topic=group.topic, group=group.group_id, partition=str(partition)
                ).set(lag)
        for hook in runtime.metric_hooks:
            await hook()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


# An idle connection is kept open longer than clients keep theirs (httpx 5 s, load balancers 60 s):
# with equal timeouts the server closes a connection just as a client sends on it again, which the
# client sees as "server disconnected without sending a response".
KEEP_ALIVE_SECONDS = 75


def serve(create_app: Callable[[], FastAPI], settings: Settings, service: str) -> None:
    """Build a service's app once logging is configured (so what building it logs is a JSON line
    like the rest) and run it with uvicorn until SIGINT/SIGTERM."""
    configure_logging(service, settings.log_level, settings.log_json)
    refuse_unsafe_sign_in(settings)
    warn_unknown_variables(os.environ)
    configure_tracing(service, settings)
    uvicorn.run(
        create_app(),
        host=settings.http_host,
        port=settings.port_for(service),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


def refuse_unsafe_sign_in(settings: Settings) -> None:
    """Exit before serving when anyone could sign in (no issuer, or a public secret, outside
    development mode): a clear message, not a service that accepts forged tokens."""
    problems = sign_in_problems(settings)
    if not problems:
        return
    for problem in problems:
        log.error("refusing to start: unsafe sign-in configuration", problem=problem)
    raise SystemExit("refusing to start: " + " ".join(problems))


def warn_unknown_variables(environ: Mapping[str, str]) -> None:
    """Log a warning per ``ILRFLOW_*`` variable that no setting reads (a typo, most often)."""
    for name, meant in unknown_variables(environ).items():
        log.warning(
            "unknown ILRFLOW_* variable ignored",
            variable=name,
            did_you_mean=meant,
        )
