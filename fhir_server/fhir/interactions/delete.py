"""delete: ``DELETE [base]/[type]/[id]`` (http://hl7.org/fhir/R4/http.html#delete).

Deletion is soft: the row stays, a deletion version is recorded, later reads answer 410 Gone. Deleting an
already deleted resource succeeds again (204); ``If-Match`` guards against deleting a changed resource (412).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.access.context import Access
from fhir_server.fhir import conditional, repository, unit_of_work
from fhir_server.fhir.content import check_accept, parse_etag
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.route_paths import INSTANCE, TYPE
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.fhir.types import served_type
from fhir_server.request_context import Context

router = APIRouter()


@router.delete(f"/{TYPE}/{INSTANCE}", summary="delete", status_code=204, openapi_extra=declares("delete"))
async def delete(resource_type: str, resource_id: str, request: Request, access: Access) -> Response:
    check_accept(request)
    served_type(resource_type)
    if_match = request.headers.get("if-match")
    version = parse_etag(if_match, "If-Match") if if_match else None
    await unit_of_work.write(request, repository.delete, access, resource_type, resource_id, version)
    return Response(status_code=204)


@router.delete(f"/{TYPE}", summary="conditional delete", status_code=204, openapi_extra=declares("delete"))
async def conditional_delete(resource_type: str, request: Request, ctx: Context) -> Response:
    """``DELETE [base]/[type]?<query>`` (http.html#cdelete): the one match is deleted; several answer 412."""
    check_accept(request)
    served_type(resource_type)
    conditional.require_criteria(request.url.query, "DELETE", resource_type)
    args = (resource_type, request.url.query, ctx.base_url, SearchLimits.of(ctx.settings))
    await unit_of_work.write(request, conditional.delete, ctx.access, *args)
    return Response(status_code=204)
