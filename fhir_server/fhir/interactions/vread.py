"""vread: ``GET [base]/[type]/[id]/_history/[vid]`` (http://hl7.org/fhir/R4/http.html#vread), with
``_summary``/``_elements``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.auth.context import Access, AccessContext, resolve_access
from fhir_server.fhir import reading
from fhir_server.fhir.content import check_accept, resource_response, subset
from fhir_server.fhir.types import served_type
from fhir_server.fhir.unit_of_work import database_of

router = APIRouter()


@router.get("/{resource_type}/{resource_id}/_history/{version_id}", summary="vread")
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
    access = await resolve_access(request)
    return await _respond(request, access, params["resource_type"], params["resource_id"], params["version_id"])


async def _respond(
    request: Request, access: AccessContext, resource_type: str, resource_id: str, version_id: str
) -> Response:
    check_accept(request)
    served_type(resource_type)
    resource = await reading.read_version(database_of(request), access, resource_type, resource_id, version_id)
    return resource_response(request, subset(request, resource))
