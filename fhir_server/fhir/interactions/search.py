"""search: ``GET [base]/[type]?...``, ``POST [base]/[type]/_search`` and compartment search
``GET [base]/Patient/[id]/[type]?...`` (http://hl7.org/fhir/R4/http.html#search, search.html)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.access.compartment import member_types
from fhir_server.errors import Kind, bad_request, fail, not_found
from fhir_server.fhir import unit_of_work
from fhir_server.fhir.binary_content import expanded
from fhir_server.fhir.content import FhirResponse, Prefer, check_accept, is_pretty
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.route_paths import TYPE
from fhir_server.fhir.search import params
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.fhir.search.service import search
from fhir_server.fhir.types import served_type, valid_id
from fhir_server.request_context import Context, RequestContext

router = APIRouter()
compartment_router = APIRouter()
FORM = "application/x-www-form-urlencoded"


async def respond(
    request: Request,
    ctx: RequestContext,
    resource_type: str,
    pairs: list[tuple[str, str]],
    url: str,
    compartment: str | None = None,
) -> Response:
    check_accept(request)
    served_type(resource_type)
    lenient = Prefer.parse(request).handling == "lenient"
    query = params.parse(resource_type, pairs, SearchLimits.of(ctx.settings), lenient)
    query.compartment = compartment
    bundle = await unit_of_work.read(request, search, ctx.access, query, ctx.base_url, url, ctx.cursor_key)
    bundle = await expanded(ctx.database, bundle)  # a Binary's content as data
    return FhirResponse(bundle, pretty=is_pretty(request))


@router.get(f"/{TYPE}", summary="search-type", openapi_extra=declares("search-type"))
async def search_type(resource_type: str, request: Request, ctx: Context) -> Response:
    url = f"{ctx.base_url}/{resource_type}"
    return await respond(request, ctx, resource_type, request.query_params.multi_items(), url)


def _form_text(body: bytes) -> str:
    """The text of a form body; 400 when it is not UTF-8 (http://hl7.org/fhir/R4/http.html#search: parameters are
    UTF-8, percent-encoded)."""
    try:
        return body.decode()
    except UnicodeDecodeError as exc:
        raise bad_request(f"the form body is not UTF-8 (byte {exc.start})", code="structure") from None


@router.post(f"/{TYPE}/_search", summary="search-type (POST)", openapi_extra=declares("search-type"))
async def search_post(resource_type: str, request: Request, ctx: Context) -> Response:
    url = f"{ctx.base_url}/{resource_type}"
    return await respond(request, ctx, resource_type, await form_pairs(request), url)


async def form_pairs(request: Request) -> list[tuple[str, str]]:
    """The parameters of a ``POST _search``: the URL's, then the form body's (415 for a body of another type)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise fail(Kind.UNSUPPORTED_MEDIA_TYPE, f"POST _search takes {FORM} (got {content_type or 'nothing'})")
    body = _form_text(await request.body())
    return request.query_params.multi_items() + parse_qsl(body, keep_blank_values=True)


@compartment_router.get(
    f"/Patient/{{patient_id}}/{TYPE}",
    summary="search-compartment",
    openapi_extra=declares("search-compartment"),
)
async def search_compartment(patient_id: str, resource_type: str, request: Request, ctx: Context) -> Response:
    valid_id(patient_id)
    served_type(resource_type)
    if resource_type not in member_types():
        raise not_found(f"{resource_type} is not in the Patient compartment")
    url = f"{ctx.base_url}/Patient/{patient_id}/{resource_type}"
    return await respond(request, ctx, resource_type, request.query_params.multi_items(), url, patient_id)
