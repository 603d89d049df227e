"""create: ``POST [base]/[type]`` (http://hl7.org/fhir/R4/http.html#create); the server assigns the id."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.auth.context import Access
from fhir_server.fhir import repository, unit_of_work
from fhir_server.fhir.content import Prefer, check_accept, check_content_type, resource_response
from fhir_server.fhir.types import served_type
from fhir_server.fhir.validation import parse_resource

router = APIRouter()


@router.post("/{resource_type}", summary="create", status_code=201)
async def create(resource_type: str, request: Request, access: Access) -> Response:
    check_accept(request)
    served_type(resource_type)
    check_content_type(request)
    resource = parse_resource(await request.body(), resource_type)
    resource.pop("id", None)  # the server assigns the id of a created resource
    written = await unit_of_work.write(request, repository.create, access, resource)
    return resource_response(request, written.resource, 201, Prefer.parse(request), location=True)
