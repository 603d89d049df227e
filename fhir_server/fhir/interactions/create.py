"""create: ``POST [base]/[type]`` (http://hl7.org/fhir/R4/http.html#create); the server assigns the id.
With ``If-None-Exist: <query>`` it is a conditional create (http.html#ccreate): an existing match answers 200."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.fhir import conditional, repository, unit_of_work
from fhir_server.fhir.binary_content import expanded
from fhir_server.fhir.content import Prefer, check_accept, check_content_type, resource_response
from fhir_server.fhir.request_body import read_resource
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.route_paths import TYPE
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.fhir.types import served_type
from fhir_server.request_context import Context

router = APIRouter()


@router.post(f"/{TYPE}", summary="create", status_code=201, openapi_extra=declares("create"))
async def create(resource_type: str, request: Request, ctx: Context) -> Response:
    check_accept(request)
    served_type(resource_type)
    check_content_type(request)
    resource = await read_resource(request, resource_type)
    resource.pop("id", None)  # the server assigns the id of a created resource
    criteria = request.headers.get("if-none-exist")
    if criteria is None:
        write = partial(repository.create, base_url=ctx.base_url)
        written = await unit_of_work.write(request, write, ctx.access, resource)
    else:
        args = (resource, criteria, ctx.base_url, SearchLimits.of(ctx.settings))
        written = await unit_of_work.write(request, conditional.create, ctx.access, *args)
    status = 201 if written.created else 200
    return resource_response(
        request, await expanded(ctx.database, written.resource), status, Prefer.parse(request), location=written.created
    )
