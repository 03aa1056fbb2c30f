"""FastAPI application factory: mounts every module's routers, the operations endpoints and the web UI."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import ExitStack, asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import text
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import xingcheng
from xingcheng.core import heap, outbox
from xingcheng.core.audit.sequencer import Sequencer
from xingcheng.core.db import get_database
from xingcheng.core.deps import current_principal
from xingcheng.core.errors import MethodNotAllowed, NotFound
from xingcheng.core.events import EventBus, create_bus
from xingcheng.core.problems import BodyLimitMiddleware, install_error_handlers
from xingcheng.core.registry import Module
from xingcheng.core.routing import GuardedRouter
from xingcheng.core.settings import Settings, get_settings
from xingcheng.modules import MODULES

log = logging.getLogger("xingcheng")

# Protocol prefixes whose unknown paths must still answer in that protocol's error format.
PROTOCOL_PREFIXES = ("/api", "/sta/v1.1", "/open311/v2", "/fhir/r4")


class Metrics:
    """Request counters for /metrics; enough to watch a deployment without extra services."""

    def __init__(self) -> None:
        self.started = time.time()
        self.requests = 0
        self.errors = 0

    def snapshot(self) -> dict[str, Any]:
        return {"uptime_seconds": round(time.time() - self.started, 1), "requests": self.requests, "server_errors": self.errors}


class CountRequests:
    """Counts HTTP requests and 5xx answers into ``Metrics``. Plain ASGI: a ``BaseHTTPMiddleware`` would add
    a task group and memory streams to every request."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.metrics.requests += 1
        answered = False

        async def watch(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                if message["status"] >= 500:
                    self.metrics.errors += 1
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if not answered:  # Starlette's outermost layer turns it into the 500, outside this middleware
                self.metrics.errors += 1
            raise


def start_event_bus(app: FastAPI, settings: Settings, modules: Sequence[Module]) -> EventBus:
    bus = create_bus(settings.mqtt_url, client_id=f"xingcheng-api-{settings.port}")
    for module in modules:
        for subscription in module.subscriptions:
            bus.subscribe(subscription.pattern, subscription.handler)
    app.state.bus = bus
    outbox.set_bus(bus)
    return bus


def create_app(*, settings: Settings | None = None, modules: Sequence[Module] = MODULES, with_ui: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything started is stopped in reverse order, also when a later start-up step fails.
        with ExitStack() as stack:
            bus = start_event_bus(app, settings, modules)
            stack.callback(bus.close)
            stack.callback(outbox.set_bus, None)
            for module in modules:
                if module.on_startup is not None:
                    module.on_startup()
                if module.on_shutdown is not None:
                    stack.callback(module.on_shutdown)
            # One sequencer gives committed audit entries their leaf index and signs tree heads.
            # An in-memory SQLite database has one shared connection and cannot serve a second thread.
            if settings.audit.sequencer_enabled and ":memory:" not in settings.resolved_database_url:
                sequencer = Sequencer(get_database(), settings=settings.audit)
                sequencer.start()
                stack.callback(sequencer.stop)
            if settings.api.settle_heap:
                heap.settle("start-up")
            yield

    # Swagger UI and ReDoc served from the package, not a CDN: the city's machines are offline.
    app = FastAPIOffline(
        title="Xingcheng 星城 city digital platform",
        version=xingcheng.__version__,
        description="One city digital base (data middle platform, IoT sensing, workflow) and the city's applications.",
        lifespan=lifespan,
        openapi_tags=[{"name": "operations", "description": "liveness, readiness, metrics"}],
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.api.max_body_bytes)
    metrics = Metrics()
    app.state.metrics = metrics

    app.add_middleware(CountRequests, metrics=metrics)

    @app.get("/health", tags=["operations"], operation_id="health")
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "version": xingcheng.__version__}

    @app.get("/ready", tags=["operations"], operation_id="ready")
    def ready(request: Request) -> JSONResponse:
        """Readiness: the database answers and, when configured, the broker is connected."""
        checks: dict[str, str] = {}
        try:
            with get_database().engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 — readiness reports any failure as a finding
            checks["database"] = f"unreachable: {type(exc).__name__}"
        bus = getattr(request.app.state, "bus", None)
        if settings.mqtt_url:
            checks["broker"] = "ok" if bus is not None and getattr(bus, "is_connected", False) else "unreachable"
        else:
            checks["broker"] = "in-process"
        ok = all(v in ("ok", "in-process") for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], operation_id="metrics")
    def metrics_endpoint() -> dict[str, Any]:
        return metrics.snapshot()

    # Each module's routers sit behind a check of their path prefixes (core.routing): a request walks past
    # the other modules in one comparison each. The protected ones require a caller.
    for module in modules:
        if module.public_router is not None:
            app.include_router(GuardedRouter(module.public_router))
        if module.router is not None:
            app.include_router(GuardedRouter(module.router, dependencies=[Depends(current_principal)]))

    # Unknown paths under the protocol prefixes answer in their own format, not the UI's 404 page.
    for prefix in PROTOCOL_PREFIXES:
        app.add_api_route(
            prefix + "/{rest:path}", _unknown_route, methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            include_in_schema=False,
        )

    if with_ui:
        from xingcheng.web import mount_ui

        mount_ui(app, modules=modules, settings=settings)
    return app


def _unknown_route(request: Request, rest: str) -> None:
    # The catch-all also wins over a real route reached with the wrong method: tell those apart.
    for route in request.app.router.routes:
        if getattr(route, "endpoint", None) is _unknown_route:
            continue
        match, _ = route.matches(request.scope)
        if match is Match.PARTIAL:
            raise MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
    raise NotFound(f"no such endpoint: {request.method} {request.url.path}")
