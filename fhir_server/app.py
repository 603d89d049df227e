"""The ASGI application: routers, exception handlers, middleware and lifespan. Nothing else."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from fhir_server import health
from fhir_server.audit import routes as audit_routes
from fhir_server.audit.middleware import AuditMiddleware
from fhir_server.auth import routes as auth_routes
from fhir_server.db.engine import Database
from fhir_server.fhir import outcomes, routes, validation
from fhir_server.imaging import dicomweb_proxy, upstream, watcher
from fhir_server.request_log import RequestLogMiddleware, configure_logging
from fhir_server.settings import Settings, load_settings

logger = logging.getLogger("fhir_server")


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the application for ``settings`` (read from the environment when not given)."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        app.state.database = database or Database(settings.database_url)
        validation.warm_up()
        if settings.auth == "disabled":
            logger.warning("authorization is DISABLED: the FHIR API is open to anyone who can reach it")
        imaging_watcher = watcher.start(app.state.database, settings)
        try:
            yield
        finally:
            await watcher.stop(imaging_watcher)
            await upstream.close_upstream(app.state)
            await app.state.database.close_async_pool()
            if owned:
                app.state.database.dispose()

    app = FastAPI(
        title="FHIR server",
        version="0.1.0",
        description="FHIR R4 (4.0.1) over a clinic's data, with SMART-on-FHIR and DICOMweb.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(AuditMiddleware)  # inside the request log: it sees the request id
    app.add_middleware(RequestLogMiddleware)
    # SMART apps run in browsers on other origins and send Bearer tokens, never cookies: every origin may read.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["Location", "Content-Location", "ETag", "Last-Modified", "WWW-Authenticate", "X-Request-ID"],
    )
    app.add_exception_handler(outcomes.FhirError, outcomes.handle_fhir_error)
    app.add_exception_handler(StarletteHTTPException, outcomes.handle_http_error)
    app.add_exception_handler(RequestValidationError, outcomes.handle_validation_error)
    app.add_exception_handler(Exception, outcomes.handle_unexpected)
    app.include_router(health.router)
    app.include_router(auth_routes.router)  # before the FHIR routes: /fhir/.well-known, /fhir/auth
    app.include_router(audit_routes.router)  # before the FHIR routes: /fhir/AuditEvent is not a mapped type
    app.include_router(routes.router)
    app.include_router(dicomweb_proxy.router)
    return app
