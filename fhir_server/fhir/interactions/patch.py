"""patch: ``PATCH [base]/[type]/[id]`` (http://hl7.org/fhir/R4/http.html#patch) with a JSON Patch
(``application/json-patch+json``), a JSON Merge Patch (``application/merge-patch+json``) or a FHIRPath Patch
Parameters resource (``application/fhir+json``); ``application/json`` is read by its shape
(:func:`patching.kind_of`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.errors import conflict
from fhir_server.fhir import patching, repository, unit_of_work
from fhir_server.fhir.binary_content import expanded
from fhir_server.fhir.content import (
    FHIR_JSON,
    JSON_PATCH,
    MERGE_PATCH,
    Prefer,
    check_accept,
    check_content_type,
    parse_etag,
    resource_response,
)
from fhir_server.fhir.patch_limits import PatchLimits
from fhir_server.fhir.request_body import read_json
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.route_paths import INSTANCE, TYPE
from fhir_server.fhir.types import served_type
from fhir_server.request_context import Context, RequestContext

router = APIRouter()

_PATCH_TYPES = frozenset({JSON_PATCH, MERGE_PATCH, FHIR_JSON, "application/json"})


@router.patch(f"/{TYPE}/{INSTANCE}", summary="patch", openapi_extra=declares("patch"))
async def patch(resource_type: str, resource_id: str, request: Request, ctx: Context) -> Response:
    check_accept(request)
    served_type(resource_type)
    check_content_type(request, _PATCH_TYPES)
    media_type = request.headers["content-type"].split(";", 1)[0].strip().lower()
    limits = PatchLimits.of(ctx.settings)
    change = patching.Patch.of(media_type, await read_json(request), limits)
    if_match = request.headers.get("if-match")
    version = parse_etag(if_match, "If-Match") if if_match else None
    written = await _patch(request, ctx, resource_type, resource_id, change, version)
    return resource_response(request, await expanded(ctx.database, written.resource), 200, Prefer.parse(request))


async def _patch(
    request: Request,
    ctx: RequestContext,
    resource_type: str,
    resource_id: str,
    change: patching.Patch,
    version: str | None,
) -> repository.Written:
    """Compute the patch on a read session, then store it under the row lock; computed once more when another
    write changed the resource in between, then 409."""
    args = (ctx.access, resource_type, resource_id)
    for _ in range(2):
        prepared = await unit_of_work.read(request, patching.prepare, *args, change, version)
        try:
            return await unit_of_work.write(request, patching.store, *args, prepared, version, ctx.base_url)
        except patching.VersionMovedError:
            continue
    raise conflict(f"{resource_type}/{resource_id} kept changing while the patch was computed; try again")
