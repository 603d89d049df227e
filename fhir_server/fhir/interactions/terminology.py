"""read and search of CodeSystem and ValueSet (http://hl7.org/fhir/R4/http.html#read, #search): the R4 definitions
the server publishes (:mod:`fhir_server.fhir.terminology`) beside the ones a clinic stores itself.

The published ones are read-only (a write to one of their ids answers 405:
:func:`fhir_server.fhir.terminology.refuse_write`) and hold no one's data: any caller with a live token reads
them, whatever its scopes. The ones a clinic stored stay ordinary resources of the store, under the same access
rules as any other. A read of a published id serves the published
definition; a search answers both in one order, ``_count`` matches a page, counted together in ``total``
(:mod:`fhir_server.fhir.terminology_paging`).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from starlette.convertors import register_url_convertor
from starlette.responses import Response

from fhir_server.access.context import resolve_access
from fhir_server.errors import not_found
from fhir_server.fhir import terminology, terminology_paging, terminology_search, unit_of_work
from fhir_server.fhir.content import FhirResponse, Prefer, check_accept, is_pretty, resource_response, subset
from fhir_server.fhir.interactions.search import form_pairs
from fhir_server.fhir.route_interactions import FhirRoute, declares
from fhir_server.fhir.route_paths import matching
from fhir_server.fhir.search import params
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.request_context import Context, RequestContext

router = APIRouter()


async def read_published(request: Request) -> Response:
    """``GET [base]/CodeSystem|ValueSet/[published id]`` for any caller with a live token (a plain endpoint:
    routed first, with the reads, by :func:`fhir_server.app`)."""
    await resolve_access(request)
    check_accept(request)
    resource_type = request.url.path.rstrip("/").split("/")[-2]
    found = terminology.published(resource_type, request.path_params["resource_id"])
    if found is None:  # the path convertor matches published ids only
        raise not_found(f"{resource_type}/{request.path_params['resource_id']} is not known")
    return resource_response(request, subset(request, found))


def published_read_routes() -> list[FhirRoute]:
    """The read routes of the published ids, one per type, for the application to route before the generic read."""
    routes = []
    for resource_type in terminology.TERMINOLOGY_TYPES:
        ids = sorted(terminology.catalogue().by_id[resource_type], key=len, reverse=True)
        convertor = f"published_{resource_type.lower()}"
        register_url_convertor(convertor, matching("|".join(re.escape(i) for i in ids)))
        path = f"/fhir/{resource_type}/{{resource_id:{convertor}}}"
        routes.append(FhirRoute(path, read_published, methods=["GET"], interaction="read"))
    return routes


async def search_terminology(request: Request, ctx: Context) -> Response:
    """``GET [base]/CodeSystem|ValueSet?...``: the published definitions and the clinic's own."""
    return await _search(request, ctx, request.query_params.multi_items())


async def search_terminology_post(request: Request, ctx: Context) -> Response:
    """``POST [base]/CodeSystem|ValueSet/_search`` (a form body): as :func:`search_terminology`."""
    return await _search(request, ctx, await form_pairs(request))


async def _search(request: Request, ctx: RequestContext, pairs: list[tuple[str, str]]) -> Response:
    check_accept(request)
    resource_type = next(t for t in terminology.TERMINOLOGY_TYPES if request.url.path.startswith(f"/fhir/{t}"))
    lenient = Prefer.parse(request).handling == "lenient"
    query = params.parse(resource_type, pairs, SearchLimits.of(ctx.settings), lenient)
    found = terminology_search.matching(resource_type, pairs)
    url = f"{ctx.base_url}/{resource_type}"
    bundle = await unit_of_work.read(request, terminology_paging.page, ctx.access, query, found, url, ctx.cursor_key)
    return FhirResponse(bundle, pretty=is_pretty(request))


for _type in terminology.TERMINOLOGY_TYPES:
    _extra = declares("search-type", _type)
    router.add_api_route(
        f"/{_type}", search_terminology, methods=["GET"], summary=f"search {_type}", openapi_extra=_extra
    )
    router.add_api_route(
        f"/{_type}/_search", search_terminology_post, methods=["POST"], summary=f"search {_type}", openapi_extra=_extra
    )
