"""update: ``PUT [base]/[type]/[id]`` (http://hl7.org/fhir/R4/http.html#update), with create-on-update under
the client's id and version-aware updates (``If-Match`` -> 412 on mismatch); and conditional update
``PUT [base]/[type]?<query>`` (http.html#cond-update)."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.fhir import conditional, repository, unit_of_work
from fhir_server.fhir.binary_content import expanded
from fhir_server.fhir.content import Prefer, check_accept, check_content_type, parse_etag, resource_response
from fhir_server.fhir.request_body import read_resource
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.route_paths import INSTANCE, TYPE
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.fhir.types import served_type, valid_id
from fhir_server.request_context import Context

router = APIRouter()


@router.put(f"/{TYPE}/{INSTANCE}", summary="update", openapi_extra=declares("update"))
async def update(resource_type: str, resource_id: str, request: Request, ctx: Context) -> Response:
    check_accept(request)
    served_type(resource_type)
    valid_id(resource_id)
    check_content_type(request)
    resource = await read_resource(request, resource_type, resource_id)
    if_match = request.headers.get("if-match")
    version = parse_etag(if_match, "If-Match") if if_match else None
    write = partial(repository.update, base_url=ctx.base_url)
    written = await unit_of_work.write(request, write, ctx.access, resource, resource_id, version)
    status = 201 if written.created else 200
    return resource_response(
        request, await expanded(ctx.database, written.resource), status, Prefer.parse(request), location=written.created
    )


@router.put(f"/{TYPE}", summary="conditional update", openapi_extra=declares("update"))
async def conditional_update(resource_type: str, request: Request, ctx: Context) -> Response:
    check_accept(request)
    served_type(resource_type)
    conditional.require_criteria(request.url.query, "PUT", resource_type)
    check_content_type(request)
    resource = await read_resource(request, resource_type)
    if_match = request.headers.get("if-match")
    version = parse_etag(if_match, "If-Match") if if_match else None
    args = (resource, request.url.query, ctx.base_url, SearchLimits.of(ctx.settings), version)
    written = await unit_of_work.write(request, conditional.update, ctx.access, *args)
    status = 201 if written.created else 200
    return resource_response(
        request, await expanded(ctx.database, written.resource), status, Prefer.parse(request), location=written.created
    )
