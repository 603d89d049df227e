"""The ASGI application: routers, exception handlers, middleware and lifespan. Nothing else."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from fhir_server import app_context, background, health
from fhir_server.access.route_guard import RouteGuardMiddleware
from fhir_server.app_context import AppContext
from fhir_server.audit import routes as audit_routes
from fhir_server.audit.middleware import AuditMiddleware
from fhir_server.audit.writer import close_writer
from fhir_server.auth import routes as auth_routes
from fhir_server.body_limit import BodyLimitMiddleware
from fhir_server.db import failures
from fhir_server.db.engine import Database
from fhir_server.db.limits import DatabaseLimits
from fhir_server.db.request_guard import RequestGuard
from fhir_server.errors import FhirError
from fhir_server.fhir import outcomes, pipeline, routes, validation
from fhir_server.fhir.interactions import read, terminology, vread
from fhir_server.fhir.route_interactions import FhirRoute
from fhir_server.fhir.route_paths import TYPE
from fhir_server.head_requests import HeadRequestsMiddleware
from fhir_server.imaging import dicomweb_proxy, upstream, watcher
from fhir_server.jobs import loop as jobs_loop
from fhir_server.metrics import endpoint as metrics_endpoint
from fhir_server.metrics import pools as metrics_pools
from fhir_server.openapi import pages as docs_pages
from fhir_server.request_log import RequestLogMiddleware, configure_logging
from fhir_server.settings import Settings, load_settings
from fhir_server.ui import routes as ui_routes

logger = logging.getLogger("fhir_server")


def _route_reads_first(app: FastAPI) -> None:
    """read and vread, the hottest interactions, routed before everything else: a path reaches them here only when
    it names a served type, an id of FHIR's id syntax and (vread) a numeric version, which no other route takes; any
    other path is routed as before (to the FastAPI handlers under the FHIR router, when it is a read at all). Plain
    Starlette endpoints: this spares the walk through every router included before the FHIR one and FastAPI's
    dependency solving (the path convertors: :mod:`fhir_server.fhir.route_paths`)."""
    base = f"/fhir/{TYPE}/{{resource_id:fhir_id}}"
    app.router.routes.extend(terminology.published_read_routes())  # the server's own CodeSystems and ValueSets
    app.router.routes.append(FhirRoute(base, read.read_endpoint, methods=["GET"], interaction="read"))
    versioned = base + "/_history/{version_id:version_id}"
    app.router.routes.append(FhirRoute(versioned, vread.vread_endpoint, methods=["GET"], interaction="vread"))


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the application for ``settings`` (read from the environment when not given) on ``database`` (opened
    from the settings when not given). When it starts, its AppContext (settings, base URL, cursor key, database)
    is built once for every request (:mod:`fhir_server.app_context`)."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        db = database or Database(
            settings.database_url,
            DatabaseLimits.from_settings(settings),
            finish=pipeline.finish,
            default_clinic=settings.default_clinic,
        )
        app_context.install(app, AppContext.of(settings, db))
        if db.limits is not None:
            logger.info(db.limits.describe(db.is_sqlite))
        validation.warm_up()
        if settings.auth == "disabled":
            logger.warning("authorization is DISABLED: the FHIR API is open to anyone who can reach it")
        imaging_watcher = watcher.start(db, settings)
        pool_metrics = metrics_pools.start_refreshing(db)
        jobs = jobs_loop.start(db, settings)
        try:
            yield
        finally:
            if jobs is not None:
                await jobs.stop()
            await background.stop(pool_metrics)
            await watcher.stop(imaging_watcher)
            await upstream.close_upstream(app.state)
            await close_writer(app.state)
            await db.close_async_pool()
            if owned:
                db.dispose()

    app = FastAPI(
        title="FHIR server",
        version="0.1.0",
        description="FHIR R4 (4.0.1) over a clinic's data, with SMART-on-FHIR and DICOMweb.",
        lifespan=lifespan,
        openapi_url=None,  # served by fhir_server.openapi.pages, as are /docs and /redoc
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(RouteGuardMiddleware)  # inside the audit trail, which records its 401s
    app.add_middleware(HeadRequestsMiddleware)  # around the route guard: a HEAD's 401 has no body either
    app.add_middleware(BodyLimitMiddleware, settings=settings)  # counts what the audit trail's peek lets through
    app.add_middleware(RequestGuard, seconds=settings.statement_timeout)  # bounds each request's database work
    app.add_middleware(AuditMiddleware)  # inside the request log: it sees the request id
    app.add_middleware(RequestLogMiddleware)
    # SMART apps run in browsers on other origins and send Bearer tokens, never cookies: every origin may read.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=[
            *("Location", "Content-Location", "ETag", "Last-Modified", "WWW-Authenticate", "X-Request-ID"),
            *("X-Progress", "Retry-After", "Expires"),  # Bulk Data status (export.html#bulk-data-status-request)
        ],
    )
    app.add_exception_handler(FhirError, outcomes.handle_fhir_error)
    app.add_exception_handler(StarletteHTTPException, outcomes.handle_http_error)
    app.add_exception_handler(RequestValidationError, outcomes.handle_validation_error)
    for failure in failures.HANDLED:
        app.add_exception_handler(failure, failures.handle_database_failure)
    app.add_exception_handler(Exception, outcomes.handle_unexpected)
    _route_reads_first(app)
    app.include_router(dicomweb_proxy.router)  # early: its /dicomweb paths share nothing with the others
    app.include_router(health.router)
    docs_pages.install(app)
    app.include_router(metrics_endpoint.router)
    app.include_router(auth_routes.router)  # before the FHIR routes: /fhir/.well-known, /fhir/auth
    app.include_router(audit_routes.router)  # before the FHIR routes: /fhir/AuditEvent is not a mapped type
    app.include_router(routes.router)
    app.include_router(ui_routes.router)  # the browser UI: / and /ui/...
    return app
