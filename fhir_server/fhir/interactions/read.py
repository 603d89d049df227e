"""read: ``GET [base]/[type]/[id]`` (http://hl7.org/fhir/R4/http.html#read), with conditional read
(``If-None-Match``, ``If-Modified-Since`` -> 304) and ``_summary``/``_elements``."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.access.context import Access, AccessContext
from fhir_server.app_context import app_context
from fhir_server.fhir import reading
from fhir_server.fhir.content import check_accept, etag, parse_http_date, resource_response, subset
from fhir_server.fhir.interactions import binary
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.route_paths import INSTANCE, TYPE
from fhir_server.fhir.types import served_type

router = APIRouter()


@router.get(f"/{TYPE}/{INSTANCE}", summary="read", openapi_extra=declares("read"))
async def read(resource_type: str, resource_id: str, request: Request, access: Access) -> Response:
    return await _respond(request, access, resource_type, resource_id)


async def read_endpoint(request: Request) -> Response:
    """The same read as a plain Starlette endpoint (no FastAPI dependency solving): for the route the application
    matches first (see ``fhir_server.app``); audited as ``read``."""
    resource_type, resource_id = request.path_params["resource_type"], request.path_params["resource_id"]
    access, prefetched = await reading.authorize(request, "read", resource_type, resource_id, None)
    return await _respond(request, access, resource_type, resource_id, prefetched)


async def _respond(
    request: Request,
    access: AccessContext,
    resource_type: str,
    resource_id: str,
    prefetched: reading.Prefetched | None = None,
) -> Response:
    if resource_type != "Binary":  # a Binary may be served in its own type (binary.respond negotiates)
        check_accept(request)
    served_type(resource_type)
    database = app_context(request).database
    resource = await reading.read_current(database, access, resource_type, resource_id, prefetched=prefetched)
    if _not_modified(request, resource["meta"]["versionId"], resource["meta"]["lastUpdated"]):
        return Response(status_code=304, headers={"ETag": etag(resource["meta"]["versionId"])})
    if resource_type == "Binary":
        return await binary.respond(request, resource)
    return resource_response(request, subset(request, resource))


def _not_modified(request: Request, version_id: str, last_updated: str) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return if_none_match.strip() in {etag(version_id), f'"{version_id}"', "*"}
    since = parse_http_date(request.headers.get("if-modified-since", ""))
    if since is None:
        return False
    modified = datetime.fromisoformat(last_updated.replace("Z", "+00:00")).replace(microsecond=0)
    return modified <= since
