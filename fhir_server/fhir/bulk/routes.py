"""The Bulk Data Access routes (https://hl7.org/fhir/uv/bulkdata/STU2/export.html): kick-off of a system, Patient
or Group level ``$export`` (GET or POST), the status of an export (GET polls, DELETE cancels) and its files.

Thin handlers: the checks and params are :mod:`.kickoff`'s, the jobs :mod:`.start`'s, the answers :mod:`.manifest`'s
and :mod:`.files`'s. Every request is audited (:mod:`fhir_server.audit.middleware`); the kick-off's own row, written
with its job, names the job.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session
from starlette.responses import Response

from fhir_server.access.context import AccessContext
from fhir_server.audit import trail
from fhir_server.auth.audit_events import Origin
from fhir_server.db.types import utcnow
from fhir_server.errors import Issue
from fhir_server.fhir import unit_of_work
from fhir_server.fhir.bulk import files, kickoff, manifest, start
from fhir_server.fhir.bulk.runner import cleanup
from fhir_server.fhir.content import FhirResponse, http_date
from fhir_server.fhir.operation_parameters import add_routes
from fhir_server.fhir.outcomes import operation_outcome
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.request_context import Context, RequestContext

router = APIRouter()


async def export_system(request: Request, ctx: Context) -> Response:
    """``[base]/$export``: every type the caller may search (export.html#endpoint---system-level-export)."""
    return await _kick_off(request, ctx, kickoff.Level("system"))


async def export_patients(request: Request, ctx: Context) -> Response:
    """``[base]/Patient/$export``: the compartments of every patient, or of the ``patient`` parameters."""
    return await _kick_off(request, ctx, kickoff.Level("patient"))


async def export_group(resource_id: str, request: Request, ctx: Context) -> Response:
    """``[base]/Group/[id]/$export``: the compartments of the Group's member Patients."""
    return await _kick_off(request, ctx, kickoff.Level("group", resource_id))


add_routes(router, "/$export", export_system, declares("$export"))
add_routes(router, "/Patient/$export", export_patients, declares("$export", "Patient"))
add_routes(router, "/Group/{resource_id}/$export", export_group, declares("$export", "Group"))


async def _kick_off(request: Request, ctx: Context, level: kickoff.Level) -> Response:
    """202 with the status URL in ``Content-Location`` (export.html#response---success); with an OperationOutcome
    naming the parameters ignored under ``Prefer: handling=lenient``."""
    prefer = kickoff.check_headers(request)
    values, ignored = await kickoff.read_parameters(request, prefer)
    limits = SearchLimits.of(ctx.settings)
    params = await run_in_threadpool(kickoff.export_params, values, level, ctx.access, limits)
    now = utcnow()
    params |= {
        "transaction_time": now.replace(microsecond=now.microsecond // 1000 * 1000).isoformat(),
        "request": _public_url(request, ctx.base_url),
        "base_url": ctx.base_url,
        "grant": start.grant_of(ctx.access),
    }
    job_id = await unit_of_work.write(request, _start_audited, request, ctx, params)
    headers = {"Content-Location": manifest.status_url(ctx.base_url, job_id)}
    issues = [Issue("informational", f"export job {job_id} queued", severity="information")]
    issues += [Issue("not-supported", f"ignored the parameter {n!r}", (n,), severity="warning") for n in ignored]
    return FhirResponse(operation_outcome(issues), 202, headers)


def _public_url(request: Request, base_url: str) -> str:
    """The kick-off URL as the client sent it to the public base (behind a proxy too): the manifest's ``request``."""
    query = request.url.query
    return base_url + request.url.path.removeprefix("/fhir") + (f"?{query}" if query else "")


def _start_audited(session: Session, request: Request, ctx: RequestContext, params: dict[str, Any]) -> str:
    """Queue the job and, in the same transaction, the kick-off's audit row naming it; the job's id."""
    job_id = str(start.start(session, ctx.access, ctx.settings, params).id)
    _audit(session, request, ctx.access, f"export job {job_id} queued ({params['level']} level)")
    return job_id


def _cancel_audited(session: Session, request: Request, access: AccessContext, job_id: str) -> tuple[str, bool]:
    job_id, running = start.cancel(session, access, job_id)
    _audit(session, request, access, f"export job {job_id} cancelled")
    return job_id, running


def _audit(session: Session, request: Request, access: AccessContext, detail: str) -> None:
    """The request's audit row (status 202, ``detail`` naming the job), committed with the job's change."""
    trail.add(session, trail.interaction_of(request.scope), access, Origin.of(request), 202, detail)
    trail.mark_recorded(request)


@router.get("/bulk/status/{job_id}", summary="$export status", openapi_extra=declares("$export-status"))
async def export_status(job_id: str, request: Request, ctx: Context) -> Response:
    """202 with ``X-Progress`` and ``Retry-After`` while the export is queued or running; 200 with the manifest
    (``application/json``) once complete; 500 with an OperationOutcome when it failed (export.html
    #bulk-data-status-request)."""
    job = await unit_of_work.read(request, start.find, ctx.access, job_id)
    if job.state in ("queued", "running"):
        headers = {"X-Progress": manifest.progress(job), "Retry-After": str(start.RETRY_SECONDS)}
        return Response(status_code=202, headers=headers)
    if job.state == "failed":
        text = f"export job {job_id} failed: {job.error or 'no reason recorded'}"
        return FhirResponse(operation_outcome([Issue("exception", text)]), 500)
    expires = {"Expires": http_date(job.expires_at)} if job.expires_at is not None else {}
    return Response(orjson.dumps(manifest.manifest(job, ctx.base_url)), 200, expires, "application/json")


@router.delete("/bulk/status/{job_id}", summary="$export cancel", openapi_extra=declares("$export-cancel"))
async def export_cancel(job_id: str, request: Request, ctx: Context) -> Response:
    """Cancel the export and delete its files: 202 (export.html#bulk-data-delete-request)."""
    job_id, running = await unit_of_work.write(request, _cancel_audited, request, ctx.access, job_id)
    if not running:  # a running export's worker stops at its next progress report and removes what it wrote
        await run_in_threadpool(cleanup, ctx.settings, job_id)
    cancelled = Issue("informational", f"export job {job_id} cancelled", severity="information")
    return FhirResponse(operation_outcome([cancelled]), 202)


@router.get("/bulk/files/{job_id}/{name}", summary="$export file", openapi_extra=declares("$export-file"))
async def export_file(job_id: str, name: str, request: Request, ctx: Context) -> Response:
    """One NDJSON file of a completed export (export.html#file-request), to the client that started it."""
    job = await unit_of_work.read(request, start.find, ctx.access, job_id)
    path = await run_in_threadpool(files.export_file, ctx.settings, job, name)
    return files.file_response(request, path)
