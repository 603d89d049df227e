"""Liveness (``GET /health``) and readiness (``GET /health/ready``) probes.

Ready means: the database answers, its schema is at the newest migration, and Orthanc answers when one is
configured. A probe that fails answers 503 with the same JSON shape naming the failing check.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from fhir_server.app_context import app_context
from fhir_server.db.engine import Database
from fhir_server.db.migrate import pending
from fhir_server.imaging import errors as imaging_errors
from fhir_server.imaging.orthanc import basic_auth
from fhir_server.responses import JsonResponse
from fhir_server.settings import Settings

router = APIRouter(tags=["health"])


@router.get("/health")
async def alive(request: Request) -> JsonResponse:
    """The process is up. Says loudly when authorization is disabled."""
    settings = app_context(request).settings
    body: dict[str, Any] = {"status": "pass", "auth": settings.auth}
    if settings.auth == "disabled":
        body["warning"] = "authorization is DISABLED: the API is open to anyone who can reach it"
    return JsonResponse(body)


@router.get("/health/ready")
async def ready(request: Request) -> JsonResponse:
    """Database reachable and migrated; Orthanc reachable when configured."""
    context = app_context(request)
    settings = context.settings
    checks = {"database": await run_in_threadpool(_database_check, context.database)}
    if settings.orthanc_url:
        checks["orthanc"] = await orthanc_check(settings)
    ok = all(check["status"] == "pass" for check in checks.values())
    return JsonResponse({"status": "pass" if ok else "fail", "checks": checks}, status_code=200 if ok else 503)


def _database_check(database: Database) -> dict[str, str]:
    try:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if pending(database.engine):
            return {"status": "fail", "detail": "schema is behind: run `fhir-server db upgrade`"}
    except SQLAlchemyError as exc:
        return {"status": "fail", "detail": f"database unreachable: {type(exc).__name__}"}
    return {"status": "pass"}


async def orthanc_check(settings: Settings) -> dict[str, str]:
    """Orthanc answers ``GET /system`` with this server's credentials; failures named as the proxy names them."""
    try:
        async with httpx.AsyncClient(timeout=3.0, auth=basic_auth(settings)) as client:
            response = await client.get(f"{settings.orthanc_url}/system")
    except httpx.HTTPError as exc:
        return {"status": "fail", "detail": str(imaging_errors.check_health(exc, None))}
    problem = imaging_errors.check_health(None, response.status_code)
    if problem is not None:
        return {"status": "fail", "detail": problem}
    return {"status": "pass"}
