"""vread: ``GET [base]/[type]/[id]/_history/[vid]`` (http://hl7.org/fhir/R4/http.html#vread), with
``_summary``/``_elements``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.access.context import Access, AccessContext, resolve_access
from fhir_server.app_context import app_context
from fhir_server.fhir import reading
from fhir_server.fhir.content import check_accept, resource_response, subset
from fhir_server.fhir.interactions import binary
from fhir_server.fhir.primitives import version_number
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.route_paths import INSTANCE, TYPE
from fhir_server.fhir.types import served_type

router = APIRouter()


@router.get(f"/{TYPE}/{INSTANCE}/_history/{{version_id}}", summary="vread", openapi_extra=declares("vread"))
async def vread(
    resource_type: str,
    resource_id: str,
    version_id: str,
    request: Request,
    access: Access,
) -> Response:
    return await _respond(request, access, resource_type, resource_id, version_id)


async def vread_endpoint(request: Request) -> Response:
    """The same vread as a plain Starlette endpoint (no FastAPI dependency solving): for the route the application
    matches first (see ``fhir_server.app``); audited as ``vread``."""
    params = request.path_params
    resource_type, resource_id, version_id = params["resource_type"], params["resource_id"], params["version_id"]
    number = version_number(version_id)
    if number is None:
        return await _respond(request, await resolve_access(request), resource_type, resource_id, version_id)
    access, prefetched = await reading.authorize(request, "vread", resource_type, resource_id, number)
    return await _respond(request, access, resource_type, resource_id, version_id, prefetched)


async def _respond(
    request: Request,
    access: AccessContext,
    resource_type: str,
    resource_id: str,
    version_id: str,
    prefetched: reading.Prefetched | None = None,
) -> Response:
    if resource_type != "Binary":  # a Binary may be served in its own type (binary.respond negotiates)
        check_accept(request)
    served_type(resource_type)
    database = app_context(request).database
    resource = await reading.read_version(database, access, resource_type, resource_id, version_id, prefetched)
    if resource_type == "Binary":
        return await binary.respond(request, resource)
    return resource_response(request, subset(request, resource))
