"""read and search of the published definitions (ConceptMap, StructureDefinition, OperationDefinition;
http://hl7.org/fhir/R4/http.html#read, #search). They are read-only: no route takes a write, so routing answers
it 405 with the methods these paths take."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.app_context import app_context
from fhir_server.fhir import published
from fhir_server.fhir.content import FhirResponse, check_accept, is_pretty, resource_response
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.search.bundle import link, searchset
from fhir_server.fhir.search.params import SearchQuery

router = APIRouter()


async def read(request: Request, resource_id: str) -> Response:
    check_accept(request)
    resource_type = request.url.path.rstrip("/").split("/")[-2]
    return resource_response(request, published.read(resource_type, resource_id))


async def search(request: Request) -> Response:
    check_accept(request)
    resource_type = request.url.path.rstrip("/").split("/")[-1]
    pairs = request.query_params.multi_items()
    matches = published.search(resource_type, pairs)
    base_url = app_context(request).base_url
    query = SearchQuery(resource_type, count=len(matches), canonical=[p for p in pairs if p[0] in published.SEARCHABLE])
    self_link = link(f"{base_url}/{resource_type}", query.canonical)
    bundle = searchset(base_url, query, matches, [], len(matches), {"self": self_link}, [])
    return FhirResponse(bundle, pretty=is_pretty(request))


for _type in published.PUBLISHED_TYPES:
    searches = declares("search-type", _type, published.SEARCHABLE)
    reads = declares("read", _type)
    router.add_api_route(f"/{_type}", search, methods=["GET"], summary=f"search {_type}", openapi_extra=searches)
    router.add_api_route(
        f"/{_type}/{{resource_id}}", read, methods=["GET"], summary=f"read {_type}", openapi_extra=reads
    )
